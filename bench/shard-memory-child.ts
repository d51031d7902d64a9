// One memory measurement in a fresh process (shard-memory.ts starts it): the
// WebAssembly heap only grows, so a process that loaded one thing before
// would report that thing's peak. Loads onnxruntime-web's WASM backend (one
// thread, as in workerd), creates the given sessions, runs each the given
// number of times in order, and prints one JSON line.
import { readFileSync } from 'node:fs';

export interface ChildSession {
  file: string;
  /** Feeds: the data input with a batch axis first, everything else as given; int64 for class labels. */
  inputs: { name: string; dims: number[]; batched: boolean; dtype?: 'float32' | 'int64' }[];
}

export interface ChildRequest {
  sessions: ChildSession[];
  batch: number;
  runs: number;
}

export interface ChildResult {
  /** WebAssembly.Memory byte size after the sessions were created. */
  heapAfterCreate: number;
  /** ... and after every run: the peak. */
  heapPeak: number;
  createMs: number;
  /** Per run, per session, in order. */
  runMs: number[][];
}

const memories: WebAssembly.Memory[] = [];

/** Finds onnxruntime's heap: Emscripten imports it (threaded build) or exports it. */
function collect(values: Iterable<unknown>): void {
  for (const v of values) if (v instanceof WebAssembly.Memory && !memories.includes(v)) memories.push(v);
}

function interceptInstantiate(): void {
  const original = WebAssembly.instantiate.bind(WebAssembly) as (
    source: BufferSource | WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => Promise<WebAssembly.WebAssemblyInstantiatedSource | WebAssembly.Instance>;
  const patched = async (source: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports) => {
    for (const module of Object.values(imports ?? {})) collect(Object.values(module));
    const result = await original(source, imports);
    const instance = result instanceof WebAssembly.Instance ? result : result.instance;
    collect(Object.values(instance.exports));
    return result;
  };
  (WebAssembly as { instantiate: unknown }).instantiate = patched;
}

const heapBytes = () => Math.max(0, ...memories.map((m) => m.buffer.byteLength));

/** Deterministic values in [-0.5, 0.5): contents do not change memory or time, but NaNs could. */
function filled(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  return a;
}

async function measure(request: ChildRequest): Promise<ChildResult> {
  interceptInstantiate();
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  const t0 = performance.now();
  const sessions = [];
  for (const s of request.sessions) {
    sessions.push(
      await ort.InferenceSession.create(readFileSync(s.file), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      }),
    );
  }
  const createMs = performance.now() - t0;
  if (memories.length === 0) throw new Error('found no WebAssembly.Memory in onnxruntime-web');
  const heapAfterCreate = heapBytes();
  const feeds = request.sessions.map((s) =>
    Object.fromEntries(
      s.inputs.map(({ name, dims, batched, dtype }) => {
        const shape = batched ? [request.batch, ...dims] : dims;
        const n = shape.reduce((a, b) => a * b, 1);
        return [
          name,
          dtype === 'int64'
            ? new ort.Tensor('int64', new BigInt64Array(n), shape)
            : new ort.Tensor('float32', filled(n), shape),
        ];
      }),
    ),
  );
  const runMs: number[][] = [];
  for (let r = 0; r < request.runs; r++) {
    const times: number[] = [];
    for (const [i, session] of sessions.entries()) {
      const t = performance.now();
      await session.run(feeds[i]);
      times.push(performance.now() - t);
    }
    runMs.push(times);
  }
  return { heapAfterCreate, heapPeak: heapBytes(), createMs, runMs };
}

const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
console.log(JSON.stringify(await measure(request)));
