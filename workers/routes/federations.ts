// The federated fine-tuning API. Admin routes manage a federation; device
// routes join rounds, step and submit. Per-step work goes to the client's
// session object only; the coordinator is touched at join and submit (and
// when a step fails, to say whether the device's token is the reason).
import { type Context, Hono } from 'hono';
import { failureOf } from '../../durable-objects/rpc.js';
import { ArtifactStore } from '../../edge/artifacts.js';
import { CreateFederationBody, EnrollBody } from '../../protocol/api.js';
import { EVENTS_PROTOCOL, offeredProtocols } from '../../protocol/events.js';
import {
  DeviceId,
  type Enrollment,
  type FederationConfig,
  type FederationList,
  federationSummary,
  type JoinAnswer,
  SESSION_PASS_HEADER,
} from '../../protocol/federation.js';
import type { Manifest } from '../../protocol/manifest.js';
import {
  SAFETENSORS_CONTENT_TYPE,
  STEP_ANSWER_CONTENT_TYPE,
  STEP_CONTENT_TYPE,
  UPDATE_CONTENT_TYPE,
} from '../../protocol/media.js';
import { JoinBody } from '../../protocol/profile.js';
import {
  decodeMaskedUpdate,
  decodeUpdate,
  UPDATE_LIMITS,
  UpdateError,
  type UpdateMetadata,
} from '../../protocol/update.js';
import { type CutSpec, cutSpecOf } from '../../strategy/plan/configure.js';
import { deviceTokenIssuer } from '../auth/grant.js';
import { keyringOf } from '../auth/keys.js';
import { type AuthEnv, requireAdmin, requireDevice } from '../auth/middleware.js';
import { issueSessionPass, verifySessionPass } from '../auth/session-pass.js';
import type { DeviceClaims } from '../auth/tokens.js';
import { indexFederation, listFederationIds, MAX_PAGE } from '../federation-index.js';
import { requireContentType } from '../http/content-type.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody } from '../http/limits.js';
import { HttpProblem } from '../http/problem.js';
import { unwrap } from '../http/rpc.js';
import { coordinator, federationId, nonNegativeInt } from './federation-refs.js';

const MAX_STEP_BYTES = 32 * 1024 * 1024;

const session = (env: Env, fid: string, round: number, deviceId: string) =>
  env.SESSIONS.get(env.SESSIONS.idFromName(`${fid}/${round}/${deviceId}`));

const credentialOf = ({ deviceId, generation }: DeviceClaims) => ({ deviceId, generation });

export const federationRoutes = new Hono<AuthEnv>();

// ---- admin ----------------------------------------------------------------

federationRoutes.post('/', requireAdmin, limitBody(64 * 1024), async (c) => {
  const { id, config } = await jsonBody(c, CreateFederationBody);
  const store = new ArtifactStore(c.env.MODELS);
  const manifest = await store.manifest(config.modelId);
  if (!manifest) throw new HttpProblem('unknown-model', `No model with id "${config.modelId}".`);
  const training = manifest.training;
  if (!training) {
    throw new HttpProblem('bad-request', `Model ${config.modelId} was not built for training.`);
  }
  if (!manifest.wire.encodings.includes(config.uplink)) {
    throw new HttpProblem(
      'encoding-not-allowed',
      `Model ${config.modelId} does not accept ${config.uplink} uplinks.`,
    );
  }
  const cuts = await federationCuts(store, manifest, config);
  // Indexed first: a federation that exists is always listed (federation-index.ts).
  await indexFederation(c.env.MODELS, { id, modelId: config.modelId, createdAt: Date.now() });
  const state = unwrap(
    await coordinator(c.env, id).create({
      id,
      config,
      trainables: training.trainables,
      initial: await store.bytes(training.artifacts.trainables),
      cut: manifest.cut.id,
      cuts,
    }),
  );
  return c.json(state, 201, { location: `/v1/federations/${id}` });
});

/**
 * The builds of the model a federation trains at: its own, then config.cuts,
 * each checked to be the same model cut elsewhere (the same trainables by
 * name, shape and role, from the same initial values) and to accept the
 * federation's fixed encoding. Empty when the cut's shape is not fixed.
 */
