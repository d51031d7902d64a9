// WebAssembly heap of ViT-B/16 training shards on onnxruntime-web: the memory
// a tail isolate holds for k encoder blocks with LoRA on every block linear
// layer, the base weights quantized (int4/int8, fused into MatMulNBits).
//
// Segments come from the project's own builder and splitter: the ViT-B/16
// tail after the embed cut, cut again after block k - 1. Each measurement runs
// in a fresh Node process (shard-memory-child.ts), since the heap only grows:
// its size after the runs is the peak of that process. Measured per segment:
// the forward session alone (batch 1 and 8), the backward session alone
// (batch 1 and 4), and both sessions created in one process and run at batch
// 1, which is what a training shard isolate holds.
//
// `tsx bench/shard-memory.ts [--blocks 1,2,3] [--bits 4,8,fp32] [--formulation branch|merge]
//   [--plan forward:1,backward:4,training:1] [--runs 2] [--dir <cache>] [--json]`
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LoraFormulation, structuralTrainables } from '../models/lora/index.js';
import { encodeModel, graphOf, type ModelProto, shapeOf } from '../models/onnx/index.js';
import { buildShard } from '../models/pipeline/index.js';
import { quantizeWeights } from '../models/quantize/index.js';
import { splitModel } from '../models/split/splitter.js';
import { buildVit, VIT_B16 } from '../models/vit/index.js';
import { round } from '../scripts/lib/stats.js';
import type { ChildRequest, ChildResult, ChildSession } from './shard-memory-child.js';

export interface ShardVariant {
  /** Encoder blocks in the segment, starting at block 0. */
  blocks: number;
  /** Weight bits; null keeps fp32 weights. */
  bits: 4 | 8 | null;
  formulation: LoraFormulation;
  rank: number;
}

export interface ShardFiles {
  variant: ShardVariant;
  forward: ChildSession;
  backward: ChildSession;
  forwardBytes: number;
  backwardBytes: number;
}

export type MeasurementKind = 'forward' | 'backward' | 'training';

export interface ShardMeasurement {
  kind: MeasurementKind;
  batch: number;
  heapAfterCreateMb: number;
  heapPeakMb: number;
  createMs: number;
  /** Fastest run after the first (the first one also allocates). For `training`: forward + backward. */
  runMs: number;
  firstRunMs: number;
}

export interface ShardMemoryRow {
  variant: ShardVariant;
  forwardMb: number;
  backwardMb: number;
  measurements: ShardMeasurement[];
}

export interface ShardMemoryOptions {
  blocks?: number[];
  bits?: (4 | 8 | null)[];
  formulation?: LoraFormulation;
  rank?: number;
  /** Where the segment graphs are written (and reused from, keyed by variant). */
  dir: string;
  /** Which measurements, as [kind, batch]; default forward 1 and 8, backward 1 and 4, training 1. */
  plan?: [MeasurementKind, number][];
  /** Runs per session in each process (the first allocates). */
  runs?: number;
  log?: (line: string) => void;
}

export const DEFAULT_PLAN: [MeasurementKind, number][] = [
  ['forward', 1],
  ['forward', 8],
  ['backward', 1],
  ['backward', 4],
  ['training', 1],
];

const MB = 2 ** 20;
const GRAD_INPUT = 'grad_in.output';

const variantId = (v: ShardVariant) =>
  `vitb16-blocks${v.blocks}-${v.bits ? `int${v.bits}` : 'fp32'}-${v.formulation}-r${v.rank}`;

/** The tail after the embed cut, and each requested segment of it (blocks 0..k-1). */
async function segments(blockCounts: readonly number[]): Promise<Map<number, ModelProto>> {
  const { tail } = await splitModel(buildVit(VIT_B16), { kind: 'embed' });
  const out = new Map<number, ModelProto>();
  for (const k of blockCounts) out.set(k, (await splitModel(tail, { kind: 'block', index: k - 1 })).head);
  return out;
}

