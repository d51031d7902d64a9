// Shared helpers for the quantization tests: running models on both
// onnxruntime builds, counting what onnxruntime fused, and the dequantized
// weights recomputed from a quantized model's codes (independently of the
// quantizer's own arithmetic).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import {
  decodeModel,
  encodeModel,
  float32,
  fromIntTensorProto,
  fromTensorProto,
  graphOf,
  type HostTensor,
  type ModelProto,
  onnx,
  replaceInitializers,
} from '../../../models/onnx/index.js';
import type { QuantizeReport } from '../../../models/quantize/index.js';

export const TORCHVISION = '/work/shared/testdata/torchvision-vit';

type Feeds = Record<string, HostTensor>;

function tensors<T>(make: (t: HostTensor) => T, feeds: Feeds): Record<string, T> {
  return Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, make(t)]));
}

export async function runWeb(model: ModelProto, feeds: Feeds): Promise<Record<string, Float32Array>> {
  ortWeb.env.wasm.numThreads = 1;
  const session = await ortWeb.InferenceSession.create(encodeModel(model), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  try {
    const out = await session.run(
      tensors((t) => new ortWeb.Tensor(t.dtype, t.data as Float32Array, t.dims), feeds),
    );
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/**
 * onnxruntime-node with fp32 arithmetic in the fused kernel: by default its
 * MatMulNBits quantizes activations to int8 (accuracy level 4).
 */
export async function runNode(model: ModelProto, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const session = await ortNode.InferenceSession.create(encodeModel(model), {
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    extra: { session: { qdq_matmulnbits_accuracy_level: '0' } },
  });
  try {
    const out = await session.run(
      tensors((t) => new ortNode.Tensor(t.dtype, t.data as Float32Array, t.dims), feeds),
    );
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** Op types of the graph onnxruntime-node runs after its `all` optimizations, with counts. */
export async function optimizedOps(model: ModelProto): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'splitflare-fusion-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await ortNode.InferenceSession.create(encodeModel(model), {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: path,
      logSeverityLevel: 3,
    });
    await session.release();
    const counts: Record<string, number> = {};
    for (const n of graphOf(decodeModel(readFileSync(path))).node ?? []) {
      counts[n.opType ?? ''] = (counts[n.opType ?? ''] ?? 0) + 1;
    }
    return counts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each quantized weight's value as its DequantizeLinear defines it, in the original layout. */
export function dequantizedWeights(quantized: ModelProto, report: QuantizeReport): Map<string, HostTensor> {
  const inits = new Map(graphOf(quantized).initializer!.map((t) => [t.name!, t]));
  const out = new Map<string, HostTensor>();
  for (const w of report.quantized) {
    const codes = fromIntTensorProto(inits.get(w.codes)!);
    const scales = fromTensorProto(inits.get(w.scale)!).data as Float32Array;
    const value = new Float32Array(codes.data.length);
    if (w.blockSize === null) {
      const per = value.length / scales.length;
      for (let i = 0; i < value.length; i++) value[i] = codes.data[i] * scales[Math.floor(i / per)];
    } else {
      const [k, n] = codes.dims;
      for (let r = 0; r < k; r++)
        for (let c = 0; c < n; c++)
          value[r * n + c] = codes.data[r * n + c] * scales[Math.floor(r / w.blockSize) * n + c];
    }
    if (!w.transposed) out.set(w.name, float32(w.dims, value));
    else {
      const [k, n] = codes.dims;
      const t = new Float32Array(value.length);
      for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) t[c * k + r] = value[r * n + c];
      out.set(w.name, float32(w.dims, t));
    }
  }
  return out;
}

/** A copy of the fp32 model whose quantized weights hold their dequantized values. */
export function withDequantizedWeights(fp32: ModelProto, quantized: ModelProto, report: QuantizeReport) {
  const copy = onnx.ModelProto.decode(encodeModel(fp32));
  replaceInitializers(copy, dequantizedWeights(quantized, report));
  return copy;
}

export { relativeL2 } from '../../support/numeric.js';

/** Op types outside the default ONNX domain. */
export function foreignOps(model: ModelProto): string[] {
  return (graphOf(model).node ?? [])
    .filter((n) => n.domain && n.domain !== 'ai.onnx')
    .map((n) => `${n.domain}.${n.opType}`);
}