async function federationCuts(
  store: ArtifactStore,
  primary: Manifest,
  config: FederationConfig,
): Promise<CutSpec[]> {
  const own = cutSpecOf(primary);
  const more = config.cuts ?? [];
  if (!own) {
    if (more.length > 0 || config.planning) {
      throw new HttpProblem('bad-request', `Model ${config.modelId}'s cut has no fixed shape to plan with.`);
    }
    return [];
  }
  const signature = (m: Manifest) =>
    JSON.stringify([
      m.training?.artifacts.trainables.sha256,
      m.training?.trainables.map((t) => [t.name, t.shape, t.role]).sort(),
    ]);
  const cuts = [own];
  for (const modelId of more) {
    if (cuts.some((c) => c.modelId === modelId)) {
      throw new HttpProblem('bad-request', `Model ${modelId} is named twice among the federation's cuts.`);
    }
    const manifest = await store.manifest(modelId);
    if (!manifest) throw new HttpProblem('unknown-model', `No model with id "${modelId}".`);
    if (!manifest.training || signature(manifest) !== signature(primary)) {
      throw new HttpProblem(
        'bad-request',
        `Model ${modelId} is not ${config.modelId} at another cut: its trainables or their initial values differ.`,
      );
    }
    if (!manifest.wire.encodings.includes(config.uplink)) {
      throw new HttpProblem(
        'encoding-not-allowed',
        `Model ${modelId} does not accept ${config.uplink} uplinks.`,
      );
    }
    const spec = cutSpecOf(manifest);
    if (!spec)
      throw new HttpProblem('bad-request', `Model ${modelId}'s cut has no fixed shape to plan with.`);
    cuts.push(spec);
  }
  const floor = config.planning?.minDepth ?? 0;
  if (!cuts.some((c) => c.depth >= floor)) {
    throw new HttpProblem(
      'bad-request',
      `No cut of the federation is at least ${floor} blocks deep (planning.minDepth).`,
    );
  }
  return cuts;
}

/** Every federation with a summary of its state, a page at a time (`?limit=`, `?cursor=`). */
federationRoutes.get('/', requireAdmin, async (c) => {
  const limitParam = c.req.query('limit');
  const limit = limitParam === undefined ? MAX_PAGE : nonNegativeInt(limitParam, 'limit');
  if (limit < 1 || limit > MAX_PAGE) {
    throw new HttpProblem('bad-request', `limit must be between 1 and ${MAX_PAGE}.`);
  }
  const page = await listFederationIds(c.env.MODELS, limit, c.req.query('cursor') || undefined);
  const states = await Promise.all(page.ids.map((id) => coordinator(c.env, id).state()));
  const federations = states.flatMap((s) => (s.ok ? [federationSummary(s.value)] : []));
  return c.json({ federations, cursor: page.cursor } satisfies FederationList);
});

federationRoutes.get('/:fid', requireAdmin, async (c) =>
  c.json(unwrap(await coordinator(c.env, federationId(c.req.param('fid'))).state())),
);

federationRoutes.get('/:fid/history', requireAdmin, async (c) =>
  c.json({ rounds: unwrap(await coordinator(c.env, federationId(c.req.param('fid'))).history()) }),
);

federationRoutes.post('/:fid/start', requireAdmin, async (c) =>
  c.json(unwrap(await coordinator(c.env, federationId(c.req.param('fid'))).start())),
);

federationRoutes.post('/:fid/close', requireAdmin, async (c) =>
  c.json(unwrap(await coordinator(c.env, federationId(c.req.param('fid'))).close())),
);

/** Enrols a device, or enrols it again: a new generation, whose token voids every earlier one. */
federationRoutes.post('/:fid/devices', requireAdmin, limitBody(4 * 1024), async (c) => {
  const fid = federationId(c.req.param('fid'));
  const { deviceId } = await jsonBody(c, EnrollBody);
  const issue = deviceTokenIssuer(c.env);
  const { enrolledAt, generation } = unwrap(await coordinator(c.env, fid).enroll(deviceId));
  const granted = await issue({ federationId: fid, deviceId, generation });
  return c.json({ ...granted, enrolledAt } satisfies Enrollment, 201);
});

federationRoutes.get('/:fid/devices', requireAdmin, async (c) =>
  c.json({ devices: unwrap(await coordinator(c.env, federationId(c.req.param('fid'))).devices()) }),
);

federationRoutes.post('/:fid/devices/:deviceId/revoke', requireAdmin, async (c) => {
  const fid = federationId(c.req.param('fid'));
  const deviceId = DeviceId.safeParse(c.req.param('deviceId'));
  if (!deviceId.success) throw new HttpProblem('not-found', 'No device with this id is enrolled.');
  return c.json(unwrap(await coordinator(c.env, fid).revoke(deviceId.data)));
});

