// A round's one shared tail (SplitFed V2): the Worker-side model that every
// selected device's steps train in turn, instead of each device training its
// own copy. Devices keep their own ClientSession (sequence numbers, budget,
// pacing, credentials, replayed answers); each session hands the tail's part
// of a step to this object, which runs the steps one at a time through the
// round's shards (named after this object, as a session names its own).
//
// The shards count the round's steps globally (0, 1, 2... across devices) and
// apply each exactly once, as they do for one device. What they cannot do is
// tell whose step a number was, so this object keeps:
// - a write-ahead record of the step in flight (its device, seq, digest and
//   input), stored before the shards see it. When a crash leaves a step half
//   committed across shards, the next request, whoever sends it, first
//   finishes that step from the record. Otherwise another device's step would
//   arrive at shards that already hold the number.
// - each device's last step and its answer, so the device's session can
//   replay it after losing its own commit.
import { DurableObject } from 'cloudflare:workers';
import { sha256Hex } from '../../common/digest.js';
import { ArtifactStore } from '../../edge/artifacts.js';
import type { Activation } from '../../edge/pipeline.js';
import { OptimizerConfig, Ticket } from '../../protocol/federation.js';
import { parseTail } from '../params.js';
import { RETENTION_MS } from '../retention.js';
import { fail, ok, type RpcFailure, type RpcResult } from '../rpc.js';
import { Serial } from '../serial.js';
import { decodeAnswer, encodeAnswer } from '../shard/answer.js';
import { initShards, type PipelineStepResult, pipelineStep, shardStubs } from './pipeline-step.js';
import { type InFlight, type SharedTailRow, SharedTailStore } from './shared-tail-store.js';

export interface SharedTailInit {
  /** The joining device's ticket: the round's part of it must match every other device's. */
  ticket: Ticket;
  tailOptimizer: OptimizerConfig;
  /** safetensors of the tail trainables at ticket.version. */
  tail: Uint8Array;
}

export interface SharedStepValue {
  result: PipelineStepResult;
  /** The tail's own milliseconds for this step, not the wait for other devices' turns. */
  ms: number;
  /** Steps the shared tail has taken this round, this one included. */
  steps: number;
}

/** Whether a ticket's round trains one shared tail. */
export const isShared = (t: Ticket): boolean => t.splitfed === 'v2';

/** The round's shared tail object. */
export function sharedTail(env: Env, t: Ticket): DurableObjectStub<SharedTail> {
  return env.SHARED_TAILS.get(env.SHARED_TAILS.idFromName(sharedTailName(t)));
}

/** The id its shards are named after (pipeline-step.ts shardStubs). */
export const sharedTailOwner = (env: Env, t: Ticket): string =>
  env.SHARED_TAILS.idFromName(sharedTailName(t)).toString();

const sharedTailName = (t: Ticket) => `${t.federationId}/${t.round}/${t.modelId}`;

/**
 * What the shards are set up with: the round's part of a device's ticket. The
 * device's own part (who it is, its encodings, plan and budget) differs
 * between the devices that share the tail and means nothing to a shard.
 */
export function roundTicket(t: Ticket): Ticket {
  return {
    federationId: t.federationId,
    deviceId: 'shared-tail',
    round: t.round,
    version: t.version,
    modelId: t.modelId,
    cut: t.cut,
    uplink: 'fp32',
    downlink: 'fp32',
    batchSize: t.batchSize,
    localEpochs: t.localEpochs,
    budgetBytes: 1,
    deadline: t.deadline,
    headOptimizer: t.headOptimizer,
    splitfed: 'v2',
  };
}

