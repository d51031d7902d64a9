// URLs of the federation and training routes the device uses, in one place.
import type { SecureRoundUrls } from './secure-round.js';

export interface FederationUrls {
  join: string;
  /** `modelId`: the build the ticket trains at, whose split of head and tail to get. */
  headAdapters(version: number, modelId?: string): string;
  step(round: number, seq: number): string;
  submit(round: number): string;
  /** The round's secure-aggregation routes (protocol/secagg/). */
  secureAggregation(round: number): SecureRoundUrls;
  manifest(modelId: string): string;
  trainingArtifact(modelId: string, artifact: 'headForward' | 'headBackward'): string;
}

export function federationUrls(baseUrl: string, federationId: string): FederationUrls {
  // A trailing slash keeps any path prefix of the base (a Worker mounted under /splitflare/).
  const base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const fed = `v1/federations/${encodeURIComponent(federationId)}`;
  const model = (id: string) => `v1/models/${encodeURIComponent(id)}`;
  const at = (path: string) => new URL(path, base).href;
  return {
    join: at(`${fed}/join`),
    headAdapters: (version, modelId) =>
      at(`${fed}/adapters/${version}${modelId ? `?model=${encodeURIComponent(modelId)}` : ''}`),
    step: (round, seq) => at(`${fed}/rounds/${round}/steps/${seq}`),
    submit: (round) => at(`${fed}/rounds/${round}/submit`),
    secureAggregation: (round) => {
      const secagg = `${fed}/rounds/${round}/secagg`;
      return {
        status: at(secagg),
        keys: at(`${secagg}/keys`),
        shares: at(`${secagg}/shares`),
        unmask: at(`${secagg}/unmask`),
        masked: at(`${secagg}/masked`),
      };
    },
    manifest: (id) => at(`${model(id)}/manifest`),
    trainingArtifact: (id, artifact) => at(`${model(id)}/training/${artifact}`),
  };
}