/**
 * The live event stream (protocol/events.ts): a WebSocket the coordinator
 * accepts itself, so it pushes every round transition as it commits.
 */
federationRoutes.get('/:fid/events', requireAdmin, async (c) => {
  const fid = federationId(c.req.param('fid'));
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new HttpProblem(
      'upgrade-required',
      'The event stream is a WebSocket: send Upgrade: websocket.',
      {},
      {
        upgrade: 'websocket',
      },
    );
  }
  if (!offeredProtocols(c.req.header('sec-websocket-protocol')).includes(EVENTS_PROTOCOL)) {
    throw new HttpProblem('bad-request', `Offer the WebSocket subprotocol ${EVENTS_PROTOCOL}.`, {
      code: 'missing-subprotocol',
    });
  }
  const answer = await coordinator(c.env, fid).fetch(
    new Request(c.req.url, { headers: { upgrade: 'websocket' } }),
  );
  if (answer.status === 404)
    throw new HttpProblem('unknown-federation', 'No federation exists with this id.');
  return answer;
});

/** Published adapters: both sides for the admin (evaluation), the head side for devices. */
const publishedAdapters =
  (side: 'head' | 'all') =>
  async (c: Context<AuthEnv>): Promise<Response> => {
    const fid = federationId(c.req.param('fid') ?? '');
    const version = nonNegativeInt(c.req.param('version') ?? '', 'version');
    const device = c.get('device');
    // A federation that trains at several cuts splits head and tail as the named build does.
    const model = c.req.query('model');
    if (model !== undefined && !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(model)) {
      throw new HttpProblem('bad-request', 'model must be a model id.');
    }
    const bytes = unwrap(
      await coordinator(c.env, fid).adapters(version, side, device && credentialOf(device), model),
    );
    return c.body(bytes, 200, {
      'content-type': SAFETENSORS_CONTENT_TYPE,
      'cache-control': 'private, max-age=3600',
    });
  };

federationRoutes.get('/:fid/adapters/:version/all', requireAdmin, publishedAdapters('all'));

// ---- devices --------------------------------------------------------------

federationRoutes.get('/:fid/adapters/:version', requireDevice, publishedAdapters('head'));

/** A fresh token of the device's current generation, signed with the current key: renewal before expiry. */
federationRoutes.post('/:fid/token', requireDevice, async (c) => {
  const { federationId: fid, deviceId, generation } = c.get('device');
  const issue = deviceTokenIssuer(c.env);
  unwrap(await coordinator(c.env, fid).authorize(deviceId, generation));
  return c.json(await issue({ federationId: fid, deviceId, generation }));
});

/** Join: the body is optional; a device may report its profile in it (protocol/profile.ts). */
federationRoutes.post('/:fid/join', requireDevice, limitBody(16 * 1024), async (c) => {
  const { federationId: fid, deviceId, generation } = c.get('device');
  const hasBody =
    c.req.header('content-type') !== undefined || Number(c.req.header('content-length') ?? 0) > 0;
  const { profile } = hasBody ? await jsonBody(c, JoinBody) : {};
  const { ticket, tail, tailOptimizer } = unwrap(
    await coordinator(c.env, fid).join(deviceId, generation, profile),
  );
  unwrap(await session(c.env, fid, ticket.round, deviceId).init({ ticket, tailOptimizer, tail, generation }));
  const scope = { federationId: fid, round: ticket.round, deviceId, generation };
  const answer: JoinAnswer = { ...ticket, sessionPass: await issueSessionPass(keyringOf(c.env), scope) };
  return c.json(answer);
});

/**
 * Steps and submits name a round's session object; only a device that joined
 * the round holds its pass. Without a valid one the coordinator says what is
 * wrong (not selected, wrong round, closed...) and no session is reached.
 */
async function requireSessionPass(c: Context<AuthEnv>, round: number): Promise<void> {
  const { federationId: fid, deviceId, generation } = c.get('device');
  const scope = { federationId: fid, round, deviceId, generation };
  if (await verifySessionPass(keyringOf(c.env), c.req.header(SESSION_PASS_HEADER), scope)) return;
  unwrap(await coordinator(c.env, fid).admissible(deviceId, round, generation));
  throw new HttpProblem(
    'conflict',
    `Join round ${round} first: its steps and submit carry the ${SESSION_PASS_HEADER} pass the join answered.`,
    { code: 'no-session-pass' },
  );
}

