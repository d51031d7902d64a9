// URLs of the Worker's HTTP API, in one place.

export interface Endpoints {
  models: string;
  manifest: string;
  head: string;
  /** The unsplit model, for a device that runs all of it. */
  full: string;
  infer: string;
  /** A device-side training graph (manifest.training.artifacts). */
  training(artifact: 'headForward' | 'headBackward'): string;
  /** The head trainables of a published version, `<federation id>@<n|latest>`. */
  versionHead(version: string): string;
}

export function endpoints(baseUrl: string, modelId: string): Endpoints {
  // A trailing slash makes relative resolution keep any path prefix of the base
  // (a Worker mounted under /splitflare/, say).
  const base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const model = `v1/models/${encodeURIComponent(modelId)}`;
  return {
    models: new URL('v1/models', base).href,
    manifest: new URL(`${model}/manifest`, base).href,
    head: new URL(`${model}/head`, base).href,
    full: new URL(`${model}/full`, base).href,
    infer: new URL(`${model}/infer`, base).href,
    training: (artifact) => new URL(`${model}/training/${artifact}`, base).href,
    versionHead: (version) => new URL(`${model}/versions/${encodeURIComponent(version)}/head`, base).href,
  };
}
