// The operator's side of the HTTP API, shared by the `splitflare` CLI, the
// operator console (a browser page: nothing here needs Node), the
// simulator, the benchmarks and the tests. Every answer is checked against
// the protocol's own zod schemas, so a Worker of another version fails here,
// loudly, rather than somewhere downstream. Failures are ApiErrors carrying
// the server's problem+json (protocol/problem.ts).
//
// Hono's typed `hc` client cannot stand in: the routes are registered as
// statements on their routers (not one chained expression), so the app's type
// carries no route schema for `hc` to infer from.
import { prettifyError, z } from 'zod';
import { BEARER_PROTOCOL_PREFIX, EVENTS_PROTOCOL } from '../protocol/events.js';
import {
  DeviceRecord,
  Enrollment,
  type FederationConfigInput,
  FederationList,
  FederationState,
  type FederationSummary,
  RoundRecord,
  VersionRecord,
} from '../protocol/federation.js';
import { Manifest, TensorSpec, WeightFormat } from '../protocol/manifest.js';
import { PROBLEM_CONTENT_TYPE, type Problem } from '../protocol/problem.js';

/** A catalogue entry of GET /v1/models (workers/routes/models.ts). */
export const ModelSummary = z.object({
  id: z.string(),
  cut: z.string(),
  input: TensorSpec,
  output: TensorSpec,
  encodings: Manifest.shape.wire.shape.encodings,
  shards: z.number().int().positive(),
  weights: WeightFormat,
  training: z.boolean(),
});
export type ModelSummary = z.infer<typeof ModelSummary>;

/** GET /v1/federations/:fid/versions: every version, and which one rounds start from. */
export const Versions = z.object({
  currentVersion: z.number().int().nonnegative(),
  latestVersion: z.number().int().nonnegative(),
  pinned: z.boolean(),
  versions: z.array(VersionRecord),
});
export type Versions = z.infer<typeof Versions>;

const Models = z.object({ models: z.array(ModelSummary) });
const History = z.object({ rounds: z.array(RoundRecord) });
const Devices = z.object({ devices: z.array(DeviceRecord) });

/** What every error answer of the API holds; anything else the server adds is kept. */
const ProblemBody = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  requestId: z.string().optional(),
});

/** The API answered with an error: its problem details, and the request that got them. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly problem: Problem & { requestId?: string },
  ) {
    super(`${method} ${path}: ${problem.status} ${problem.detail ?? problem.title}`);
    this.name = 'ApiError';
  }
}

/** No answer at all: the Worker is down, the URL wrong, the network gone. */
export class UnreachableError extends Error {
  constructor(
    readonly baseUrl: string,
    cause: unknown,
  ) {
    const reason =
      cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : '';
    super(`cannot reach ${baseUrl}${reason ? `: ${reason}` : ''}`, { cause });
    this.name = 'UnreachableError';
  }
}

export interface AdminClient {
  readonly baseUrl: string;
  /** Sends the config as given; the Worker validates it (with CreateFederationBody) and fills its defaults. */
  create(id: string, config: FederationConfigInput): Promise<FederationState>;
  /** Enrols a device (again: a new generation); the answer holds its token, which is not kept anywhere. */
  enroll(fid: string, deviceId: string): Promise<Enrollment>;
  revoke(fid: string, deviceId: string): Promise<DeviceRecord>;
  devices(fid: string): Promise<DeviceRecord[]>;
  /** Opens round 0. */
  start(fid: string): Promise<RoundRecord>;
  state(fid: string): Promise<FederationState>;
  /** Every federation, all pages of GET /v1/federations. */
  federations(): Promise<FederationSummary[]>;
  versions(fid: string): Promise<Versions>;
  history(fid: string): Promise<RoundRecord[]>;
  /** safetensors of head and tail trainables at a published version. */
  adapters(fid: string, version: number): Promise<Uint8Array>;
  close(fid: string): Promise<FederationState>;
  /** The published models; needs no admin key. */
  models(): Promise<ModelSummary[]>;
  /** The federation's live event stream (protocol/events.ts), the key riding in a subprotocol. */
  openEvents(fid: string): Promise<WebSocket>;
  /**
   * Asks over plain HTTP why a WebSocket to the stream failed (the socket
   * API hides the status): throws the API's problem if the federation or the
   * key is refused, or if the stream is not there (anything but 426 Upgrade
   * Required to a request without an upgrade).
   */
  probeEvents(fid: string): Promise<void>;
}