federationRoutes.post(
  '/:fid/rounds/:round/steps/:seq',
  requireDevice,
  limitBody(MAX_STEP_BYTES),
  requireContentType(STEP_CONTENT_TYPE),
  async (c) => {
    const { federationId: fid, deviceId, generation } = c.get('device');
    const round = nonNegativeInt(c.req.param('round'), 'round');
    const seq = nonNegativeInt(c.req.param('seq'), 'seq');
    await requireSessionPass(c, round);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const stepped = await session(c.env, fid, round, deviceId).step(seq, body, generation);
    const problem = failureOf(stepped)?.problem;
    if (problem === 'not-found' || problem === 'round-closed') {
      // Only sessions the device's standing was pushed to know it; on these
      // failure paths (none per successful step) the coordinator says whether
      // the token itself is the problem.
      const standing = await coordinator(c.env, fid).authorize(deviceId, generation);
      if (failureOf(standing)?.problem === 'unauthorized') unwrap(standing);
    }
    const { answer, bytesUsed, budgetBytes } = unwrap(stepped);
    return c.body(answer, 200, {
      'content-type': STEP_ANSWER_CONTENT_TYPE,
      'x-budget-used': String(bytesUsed),
      'x-budget-bytes': String(budgetBytes),
    });
  },
);

/** The device's update (protocol/update.ts); anything wrong with it is 422 invalid-update with its code. */
function readUpdate(bytes: Uint8Array, masked: boolean): UpdateMetadata {
  try {
    // A masked update's length is the coordinator's to check: it knows the federation's trainables.
    return masked
      ? decodeMaskedUpdate(bytes, undefined, UPDATE_LIMITS).metadata
      : decodeUpdate(bytes, UPDATE_LIMITS).metadata;
  } catch (err) {
    if (!(err instanceof UpdateError)) throw err;
    throw new HttpProblem('invalid-update', `The update is invalid: ${err.message}`, { code: err.code });
  }
}

/**
 * Submit: the plain update, or (secure aggregation) the masked one. The
 * session hands over what it observed and the tail it trained; the
 * coordinator checks and keeps both.
 */
const submitHandler = (masked: boolean) => async (c: Context<AuthEnv>) => {
  const { federationId: fid, deviceId, generation } = c.get('device');
  const round = nonNegativeInt(c.req.param('round') ?? '', 'round');
  await requireSessionPass(c, round);
  const head = new Uint8Array(await c.req.arrayBuffer());
  const meta = readUpdate(head, masked);
  const coord = coordinator(c.env, fid);
  const deviceSession = session(c.env, fid, round, deviceId);
  // Checked by the coordinator before the session closes: a refused update
  // (422) leaves the device free to go on training and submit again.
  const closing = await deviceSession.handover(generation);
  if (failureOf(closing)?.problem === 'not-found') {
    // No session: the device never joined this round. The coordinator knows
    // the precise reason (late, early, not selected, ...).
    unwrap(await coord.admissible(deviceId, round, generation));
    throw new HttpProblem(
      'conflict',
      `Device ${deviceId} has not joined round ${round}; join before submitting.`,
    );
  }
  const finished = unwrap(closing);
  const result = unwrap(
    await coord.submit({
      deviceId,
      round,
      sampleCount: meta.sampleCount,
      observedSamples: finished.samples,
      head,
      masked,
      tail: finished.tail,
      metrics: { meanLoss: meta.meanLoss, accuracy: meta.accuracy, steps: meta.steps },
      uplinkBytes: finished.uplinkBytes,
      downlinkBytes: finished.downlinkBytes,
      tailTiming: finished.tailTiming,
      ...(finished.sharedTailSteps !== undefined ? { sharedTailSteps: finished.sharedTailSteps } : {}),
      idempotencyKey: meta.idempotencyKey,
      ...(meta.profile ? { profile: meta.profile } : {}),
      generation,
    }),
  );
  // Accepted (now or by an earlier attempt): no further step may count.
  unwrap(await deviceSession.finish(generation));
  return c.json(result, result.duplicate ? 200 : 202);
};

for (const [path, masked] of [
  ['/:fid/rounds/:round/submit', false],
  ['/:fid/rounds/:round/secagg/masked', true],
] as const) {
  federationRoutes.post(
    path,
    requireDevice,
    limitBody(UPDATE_LIMITS.maxBytes),
    requireContentType(UPDATE_CONTENT_TYPE),
    submitHandler(masked),
  );
}
