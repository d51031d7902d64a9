// A recipe that trains nothing is an error before anything is written; a side
// of the cut without trainables is not.
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdapterRecipe,
  exactSources,
  REFERENCE_RECIPE,
  resolveRecipe,
  STRUCTURAL_RECIPE,
  writeTrainingArtifacts,
} from '../../../models/training/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';
import { Manifest } from '../../../protocol/manifest.js';

const vit = buildVit(REFERENCE_VIT);
const none: AdapterRecipe = { ...STRUCTURAL_RECIPE, targets: [], full: [] };

describe('resolveRecipe', () => {
  it('refuses a recipe that selects nothing', () => {
    expect(() => resolveRecipe(vit, none)).toThrow('the recipe selects nothing to train');
  });

  it('refuses an explicit pattern that selects nothing, naming it', () => {
    expect(() => resolveRecipe(vit, { ...STRUCTURAL_RECIPE, targets: [/in_proj_weight$/] })).toThrow(
      'LoRA target /in_proj_weight$/ selects no weight',
    );
    expect(() => resolveRecipe(vit, { ...STRUCTURAL_RECIPE, full: [/^heads\.head\./] })).toThrow(
      'full-mode pattern /^heads\\.head\\./ matches no initializer',
    );
  });

  it('mixes structural and explicit selections', () => {
    const mlpOnly = resolveRecipe(vit, { ...STRUCTURAL_RECIPE, targets: [/mlp\.fc1\.weight$/] });
    expect(mlpOnly.targets).toEqual([0, 1, 2, 3].map((k) => `blocks.${k}.mlp.fc1.weight`));
    expect(mlpOnly.full).toEqual(resolveRecipe(vit, REFERENCE_RECIPE).full);
    expect(resolveRecipe(vit, { ...STRUCTURAL_RECIPE, full: [] }).full).toEqual([]);
  });

  it('refuses a tensor chosen both ways', () => {
    expect(() =>
      resolveRecipe(vit, { ...STRUCTURAL_RECIPE, full: [/^blocks\.0\.attn\.q\.weight$/] }),
    ).toThrow('blocks.0.attn.q.weight is selected both for LoRA and for full-mode training');
  });

  it('exact sources select exactly the names they were made from', () => {
    const names = ['blocks.0.attn.q.weight', 'a+b(c)[d]'];
    const res = exactSources(names).map((s) => new RegExp(s));
    expect(names.map((n) => res.findIndex((re) => re.test(n)))).toEqual([0, 1]);
    expect(res[0].test('blocks.0.attn.q.weight.lora_A')).toBe(false);
    expect(res[0].test('blocks.0.attn.qXweight')).toBe(false);
  });
});

describe('writeTrainingArtifacts and the recipe', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sf-recipe-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = (outDir: string, recipe: AdapterRecipe, cut = { kind: 'embed' } as const) =>
    writeTrainingArtifacts({ model: vit, cut, outDir, modelId: 'test', source: 'test', recipe });

  it('fails, writing nothing, when the recipe selects nothing', async () => {
    const out = join(dir, 'none');
    await expect(write(out, none)).rejects.toThrow('the recipe selects nothing to train');
    await expect(access(out)).rejects.toThrow();
  });

  it('records what the structural recipe chose as exact names', async () => {
    const manifest = Manifest.parse(await write(join(dir, 'auto'), STRUCTURAL_RECIPE));
    const lora = manifest.training!.lora;
    expect(lora.targets).toEqual(exactSources(resolveRecipe(vit, REFERENCE_RECIPE).targets));
    expect(lora.full).toEqual([
      '^embed\\.patch\\.weight$',
      '^embed\\.patch\\.bias$',
      '^head\\.weight$',
      '^head\\.bias$',
    ]);
  });

  it('lets one side train nothing when the other side does', async () => {
    const recipe = { ...STRUCTURAL_RECIPE, targets: [/^blocks\.3\./], full: [] };
    const manifest = Manifest.parse(
      await writeTrainingArtifacts({
        model: vit,
        cut: { kind: 'block', index: 2 },
        outDir: join(dir, 'deep'),
        modelId: 'test',
        source: 'test',
        recipe,
      }),
    );
    const training = manifest.training!;
    expect(training.trainables.every((t) => t.owner === 'tail')).toBe(true);
    expect(training.trainables).toHaveLength(12);
    expect(training.artifacts.headBackward).toBeUndefined();
  });
});