/** Inputs of a graph as the child feeds them: the data input batched, the rest at their static shapes. */
function inputsOf(model: ModelProto, batched: ReadonlySet<string>): ChildSession['inputs'] {
  return (graphOf(model).input ?? []).map((i) => {
    const name = i.name ?? '';
    const dims = shapeOf(i);
    if (batched.has(name)) return { name, dims: dims.slice(1) as number[], batched: true };
    if (!dims.every((d): d is number => typeof d === 'number')) {
      throw new Error(`input ${name} has a non-static shape [${dims}]`);
    }
    return { name, dims, batched: false };
  });
}

/** Forward (LoRA, then quantization) and backward graphs of one segment, built by the pipeline's own code. */
function shardGraphs(segment: ModelProto, v: ShardVariant) {
  const { targets } = structuralTrainables(graphOf(segment));
  const built = buildShard({ model: segment, blocks: [] }, false, {
    trainables: { targets, full: [], rank: v.rank, alpha: 2 * v.rank, seed: 0, formulation: v.formulation },
    transform: v.bits ? (m) => quantizeWeights(m, { bits: v.bits as 4 | 8, blockSize: 32 }).model : undefined,
    gradInput: GRAD_INPUT,
  });
  if (!built.backward) throw new Error('internal: a training shard without a backward graph');
  return { forward: built.forward, backward: built.backward, input: built.input };
}

/** Writes each variant's graphs under `dir` unless they are there already. */
export async function prepareShards(
  variants: readonly ShardVariant[],
  dir: string,
  log: (line: string) => void = () => {},
): Promise<ShardFiles[]> {
  mkdirSync(dir, { recursive: true });
  const paths = (v: ShardVariant) => ({
    forward: join(dir, `${variantId(v)}-forward.onnx`),
    backward: join(dir, `${variantId(v)}-backward.onnx`),
    meta: join(dir, `${variantId(v)}.json`),
  });
  const missing = variants.filter((v) => !existsSync(paths(v).meta));
  if (missing.length > 0) {
    log(`building ViT-B/16 segments of ${[...new Set(missing.map((v) => v.blocks))]} block(s)...`);
    const segs = await segments([...new Set(missing.map((v) => v.blocks))]);
    for (const v of missing) {
      log(`  ${variantId(v)}`);
      const { forward, backward, input } = shardGraphs(segs.get(v.blocks)!, v);
      const p = paths(v);
      writeFileSync(p.forward, encodeModel(forward));
      writeFileSync(p.backward, encodeModel(backward));
      const batched = new Set([input, GRAD_INPUT]);
      const meta = {
        forward: { file: p.forward, inputs: inputsOf(forward, batched) },
        backward: { file: p.backward, inputs: inputsOf(backward, batched) },
      };
      writeFileSync(p.meta, JSON.stringify(meta));
    }
  }
  return variants.map((variant) => {
    const meta = JSON.parse(readFileSync(paths(variant).meta, 'utf8')) as Pick<
      ShardFiles,
      'forward' | 'backward'
    >;
    return {
      variant,
      ...meta,
      forwardBytes: statSync(meta.forward.file).size,
      backwardBytes: statSync(meta.backward.file).size,
    };
  });
}

const CHILD = fileURLToPath(new URL('./shard-memory-child.ts', import.meta.url));

/** Runs one measurement in a fresh Node process. */
export function measureInFreshProcess(request: ChildRequest): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(request)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as ChildResult);
      else reject(new Error(`measurement process exited with ${code}: ${stderr.trim().slice(-2000)}`));
    });
  });
}

async function measure(files: ShardFiles, kind: MeasurementKind, batch: number, runs: number) {
  const sessions =
    kind === 'forward'
      ? [files.forward]
      : kind === 'backward'
        ? [files.backward]
        : [files.forward, files.backward];
  const r = await measureInFreshProcess({ sessions, batch, runs });
  const perRun = r.runMs.map((times) => times.reduce((a, b) => a + b, 0));
  return {
    kind,
    batch,
    heapAfterCreateMb: round(r.heapAfterCreate / MB, 1),
    heapPeakMb: round(r.heapPeak / MB, 1),
    createMs: Math.round(r.createMs),
    runMs: Math.round(Math.min(...(perRun.length > 1 ? perRun.slice(1) : perRun))),
    firstRunMs: Math.round(perRun[0]),
  } satisfies ShardMeasurement;
}