export class SharedTail extends DurableObject<Env> {
  readonly #store: SharedTailStore;
  readonly #serial = new Serial();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new SharedTailStore(ctx.storage);
  }

  /** Sets up the round's tail on its shards once; later devices' inits check they join the same round. */
  init(input: SharedTailInit): Promise<RpcResult<{ steps: number }>> {
    return this.#serial.run(() => this.#init(input));
  }

  /** One device's step, in its turn: the stored answer when it is the device's last step again. */
  step(
    deviceId: string,
    seq: number,
    digest: string,
    activation: Activation,
    labels: Int32Array,
  ): Promise<RpcResult<SharedStepValue>> {
    return this.#serial.run(() => this.#step({ deviceId, seq, digest }, { activation, labels }));
  }

  override async alarm(): Promise<void> {
    await this.#serial.run(async () => this.ctx.storage.deleteAll());
  }

  async #init(input: SharedTailInit): Promise<RpcResult<{ steps: number }>> {
    const ticket = Ticket.safeParse(input?.ticket);
    if (!ticket.success) return fail('bad-request', `invalid ticket: ${ticket.error.message}`);
    const optimizer = OptimizerConfig.safeParse(input.tailOptimizer);
    if (!optimizer.success) return fail('bad-request', `invalid tail optimizer: ${optimizer.error.message}`);
    if (!(input.tail instanceof Uint8Array)) return fail('bad-request', 'tail must be safetensors bytes');
    const round = roundTicket(ticket.data);
    const key = JSON.stringify([round, optimizer.data, await sha256Hex(input.tail)]);
    const existing = this.#store.read();
    if (existing) {
      if (existing.key === key) return ok({ steps: existing.nextStep });
      return fail(
        'bad-request',
        `round ${round.round}'s shared tail was set up from a different ticket or tail`,
      );
    }
    const manifest = await new ArtifactStore(this.env.MODELS).manifest(round.modelId);
    if (!manifest?.training) return fail('unknown-model', `no trainable model ${round.modelId}`);
    const parsed = parseTail(manifest.training, input.tail);
    if (!parsed.ok) return fail('bad-request', parsed.error);
    const ready = await initShards(
      this.env,
      this.ctx.id.toString(),
      manifest,
      round,
      optimizer.data,
      parsed.params,
    );
    if (!ready.ok) return ready;
    this.#store.create({ key, manifest, deadline: round.deadline, nextStep: 0, inFlight: null });
    await this.ctx.storage.setAlarm(round.deadline + RETENTION_MS);
    return ok({ steps: 0 });
  }

  async #step(
    step: InFlight,
    input: { activation: Activation; labels: Int32Array },
  ): Promise<RpcResult<SharedStepValue>> {
    let row = this.#store.read();
    if (!row) return fail('not-found', 'no shared tail for this round; join the round first');
    const replayed = this.#replay(row, step);
    if (replayed) return replayed;
    if (Date.now() > row.deadline) return fail('round-closed', 'the round is past its deadline');

    const pending = row.inFlight;
    if (pending && !sameStep(pending, step)) {
      // Someone's step a crash interrupted holds the shards' next number: finish it first.
      const wal = this.#store.readInput();
      if (!wal) throw new Error('the shared tail lost the input of the step in flight');
      const finished = await this.#run(row, pending, wal);
      if (!finished.ok) return finished;
      row = this.#store.read()!;
      const again = this.#replay(row, step);
      if (again) return again;
    }
    if (!row.inFlight) {
      this.#store.begin(step, input);
      row = { ...row, inFlight: step };
    }
    return this.#run(row, step, input);
  }

  /** The stored answer when `step` is its device's last, a refusal when it is older, else null. */
  #replay(row: SharedTailRow, step: InFlight): RpcResult<SharedStepValue> | null {
    const last = this.#store.lastTurn(step.deviceId);
    if (!last || step.seq > last.seq) return null;
    if (step.seq < last.seq || step.digest !== last.digest) {
      return fail(
        'out-of-order-step',
        `step ${step.seq} of ${step.deviceId} was already taken by another body`,
        {
          extensions: { expected: last.seq + 1 },
        },
      );
    }
    const answer = this.#store.readAnswer(step.deviceId);
    if (!answer) throw new Error(`the answer to ${step.deviceId}'s step ${step.seq} is missing from storage`);
    const v = decodeAnswer(answer);
    if (v.loss === undefined || !v.logits) throw new Error('a stored shared-tail answer has no loss');
    return ok({
      result: { loss: v.loss, logits: v.logits, gradient: v.gradInput },
      ms: 0,
      steps: row.nextStep,
    });
  }

  /** Runs the step in flight through the shards as the round's next step, and commits its turn. */
  async #run(
    row: SharedTailRow,
    step: InFlight,
    input: { activation: Activation; labels: Int32Array },
  ): Promise<RpcResult<SharedStepValue>> {
    const number = row.nextStep;
    const stubs = await shardStubs(this.env, this.ctx.id.toString(), row.manifest.pipeline);
    const started = performance.now();
    const out = await pipelineStep(stubs, number, step.digest, input.activation, input.labels);
    const ms = performance.now() - started;
    if (!out.ok) return this.#refused(row, stubs, out);
    const { loss, logits, gradient } = out.value;
    this.#store.commit(step, encodeAnswer({ gradInput: gradient, loss, logits }), number + 1);
    return ok({ result: out.value, ms, steps: number + 1 });
  }

  /**
   * A step the shards refused. The last shard commits first, so when it has
   * not moved past the step no shard has: the record is dropped and the next
   * step may take the number. Otherwise the step is half committed and stays
   * in flight, to be finished before any other.
   */
  async #refused(
    row: SharedTailRow,
    stubs: Awaited<ReturnType<typeof shardStubs>>,
    failure: RpcFailure,
  ): Promise<RpcFailure> {
    const last: RpcResult<{ nextSeq: number }> = await stubs[stubs.length - 1].values();
    if (last.ok && last.value.nextSeq === row.nextStep) this.#store.abandon();
    return failure;
  }
}

const sameStep = (a: InFlight, b: InFlight) =>
  a.deviceId === b.deviceId && a.seq === b.seq && a.digest === b.digest;
