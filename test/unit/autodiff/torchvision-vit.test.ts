// Whole-model acceptance: differentiate real torch.onnx.export graphs of a
// torchvision ViT (opset 14 with LayerNorm decomposed, opset 17 with
// LayerNormalization) with respect to every parameter and the input, and
// compare against PyTorch autograd.
import { beforeAll, describe, expect, it } from 'vitest';
import { differentiate, trainableParameters } from '../../../models/autodiff/index.js';
import { readSafetensors } from '../../../models/io/safetensors.js';
import {
  fromTensorProto,
  graphOf,
  type HostTensor,
  loadModel,
  type ModelProto,
  opsetOf,
} from '../../../models/onnx/index.js';
import { relativeL2, run } from './helpers.js';

const DATA = '/work/shared/testdata/torchvision-vit';
const GRAD_TOLERANCE = 1e-4;
const LOSS_TOLERANCE = 1e-5;

let reference: Map<string, HostTensor>;
beforeAll(async () => {
  reference = await readSafetensors(`${DATA}/tv_vit_tiny_reference.safetensors`);
});

function ref(key: string): HostTensor {
  const t = reference.get(key);
  if (!t) throw new Error(`reference has no ${key}`);
  return t;
}

function parameterFeeds(model: ModelProto, names: string[]): Record<string, HostTensor> {
  const inits = new Map(graphOf(model).initializer!.map((t) => [t.name!, t]));
  return Object.fromEntries(names.map((n) => [n, fromTensorProto(inits.get(n)!)]));
}

/** Samples i..i+1 of a batched reference tensor. */
function sample(t: HostTensor, i: number): HostTensor {
  const per = t.data.length / t.dims[0];
  const data = t.data.slice(i * per, (i + 1) * per);
  return { ...t, dims: [1, ...t.dims.slice(1)], data } as HostTensor;
}

describe.each(['op14', 'op17'])('torchvision ViT exported at %s', (variant) => {
  let model: ModelProto;
  let params: string[];
  let backward: ModelProto;
  let feeds: Record<string, HostTensor>;

  beforeAll(async () => {
    model = await loadModel(`${DATA}/tv_vit_tiny_${variant}.onnx`);
    params = trainableParameters(model);
    backward = differentiate(model, { wrt: [...params, 'pixel_values'], loss: 'cross-entropy' });
    feeds = {
      pixel_values: ref('input.pixel_values'),
      labels: ref('input.labels'),
      ...parameterFeeds(model, params),
    };
  });

  it('finds all 32 parameters as trainable', () => {
    expect(params).toHaveLength(32);
    for (const p of params) expect(reference.has(`grad.${p}`), p).toBe(true);
  });

  it('emits a default-domain, opset-17 graph with trainables as inputs', () => {
    expect(opsetOf(model)).toBe(variant === 'op14' ? 14 : 17);
    expect(backward.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    const g = graphOf(backward);
    for (const n of g.node ?? []) expect(n.domain ?? '', `${n.opType} ${n.name}`).toBe('');
    expect(g.initializer).toHaveLength(0);
    expect(g.input!.map((i) => i.name)).toEqual(['pixel_values', 'labels', ...params]);
    expect(g.output!.map((o) => o.name)).toEqual([
      'loss',
      'logits',
      ...params.map((p) => `grad.${p}`),
      'grad.pixel_values',
    ]);
  });

  it('reproduces the PyTorch loss, logits and every gradient', async () => {
    const out = await run(backward, feeds);
    expect(out.loss.dims).toEqual([]);
    const loss = (out.loss.data as Float32Array)[0];
    expect(Math.abs(loss - (ref('output.loss').data as Float32Array)[0])).toBeLessThan(LOSS_TOLERANCE);
    expect(
      relativeL2(out.logits.data as Float32Array, ref('output.logits').data as Float32Array),
    ).toBeLessThan(1e-5);
    const keys = [...reference.keys()].filter((k) => k.startsWith('grad.'));
    expect(keys).toHaveLength(33);
    for (const key of keys) {
      const got = out[key];
      expect(got, key).toBeDefined();
      expect(got.dims, key).toEqual(ref(key).dims);
      expect(relativeL2(got.data as Float32Array, ref(key).data as Float32Array), key).toBeLessThan(
        GRAD_TOLERANCE,
      );
    }
  });

  it('handles a different batch size (symbolic batch): per-sample gradients average to the batch gradient', async () => {
    const sums = new Map<string, Float64Array>();
    const n = ref('input.labels').dims[0];
    for (let i = 0; i < n; i++) {
      const out = await run(backward, {
        ...feeds,
        pixel_values: sample(ref('input.pixel_values'), i),
        labels: sample(ref('input.labels'), i),
      });
      for (const p of params) {
        const g = out[`grad.${p}`].data as Float32Array;
        const acc = sums.get(p) ?? new Float64Array(g.length);
        for (let j = 0; j < g.length; j++) acc[j] += g[j] / n;
        sums.set(p, acc);
      }
    }
    for (const p of params) {
      expect(relativeL2(sums.get(p)!, ref(`grad.${p}`).data as Float32Array), p).toBeLessThan(GRAD_TOLERANCE);
    }
  });

  it('seed mode: given dL/dlogits, produces the same parameter gradients', async () => {
    const seeded = differentiate(model, {
      wrt: params,
      seed: { output: 'logits', gradInput: 'grad_logits' },
    });
    const g = graphOf(seeded);
    expect(g.output!.map((o) => o.name)).toEqual(['logits', ...params.map((p) => `grad.${p}`)]);
    // dL/dlogits of the mean cross-entropy, from PyTorch's logits.
    const logits = ref('output.logits').data as Float32Array;
    const labels = ref('input.labels').data as BigInt64Array;
    const [batch, classes] = ref('output.logits').dims;
    const seed = new Float32Array(logits.length);
    for (let b = 0; b < batch; b++) {
      const row = logits.subarray(b * classes, (b + 1) * classes);
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      for (let c = 0; c < classes; c++) {
        seed[b * classes + c] = (Math.exp(row[c] - max) / z - (Number(labels[b]) === c ? 1 : 0)) / batch;
      }
    }
    const out = await run(seeded, {
      pixel_values: ref('input.pixel_values'),
      grad_logits: { dtype: 'float32', dims: [batch, classes], data: seed },
      ...parameterFeeds(model, params),
    });
    for (const p of params) {
      expect(
        relativeL2(out[`grad.${p}`].data as Float32Array, ref(`grad.${p}`).data as Float32Array),
        p,
      ).toBeLessThan(GRAD_TOLERANCE);
    }
  });
});
