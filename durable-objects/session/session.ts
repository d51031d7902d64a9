// One client's training session for one round (the Worker names it
// `${federationId}/${round}/${deviceId}`): the step sequence, the byte budget
// and the answers. The tail's adapters live on the shards of the tail
// pipeline, one TailShard object per shard for this client (each in its shard's
// own Worker script); this object drives a step through them
// (pipeline-step.ts). The coordinator never sees a step, only the tail update
// that finish() gathers from the shards for the Worker's submit route. In a
// SplitFed V2 round the tail is the round's, not the client's: the session
// keeps everything else and hands each step's tail part to the round's
// SharedTail (shared-tail.ts), whose shards it reads at handover.
//
// Steps are numbered from 0. Step `next` trains; step `next − 1` is a retry
// and gets the stored answer, byte for byte, without training or counting
// again; anything else is out of order. A step's counters and answer are
// committed in one transaction after every shard has committed its part, so
// an acknowledged step survives an eviction and is applied exactly once.
import { DurableObject } from 'cloudflare:workers';
import { sha256Hex } from '../../common/digest.js';
import { OptimizerError } from '../../common/optim/index.js';
import { argmaxRows } from '../../common/predictions.js';
import { ArtifactStore } from '../../edge/artifacts.js';
import type { Activation } from '../../edge/pipeline.js';
import { OptimizerConfig, Ticket } from '../../protocol/federation.js';
import { encodeFrame, FrameError, frameSize } from '../../protocol/frame.js';
import { Pacer } from '../../protocol/pacing.js';
import { encodeStepAnswer, stepAnswerSize } from '../../protocol/step.js';
import { optimizerFor } from '../optimizer.js';
import { paramBytes, paramsFrom, paramsSafetensors, parseTail, tailSpecs } from '../params.js';
import { RETENTION_MS } from '../retention.js';
import { fail, ok, type RpcFailure, type RpcResult } from '../rpc.js';
import { Serial } from '../serial.js';
import { CredentialFloor, type FloorReason } from './credential.js';
import { initShards, type PipelineStepResult, pipelineStep, shardStubs } from './pipeline-step.js';
import { checkStep, decodeActivation } from './request.js';
import { roundingRandom } from './seed.js';
import { isShared, sharedTail, sharedTailOwner } from './shared-tail.js';
import { type SessionRow, SessionStore } from './store.js';

export interface InitInput {
  ticket: Ticket;
  tailOptimizer: OptimizerConfig;
  /** safetensors of the tail trainables at ticket.version. */
  tail: Uint8Array;
  /**
   * The joining token's generation (credential.ts). Every method that acts for
   * the device takes it; omitted, it is 0, which a session joined through the
   * Worker (generation 1 or more) refuses.
   */
  generation?: number;
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
  /** The tail's milliseconds for these samples at its quickest step's time per sample, since this object last started (an estimate for planning). */
  tailTiming: { ms: number; samples: number };
  /**
   * A shared tail (SplitFed V2): the steps it had taken this round, every
   * device's, when `tail` was read. The round publishes the reading with the
   * most steps: the tail only moves forward.
   */
  sharedTailSteps?: number;
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
      /** Steps each shard of the tail pipeline has committed for this client, in shard order. */
      shardSteps: number[];
      /** SHA-256 of the tail trainables' float32 bytes, to see whether they changed. */
      trainablesSha256: string;
    };

/**
 * How often, at most, a session reports its progress to the coordinator's
 * watchers, and how often it asks again whether there are any once the
 * coordinator said there were none: a step costs no extra request then.
 */
const PROGRESS_INTERVAL_MS = 1000;
const UNWATCHED_INTERVAL_MS = 10_000;

/**
 * How early a step may arrive before its paced turn: the device waits on the
 * same bucket before sending, but the step's transit time varies.
 */
const PACING_SLACK_MS = 250;

/** Quantization groups of the gradient frame: per token, as activations travel. */
const GRADIENT_GRANULARITY = 'token';