/** Builds (or reuses) the segment graphs and measures every variant × plan entry, one process each. */
export async function benchShardMemory(o: ShardMemoryOptions): Promise<ShardMemoryRow[]> {
  const variants = (o.blocks ?? [1, 2, 3]).flatMap((blocks) =>
    (o.bits ?? [4, 8]).map((bits) => ({
      blocks,
      bits,
      formulation: o.formulation ?? 'branch',
      rank: o.rank ?? 8,
    })),
  );
  const log = o.log ?? (() => {});
  const files = await prepareShards(variants, o.dir, log);
  const rows: ShardMemoryRow[] = [];
  for (const f of files) {
    const measurements: ShardMeasurement[] = [];
    for (const [kind, batch] of o.plan ?? DEFAULT_PLAN) {
      const m = await measure(f, kind, batch, o.runs ?? 2);
      log(`  ${variantId(f.variant)} ${kind} batch ${batch}: heap ${m.heapPeakMb} MB, run ${m.runMs} ms`);
      measurements.push(m);
    }
    rows.push({
      variant: f.variant,
      forwardMb: round(f.forwardBytes / MB, 1),
      backwardMb: round(f.backwardBytes / MB, 1),
      measurements,
    });
  }
  return rows;
}

/** Heap of the onnxruntime-web runtime with a trivial session: what every row includes. */
export async function runtimeFloorMb(dir: string): Promise<number> {
  const { GraphBuilder } = await import('../models/graph/builder.js');
  const { DataType, onnx, valueInfo } = await import('../models/onnx/index.js');
  const g = new GraphBuilder();
  const x = g.input(valueInfo('x', DataType.FLOAT, [1]));
  g.output(valueInfo(g.op('Identity', [x], { outputs: ['y'] }), DataType.FLOAT, [1]));
  const file = join(dir, 'identity.onnx');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    file,
    encodeModel(
      onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ version: 17 }], graph: g.graph('id') }),
    ),
  );
  const r = await measureInFreshProcess({
    sessions: [{ file, inputs: [{ name: 'x', dims: [1], batched: false }] }],
    batch: 1,
    runs: 1,
  });
  return round(r.heapPeak / MB, 1);
}

function table(rows: ShardMemoryRow[]): string {
  const head =
    '| blocks | weights | fwd MB file | bwd MB file | measurement | heap after create MB | heap peak MB | run ms |';
  const lines = [head, head.replace(/[^|]/g, '-')];
  for (const r of rows) {
    const w = `${r.variant.bits ? `int${r.variant.bits}` : 'fp32'} ${r.variant.formulation}`;
    for (const m of r.measurements) {
      lines.push(
        `| ${r.variant.blocks} | ${w} | ${r.forwardMb} | ${r.backwardMb} | ${m.kind} b${m.batch} | ` +
          `${m.heapAfterCreateMb} | ${m.heapPeakMb} | ${m.runMs} |`,
      );
    }
  }
  return lines.join('\n');
}

function listOf<T>(text: string | undefined, parse: (s: string) => T): T[] | undefined {
  return text?.split(',').map(parse);
}

async function main(): Promise<void> {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const dir = arg('dir') ?? join(process.cwd(), 'scratch', 'shard-memory');
  const log = (s: string) => console.error(s);
  const rows = await benchShardMemory({
    dir,
    blocks: listOf(arg('blocks'), Number),
    bits: listOf(arg('bits'), (s) => (s === 'fp32' ? null : (Number(s) as 4 | 8))),
    formulation: arg('formulation') as LoraFormulation | undefined,
    plan: listOf(arg('plan'), (s) => {
      const [kind, batch] = s.split(':');
      return [kind as MeasurementKind, Number(batch)] as [MeasurementKind, number];
    }),
    runs: arg('runs') ? Number(arg('runs')) : undefined,
    log,
  });
  const floor = await runtimeFloorMb(dir);
  if (process.argv.includes('--json')) console.log(JSON.stringify({ runtimeFloorMb: floor, rows }));
  else console.log(`${table(rows)}\n\nonnxruntime-web runtime alone (identity model): ${floor} MB`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
