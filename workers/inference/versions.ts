// Serving what a federation trained: `?version=<federation id>@<n>` (or
// `@latest`) runs the tail with that published version's adapters instead of
// the model's initial ones. Published versions never change, so their values
// are kept per isolate once read from the coordinator.
import { parseSafetensors } from '../../common/safetensors.js';
import { hold } from '../../edge/memory.js';
import type { TrainableValues } from '../../edge/shard-runtime.js';
import { FederationId } from '../../protocol/federation.js';
import type { Manifest } from '../../protocol/manifest.js';
import { HttpProblem } from '../http/problem.js';
import { unwrap } from '../http/rpc.js';

const VERSION = /^([^@]+)@(latest|\d{1,9})$/;
const cache = new Map<string, Promise<TrainableValues>>();
const KEEP = 4;

export interface VersionRef {
  federationId: string;
  version: number | 'latest';
}

export function parseVersion(raw: string): VersionRef {
  const m = VERSION.exec(raw);
  if (!m || !FederationId.safeParse(m[1]).success) {
    throw new HttpProblem(
      'bad-request',
      'Query parameter version must be <federation id>@<n> or <federation id>@latest.',
    );
  }
  return { federationId: m[1], version: m[2] === 'latest' ? 'latest' : Number(m[2]) };
}

async function load(
  env: Env,
  manifest: Manifest,
  federationId: string,
  version: number,
): Promise<TrainableValues> {
  const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(federationId));
  const bytes = unwrap(await coordinator.adapters(version, 'all'));
  const tensors = parseSafetensors(bytes);
  const values: Record<string, Float32Array> = {};
  let held = 0;
  for (const spec of manifest.training?.trainables ?? []) {
    const t = tensors.get(spec.name);
    if (t?.dtype !== 'float32') {
      throw new HttpProblem(
        'bad-request',
        `Federation ${federationId} does not train ${manifest.modelId}'s ${spec.name}.`,
      );
    }
    values[spec.name] = t.data;
    held += t.data.byteLength;
  }
  hold(`version:${federationId}@${version}`, held);
  return values;
}

/** A published version of a federation that trains `manifest`'s model, `latest` resolved to its number. */
export async function resolveVersion(
  env: Env,
  manifest: Manifest,
  raw: string,
): Promise<{ federationId: string; version: number }> {
  const ref = parseVersion(raw);
  if (!manifest.training) {
    throw new HttpProblem(
      'bad-request',
      `Model ${manifest.modelId} has no trainables, so it has no versions.`,
    );
  }
  const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(ref.federationId));
  const state = unwrap(await coordinator.state());
  if (state.config.modelId !== manifest.modelId) {
    throw new HttpProblem(
      'bad-request',
      `Federation ${ref.federationId} trains ${state.config.modelId}, not ${manifest.modelId}.`,
    );
  }
  const version = ref.version === 'latest' ? state.latestVersion : ref.version;
  if (version > state.latestVersion) {
    throw new HttpProblem(
      'not-found',
      `Version ${version} of ${ref.federationId} is not published (latest is ${state.latestVersion}).`,
    );
  }
  return { federationId: ref.federationId, version };
}

/** The device-side trainables of a published version (safetensors), for a device to run the head with. */
export async function versionHead(
  env: Env,
  federationId: string,
  version: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(federationId));
  return unwrap(await coordinator.adapters(version, 'head'));
}

/** The trainables of a published version of a federation that trains `manifest`'s model. */
export async function versionValues(env: Env, manifest: Manifest, raw: string): Promise<TrainableValues> {
  const { federationId, version } = await resolveVersion(env, manifest, raw);
  const key = `${federationId}@${version}`;
  let hit = cache.get(key);
  if (!hit) {
    hit = load(env, manifest, federationId, version);
    hit.catch(() => cache.delete(key));
    cache.set(key, hit);
    while (cache.size > KEEP) {
      const [oldest] = cache.keys();
      cache.delete(oldest);
      hold(`version:${oldest}`, 0);
    }
  }
  return hit;
}
