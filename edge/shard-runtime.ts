// Runs one shard's graphs on onnxruntime-web, a batch as consecutive
// micro-batches (PipelineSpec.microBatch): activations, not weights, dominate
// a large model's memory, and they scale with the samples per run.
//
// Every op of a ViT acts per sample (LayerNorm, attention and MLP never mix
// samples), so running a batch in pieces gives the same outputs. Gradients of
// the trainables add up over the pieces; the last shard's loss is a mean over
// its batch, so each piece's loss and gradients are weighted by its share of
// the batch.
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import type { PipelineSpec, ShardSpec, TrainableSpec } from '../protocol/manifest.js';
import { sample } from './memory.js';
import { loadOrt } from './ort-wasm.js';

export interface Activation {
  shape: number[];
  data: Float32Array;
}

export type TrainableValues = Readonly<Record<string, Float32Array>>;

export interface BackwardResult {
  /** dL/d(shard input), the input's shape. */
  gradInput: Activation;
  /** dL/d(trainable), summed over the batch's micro-batches. */
  grads: Record<string, Float32Array>;
}

export interface LossResult extends BackwardResult {
  loss: number;
  logits: Activation;
}

const rowsOf = (a: Activation) => a.shape[0];
const rowSize = (a: Activation) => a.data.length / Math.max(1, a.shape[0]);

function rows(a: Activation, from: number, to: number): Activation {
  const n = rowSize(a);
  return { shape: [to - from, ...a.shape.slice(1)], data: a.data.subarray(from * n, to * n) };
}

function pieces(batch: number, microBatch: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let at = 0; at < batch; at += microBatch) out.push([at, Math.min(batch, at + microBatch)]);
  return out;
}

async function feedsFor(
  shard: ShardSpec,
  specs: ReadonlyMap<string, TrainableSpec>,
  trainables: TrainableValues,
): Promise<Record<string, Tensor>> {
  const ort = await loadOrt();
  const feeds: Record<string, Tensor> = {};
  for (const name of shard.trainables) {
    const spec = specs.get(name);
    const value = trainables[name];
    if (!spec || !value) throw new Error(`shard ${shard.index}: no value for trainable ${name}`);
    feeds[name] = new ort.Tensor('float32', value, spec.shape);
  }
  return feeds;
}

async function run(
  session: InferenceSession,
  feeds: Record<string, Tensor>,
  read: (out: InferenceSession.ReturnType) => void,
): Promise<void> {
  const out = await session.run(feeds);
  try {
    read(out);
  } finally {
    for (const t of Object.values(out)) t.dispose();
    sample();
  }
}

function floatOutput(out: InferenceSession.ReturnType, name: string): Tensor & { data: Float32Array } {
  const t = out[name];
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`the shard graph has no float output ${name}`);
  return t as Tensor & { data: Float32Array };
}

/** A contiguous output assembled from per-piece results. */
class Gathered {
  data: Float32Array | undefined;
  shape: number[] = [];
  constructor(private readonly batch: number) {}
  put(at: number, t: { dims: readonly number[]; data: Float32Array }): void {
    const per = t.data.length / Math.max(1, t.dims[0]);
    if (!this.data) {
      this.shape = [this.batch, ...t.dims.slice(1)];
      this.data = new Float32Array(per * this.batch);
    }
    this.data.set(t.data, at * per);
  }
  get(): Activation {
    return { shape: this.shape, data: this.data ?? new Float32Array(0) };
  }
}

export interface ShardContext {
  shard: ShardSpec;
  microBatch: PipelineSpec['microBatch'];
  /** The dL/d(output) input of the seeded backward graphs (PipelineSpec.gradInput). */
  gradInput: PipelineSpec['gradInput'];
  specs: ReadonlyMap<string, TrainableSpec>;
  trainables: TrainableValues;
}

/** input → output through the shard's forward graph. */
export async function runForward(
  session: InferenceSession,
  ctx: ShardContext,
  input: Activation,
): Promise<Activation> {
  const ort = await loadOrt();
  const base = await feedsFor(ctx.shard, ctx.specs, ctx.trainables);
  const out = new Gathered(rowsOf(input));
  for (const [from, to] of pieces(rowsOf(input), ctx.microBatch)) {
    const x = rows(input, from, to);
    const feeds = { ...base, [ctx.shard.input.name]: new ort.Tensor('float32', x.data, x.shape) };
    await run(session, feeds, (o) => out.put(from, floatOutput(o, ctx.shard.output.name)));
  }
  return out.get();
}

function addInto(sum: Record<string, Float32Array>, name: string, g: Float32Array, weight: number): void {
  sum[name] ??= new Float32Array(g.length);
  const acc = sum[name];
  for (let i = 0; i < g.length; i++) acc[i] += weight * g[i];
}

/** (input, dL/d output) → dL/d input and the trainables' gradients, for every shard but the last. */
export async function runBackward(
  session: InferenceSession,
  ctx: ShardContext,
  input: Activation,
  gradOutput: Activation,
): Promise<BackwardResult> {
  const ort = await loadOrt();
  const base = await feedsFor(ctx.shard, ctx.specs, ctx.trainables);
  const gradInput = new Gathered(rowsOf(input));
  const grads: Record<string, Float32Array> = {};
  for (const [from, to] of pieces(rowsOf(input), ctx.microBatch)) {
    const x = rows(input, from, to);
    const g = rows(gradOutput, from, to);
    const feeds = {
      ...base,
      [ctx.shard.input.name]: new ort.Tensor('float32', x.data, x.shape),
      [ctx.gradInput]: new ort.Tensor('float32', g.data, g.shape),
    };
    await run(session, feeds, (o) => {
      gradInput.put(from, floatOutput(o, `grad.${ctx.shard.input.name}`));
      for (const name of ctx.shard.trainables) addInto(grads, name, floatOutput(o, `grad.${name}`).data, 1);
    });
  }
  return { gradInput: gradInput.get(), grads };
}

/** (input, labels) → mean cross-entropy over the batch, logits, dL/d input and gradients: the last shard. */
export async function runLoss(
  session: InferenceSession,
  ctx: ShardContext,
  input: Activation,
  labels: Int32Array,
  labelsName: string,
): Promise<LossResult> {
  const ort = await loadOrt();
  const base = await feedsFor(ctx.shard, ctx.specs, ctx.trainables);
  const batch = rowsOf(input);
  const gradInput = new Gathered(batch);
  const logits = new Gathered(batch);
  const grads: Record<string, Float32Array> = {};
  let loss = 0;
  for (const [from, to] of pieces(batch, ctx.microBatch)) {
    const x = rows(input, from, to);
    const share = (to - from) / batch;
    const y = BigInt64Array.from(labels.subarray(from, to), (v) => BigInt(v));
    const feeds = {
      ...base,
      [ctx.shard.input.name]: new ort.Tensor('float32', x.data, x.shape),
      [labelsName]: new ort.Tensor('int64', y, [to - from]),
    };
    await run(session, feeds, (o) => {
      loss += share * floatOutput(o, 'loss').data[0];
      logits.put(from, floatOutput(o, ctx.shard.output.name));
      const gi = floatOutput(o, `grad.${ctx.shard.input.name}`);
      if (share !== 1) for (let i = 0; i < gi.data.length; i++) gi.data[i] *= share;
      gradInput.put(from, gi);
      for (const name of ctx.shard.trainables)
        addInto(grads, name, floatOutput(o, `grad.${name}`).data, share);
    });
  }
  return { loss, logits: logits.get(), gradInput: gradInput.get(), grads };
}