export interface ClientOptions {
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

/** ws(s):// for the events of federation `fid` at an http(s):// base. */
export function eventsUrl(baseUrl: string, fid: string): string {
  const url = new URL(`${trimSlash(baseUrl)}/v1/federations/${encodeURIComponent(fid)}/events`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * The admin key may be a promise (read from .dev.vars on first use), so a
 * client for public calls such as models() never needs one.
 */
export function adminClient(
  baseUrl: string,
  adminKey: string | (() => Promise<string>),
  options: ClientOptions = {},
): AdminClient {
  const base = trimSlash(baseUrl);
  const doFetch = options.fetch ?? fetch;
  const key = typeof adminKey === 'string' ? async () => adminKey : adminKey;

  const call = async (method: string, path: string, body?: unknown, admin = true): Promise<Response> => {
    const headers: Record<string, string> = admin ? { authorization: `Bearer ${await key()}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new UnreachableError(base, err);
    }
    if (!res.ok) throw new ApiError(method, path, await problemOf(res));
    return res;
  };
  const json = async <T>(
    schema: z.ZodType<T>,
    method: string,
    path: string,
    body?: unknown,
    admin = true,
  ) => {
    const answer = schema.safeParse(await (await call(method, path, body, admin)).json());
    if (!answer.success) {
      throw new Error(
        `${method} ${path}: unexpected answer from the Worker:\n${prettifyError(answer.error)}`,
      );
    }
    return answer.data;
  };
  const fed = (fid: string) => `/v1/federations/${encodeURIComponent(fid)}`;
  const device = (fid: string, deviceId: string) => `${fed(fid)}/devices/${encodeURIComponent(deviceId)}`;

  return {
    baseUrl: base,
    create: (id, config) => json(FederationState, 'POST', '/v1/federations', { id, config }),
    enroll: (fid, deviceId) => json(Enrollment, 'POST', `${fed(fid)}/devices`, { deviceId }),
    revoke: (fid, deviceId) => json(DeviceRecord, 'POST', `${device(fid, deviceId)}/revoke`),
    devices: async (fid) => (await json(Devices, 'GET', `${fed(fid)}/devices`)).devices,
    start: (fid) => json(RoundRecord, 'POST', `${fed(fid)}/start`),
    state: (fid) => json(FederationState, 'GET', fed(fid)),
    federations: async () => {
      const all: FederationSummary[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `?cursor=${encodeURIComponent(cursor)}`;
        const page = await json(FederationList, 'GET', `/v1/federations${query}`);
        all.push(...page.federations);
        cursor = page.cursor;
      } while (cursor !== null);
      return all;
    },
    versions: (fid) => json(Versions, 'GET', `${fed(fid)}/versions`),
    history: async (fid) => (await json(History, 'GET', `${fed(fid)}/history`)).rounds,
    adapters: async (fid, version) =>
      new Uint8Array(await (await call('GET', `${fed(fid)}/adapters/${version}/all`)).arrayBuffer()),
    close: (fid) => json(FederationState, 'POST', `${fed(fid)}/close`),
    models: async () => (await json(Models, 'GET', '/v1/models', undefined, false)).models,
    openEvents: async (fid) =>
      new (options.WebSocket ?? WebSocket)(eventsUrl(base, fid), [
        EVENTS_PROTOCOL,
        `${BEARER_PROTOCOL_PREFIX}${await key()}`,
      ]),
    probeEvents: async (fid) => {
      await (await call('GET', fed(fid))).body?.cancel();
      try {
        await (await call('GET', `${fed(fid)}/events`)).body?.cancel();
      } catch (err) {
        if (!(err instanceof ApiError && err.problem.status === 426)) throw err;
      }
    },
  };
}

/** The problem an error answer holds, or one made up from its status when it holds none (a proxy's page). */
async function problemOf(res: Response): Promise<Problem & { requestId?: string }> {
  const text = await res.text().catch(() => '');
  const requestId = res.headers.get('x-request-id') ?? undefined;
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith(PROBLEM_CONTENT_TYPE) || type.startsWith('application/json')) {
    try {
      const parsed = ProblemBody.safeParse(JSON.parse(text));
      if (parsed.success) return { ...(requestId ? { requestId } : {}), ...parsed.data };
    } catch {
      // not JSON after all: described below
    }
  }
  return {
    type: 'about:blank',
    title: res.statusText || `HTTP ${res.status}`,
    status: res.status,
    ...(text ? { detail: text.slice(0, 300) } : {}),
    ...(requestId ? { requestId } : {}),
  };
}
