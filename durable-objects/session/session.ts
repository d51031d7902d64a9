// One client's training session for one round (the Worker names it
// `${federationId}/${round}/${deviceId}`): the server-side copy of the tail
// adapters, their optimizer, and the step sequence. The device drives it one
// step at a time; the coordinator never sees a step, only the tail update that
// finish() hands to the Worker's submit route.
//
// Steps are numbered from 0. Step `next` trains; step `next − 1` is a retry
// and gets the stored answer, byte for byte, without training or counting
// again; anything else is out of order. What a step changes (trainables,
// optimizer state, answer, counters) is committed in one transaction before
// the answer leaves, so an acknowledged step survives an eviction and is
// applied exactly once.
import { DurableObject } from 'cloudflare:workers';
import {
  decodeOptimizerStateChunks,
  encodeOptimizerStateChunks,
  fromState,
  type Optimizer,
  OptimizerError,
} from '../../common/optim/index.js';
import { argmaxRows } from '../../common/predictions.js';
import { OptimizerConfig, Ticket } from '../../protocol/federation.js';
import { encodeFrame, FrameError, frameSize } from '../../protocol/frame.js';
import { encodeStepAnswer, stepAnswerSize } from '../../protocol/step.js';
import { type DeployedModel, findModel } from '../../workers/registry.js';
import { PIECE_BYTES } from '../chunks.js';
import { fail, ok, type RpcFailure, type RpcResult } from '../rpc.js';
import { sha256Hex } from './digest.js';
import { optimizerFor } from './optimizer.js';
import { checkStep, decodeActivation } from './request.js';
import { roundingRandom } from './seed.js';
import { Serial } from './serial.js';
import { type SessionRow, SessionStore } from './store.js';
import { runTailTrain } from './tail-train.js';
import {
  paramBytes,
  paramsFromBytes,
  parseTail,
  type TailParams,
  tailSafetensors,
  tailSpecs,
} from './trainables.js';

export interface InitInput {
  ticket: Ticket;
  tailOptimizer: OptimizerConfig;
  /** safetensors of the tail trainables at ticket.version. */
  tail: Uint8Array;
}

export interface StepValue {
  /** The step answer (protocol/step.ts). */
  answer: Uint8Array<ArrayBuffer>;
  /** Uplink plus downlink bytes of this session so far, this step included. */
  bytesUsed: number;
  budgetBytes: number;
}

export interface FinishValue {
  /** safetensors of the current tail trainables. */
  tail: Uint8Array<ArrayBuffer>;
  uplinkBytes: number;
  downlinkBytes: number;
  steps: number;
  samples: number;
}

export type SessionStatus =
  | { initialised: false }
  | {
      initialised: true;
      ticket: Ticket;
      tailOptimizer: OptimizerConfig;
      nextSeq: number;
      steps: number;
      samples: number;
      correct: number;
      meanLoss: number | null;
      uplinkBytes: number;
      downlinkBytes: number;
      budgetBytes: number;
      finished: boolean;
      optimizerSteps: number;
      /** SHA-256 of the tail trainables' float32 bytes, to see whether they changed. */
      trainablesSha256: string;
    };

/** Quantization groups of the gradient frame: per token, as activations travel. */
const GRADIENT_GRANULARITY = 'token';

interface Live {
  row: SessionRow;
  model: DeployedModel;
  params: TailParams;
  optimizer: Optimizer;
}

