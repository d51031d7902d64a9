// One owner's training state on one shard of the tail, for one round (the
// owner is a client's session, or a SplitFed V2 round's shared tail): the
// shard's LoRA adapters (and full-mode parameters), their optimizer, and the
// step counter. It lives in the shard's own Worker script, so its isolate
// holds that shard's weights and no other's; the client's session object
// (durable-objects/session) drives it.
//
// A step is a forward call (which keeps the input in memory), then a backward
// call (recomputes the forward inside the graph, steps the optimizer, commits)
// or, on the last shard, one train call. Shards commit in reverse order, last
// first. A step seq that is already committed is never applied again:
// forward answers `committed`, backward and train replay the stored answer,
// so the session can redo an interrupted step across every shard and each
// shard applies it exactly once.
import { DurableObject } from 'cloudflare:workers';
import {
  decodeOptimizerStateChunks,
  encodeOptimizerStateChunks,
  fromState,
  type Optimizer,
  OptimizerError,
} from '../../common/optim/index.js';
import { ArtifactStore } from '../../edge/artifacts.js';
import { hold } from '../../edge/memory.js';
import { withSession } from '../../edge/sessions.js';
import {
  type Activation,
  runBackward,
  runForward,
  runLoss,
  type ShardContext,
} from '../../edge/shard-runtime.js';
import { PIECE_BYTES } from '../chunks.js';
import { optimizerFor } from '../optimizer.js';
import { type ParamSet, paramBytes, paramsFrom, paramsFromBytes } from '../params.js';
import { RETENTION_MS } from '../retention.js';
import { fail, ok, type RpcFailure, type RpcResult } from '../rpc.js';
import { Serial } from '../serial.js';
import { decodeAnswer, encodeAnswer } from './answer.js';
import { type ShardRow, ShardSetup, ShardStore } from './store.js';

export interface ShardEnv {
  MODELS: R2Bucket;
  TAIL_SHARD: DurableObjectNamespace<TailShard>;
}

export interface ShardInitInput {
  setup: ShardSetup;
  /** Initial values of this shard's trainables (the round's starting version). */
  values: Record<string, Float32Array>;
}

export type ForwardValue = { committed: true } | { committed: false; output: Activation };

export interface TrainValue {
  gradInput: Activation;
  loss?: number;
  logits?: Activation;
}

interface Live {
  row: ShardRow;
  params: ParamSet;
  optimizer: Optimizer;
}

interface Pending {
  seq: number;
  digest: string;
  input: Activation;
}

export class TailShard extends DurableObject<ShardEnv> {
  readonly #store: ShardStore;
  readonly #serial = new Serial();
  #live: Live | undefined;
  /** The input of the step in flight, kept between its forward and backward calls. */
  #pending: Pending | undefined;

  constructor(ctx: DurableObjectState, env: ShardEnv) {
    super(ctx, env);
    this.#store = new ShardStore(ctx.storage);
  }

  init(input: ShardInitInput): Promise<RpcResult<{ nextSeq: number }>> {
    return this.#serial.run(async () => this.#init(input));
  }

  forward(seq: number, digest: string, input: Activation): Promise<RpcResult<ForwardValue>> {
    return this.#serial.run(() => this.#forward(seq, digest, input));
  }

  /** Every shard but the last: dL/d(output) → dL/d(input); steps and commits. */
  backward(seq: number, digest: string, gradOutput: Activation | null): Promise<RpcResult<TrainValue>> {
    return this.#serial.run(() => this.#backward(seq, digest, gradOutput));
  }

  /** The last shard: input and labels → loss, logits, dL/d(input); steps and commits. */
  train(
    seq: number,
    digest: string,
    input: Activation | null,
    labels: Int32Array,
  ): Promise<RpcResult<TrainValue>> {
    return this.#serial.run(() => this.#train(seq, digest, input, labels));
  }

