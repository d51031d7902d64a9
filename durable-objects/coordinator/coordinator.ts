// One Durable Object per federation: enrolment, rounds, client selection,
// aggregation by the federation's strategy, and the adapter versions (which
// one is current, pinned or rolled back to, their evaluations, holding a
// worse one back). Devices touch it twice per round (join, submit), never
// per training step.
//
// Every state change happens in one synchronous SQLite transaction that
// commits before the method returns, and the alarm is re-pointed in the same
// turn, so an acknowledged call survives eviction and is never half-applied.
import { DurableObject } from 'cloudflare:workers';
import type { z } from 'zod';
import { logEvent } from '../../edge/log.js';
import { Evaluation } from '../../protocol/evaluation.js';
import {
  EVENTS_PROTOCOL,
  type FederationEvent,
  FederationEvent as FederationEventSchema,
  type ProgressReport,
} from '../../protocol/events.js';
import {
  ClientMetrics,
  DeviceId,
  type FederationConfigInput,
  type FederationState,
  type OptimizerConfig,
  type RoundRecord,
  type Ticket,
  type VersionRecord,
} from '../../protocol/federation.js';
import type { TrainableSpec } from '../../protocol/manifest.js';
import { DeviceProfileReport } from '../../protocol/profile.js';
import {
  admitMasked,
  advertise,
  postReveal,
  postShares,
  type Refusal,
  recordMasked,
  type SecAggState,
  statusFor,
} from '../../protocol/secagg/server.js';
import { MemberKeys, type SecAggStatus, SharesBody, UnmaskBody } from '../../protocol/secagg/wire.js';
import { roundOptimizers } from '../../strategy/configure.js';
import { holdsBack } from '../../strategy/decide.js';
import type { CutSpec } from '../../strategy/plan/configure.js';
import { fail, ok, type RpcResult } from '../rpc.js';
import { EncodedCache, encodeAdapters } from './adapters.js';
import { UpdateBuffer } from './buffer.js';
import { trainablesAt } from './cuts.js';
import { credentialFailure, type DeviceRecord, deviceRecord, pushFloor, sessionFloor } from './devices.js';
import { scoreVersions } from './evaluation.js';
import {
  AdapterSide,
  CreateInput,
  canonicalJson,
  EvaluationSetInput,
  SubmitInput,
  Version,
} from './inputs.js';
import { check, keep } from './intake.js';
import { federationState, history, type VersionsView, versionRecord, versionsView } from './records.js';
import {
  alarmTarget,
  closeIfDue,
  endRound,
  evaluatingRound,
  isLive,
  MAX_EVALUATION_ATTEMPTS,
  openRound,
  rollBack,
  settleCandidate,
} from './rounds.js';
import {
  advanceSecure,
  foldMasked,
  maskedLength,
  refusalFailure,
  secure,
  ticketPart,
  unmaskedAccumulators,
} from './secure.js';
import {
  CoordinatorStore,
  type EvaluationSetRef,
  type FederationRow,
  type RoundRow,
  type VersionRow,
} from './storage.js';
import { readMasked, readTensors } from './update.js';
import { eventsSince, markOf } from './watch.js';

export interface CreateFederation {
  id: string;
  config: FederationConfigInput;
  trainables: TrainableSpec[];
  /** safetensors holding every trainable's initial value (both sides): version 0. */
  initial: Uint8Array;
  /** The model's cut id (manifest.cut.id), copied into tickets; '' when absent. */
  cut?: string;
  /** The builds of the model at each cut it trains at, its own first (config.cuts), for planning rounds. */
  cuts?: CutSpec[];
}

export interface SubmitUpdate {
  deviceId: string;
  round: number;
  /** The device's claim: the update's `sampleCount`. */
  sampleCount: number;
  /** The samples the device's session observed (its steps' labels): checked against the claim, and the weight. */
  observedSamples: number;
  /** safetensors of the head trainables after local training, or the masked update when `masked`. */
  head: Uint8Array;
  /** The head is a masked update (secure aggregation). */
  masked?: boolean;
  /** safetensors of the tail trainables after local training (from the client's session). */
  tail: Uint8Array;
  metrics: ClientMetrics;
  uplinkBytes: number;
  downlinkBytes: number;
  /** What the session measured of the tail (ms over samples): the planner's estimate of the edge's time. */
  tailTiming?: { ms: number; samples: number };
  /** A shared tail's round (SplitFed V2): the steps the round's tail had taken when `tail` was read. */
  sharedTailSteps?: number;
  idempotencyKey: string;
  /** The submitting token's generation (the Worker passes it; trusted callers may omit it). */
  generation?: number;
}

export interface SubmitResult {
  round: number;
  participants: number;
  /** True when this was a retry of an update already applied (same device, same idempotency key). */
  duplicate: boolean;
}