export class ClientSession extends DurableObject<Env> {
  // Everything but the RPC methods is #private: every public method of a
  // Durable Object class is callable over RPC.
  readonly #store: SessionStore;
  readonly #credential: CredentialFloor;
  readonly #serial = new Serial();
  /** The stored row; dropped whenever memory may have run ahead of storage. */
  #row: SessionRow | undefined;
  /** When the coordinator last heard of this session's progress (memory only: losing it costs one early report). */
  #reportedAt = 0;
  /** Whether the coordinator had watchers when it last heard. */
  #watched = true;
  /** Holds the steps to the ticket's planned uplink rate, when it has one. */
  #pacer: Pacer | undefined;
  /**
   * The tail's time per sample, as the planner charges it: the quickest step's.
   * A step's wall time also holds its wait behind other objects' steps on the
   * same machine (every one of them, under local workerd), which is not this
   * tail's cost and would make the planner expect every round to be slower.
   */
  #tailMsPerSample = Number.POSITIVE_INFINITY;
  #tailSamples = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new SessionStore(ctx.storage);
    this.#credential = new CredentialFloor(ctx.storage.sql);
  }

  /** Creates the session and the client's state on every shard. Idempotent for the same ticket: answers the next seq. */
  init(input: InitInput): Promise<RpcResult<{ seq: number }>> {
    return this.#serial.run(() => this.#init(input));
  }

  step(seq: number, body: Uint8Array, generation = 0): Promise<RpcResult<StepValue>> {
    return this.#serial.run(async () => this.#admit(generation) ?? this.#step(seq, body));
  }

  /**
   * The tail update as it stands, gathered from the shards, without closing
   * anything: the submit route has the coordinator check it first, so a
   * refused update leaves the device free to train on and submit again.
   */
  handover(generation = 0): Promise<RpcResult<FinishValue>> {
    return this.#serial.run(async () => this.#admit(generation) ?? this.#finish(false));
  }

  /** Closes the session to further steps and hands over the tail update, gathered from the shards. Idempotent. */
  finish(generation = 0): Promise<RpcResult<FinishValue>> {
    return this.#serial.run(async () => this.#admit(generation) ?? this.#finish(true));
  }

  /**
   * The coordinator's word that the device's tokens below `floor` are void
   * (re-enrolment or revocation). Serialised with the steps, so no step of an
   * older token starts after this answers.
   */
  supersede(floor: number, reason: FloorReason): Promise<RpcResult<{ floor: number }>> {
    return this.#serial.run(async () => {
      if (!Number.isSafeInteger(floor) || floor < 0)
        return fail('bad-request', 'floor must be an integer >= 0');
      this.#credential.raise(floor, reason === 'revoked' ? 'revoked' : 'superseded');
      return ok({ floor: this.#credential.floor });
    });
  }

  status(): Promise<SessionStatus> {
    return this.#serial.run(() => this.#status());
  }

  /** The round is long over: its update went to the coordinator, or never will. */
  override async alarm(): Promise<void> {
    await this.#serial.run(async () => {
      this.#row = undefined;
      await this.ctx.storage.deleteAll();
    });
  }

  /**
   * A device's request to a session that exists, with a token the session
   * honours. A session that was never initialised answers 404 before
   * anything is written, so a request for a round the device did not join
   * leaves no storage behind.
   */
  #admit(generation: number): RpcFailure | null {
    if (!this.#load()) return notInitialised();
    return this.#credential.admit(generation);
  }

  async #init(input: InitInput): Promise<RpcResult<{ seq: number }>> {
    const ticket = Ticket.safeParse(input?.ticket);
    if (!ticket.success) return fail('bad-request', `invalid ticket: ${ticket.error.message}`);
    const optimizer = OptimizerConfig.safeParse(input.tailOptimizer);
    if (!optimizer.success) return fail('bad-request', `invalid tail optimizer: ${optimizer.error.message}`);
    if (!(input.tail instanceof Uint8Array)) return fail('bad-request', 'tail must be safetensors bytes');
    const t = ticket.data;
    // Before the ticket comparison: a join with a newer token re-inits with the same ticket and raises the floor.
    const denied = this.#credential.admit(input.generation ?? 0);
    if (denied) return denied;

    const existing = this.#load();
    if (existing) {
      if (JSON.stringify(existing.ticket) === JSON.stringify(t)) return ok({ seq: existing.nextSeq });
      return fail('bad-request', 'this session was initialised with a different ticket');
    }
    if (Date.now() > t.deadline) return fail('round-closed', `round ${t.round} closed at its deadline`);

    const manifest = await new ArtifactStore(this.env.MODELS).manifest(t.modelId);
    if (!manifest) return fail('unknown-model', `no model ${t.modelId}`);
    const training = manifest.training;
    if (!training) return fail('bad-request', `${t.modelId} is not built for training`);
    if (t.cut !== manifest.cut.id) {
      return fail('bad-request', `ticket cut ${t.cut}, ${t.modelId} is cut at ${manifest.cut.id}`);
    }
    if (!manifest.wire.encodings.includes(t.uplink)) {
      return fail('bad-request', `${t.modelId} does not accept ${t.uplink} activations`);
    }
    const parsed = parseTail(training, input.tail);
    if (!parsed.ok) return fail('bad-request', parsed.error);
    try {
      optimizerFor(optimizer.data);
    } catch (err) {
      if (err instanceof OptimizerError) return fail('bad-request', err.message);
      throw err;
    }

    // The tail first: a join that fails halfway is retried, and a shard (or
    // the round's shared tail) already set up for this ticket answers as before.
    const tailReady = isShared(t)
      ? await sharedTail(this.env, t).init({ ticket: t, tailOptimizer: optimizer.data, tail: input.tail })
      : await initShards(this.env, this.ctx.id.toString(), manifest, t, optimizer.data, parsed.params);
    if (!tailReady.ok) return tailReady;

    const row: SessionRow = {
      ticket: t,
      optimizer: optimizer.data,
      manifest,
      nextSeq: 0,
      uplinkBytes: 0,
      downlinkBytes: 0,
      samples: 0,
      correct: 0,
      lossSum: 0,
      lastDigest: null,
      finishedAt: null,
    };
    this.#store.create(row);
    this.#row = row;
    await this.ctx.storage.setAlarm(t.deadline + RETENTION_MS);
    return ok({ seq: 0 });
  }

  async #step(seq: number, body: Uint8Array): Promise<RpcResult<StepValue>> {
    if (!Number.isSafeInteger(seq) || seq < 0)
      return fail('bad-request', `step ${seq} is not an integer >= 0`);
    if (!(body instanceof Uint8Array)) return fail('bad-request', 'the step body must be bytes');
    const row = this.#load();
    if (!row) return notInitialised();
    const t = row.ticket;
    const closed = closedProblem(row);
    if (closed) return closed;

    const used = row.uplinkBytes + row.downlinkBytes;
    if (seq === row.nextSeq - 1) {
      if ((await sha256Hex(body)) !== row.lastDigest) {
        return outOfOrder(row, `step ${seq} was already taken by a different body`);
      }
      const answer = this.#store.readAnswer();
      if (!answer) throw new Error(`the answer to step ${seq} is missing from storage`);
      return ok({ answer, bytesUsed: used, budgetBytes: t.budgetBytes });
    }
    if (seq !== row.nextSeq) return outOfOrder(row, `step ${seq} is out of order`);

    const checked = checkStep(body, row.manifest, t);
    if ('ok' in checked) return checked;
    const { header, labels } = checked;
    const needed = body.length + stepAnswerSize(frameSize(header.shape, t.downlink, GRADIENT_GRANULARITY));
    if (used + needed > t.budgetBytes) {
      return fail('budget-exhausted', `this step needs ${needed} bytes, ${t.budgetBytes - used} are left`, {
        retryAfter: Math.max(1, Math.ceil((t.deadline - Date.now()) / 1000)),
        extensions: { budgetBytes: t.budgetBytes, bytesUsed: used, bytesNeeded: needed },
      });
    }
    const wait = this.#pace(t, body.length);
    if (wait > 0) {
      return fail(
        'paced',
        `this step may go in ${wait} ms, at the ${t.plan?.rateBps} bit/s the round planned`,
        {
          retryAfter: wait / 1000,
          extensions: { retryAfterMs: wait, rateBps: t.plan?.rateBps ?? 0 },
        },
      );
    }
    const data = decodeActivation(checked);
    if (!(data instanceof Float32Array)) return data;
    const digest = await sha256Hex(body);

    const out = await this.#train(t, seq, digest, { shape: header.shape, data }, labels);
    if (!out.ok) return out;
    this.#tailMsPerSample = Math.min(this.#tailMsPerSample, out.value.ms / labels.length);
    this.#tailSamples += labels.length;
    const { loss, logits, gradient: cutGrad } = out.value.result;
    let gradient: Uint8Array;
    try {
      gradient = encodeFrame(
        { shape: header.shape, data: cutGrad.data },
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
    const correct = countCorrect(logits.data, labels);
    const answer = encodeStepAnswer({ loss, correct, gradient });
    const next: SessionRow = {
      ...row,
      nextSeq: seq + 1,
      uplinkBytes: row.uplinkBytes + body.length,
      downlinkBytes: row.downlinkBytes + answer.length,
      samples: row.samples + labels.length,
      correct: row.correct + correct,
      lossSum: row.lossSum + loss * labels.length,
      lastDigest: digest,
    };
    try {
      this.#store.commitStep(next, answer);
    } catch (err) {
      this.#row = undefined;
      throw err;
    }
    this.#row = next;
    this.#report(next);
    return ok({ answer, bytesUsed: next.uplinkBytes + next.downlinkBytes, budgetBytes: t.budgetBytes });
  }

  /** The tail's part of a step: on this session's own shards, or in its turn on the round's shared tail. */
  async #train(
    t: Ticket,
    seq: number,
    digest: string,
    activation: Activation,
    labels: Int32Array,
  ): Promise<RpcResult<{ result: PipelineStepResult; ms: number }>> {
    if (isShared(t)) return sharedTail(this.env, t).step(t.deviceId, seq, digest, activation, labels);
    const started = performance.now();
    const stubs = await shardStubs(this.env, this.ctx.id.toString(), this.#load()!.manifest.pipeline);
    const out = await pipelineStep(stubs, seq, digest, activation, labels);
    return out.ok ? ok({ result: out.value, ms: performance.now() - started }) : out;
  }

  /** The id this session's tail shards are named after: its own, or the round's shared tail's. */
  #tailOwner(t: Ticket): string {
    return isShared(t) ? sharedTailOwner(this.env, t) : this.ctx.id.toString();
  }

  /** Milliseconds this step must wait under the ticket's planned rate (0: it may go now). */
  #pace(t: Ticket, bytes: number): number {
    if (!t.plan?.paced || !(t.plan.rateBps > 0)) return 0;
    this.#pacer ??= new Pacer(t.plan.rateBps, PACING_SLACK_MS);
    return this.#pacer.admit(bytes, Date.now());
  }

  /**
   * Tells the coordinator's watchers (protocol/events.ts) how far the device
   * has got, at most once per PROGRESS_INTERVAL_MS (UNWATCHED_INTERVAL_MS
   * while nobody watches) and never waiting for it: a lost report costs a
   * watcher one update, not the device a step.
   */
  #report(row: SessionRow): void {
    const now = Date.now();
    if (now - this.#reportedAt < (this.#watched ? PROGRESS_INTERVAL_MS : UNWATCHED_INTERVAL_MS)) return;
    this.#reportedAt = now;
    const t = row.ticket;
    const progress = {
      round: t.round,
      deviceId: t.deviceId,
      steps: row.nextSeq,
      samples: row.samples,
      loss: row.samples > 0 ? row.lossSum / row.samples : null,
      uplinkBytes: row.uplinkBytes,
      downlinkBytes: row.downlinkBytes,
    };
    const coordinator = this.env.COORDINATOR.get(this.env.COORDINATOR.idFromName(t.federationId));
    this.ctx.waitUntil(
      coordinator.progress(progress).then(
        (watched) => {
          this.#watched = watched;
        },
        () => {},
      ),
    );
  }

  async #finish(close: boolean): Promise<RpcResult<FinishValue>> {
    const row = this.#load();
    if (!row) return notInitialised();
    // Not finished: the device may still train and then submit.
    if (row.samples === 0) {
      return fail('invalid-update', 'The session observed no training steps: there is nothing to submit.', {
        extensions: { code: 'no-steps' },
      });
    }
    // A shared tail goes on training for the round's other devices: it is read, never closed.
    const shared = isShared(row.ticket);
    let tailSteps = Number.POSITIVE_INFINITY;
    const values = await this.#gather(async (stub): Promise<RpcResult<Record<string, Float32Array>>> => {
      if (close && !shared) return stub.finish();
      const r: RpcResult<{ nextSeq: number; values: Record<string, Float32Array> }> = await stub.values();
      if (!r.ok) return r;
      tailSteps = Math.min(tailSteps, r.value.nextSeq);
      return ok(r.value.values);
    });
    if (!values.ok) return values;
    if (close && row.finishedAt === null) {
      const at = Date.now();
      this.#store.markFinished(at);
      this.#row = { ...row, finishedAt: at };
    }
    return ok({
      tail: paramsSafetensors(values.value),
      uplinkBytes: row.uplinkBytes,
      downlinkBytes: row.downlinkBytes,
      steps: row.nextSeq,
      samples: row.samples,
      tailTiming:
        this.#tailSamples > 0
          ? { ms: this.#tailMsPerSample * this.#tailSamples, samples: this.#tailSamples }
          : { ms: 0, samples: 0 },
      ...(shared ? { sharedTailSteps: tailSteps } : {}),
    });
  }

  async #status(): Promise<SessionStatus> {
    const row = this.#load();
    if (!row) return { initialised: false };
    const shardSteps: number[] = [];
    const values = await this.#gather(async (stub) => {
      const r: RpcResult<{ nextSeq: number; values: Record<string, Float32Array> }> = await stub.values();
      if (!r.ok) return r;
      shardSteps.push(r.value.nextSeq);
      return ok(r.value.values);
    });
    if (!values.ok) throw new Error(`a shard of this session cannot report: ${values.detail}`);
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
      shardSteps,
      trainablesSha256: await sha256Hex(paramBytes(values.value)),
    };
  }

  /** Every shard's trainables, as one set in the manifest's order. */
  async #gather(
    read: (
      stub: Awaited<ReturnType<typeof shardStubs>>[number],
    ) => Promise<RpcResult<Record<string, Float32Array>>>,
  ): Promise<RpcResult<ReturnType<typeof paramsFrom>>> {
    const row = this.#load();
    if (!row?.manifest.training) return notInitialised();
    const stubs = await shardStubs(this.env, this.#tailOwner(row.ticket), row.manifest.pipeline);
    // In shard order, so what read() collects lines up with the shards.
    const parts: RpcResult<Record<string, Float32Array>>[] = [];
    for (const stub of stubs) parts.push(await read(stub));
    const values: Record<string, Float32Array> = {};
    for (const p of parts) {
      if (!p.ok) return p;
      Object.assign(values, p.value);
    }
    return ok(paramsFrom(tailSpecs(row.manifest.training), values));
  }

  #load(): SessionRow | null {
    this.#row ??= this.#store.read() ?? undefined;
    return this.#row ?? null;
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