  /** Closes the shard to further steps and hands over its trainables. Idempotent. */
  finish(): Promise<RpcResult<Record<string, Float32Array>>> {
    return this.#serial.run(async () => {
      const live = this.#load();
      if (!live) return notInitialised();
      if (live.row.finishedAt === null) {
        const at = Date.now();
        this.#store.markFinished(at);
        live.row = { ...live.row, finishedAt: at };
      }
      return ok(copyValues(live.params));
    });
  }

  /** The trainables now, without closing (status, tests). */
  values(): Promise<RpcResult<{ nextSeq: number; values: Record<string, Float32Array> }>> {
    return this.#serial.run(async () => {
      const live = this.#load();
      if (!live) return notInitialised();
      return ok({ nextSeq: live.row.nextSeq, values: copyValues(live.params) });
    });
  }

  override async alarm(): Promise<void> {
    this.#live = undefined;
    this.#pending = undefined;
    this.#release();
    await this.ctx.storage.deleteAll();
  }

  #init(input: ShardInitInput): RpcResult<{ nextSeq: number }> {
    const parsed = ShardSetup.safeParse(input?.setup);
    if (!parsed.success) return fail('bad-request', `invalid shard setup: ${parsed.error.message}`);
    const setup = parsed.data;
    const existing = this.#store.read();
    if (existing) {
      if (JSON.stringify(existing.setup) === JSON.stringify(setup)) return ok({ nextSeq: existing.nextSeq });
      return fail('bad-request', 'this shard session was initialised differently');
    }
    let params: ParamSet;
    let optimizer: Optimizer;
    try {
      params = paramsFrom(setup.specs, input.values ?? {});
      optimizer = optimizerFor(setup.optimizer);
    } catch (err) {
      if (err instanceof RangeError || err instanceof OptimizerError) return fail('bad-request', err.message);
      throw err;
    }
    const row: ShardRow = { setup, nextSeq: 0, lastDigest: null, finishedAt: null };
    this.#store.create(row, paramBytes(params), encodeOptimizerStateChunks(optimizer.state(), PIECE_BYTES));
    this.#live = { row, params, optimizer };
    this.#track();
    void this.ctx.storage.setAlarm(setup.ticket.deadline + RETENTION_MS);
    return ok({ nextSeq: 0 });
  }

  async #forward(seq: number, digest: string, input: Activation): Promise<RpcResult<ForwardValue>> {
    const live = this.#load();
    if (!live) return notInitialised();
    const { row } = live;
    if (seq < row.nextSeq) {
      if (seq === row.nextSeq - 1 && digest !== row.lastDigest) return takenByOther(row, seq);
      return ok({ committed: true });
    }
    const closed = closedProblem(row) ?? (seq > row.nextSeq ? outOfOrder(row, seq) : null);
    if (closed) return closed;
    const output = await this.#run((s, ctx) => runForward(s, ctx, input), live, 'forward');
    this.#pending = { seq, digest, input };
    this.#track();
    return ok({ committed: false, output });
  }

  async #backward(
    seq: number,
    digest: string,
    gradOutput: Activation | null,
  ): Promise<RpcResult<TrainValue>> {
    const live = this.#load();
    if (!live) return notInitialised();
    const replay = this.#replay(live.row, seq, digest);
    if (replay) return replay;
    const pending = this.#pending;
    if (!pending || pending.seq !== seq || pending.digest !== digest || !gradOutput) {
      return fail(
        'unavailable',
        `shard ${live.row.setup.shard.index} no longer holds the input of step ${seq}; redo the step`,
        {
          retryAfter: 1,
        },
      );
    }
    const out = await this.#run((s, ctx) => runBackward(s, ctx, pending.input, gradOutput), live, 'backward');
    return this.#commit(live, seq, digest, out.grads, { gradInput: out.gradInput });
  }

  async #train(
    seq: number,
    digest: string,
    input: Activation | null,
    labels: Int32Array,
  ): Promise<RpcResult<TrainValue>> {
    const live = this.#load();
    if (!live) return notInitialised();
    const replay = this.#replay(live.row, seq, digest);
    if (replay) return replay;
    if (!input)
      return fail('unavailable', `step ${seq} reached the last shard without its input; redo the step`);
    const { setup } = live.row;
    const out = await this.#run((s, ctx) => runLoss(s, ctx, input, labels, setup.labels), live, 'backward');
    if (!Number.isFinite(out.loss)) return nonFinite(`the loss is ${out.loss}`);
    return this.#commit(live, seq, digest, out.grads, {
      gradInput: out.gradInput,
      loss: out.loss,
      logits: out.logits,
    });
  }

  /** The stored answer of the last committed step, a refusal, or null when `seq` is the next step. */
  #replay(row: ShardRow, seq: number, digest: string): RpcResult<TrainValue> | null {
    if (seq === row.nextSeq - 1) {
      if (digest !== row.lastDigest) return takenByOther(row, seq);
      const answer = this.#store.blobs.read('answer');
      if (!answer) throw new Error(`the answer to step ${seq} is missing from storage`);
      return ok(decodeAnswer(answer));
    }
    return closedProblem(row) ?? (seq !== row.nextSeq ? outOfOrder(row, seq) : null);
  }

  #commit(
    live: Live,
    seq: number,
    digest: string,
    grads: Record<string, Float32Array>,
    answer: TrainValue,
  ): RpcResult<TrainValue> {
    try {
      // Checks every gradient before touching anything: on failure params and state are unchanged.
      live.optimizer.step(live.params.views, grads);
    } catch (err) {
      if (err instanceof OptimizerError && err.code === 'non_finite_gradient') return nonFinite(err.message);
      throw err;
    }
    const row: ShardRow = { ...live.row, nextSeq: seq + 1, lastDigest: digest };
    try {
      this.#store.commitStep(
        row,
        paramBytes(live.params),
        encodeOptimizerStateChunks(live.optimizer.state(), PIECE_BYTES),
        encodeAnswer(answer),
      );
    } catch (err) {
      // Stepped in memory but not stored: reload from storage next time.
      this.#live = undefined;
      throw err;
    }
    live.row = row;
    this.#pending = undefined;
    this.#track();
    return ok(answer);
  }

  async #run<T>(
    fn: (session: Parameters<Parameters<typeof withSession>[2]>[0], ctx: ShardContext) => Promise<T>,
    live: Live,
    graph: 'forward' | 'backward',
  ): Promise<T> {
    const { setup } = live.row;
    const artifact = graph === 'forward' ? setup.shard.forward : setup.shard.backward;
    if (!artifact) throw new Error(`shard ${setup.shard.index} has no backward graph`);
    const store = new ArtifactStore(this.env.MODELS);
    const ctx: ShardContext = {
      shard: setup.shard,
      microBatch: setup.microBatch,
      gradInput: setup.gradInput,
      specs: new Map(setup.specs.map((s) => [s.name, s])),
      trainables: live.params.views,
    };
    return withSession(
      artifact,
      () => store.bytes(artifact),
      (session) => fn(session, ctx),
    );
  }

  #load(): Live | null {
    if (this.#live) return this.#live;
    const row = this.#store.read();
    if (!row) return null;
    const bytes = this.#store.blobs.read('params');
    if (!bytes) throw new Error('the stored shard session has no trainables');
    const params = paramsFromBytes(row.setup.specs, bytes);
    const optimizer = fromState(decodeOptimizerStateChunks(this.#store.blobs.pieces('optimizer')));
    this.#live = { row, params, optimizer };
    this.#track();
    return this.#live;
  }

  /** What this object holds in the isolate's JavaScript heap, for the memory report. */
  #track(): void {
    const key = `tail-shard:${this.ctx.id.toString()}`;
    const live = this.#live;
    const optimizerBytes = live
      ? live.params.flat.byteLength * (live.row.setup.optimizer.kind === 'adamw' ? 2 : 1)
      : 0;
    hold(
      key,
      (live?.params.flat.byteLength ?? 0) + optimizerBytes + (this.#pending?.input.data.byteLength ?? 0),
    );
  }

  #release(): void {
    hold(`tail-shard:${this.ctx.id.toString()}`, 0);
  }
}

