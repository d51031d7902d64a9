// Trainables found from the graph's structure: the same tensors on the
// reference ViT as REFERENCE_RECIPE names, and the analogous ones on
// torchvision exports whose names the recipe does not know.
import { describe, expect, it } from 'vitest';
import { structuralTrainables } from '../../../models/lora/index.js';
import { graphOf, type ModelProto, onnx } from '../../../models/onnx/index.js';
import { REFERENCE_RECIPE, resolveRecipe, STRUCTURAL_RECIPE } from '../../../models/training/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { loadTorchvision, TV_MODELS } from '../models/helpers.js';

describe('structural trainables on the reference ViT', () => {
  const vit = buildVit(REFERENCE_VIT);

  it('are exactly what REFERENCE_RECIPE names', () => {
    const found = structuralTrainables(graphOf(vit));
    expect(found).toEqual(resolveRecipe(vit, REFERENCE_RECIPE));
    expect(resolveRecipe(vit, STRUCTURAL_RECIPE)).toEqual(found);
    expect(found.targets).toHaveLength(REFERENCE_VIT.depth * 6);
    expect(found.full).toEqual(['embed.patch.weight', 'embed.patch.bias', 'head.weight', 'head.bias']);
  });

  it('need encoder blocks to go by', () => {
    // Without node-name scopes nothing marks where a block begins.
    const graph = graphOf(vit);
    const anonymous = onnx.ModelProto.create({
      ...vit,
      graph: onnx.GraphProto.create({
        ...graph,
        node: (graph.node ?? []).map((n, i) => onnx.NodeProto.create({ ...n, name: `n${i}` })),
      }),
    }) as ModelProto;
    expect(() => structuralTrainables(graphOf(anonymous))).toThrow('found no encoder blocks');
  });
});

describe.each(TV_MODELS)('structural trainables on the torchvision export %s', (file) => {
  it('are the in_proj, out_proj and MLP weights of both layers, conv_proj and heads.head in full', async () => {
    const model = await loadTorchvision(file);
    const layer = (k: number) =>
      ['self_attention.in_proj_weight', 'self_attention.out_proj.weight', 'mlp.0.weight', 'mlp.3.weight'].map(
        (p) => `encoder.layers.encoder_layer_${k}.${p}`,
      );
    expect(structuralTrainables(graphOf(model))).toEqual({
      targets: [...layer(0), ...layer(1)],
      full: ['conv_proj.weight', 'conv_proj.bias', 'heads.head.weight', 'heads.head.bias'],
    });
  });

  it('are not what the reference recipe names, which selects nothing there', async () => {
    const model = await loadTorchvision(file);
    expect(() => resolveRecipe(model, REFERENCE_RECIPE)).toThrow(
      /LoRA target \/\^blocks.*\/ selects no weight: no initializer name matches/,
    );
  });
});