export class ClientSession extends DurableObject<Env> {
  // Everything but the RPC methods is #private: every public method of a
  // Durable Object class is callable over RPC.
  readonly #store: SessionStore;
  readonly #serial = new Serial();
  /** The loaded state; dropped whenever memory may have run ahead of storage. */
  #live: Live | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new SessionStore(ctx.storage);
  }

  /** Creates the session. Idempotent for the same ticket: answers the next seq. */
  init(input: InitInput): Promise<RpcResult<{ seq: number }>> {
    return this.#serial.run(async () => this.#init(input));
  }

  step(seq: number, body: Uint8Array): Promise<RpcResult<StepValue>> {
    return this.#serial.run(() => this.#step(seq, body));
  }

  /** Closes the session to further steps and hands over the tail update. Idempotent. */
  finish(): Promise<RpcResult<FinishValue>> {
    return this.#serial.run(async () => this.#finish());
  }

  status(): Promise<SessionStatus> {
    return this.#serial.run(() => this.#status());
  }

  #init(input: InitInput): RpcResult<{ seq: number }> {
    const ticket = Ticket.safeParse(input?.ticket);
    if (!ticket.success) return fail('bad-request', `invalid ticket: ${ticket.error.message}`);
    const optimizer = OptimizerConfig.safeParse(input.tailOptimizer);
    if (!optimizer.success) return fail('bad-request', `invalid tail optimizer: ${optimizer.error.message}`);
    if (!(input.tail instanceof Uint8Array)) return fail('bad-request', 'tail must be safetensors bytes');
    const t = ticket.data;

    const existing = this.#store.read();
    if (existing) {
      if (JSON.stringify(existing.ticket) === JSON.stringify(t)) return ok({ seq: existing.nextSeq });
      return fail('bad-request', 'this session was initialised with a different ticket');
    }
    if (Date.now() > t.deadline) return fail('round-closed', `round ${t.round} closed at its deadline`);

    const model = findModel(t.modelId);
    if (!model) return fail('unknown-model', `no model ${t.modelId}`);
    const training = model.manifest.training;
    if (!training || !model.training) return fail('bad-request', `${t.modelId} is not built for training`);
    if (t.cut !== model.manifest.cut.id) {
      return fail('bad-request', `ticket cut ${t.cut}, ${t.modelId} is cut at ${model.manifest.cut.id}`);
    }
    if (!model.manifest.wire.encodings.includes(t.uplink)) {
      return fail('bad-request', `${t.modelId} does not accept ${t.uplink} activations`);
    }
    const parsed = parseTail(training, input.tail);
    if (!parsed.ok) return fail('bad-request', parsed.error);
    let opt: Optimizer;
    try {
      opt = optimizerFor(optimizer.data);
    } catch (err) {
      if (err instanceof OptimizerError) return fail('bad-request', err.message);
      throw err;
    }

    const row: SessionRow = {
      ticket: t,
      optimizer: optimizer.data,
      nextSeq: 0,
      uplinkBytes: 0,
      downlinkBytes: 0,
      samples: 0,
      correct: 0,
      lossSum: 0,
      lastDigest: null,
      finishedAt: null,
    };
    this.#store.create(row, paramBytes(parsed.params), encodeOptimizerStateChunks(opt.state(), PIECE_BYTES));
    this.#live = { row, model, params: parsed.params, optimizer: opt };
    return ok({ seq: 0 });
  }

  async #step(seq: number, body: Uint8Array): Promise<RpcResult<StepValue>> {
    if (!Number.isSafeInteger(seq) || seq < 0)
      return fail('bad-request', `step ${seq} is not an integer >= 0`);
    if (!(body instanceof Uint8Array)) return fail('bad-request', 'the step body must be bytes');
    const live = this.#load();
    if (!live) return notInitialised();
    const { row, model, params, optimizer } = live;
    const t = row.ticket;
    const closed = closedProblem(row);
    if (closed) return closed;

    const used = row.uplinkBytes + row.downlinkBytes;
    if (seq === row.nextSeq - 1) {
      if ((await sha256Hex(body)) !== row.lastDigest) {
        return outOfOrder(row, `step ${seq} was already taken by a different body`);
      }
      const answer = this.#store.readBlob('answer');
      if (!answer) throw new Error(`the answer to step ${seq} is missing from storage`);
      return ok({ answer, bytesUsed: used, budgetBytes: t.budgetBytes });
    }
    if (seq !== row.nextSeq) return outOfOrder(row, `step ${seq} is out of order`);

    const checked = checkStep(body, model.manifest, t);
    if ('ok' in checked) return checked;
    const { header, labels } = checked;
    const needed = body.length + stepAnswerSize(frameSize(header.shape, t.downlink, GRADIENT_GRANULARITY));
    if (used + needed > t.budgetBytes) {
      return fail('budget-exhausted', `this step needs ${needed} bytes, ${t.budgetBytes - used} are left`, {
        retryAfter: Math.max(1, Math.ceil((t.deadline - Date.now()) / 1000)),
        extensions: { budgetBytes: t.budgetBytes, bytesUsed: used, bytesNeeded: needed },
      });
    }
    const data = decodeActivation(checked);
    if (!(data instanceof Float32Array)) return data;
    const digest = await sha256Hex(body);

    const out = await runTailTrain(model, { shape: header.shape, data }, labels, params);
    if (!Number.isFinite(out.loss)) return nonFinite(`the loss is ${out.loss}`);
    let gradient: Uint8Array;
    try {
      gradient = encodeFrame(
        { shape: header.shape, data: out.cutGrad },
        {
          encoding: t.downlink,
          granularity: GRADIENT_GRANULARITY,
          // Unbiased rounding keeps the device's gradient estimate unbiased;
          // seeding by (session, seq) makes the answer reproducible.
          rounding: 'stochastic',
          random: roundingRandom(t, seq),
        },
      );
    } catch (err) {
      if (err instanceof FrameError)
        return nonFinite(`the activation gradient cannot be sent: ${err.message}`);
      throw err;
    }
    const correct = countCorrect(out.logits, labels);
    const answer = encodeStepAnswer({ loss: out.loss, correct, gradient });
    try {
      // Checks every gradient before touching anything: on failure params and state are unchanged.
      optimizer.step(params.views, out.grads);
    } catch (err) {
      if (err instanceof OptimizerError && err.code === 'non_finite_gradient') return nonFinite(err.message);
      throw err;
    }

    const next: SessionRow = {
      ...row,
      nextSeq: seq + 1,
      uplinkBytes: row.uplinkBytes + body.length,
      downlinkBytes: row.downlinkBytes + answer.length,
      samples: row.samples + labels.length,
      correct: row.correct + correct,
      lossSum: row.lossSum + out.loss * labels.length,
      lastDigest: digest,
    };
    try {
      this.#store.commitStep(
        next,
        paramBytes(params),
        encodeOptimizerStateChunks(optimizer.state(), PIECE_BYTES),
        answer,
      );
    } catch (err) {
      // The params were stepped in memory but not stored: reload from storage next time.
      this.#live = undefined;
      throw err;
    }
    live.row = next;
    return ok({ answer, bytesUsed: next.uplinkBytes + next.downlinkBytes, budgetBytes: t.budgetBytes });
  }

  #finish(): RpcResult<FinishValue> {
    const live = this.#load();
    if (!live) return notInitialised();
    if (live.row.finishedAt === null) {
      const at = Date.now();
      this.#store.markFinished(at);
      live.row = { ...live.row, finishedAt: at };
    }
    const { row } = live;
    return ok({
      tail: tailSafetensors(live.params),
      uplinkBytes: row.uplinkBytes,
      downlinkBytes: row.downlinkBytes,
      steps: row.nextSeq,
      samples: row.samples,
    });
  }

  async #status(): Promise<SessionStatus> {
    const live = this.#load();
    if (!live) return { initialised: false };
    const { row } = live;
    return {
      initialised: true,
      ticket: row.ticket,
      tailOptimizer: row.optimizer,
      nextSeq: row.nextSeq,
      steps: row.nextSeq,
      samples: row.samples,
      correct: row.correct,
      meanLoss: row.samples > 0 ? row.lossSum / row.samples : null,
      uplinkBytes: row.uplinkBytes,
      downlinkBytes: row.downlinkBytes,
      budgetBytes: row.ticket.budgetBytes,
      finished: row.finishedAt !== null,
      optimizerSteps: live.optimizer.stepCount,
      trainablesSha256: await sha256Hex(paramBytes(live.params)),
    };
  }

  /** The session from memory, or from storage after an eviction; null before init. */
  #load(): Live | null {
    if (this.#live) return this.#live;
    const row = this.#store.read();
    if (!row) return null;
    const model = findModel(row.ticket.modelId);
    const training = model?.manifest.training;
    if (!model || !training)
      throw new Error(`model ${row.ticket.modelId} of a stored session is not deployed`);
    const bytes = this.#store.readBlob('params');
    if (!bytes) throw new Error('the stored session has no trainables');
    const params = paramsFromBytes(tailSpecs(training), bytes);
    const optimizer = fromState(decodeOptimizerStateChunks(this.#store.readPieces('optimizer')));
    this.#live = { row, model, params, optimizer };
    return this.#live;
  }
}

function countCorrect(logits: Float32Array, labels: Int32Array): number {
  const predicted = argmaxRows(logits, logits.length / labels.length);
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) n++;
  return n;
}

function closedProblem(row: SessionRow): RpcFailure | null {
  if (row.finishedAt !== null)
    return fail('round-closed', 'this session has finished; its update was submitted');
  if (Date.now() > row.ticket.deadline)
    return fail('round-closed', `round ${row.ticket.round} is past its deadline`);
  return null;
}

function outOfOrder(row: SessionRow, why: string): RpcFailure {
  return fail('out-of-order-step', `${why}; the next step is ${row.nextSeq}`, {
    extensions: { expected: row.nextSeq },
  });
}

function nonFinite(why: string): RpcFailure {
  // Finite activations can still overflow the tail; that is the input's doing, not a server fault.
  return fail('bad-request', `${why}; nothing was trained`, { extensions: { code: 'non-finite' } });
}

function notInitialised(): RpcFailure {
  return fail('not-found', 'no training session for this client and round; join the round first');
}
