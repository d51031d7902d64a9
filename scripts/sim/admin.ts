// The operator's side of the federation API, for the simulator: create a
// federation, enroll devices, start, watch rounds, fetch published adapters.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type FederationConfigInput, FederationState, RoundRecord } from '../../protocol/federation.js';

const DEV_VARS = fileURLToPath(new URL('../../.dev.vars', import.meta.url));

/** The admin key wrangler dev loads from .dev.vars (or SPLITFLARE_ADMIN_KEY). */
export async function localAdminKey(): Promise<string> {
  const fromEnv = process.env.SPLITFLARE_ADMIN_KEY;
  if (fromEnv) return fromEnv;
  const text = await readFile(DEV_VARS, 'utf8');
  const match = /^\s*ADMIN_KEY\s*=\s*"?([^"\n]+)"?\s*$/m.exec(text);
  if (!match) throw new Error(`no ADMIN_KEY in ${DEV_VARS}`);
  return match[1].trim();
}

const Enrolled = z.object({ deviceId: z.string(), token: z.string() });
const History = z.object({ rounds: z.array(RoundRecord) });

export interface AdminClient {
  create(id: string, config: FederationConfigInput): Promise<FederationState>;
  enroll(fid: string, deviceId: string): Promise<{ deviceId: string; token: string }>;
  start(fid: string): Promise<unknown>;
  state(fid: string): Promise<FederationState>;
  history(fid: string): Promise<RoundRecord[]>;
  /** safetensors of head and tail trainables at a published version. */
  adapters(fid: string, version: number): Promise<Uint8Array>;
  close(fid: string): Promise<unknown>;
}

export function adminClient(baseUrl: string, adminKey: string): AdminClient {
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const res = await fetch(new URL(path, baseUrl), {
      method,
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  const json = async <T>(schema: z.ZodType<T>, method: string, path: string, body?: unknown): Promise<T> =>
    schema.parse(await (await call(method, path, body)).json());
  const fed = (fid: string) => `/v1/federations/${encodeURIComponent(fid)}`;
  return {
    create: (id, config) => json(FederationState, 'POST', '/v1/federations', { id, config }),
    enroll: (fid, deviceId) => json(Enrolled, 'POST', `${fed(fid)}/devices`, { deviceId }),
    start: (fid) => json(z.unknown(), 'POST', `${fed(fid)}/start`),
    state: (fid) => json(FederationState, 'GET', fed(fid)),
    history: async (fid) => (await json(History, 'GET', `${fed(fid)}/history`)).rounds,
    adapters: async (fid, version) =>
      new Uint8Array(await (await call('GET', `${fed(fid)}/adapters/${version}/all`)).arrayBuffer()),
    close: (fid) => json(z.unknown(), 'POST', `${fed(fid)}/close`),
  };
}