const UNKNOWN = fail('unknown-federation', 'No federation exists with this id.');
const FINISHED = fail('federation-finished', 'The federation has finished or was closed.');

export class FederationCoordinator extends DurableObject<Env> {
  private readonly store: CoordinatorStore;
  private readonly buffer: UpdateBuffer;
  private readonly encoded = new EncodedCache();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new CoordinatorStore(ctx.storage.sql);
    this.buffer = new UpdateBuffer(ctx.storage.sql);
    // Heals a live round whose alarm went missing, which would otherwise stay
    // open until some request happened to arrive after its deadline.
    void ctx.blockConcurrencyWhile(async () => {
      if (!this.store.exists()) return;
      this.store.upgrade();
      const target = alarmTarget(this.store);
      if (target !== null && (await ctx.storage.getAlarm()) !== target) await ctx.storage.setAlarm(target);
    });
    // Watchers keep their sockets alive without waking a hibernating object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('ping', 'pong'));
  }

  // ---- watchers (protocol/events.ts) ----------------------------------------

  /**
   * The Worker forwards an admin's upgrade to GET …/events here. The socket
   * is accepted through the hibernation API, so watchers cost nothing while
   * nothing happens, and it hears the federation's state first.
   */
  override async fetch(request: Request): Promise<Response> {
    if (!this.store.exists()) return new Response(null, { status: 404 });
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket')
      return new Response(null, { status: 426 });
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    this.send([server], eventsSince(this.store, null, Date.now()));
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: { 'sec-websocket-protocol': EVENTS_PROTOCOL },
    });
  }

  override async webSocketMessage(): Promise<void> {
    // Watchers only listen; 'ping' is answered by the auto-response.
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // 1005 and 1006 are reserved: a peer that sent no code is answered with a normal close.
    ws.close(code === 1005 || code === 1006 ? 1000 : code);
  }

  /**
   * A device's running totals within the round, from its session: passed on
   * to watchers, never stored. Answers whether anyone is watching, so that
   * sessions report seldom when nobody is.
   */
  async progress(input: ProgressReport): Promise<boolean> {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return false;
    const event = FederationEventSchema.safeParse({ ...input, type: 'progress', at: Date.now() });
    if (event.success) this.send(sockets, [event.data]);
    return true;
  }

  private send(sockets: WebSocket[], events: FederationEvent[]): void {
    for (const ws of sockets) {
      for (const event of events) {
        try {
          ws.send(JSON.stringify(event));
        } catch {
          // A socket that closed meanwhile: the runtime drops it from getWebSockets().
        }
      }
    }
  }

  /** Runs a change and tells any watchers what it did. */
  private async watched<T>(work: () => Promise<T>, actor?: string): Promise<T> {
    if (this.ctx.getWebSockets().length === 0) return work();
    const before = markOf(this.store);
    const result = await work();
    const sockets = this.ctx.getWebSockets();
    if (before && sockets.length > 0) this.send(sockets, eventsSince(this.store, before, Date.now(), actor));
    return result;
  }

  async create(input: CreateFederation): Promise<RpcResult<FederationState>> {
    const parsed = CreateInput.safeParse(input);
    if (!parsed.success) return fail('bad-request', `Invalid federation: ${parsed.error.message}`);
    const { id, config, trainables, initial, cut, cuts } = parsed.data;
    const existing = this.store.federation();
    if (existing) {
      const same =
        existing.id === id &&
        canonicalJson(existing.config) === canonicalJson(config) &&
        canonicalJson(existing.trainables) === canonicalJson(trainables);
      if (same) return ok(federationState(this.store, existing));
      return fail(
        'federation-exists',
        `Federation ${existing.id} already exists with a different configuration.`,
      );
    }
    const values = readTensors(initial, trainables, 'initial adapters');
    if (!values.ok) return fail('bad-request', values.reason);
    const fed: FederationRow = {
      id,
      config,
      trainables,
      cut: cut ?? '',
      status: 'created',
      currentRound: null,
      latestVersion: 0,
      currentVersion: 0,
      pinned: false,
      evaluationSet: null,
      cuts: cuts ?? [],
      createdAt: Date.now(),
    };
    this.ctx.storage.transactionSync(() => {
      this.store.migrate();
      this.store.insertFederation(fed);
      for (const [name, data] of values.value) this.store.writeAdapter(0, name, data);
      this.store.insertVersion({
        version: 0,
        round: null,
        status: 'published',
        createdAt: fed.createdAt,
        evaluation: null,
      });
    });
    return ok(federationState(this.store, fed));
  }

  /**
   * Enrols a device, or enrols it again: either way at a new generation, which
   * voids the device's earlier tokens and lifts a revocation. The Worker signs
   * the device's token for the generation answered here.
   */
  async enroll(deviceId: string): Promise<RpcResult<DeviceRecord>> {
    if (!this.store.exists()) return UNKNOWN;
    if (!DeviceId.safeParse(deviceId).success) return fail('bad-request', 'Invalid device id.');
    return this.standingChanged(
      await this.change((now, fed) => {
        if (fed.status === 'finished' || fed.status === 'closed') return FINISHED;
        this.store.enroll(deviceId, now);
        return ok(deviceId);
      }),
    );
  }

  /**
   * Revokes a device: every token it holds is refused from now on, by this
   * object and by its live session, and it is not selected again until it is
   * enrolled again. Idempotent.
   */
  async revoke(deviceId: string): Promise<RpcResult<DeviceRecord>> {
    if (!this.store.exists()) return UNKNOWN;
    if (!DeviceId.safeParse(deviceId).success) return fail('bad-request', 'Invalid device id.');
    return this.standingChanged(
      await this.change((now) => {
        if (!this.store.device(deviceId)) return fail('not-found', `Device ${deviceId} is not enrolled.`);
        this.store.revoke(deviceId, now);
        return ok(deviceId);
      }),
    );
  }

  async devices(): Promise<RpcResult<DeviceRecord[]>> {
    if (!this.store.exists()) return UNKNOWN;
    return ok(this.store.devices().map(deviceRecord));
  }

  /** Whether a token of this generation is honoured for the device: for routes that reach no other check. */
  async authorize(deviceId: string, generation: number): Promise<RpcResult<DeviceRecord>> {
    if (!this.store.exists()) return UNKNOWN;
    const device = DeviceId.safeParse(deviceId).success ? this.store.device(deviceId) : null;
    if (!device) return fail('not-enrolled', `Device ${deviceId} is not enrolled.`);
    return credentialFailure(device, generation) ?? ok(deviceRecord(device));
  }

  async start(): Promise<RpcResult<RoundRecord>> {
    if (!this.store.exists()) return UNKNOWN;
    return this.change((now, fed, moved) => {
      if (fed.status === 'finished' || fed.status === 'closed') return FINISHED;
      if (fed.status !== 'created') {
        return fail('conflict', 'The federation has already started.', {
          extensions: { reason: 'already-started' },
        });
      }
      if (this.store.deviceCount() === 0) {
        return fail('conflict', 'No devices are enrolled.', { extensions: { reason: 'no-devices' } });
      }
      this.store.setStatus('running');
      openRound(this.store, fed, 0, now);
      moved();
      return ok(federationState(this.store, this.store.federation()!).currentRound!);
    });
  }

  /**
   * A selected device's ticket, with what its session object needs to start
   * (the tail adapters at the ticket's version and the tail optimizer), so the
   * Worker calls the coordinator once per join.
   */
  async join(
    deviceId: string,
    generation?: number,
    profile?: DeviceProfileReport,
  ): Promise<RpcResult<{ ticket: Ticket; tail: Uint8Array<ArrayBuffer>; tailOptimizer: OptimizerConfig }>> {
    if (!this.store.exists()) return UNKNOWN;
    if (!DeviceId.safeParse(deviceId).success) return fail('bad-request', 'Invalid device id.');
    const reported = profile === undefined ? undefined : DeviceProfileReport.safeParse(profile);
    if (reported && !reported.success)
      return fail('bad-request', `Invalid profile: ${reported.error.message}`);
    const joined = await this.change((now, fed): RpcResult<Ticket> => {
      const denied = credentialFailure(this.store.device(deviceId), generation);
      if (denied) return denied;
      if (fed.status === 'finished' || fed.status === 'closed') return FINISHED;
      if (this.store.enrolledAt(deviceId) === null)
        return fail('not-enrolled', `Device ${deviceId} is not enrolled.`);
      // Kept whether or not the device trains now: the planner needs it when the device is selected.
      if (reported?.success) this.store.setProfile(deviceId, reported.data);
      const round = fed.currentRound === null ? null : this.store.round(fed.currentRound);
      if (!round || !isLive(round)) return fail('no-open-round', 'No round is open.');
      const selection = this.store.selection(round.round, deviceId);
      if (!selection) {
        return fail('not-selected', `Device ${deviceId} is not selected for round ${round.round}.`, {
          extensions: { round: round.round },
        });
      }
      if (selection.joinedAt === null) this.store.markJoined(round.round, deviceId, now);
      this.store.touch(deviceId, now);
      if (round.status === 'open') this.store.setRoundStatus(round.round, 'training');
      const { config } = fed;
      const masking = secure(fed) ? this.store.secAgg(round.round) : null;
      const assigned = this.store.assignment(round.round, deviceId);
      return ok({
        federationId: fed.id,
        deviceId,
        round: round.round,
        version: round.baseVersion,
        modelId: assigned?.modelId ?? config.modelId,
        cut: assigned?.cut ?? fed.cut,
        uplink: assigned?.uplink ?? config.uplink,
        downlink: assigned?.downlink ?? config.downlink,
        batchSize: config.batchSize,
        localEpochs: config.localEpochs,
        budgetBytes: config.budgetBytesPerRound,
        deadline: round.deadline,
        headOptimizer: roundOptimizers(config, round.round).head,
        activationNoise: config.activationNoise ?? 0,
        decorrelation: config.decorrelation ?? 0,
        ...(assigned ? { plan: assigned.plan } : {}),
        ...(round.splitfed === 'v2' ? { splitfed: 'v2' as const } : {}),
        ...(masking ? { secureAggregation: ticketPart(fed, masking) } : {}),
      });
    }, deviceId);
    if (!joined.ok) return joined;
    const ticket = joined.value;
    const tailOptimizer = roundOptimizers(this.store.federation()!.config, ticket.round).tail;
    return ok({ ticket, tail: this.adapterBytes(ticket.version, 'tail', ticket.modelId), tailOptimizer });
  }

  /** A version's adapters; `modelId` names the build whose split of head and tail to use (several cuts). */
  async adapters(
    version: number,
    side: 'head' | 'tail' | 'all',
    device?: { deviceId: string; generation: number },
    modelId?: string,
  ): Promise<RpcResult<Uint8Array<ArrayBuffer>>> {
    const fed = this.store.federation();
    if (!fed) return UNKNOWN;
    if (modelId !== undefined && trainablesAt(fed, modelId) === null)
      return fail('bad-request', `Federation ${fed.id} does not train at model ${modelId}.`);
    if (device) {
      const denied = credentialFailure(this.store.device(device.deviceId), device.generation);
      if (denied) return denied;
    }
    if (!Version.safeParse(version).success)
      return fail('bad-request', 'version must be a non-negative integer.');
    if (!AdapterSide.safeParse(side).success) return fail('bad-request', 'side must be head, tail or all.');
    if (version > fed.latestVersion) {
      return fail('not-found', `Version ${version} is not published (latest is ${fed.latestVersion}).`);
    }
    return ok(this.adapterBytes(version, side, modelId));
  }

  /** The answer a submission from this device for this round would get, short of checking its content. */
  async admissible(
    deviceId: string,
    round: number,
    generation?: number,
  ): Promise<RpcResult<{ round: number }>> {
    if (!this.store.exists()) return UNKNOWN;
    return this.change((_now, fed) => {
      const denied = credentialFailure(this.store.device(deviceId), generation);
      if (denied) return denied;
      const admitted = this.admit(fed, deviceId, round);
      return admitted.ok ? ok({ round: admitted.value.round }) : admitted;
    });
  }

  async submit(input: SubmitUpdate): Promise<RpcResult<SubmitResult>> {
    if (!this.store.exists()) return UNKNOWN;
    const parsed = SubmitInput.safeParse(input);
    if (!parsed.success) return fail('bad-request', `Invalid submission: ${parsed.error.message}`);
    const s = parsed.data;
    return this.change((now, fed, moved): RpcResult<SubmitResult> => {
      // Not in SubmitInput: checked as given, and anything but the device's generation is refused.
      const denied = credentialFailure(this.store.device(s.deviceId), input.generation);
      if (denied) return denied;
      // A retry must be recognised before anything else: its first attempt
      // may have been the one that closed the round.
      const prior = this.store.submission(s.round, s.deviceId);
      if (prior) {
        if (prior.idempotencyKey !== s.idempotencyKey) {
          return fail(
            'duplicate-submission',
            `Device ${s.deviceId} already submitted an update for round ${s.round}.`,
          );
        }
        const { participants } = this.store.roundTotals(s.round);
        return ok({ round: s.round, participants, duplicate: true });
      }
      const admitted = this.admit(fed, s.deviceId, s.round);
      if (!admitted.ok) return admitted;
      const round = admitted.value;
      if (!Number.isSafeInteger(s.sampleCount) || s.sampleCount <= 0) {
        return fail('invalid-update', 'sampleCount must be a positive integer.', {
          extensions: { code: 'bad-metadata' },
        });
      }
      const metrics = ClientMetrics.safeParse(s.metrics);
      if (!metrics.success) {
        return fail('invalid-update', `Invalid metrics: ${metrics.error.message}`, {
          extensions: { code: 'bad-metadata' },
        });
      }
      const masking = secure(fed) ? this.store.secAgg(round.round) : null;
      if (secure(fed) !== s.masked) {
        return fail(
          'invalid-update',
          s.masked
            ? 'This federation does not aggregate securely: submit the plain update.'
            : 'This federation aggregates securely: submit the masked update to …/secagg/masked.',
          { extensions: { code: s.masked ? 'not-secure' : 'masked-required' } },
        );
      }
      // Split as the build the device trained at splits them (a federation with several cuts).
      const trainedAt = this.store.assignment(round.round, s.deviceId)?.modelId ?? fed.config.modelId;
      const split = trainablesAt(fed, trainedAt) ?? fed.trainables;
      const headSpecs = split.filter((t) => t.owner === 'head');
      const tailSpecs = split.filter((t) => t.owner === 'tail');
      const head = masking
        ? readMasked(s.head, maskedLength(fed))
        : readTensors(s.head, headSpecs, 'head update');
      if (!head.ok) return fail('invalid-update', head.reason, { extensions: { code: head.code } });
      const tail = readTensors(s.tail, tailSpecs, 'tail update');
      if (!tail.ok) return fail('invalid-update', tail.reason, { extensions: { code: tail.code } });
      if ((round.splitfed === 'v2') !== (s.sharedTailSteps !== undefined)) {
        return fail(
          'bad-request',
          `round ${round.round}'s tail is ${round.splitfed === 'v2' ? '' : 'not '}shared`,
        );
      }
      const update = {
        claimedSamples: s.sampleCount,
        observedSamples: s.observedSamples,
        ...(s.sharedTailSteps !== undefined ? { sharedTailSteps: s.sharedTailSteps } : {}),
        // Masked, the head's values are not the coordinator's to see: only the tail's are checked and folded.
        values: head.value instanceof Float64Array ? tail.value : new Map([...head.value, ...tail.value]),
      };
      const checked = check(this.store, fed, round, update);
      if (!checked.ok) return checked;
      if (masking) {
        const refused = admitMasked(masking, s.deviceId);
        if (refused) return refusalFailure(refused, masking);
      }

      // What the history records is what the server observed: the weight is the session's count.
      this.store.touch(s.deviceId, now);
      if (s.profile) this.store.setProfile(s.deviceId, s.profile);
      this.store.insertSubmission({
        round: round.round,
        deviceId: s.deviceId,
        idempotencyKey: s.idempotencyKey,
        sampleCount: s.observedSamples,
        meanLoss: metrics.data.meanLoss,
        accuracy: metrics.data.accuracy,
        steps: metrics.data.steps,
        uplinkBytes: s.uplinkBytes,
        downlinkBytes: s.downlinkBytes,
        submittedAt: now,
        norm: checked.norm,
      });
      if (s.tailTiming && s.tailTiming.samples > 0)
        this.store.addTailTiming(trainedAt, s.tailTiming.ms, s.tailTiming.samples);
      keep(this.store, this.buffer, fed, round, s.deviceId, update);
      if (masking && head.value instanceof Float64Array) {
        foldMasked(this.store, fed, round.round, head.value);
        recordMasked(masking, s.deviceId);
        if (advanceSecure(this.store, round, now, masking, true).moved) moved();
        const { participants } = this.store.roundTotals(round.round);
        return ok({ round: round.round, participants, duplicate: false });
      }
      if (round.status === 'open') this.store.setRoundStatus(round.round, 'training');
      const { participants } = this.store.roundTotals(round.round);
      if (participants >= this.store.selectedStanding(round.round)) {
        endRound(this.store, this.buffer, fed, round, 'publish', now);
        moved();
      }
      return ok({ round: round.round, participants, duplicate: false });
    }, s.deviceId);
  }

  // ---- secure aggregation ---------------------------------------------------

  /** The round's secure-aggregation phase and what this device needs from it. */
  async secAggStatus(deviceId: string, generation: number, round: number): Promise<RpcResult<SecAggStatus>> {
    return this.secureStep(deviceId, generation, round, (state) => ok(statusFor(state, deviceId)));
  }

  async secAggKeys(deviceId: string, generation: number, round: number, keys: MemberKeys) {
    return this.secureMessage(MemberKeys, keys, deviceId, generation, round, advertise);
  }

  async secAggShares(deviceId: string, generation: number, round: number, shares: SharesBody) {
    return this.secureMessage(SharesBody, shares, deviceId, generation, round, postShares);
  }

  async secAggReveal(deviceId: string, generation: number, round: number, reveal: UnmaskBody) {
    return this.secureMessage(UnmaskBody, reveal, deviceId, generation, round, postReveal);
  }

  /** A device's protocol message, checked against its schema (an RPC caller may skip the route's check). */
  private secureMessage<T>(
    schema: z.ZodType<T>,
    body: T,
    deviceId: string,
    generation: number,
    round: number,
    apply: (state: SecAggState, member: string, body: T) => Refusal | null,
  ): Promise<RpcResult<SecAggStatus>> {
    const parsed = schema.safeParse(body);
    if (!parsed.success)
      return Promise.resolve(fail('invalid-secagg', `Invalid message: ${parsed.error.message}`));
    return this.secureStep(deviceId, generation, round, (state) => apply(state, deviceId, parsed.data));
  }

  /**
   * One protocol message from a selected device of the live round, applied to
   * the round's state (or refused, changing nothing); answers the state the
   * device sees after it, with any phase that closed because of it.
   */
  private async secureStep(
    deviceId: string,
    generation: number,
    roundNo: number,
    act: (state: SecAggState) => Refusal | null | RpcResult<SecAggStatus>,
  ): Promise<RpcResult<SecAggStatus>> {
    if (!this.store.exists()) return UNKNOWN;
    if (!DeviceId.safeParse(deviceId).success) return fail('bad-request', 'Invalid device id.');
    if (!Version.safeParse(roundNo).success)
      return fail('bad-request', 'round must be a non-negative integer.');
    return this.change((now, fed, moved) => {
      const denied = credentialFailure(this.store.device(deviceId), generation);
      if (denied) return denied;
      if (!secure(fed)) return fail('not-found', `Federation ${fed.id} does not aggregate securely.`);
      const admitted = this.admit(fed, deviceId, roundNo);
      if (!admitted.ok) return admitted;
      const round = admitted.value;
      const state = this.store.secAgg(round.round)!;
      const acted = act(state);
      if (acted !== null && 'ok' in acted) return acted;
      if (acted) return refusalFailure(acted, state);
      if (advanceSecure(this.store, round, now, state, true).moved) moved();
      return ok(statusFor(state, deviceId));
    });
  }

  /**
   * Unmasks a secure round whose reveals are in and publishes it as FedAvg
   * would, or fails it when the reveals do not reconstruct. WebCrypto is
   * asynchronous, so this runs after the transaction that completed the
   * protocol, and checks again before it writes that nothing moved meanwhile.
   */
  private async finishSecure(): Promise<void> {
    const fed = this.store.federation();
    if (!fed || !secure(fed) || fed.status !== 'running' || fed.currentRound === null) return;
    const round = this.store.round(fed.currentRound);
    const state = round && isLive(round) ? this.store.secAgg(round.round) : null;
    if (!round || state?.phase !== 'done') return;
    // DP-FedAvg's deltas are unweighted and stay deltas (rounds.ts adds them to the base).
    const weight = fed.config.strategy.kind === 'dp-fedavg' ? 0 : this.store.roundTotals(round.round).samples;
    let head: Map<string, Float64Array> | null = null;
    try {
      head = await unmaskedAccumulators(this.store, fed, round, state, weight);
    } catch (err) {
      logEvent('warn', 'secagg-unmask-failed', {
        federation: fed.id,
        round: round.round,
        error: String(err),
      });
    }
    this.ctx.storage.transactionSync(() => {
      const now = Date.now();
      const current = this.store.federation()!;
      const still = current.currentRound === round.round ? this.store.round(round.round) : null;
      if (!still || !isLive(still) || this.store.secAgg(round.round)?.phase !== 'done') return;
      if (!head) {
        endRound(this.store, this.buffer, current, still, 'fail', now);
        return;
      }
      for (const [name, acc] of head) this.store.writeAccumulator(round.round, name, acc);
      endRound(this.store, this.buffer, current, still, 'publish', now);
    });
    await this.syncAlarm();
  }

  async state(): Promise<RpcResult<FederationState>> {
    if (!this.store.exists()) return UNKNOWN;
    return this.change((_now, fed) => ok(federationState(this.store, fed)));
  }

  async history(): Promise<RpcResult<RoundRecord[]>> {
    if (!this.store.exists()) return UNKNOWN;
    return this.change(() => ok(history(this.store)));
  }

  async close(): Promise<RpcResult<FederationState>> {
    if (!this.store.exists()) return UNKNOWN;
    return this.change((now, fed, moved) => {
      if (fed.status === 'running' && fed.currentRound !== null) {
        const round = this.store.round(fed.currentRound);
        if (round && isLive(round)) {
          this.store.closeRound(round.round, 'failed', now, null);
          this.store.clearAccumulators(round.round);
          this.buffer.clear(round.round);
        }
        // A candidate nobody will score any more is not served.
        if (round?.status === 'evaluating' && round.publishedVersion !== null) {
          this.store.setVersionStatus(round.publishedVersion, 'held');
          this.store.setRoundStatus(round.round, 'held');
        }
      }
      if (fed.status === 'created' || fed.status === 'running') {
        this.store.setStatus('closed');
        moved();
      }
      return ok(federationState(this.store, this.store.federation()!));
    });
  }

  // ---- versions -------------------------------------------------------------

  /** Every version, and which one rounds start from and `@latest` serves. */
  async versions(): Promise<RpcResult<VersionsView>> {
    if (!this.store.exists()) return UNKNOWN;
    return this.change((_now, fed) => ok(versionsView(this.store, fed)));
  }

  /** Records the operator's held-out set, already stored in R2 under evaluationSetKey and checked against the model. */
  async setEvaluationSet(ref: EvaluationSetRef): Promise<RpcResult<FederationState>> {
    if (!this.store.exists()) return UNKNOWN;
    const parsed = EvaluationSetInput.safeParse(ref);
    if (!parsed.success) return fail('bad-request', `Invalid evaluation set: ${parsed.error.message}`);
    return this.change((_now, fed) => {
      this.store.setEvaluationSet(parsed.data);
      return ok(federationState(this.store, { ...fed, evaluationSet: parsed.data }));
    });
  }

  /** Scores a version on the operator's set at the edge, and records it. */
  async evaluate(version: number): Promise<RpcResult<VersionRecord>> {
    if (!this.store.exists()) return UNKNOWN;
    const fed = this.store.federation()!;
    const known = this.knownVersion(fed, version);
    if (!known.ok) return known;
    const scored = await scoreVersions(this.env, this.store, fed, [version]);
    if (!scored.ok) return scored;
    const record = scored.value.get(version)!;
    return this.change(() => {
      this.store.setEvaluation(version, record);
      return ok(versionRecord(this.store.versionRow(version)!));
    });
  }

  /** An evaluation reported by the federation's evaluator device (config.evaluator). */
  async reportEvaluation(
    deviceId: string,
    generation: number,
    version: number,
    evaluation: Evaluation,
  ): Promise<RpcResult<VersionRecord>> {
    if (!this.store.exists()) return UNKNOWN;
    const parsed = Evaluation.safeParse(evaluation);
    if (!parsed.success) return fail('bad-request', `Invalid evaluation: ${parsed.error.message}`);
    return this.change((now, fed) => {
      const denied = credentialFailure(this.store.device(deviceId), generation);
      if (denied) return denied;
      if (fed.config.evaluator !== deviceId) {
        return fail('forbidden', `Device ${deviceId} is not this federation's evaluator.`);
      }
      const known = this.knownVersion(fed, version);
      if (!known.ok) return known;
      this.store.setEvaluation(version, { ...parsed.data, source: 'device', by: deviceId, evaluatedAt: now });
      return ok(versionRecord(this.store.versionRow(version)!));
    });
  }

  /**
   * Makes `version` the one rounds start from and `@latest` serves, and keeps
   * it there (`pin`) or lets the next published round move it on (`rollback`).
   */
  async setCurrent(version: number, mode: 'pin' | 'rollback'): Promise<RpcResult<VersionsView>> {
    if (!this.store.exists()) return UNKNOWN;
    return this.change((now, fed, moved) => {
      const known = this.knownVersion(fed, version);
      if (!known.ok) return known;
      if (known.value.status === 'evaluating') {
        return fail('conflict', `Version ${version} is still being evaluated.`);
      }
      if (mode === 'pin') {
        this.store.setCurrentVersion(version, true);
      } else {
        if (evaluatingRound(this.store)) {
          return fail('conflict', 'A round is being evaluated; roll back once it is settled.');
        }
        if (rollBack(this.store, this.buffer, fed, version, now)) moved();
      }
      return ok(versionsView(this.store, this.store.federation()!));
    });
  }

  /** Lets published rounds move the current version again (it stays where it is until one does). */
  async unpin(): Promise<RpcResult<VersionsView>> {
    if (!this.store.exists()) return UNKNOWN;
    return this.change((_now, fed) => {
      this.store.setCurrentVersion(fed.currentVersion, false);
      return ok(versionsView(this.store, this.store.federation()!));
    });
  }

  private knownVersion(fed: FederationRow, version: number): RpcResult<VersionRow> {
    if (!Version.safeParse(version).success)
      return fail('bad-request', 'version must be a non-negative integer.');
    const row = version <= fed.latestVersion ? this.store.versionRow(version) : null;
    if (!row) return fail('not-found', `Version ${version} does not exist (latest is ${fed.latestVersion}).`);
    return ok(row);
  }

  /**
   * The single alarm points at the live round's deadline, or at the moment a
   * round's candidate version is due to be scored. An alarm that fires before
   * either (a stale one, or an early delivery) finds nothing due and only
   * re-points the alarm.
   */
  override async alarm(): Promise<void> {
    if (!this.store.exists()) return;
    await this.watched(async () => {
      this.ctx.storage.transactionSync(() => closeIfDue(this.store, this.buffer, Date.now()));
      await this.finishSecure();
      const pending = evaluatingRound(this.store);
      if (pending) await this.settle(pending.fed, pending.round);
      await this.syncAlarm();
    });
  }

  /**
   * Scores a round's candidate and its parent on the operator's set and
   * publishes or holds it (config.hold). Requests keep being served while the
   * pipeline runs; a failed evaluation is retried by the alarm, and after
   * MAX_EVALUATION_ATTEMPTS the candidate is published unscored rather than
   * stalling the federation.
   */
  private async settle(fed: FederationRow, round: RoundRow): Promise<void> {
    const candidate = round.publishedVersion!;
    const scored = await scoreVersions(this.env, this.store, fed, [round.baseVersion, candidate]);
    this.ctx.storage.transactionSync(() => {
      const still = evaluatingRound(this.store);
      if (still?.round.round !== round.round) return;
      const now = Date.now();
      if (!scored.ok) {
        logEvent('warn', 'evaluation-failed', {
          federation: fed.id,
          version: candidate,
          detail: scored.detail,
        });
        if (this.store.failedEvaluation(candidate) < MAX_EVALUATION_ATTEMPTS) return;
        settleCandidate(this.store, still.fed, still.round, 'published', now);
        return;
      }
      const parent = scored.value.get(round.baseVersion)!;
      const child = scored.value.get(candidate)!;
      this.store.setEvaluation(round.baseVersion, parent);
      this.store.setEvaluation(candidate, child);
      const margin = still.fed.config.hold?.margin ?? 0;
      const verdict = holdsBack(child.accuracy, parent.accuracy, margin) ? 'held' : 'published';
      settleCandidate(this.store, still.fed, still.round, verdict, now);
    });
  }

  /**
   * Whether `deviceId` may submit for round `roundNo` now, in the order a
   * client needs to hear it: closed, not started, not enrolled, late,
   * finished, early, not selected.
   */
  private admit(
    fed: FederationRow,
    deviceId: string,
    roundNo: number,
  ): RpcResult<NonNullable<ReturnType<CoordinatorStore['round']>>> {
    if (fed.status === 'closed') return FINISHED;
    const round = fed.currentRound === null ? null : this.store.round(fed.currentRound);
    if (!round) return fail('no-open-round', 'The federation has not started.');
    if (this.store.enrolledAt(deviceId) === null) {
      return fail('not-enrolled', `Device ${deviceId} is not enrolled.`);
    }
    if (roundNo < round.round || (roundNo === round.round && !isLive(round))) {
      return fail('round-closed', `Round ${roundNo} has closed.`, { extensions: { round: round.round } });
    }
    if (fed.status === 'finished') return FINISHED;
    if (roundNo > round.round) {
      return fail('wrong-round', `Round ${roundNo} is not the current round (${round.round}).`, {
        extensions: { round: round.round },
      });
    }
    if (!this.store.selection(round.round, deviceId)) {
      return fail('not-selected', `Device ${deviceId} is not selected for round ${round.round}.`, {
        extensions: { round: round.round },
      });
    }
    return ok(round);
  }

  /**
   * Runs `work` in one transaction after applying a passed deadline, then
   * re-points the alarm if the live round changed. The alarm call is issued in
   * the same synchronous turn as the commit, so storage coalesces both.
   */
  private change<T>(
    work: (now: number, fed: FederationRow, moved: () => void) => RpcResult<T>,
    actor?: string,
  ): Promise<RpcResult<T>> {
    return this.watched(() => this.changeNow(work), actor);
  }

  private async changeNow<T>(
    work: (now: number, fed: FederationRow, moved: () => void) => RpcResult<T>,
  ): Promise<RpcResult<T>> {
    const now = Date.now();
    let roundsMoved = false;
    const moved = () => {
      roundsMoved = true;
    };
    const result = this.ctx.storage.transactionSync(() => {
      if (closeIfDue(this.store, this.buffer, now)) moved();
      return work(now, this.store.federation()!, moved);
    });
    if (roundsMoved) await this.syncAlarm();
    // A secure round whose last reveal (or deadline) just completed it is unmasked before the caller hears back.
    if (roundsMoved) await this.finishSecure();
    return result;
  }

  /**
   * After an enrolment or revocation committed: the device's session in the
   * current round, if it was selected, learns its new floor before the admin
   * hears of the change, so the device's older tokens stop stepping there too.
   */
  private async standingChanged(changed: RpcResult<string>): Promise<RpcResult<DeviceRecord>> {
    if (!changed.ok) return changed;
    const device = this.store.device(changed.value)!;
    const fed = this.store.federation()!;
    const round = fed.currentRound;
    if (round !== null && this.store.selection(round, device.deviceId)) {
      const target = { federationId: fed.id, round, deviceId: device.deviceId };
      const failed = await pushFloor(this.env, target, sessionFloor(device));
      if (failed) return failed;
    }
    return ok(deviceRecord(device));
  }

  private syncAlarm(): Promise<void> {
    const target = alarmTarget(this.store);
    return target === null ? this.ctx.storage.deleteAlarm() : this.ctx.storage.setAlarm(target);
  }

  private adapterBytes(version: number, side: AdapterSide, modelId?: string): Uint8Array<ArrayBuffer> {
    const fed = this.store.federation()!;
    const trainables = trainablesAt(fed, modelId) ?? fed.trainables;
    const layout = modelId ?? fed.config.modelId;
    return this.encoded.get(
      version,
      side,
      () => encodeAdapters(this.store, trainables, version, side),
      layout,
    );
  }
}