function copyValues(params: ParamSet): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(params.views).map(([k, v]) => [k, v.slice()]));
}

function closedProblem(row: ShardRow): RpcFailure | null {
  if (row.finishedAt !== null)
    return fail('round-closed', 'this session has finished; its update was submitted');
  if (Date.now() > row.setup.ticket.deadline)
    return fail('round-closed', `round ${row.setup.ticket.round} is past its deadline`);
  return null;
}

function outOfOrder(row: ShardRow, seq: number): RpcFailure {
  return fail('out-of-order-step', `step ${seq} is out of order; the next step is ${row.nextSeq}`, {
    extensions: { expected: row.nextSeq },
  });
}

function takenByOther(row: ShardRow, seq: number): RpcFailure {
  return fail(
    'out-of-order-step',
    `step ${seq} was already taken by a different body; the next step is ${row.nextSeq}`,
    {
      extensions: { expected: row.nextSeq },
    },
  );
}

function nonFinite(why: string): RpcFailure {
  // Finite activations can still overflow the tail; that is the input's doing, not a server fault.
  return fail('bad-request', `${why}; nothing was trained`, { extensions: { code: 'non-finite' } });
}

function notInitialised(): RpcFailure {
  return fail('not-found', 'no shard session for this client and round; join the round first');
}
