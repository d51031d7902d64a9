// Serving what a federation trained: `?version=<federation id>@<n>` (or
// `@latest`) runs the tail with that published version's adapters instead of
// the model's initial ones. Published versions never change, so their values
// are kept per isolate once read from the coordinator.
import type { TrainableValues } from '../../edge/shard-runtime.js';
import { cachedValues, valuesIn } from '../../edge/trainables.js';
import { FederationId } from '../../protocol/federation.js';
import type { Manifest } from '../../protocol/manifest.js';
import { HttpProblem } from '../http/problem.js';
import { unwrap } from '../http/rpc.js';

const VERSION = /^([^@]+)@(latest|\d{1,9})$/;

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
  // `latest` is the version rounds start from: a pin or rollback moves it back.
  const version = ref.version === 'latest' ? state.currentVersion : ref.version;
  if (version > state.latestVersion) {
    throw new HttpProblem(
      'not-found',
      `Version ${version} of ${ref.federationId} is not published (latest is ${state.latestVersion}).`,
    );
  }
  return { federationId: ref.federationId, version };
}

/** A published version's trainables (safetensors): the device's side, or both. */
export async function versionAdapters(
  env: Env,
  federationId: string,
  version: number,
  side: 'head' | 'all',
): Promise<Uint8Array<ArrayBuffer>> {
  const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(federationId));
  return unwrap(await coordinator.adapters(version, side));
}

/** The trainables of a published version of a federation that trains `manifest`'s model. */
export async function versionValues(env: Env, manifest: Manifest, raw: string): Promise<TrainableValues> {
  const { federationId, version } = await resolveVersion(env, manifest, raw);
  return cachedValues(`version:${federationId}@${version}`, async () =>
    valuesIn(manifest, await versionAdapters(env, federationId, version, 'all'), (name) => {
      return new HttpProblem(
        'bad-request',
        `Federation ${federationId} does not train ${manifest.modelId}'s ${name}.`,
      );
    }),
  );
}
