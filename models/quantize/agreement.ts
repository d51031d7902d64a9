// How far quantized weights move a model's outputs: top-1 agreement and
// per-sample cosine of the outputs against the fp32 model, both run on
// onnxruntime-web's WASM backend with one thread (what devices and Workers
// run; its fused MatMulNBits computes in fp32, so the comparison measures the
// weights, not a different arithmetic). Kept out of index.ts so the quantizer
// itself does not load onnxruntime.
import * as ort from 'onnxruntime-web';
import { gaussian, mulberry32 } from '../../common/random.js';
import { batchIndices, batchOf, loadMnist, trainTestSplit } from '../../datasets/index.js';
import {
  encodeModel,
  graphOf,
  type HostTensor,
  numel,
  type onnx,
  realInputs,
  shapeOf,
} from '../onnx/index.js';
import { loadPretrainedVit } from '../weights/pretrained.js';
import type { WeightBits } from './blockwise.js';
import { type QuantizeReport, quantizeWeights } from './quantize-weights.js';

export interface OutputAgreement {
  /** Rows compared: the first axis of the output, summed over batches. */
  samples: number;
  /** Share of rows whose argmax agrees. */
  top1_agreement: number;
  cosine_min: number;
  cosine_mean: number;
}

export type Feeds = Record<string, HostTensor>;

async function session(model: onnx.IModelProto): Promise<ort.InferenceSession> {
  ort.env.wasm.numThreads = 1;
  return ort.InferenceSession.create(encodeModel(model), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
}

function toOrt(t: HostTensor): ort.Tensor {
  return t.dtype === 'float32'
    ? new ort.Tensor('float32', t.data, t.dims)
    : new ort.Tensor(t.dtype, t.data as BigInt64Array, t.dims);
}

/** Running totals of the per-row comparison. */
class Tally {
  samples = 0;
  agree = 0;
  cosMin = Number.POSITIVE_INFINITY;
  cosSum = 0;

  add(reference: ort.Tensor, candidate: ort.Tensor): void {
    const a = reference.data as Float32Array;
    const b = candidate.data as Float32Array;
    if (a.length !== b.length) throw new Error(`outputs differ in size: ${a.length} vs ${b.length}`);
    const rows = reference.dims.length > 1 ? reference.dims[0] : 1;
    const width = a.length / rows;
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      let ia = r * width;
      let ib = r * width;
      for (let i = r * width; i < (r + 1) * width; i++) {
        dot += a[i] * b[i];
        na += a[i] * a[i];
        nb += b[i] * b[i];
        if (a[i] > a[ia]) ia = i;
        if (b[i] > b[ib]) ib = i;
      }
      // Two zero rows are the same output.
      const cos = na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb || Number.MIN_VALUE);
      this.cosMin = Math.min(this.cosMin, cos);
      this.cosSum += cos;
      if (ia === ib) this.agree++;
      this.samples++;
    }
  }

  result(): OutputAgreement {
    if (this.samples === 0) throw new Error('no samples were compared');
    return {
      samples: this.samples,
      top1_agreement: this.agree / this.samples,
      cosine_min: this.cosMin,
      cosine_mean: this.cosSum / this.samples,
    };
  }
}

/**
 * Runs both models on each batch of feeds and compares one output (default:
 * the first), row by row along its first axis.
 */
export async function compareOutputs(
  reference: onnx.IModelProto,
  candidate: onnx.IModelProto,
  batches: Iterable<Feeds> | AsyncIterable<Feeds>,
  output?: string,
): Promise<OutputAgreement> {
  const [ref, cand] = await Promise.all([session(reference), session(candidate)]);
  try {
    const name = output ?? ref.outputNames[0];
    const tally = new Tally();
    for await (const feeds of batches) {
      const tensors = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(t)]));
      const [a, b] = [(await ref.run(tensors))[name], (await cand.run(tensors))[name]];
      if (!a || !b) throw new Error(`both models must have an output named ${name}`);
      tally.add(a, b);
    }
    return tally.result();
  } finally {
    await Promise.all([ref.release(), cand.release()]);
  }
}

export interface CosineOptions {
  /** Feeds to use; by default every float input gets seeded standard-normal values. */
  inputs?: Feeds;
  /** Size of symbolic (batch) dims of generated inputs. Default 8. */
  batch?: number;
  seed?: number;
  output?: string;
}

/** Seeded N(0, 1) feeds for every graph input of a model; symbolic dims take `batch`. */
export function randomFeeds(model: onnx.IModelProto, batch = 8, seed = 0): Feeds {
  const normal = gaussian(mulberry32(seed));
  const feeds: Feeds = {};
  for (const input of realInputs(graphOf(model))) {
    const name = input.name ?? '';
    if (input.type?.tensorType?.elemType !== 1)
      throw new Error(`input ${name} is not float32: pass inputs explicitly`);
    const dims = shapeOf(input).map((d) => (typeof d === 'number' ? d : batch));
    feeds[name] = { dtype: 'float32', dims, data: Float32Array.from({ length: numel(dims) }, normal) };
  }
  return feeds;
}

/** Output agreement of any two models with the same inputs (fp32 against quantized) on one batch. */
export function logitsCosine(
  reference: onnx.IModelProto,
  candidate: onnx.IModelProto,
  options: CosineOptions = {},
): Promise<OutputAgreement> {
  const feeds = options.inputs ?? randomFeeds(reference, options.batch, options.seed);
  return compareOutputs(reference, candidate, [feeds], options.output);
}

export interface PretrainedAgreementOptions {
  bits: WeightBits;
  blockSize?: number;
  /** Held-out MNIST digits to compare on. Default 1,000. */
  samples?: number;
  /** Default 100. */
  batch?: number;
}

/**
 * The project's reference model (pretrained ViT, fp32) against the same model
 * with quantized frozen weights, on the first held-out MNIST digits of the
 * split the deployments are evaluated on (trainTestSplit, seed 0).
 */
export async function pretrainedAgreement(
  options: PretrainedAgreementOptions,
): Promise<OutputAgreement & { bits: WeightBits; blockSize: number; report: QuantizeReport }> {
  const fp32 = await loadPretrainedVit();
  const { model, report } = quantizeWeights(fp32, { bits: options.bits, blockSize: options.blockSize });
  const data = await loadMnist();
  const { test } = trainTestSplit(data, { seed: 0 });
  const samples = options.samples ?? 1000;
  if (samples > test.length) throw new Error(`only ${test.length} held-out digits, asked for ${samples}`);
  const input = realInputs(graphOf(fp32))[0].name ?? '';
  function* batches(): Generator<Feeds> {
    for (const idx of batchIndices(test.subarray(0, samples), options.batch ?? 100)) {
      const b = batchOf(data, idx);
      yield { [input]: { dtype: 'float32', dims: b.shape, data: b.pixels } };
    }
  }
  const agreement = await compareOutputs(fp32, model, batches());
  return { ...agreement, bits: report.bits, blockSize: report.blockSize, report };
}
