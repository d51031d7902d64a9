// Models: the catalogue and manifests from the R2 registry, the device's
// artifacts streamed from it, split inference through the tail pipeline, and
// publishing a manifest (admin) once its artifacts are in the registry.
import { Hono } from 'hono';
import { prettifyError, z } from 'zod';
import { topKPredictions } from '../../common/predictions.js';
import { ArtifactStore } from '../../edge/artifacts.js';
import { inferThroughPipeline, shardSlots } from '../../edge/pipeline.js';
import { initialValues } from '../../edge/trainables.js';
import { encodeFrame } from '../../protocol/frame.js';
import { type Artifact, edgeArtifacts, Manifest } from '../../protocol/manifest.js';
import { FRAME_CONTENT_TYPE, ONNX_CONTENT_TYPE, SAFETENSORS_CONTENT_TYPE } from '../../protocol/media.js';
import { artifactAccess, isPrivateHead } from '../auth/artifact-access.js';
import { inferenceAccess } from '../auth/inference.js';
import { type AuthEnv, requireAdmin } from '../auth/middleware.js';
import { requireContentType } from '../http/content-type.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody } from '../http/limits.js';
import { negotiateInferAnswer } from '../http/negotiate.js';
import { HttpProblem } from '../http/problem.js';
import { unwrap } from '../http/rpc.js';
import { decodeActivation } from '../inference/activation.js';
import { resolveVersion, versionAdapters, versionValues } from '../inference/versions.js';

/** Bodies above this are refused while streaming; per-model limits are checked from the frame header. */
export const MAX_INFER_BODY_BYTES = 32 * 1024 * 1024;

type ModelsEnv = { Bindings: Env; Variables: AuthEnv['Variables'] & { manifest: Manifest } };

export const modelsRoutes = new Hono<ModelsEnv>();

const storeOf = (env: Env) => new ArtifactStore(env.MODELS);

modelsRoutes.get('/', async (c) =>
  c.json({
    models: (await storeOf(c.env).manifests()).map((m) => ({
      id: m.modelId,
      cut: m.cut.id,
      input: m.input,
      output: m.output,
      encodings: m.wire.encodings,
      shards: m.pipeline.shards.length,
      weights: m.weights,
      training: m.training !== undefined,
    })),
  }),
);

/** Publishing (admin): the manifest goes live once every artifact the edge needs is in the registry. */
modelsRoutes.put('/:id', requireAdmin, limitBody(4 * 1024 * 1024), async (c) => {
  const id = c.req.param('id');
  const parsed = Manifest.safeParse(await jsonBody(c, z.unknown()));
  if (!parsed.success) {
    throw new HttpProblem('invalid-manifest', prettifyError(parsed.error), { issues: parsed.error.issues });
  }
  const manifest = parsed.data;
  if (manifest.modelId !== id) {
    throw new HttpProblem('invalid-manifest', `The manifest is for ${manifest.modelId}, not ${id}.`);
  }
  const slots = shardSlots(c.env as unknown as Record<string, unknown>);
  if (manifest.pipeline.shards.length > slots) {
    throw new HttpProblem(
      'invalid-manifest',
      `The model has ${manifest.pipeline.shards.length} shards; this deployment runs at most ${slots}.`,
      { shards: manifest.pipeline.shards.length, slots },
    );
  }
  const store = storeOf(c.env);
  const missing = await store.missing(edgeArtifacts(manifest));
  if (missing.length > 0) {
    throw new HttpProblem('missing-artifacts', `Upload ${missing.length} artifact(s) first.`, {
      missing: missing.map((a) => ({ file: a.file, sha256: a.sha256, bytes: a.bytes })),
    });
  }
  const existed = (await store.manifest(id)) !== undefined;
  await store.putManifest(manifest);
  return c.json(manifest, existed ? 200 : 201, { location: `/v1/models/${id}/manifest` });
});

modelsRoutes.use('/:id/*', async (c, next) => {
  const id = c.req.param('id');
  const manifest = await storeOf(c.env).manifest(id);
  if (!manifest) throw new HttpProblem('unknown-model', `No model with id "${id}".`);
  c.set('manifest', manifest);
  await next();
});

modelsRoutes.get('/:id/manifest', (c) => {
  const manifest = c.get('manifest');
  return c.json(manifest, 200, {
    'cache-control': 'public, max-age=60',
    etag: `"${manifest.artifacts.head.sha256}"`,
  });
});

/** Streams an artifact out of the registry, immutable by its sha256; the client verifies it. */
async function serveArtifact(
  env: Env,
  artifact: Artifact,
  ifNoneMatch: string | undefined,
  modelId: string,
): Promise<Response> {
  // A private head must not sit in shared caches, where anyone could read it back.
  const visibility = (await isPrivateHead(env, modelId)) ? 'private' : 'public';
  const etag = `"${artifact.sha256}"`;
  if (ifNoneMatch === etag) return new Response(null, { status: 304, headers: { etag } });
  const body = await storeOf(env).body(artifact);
  if (!body) {
    throw new HttpProblem(
      'unavailable',
      `Artifact ${artifact.file} is missing from the registry.`,
      {},
      {
        'retry-after': '60',
      },
    );
  }
  return new Response(body.body, {
    headers: {
      'content-type': ONNX_CONTENT_TYPE,
      'content-length': String(artifact.bytes),
      'cache-control': `${visibility}, max-age=31536000, immutable`,
      etag,
    },
  });
}

modelsRoutes.get('/:id/head', artifactAccess, (c) =>
  serveArtifact(c.env, c.get('manifest').artifacts.head, c.req.header('if-none-match'), c.req.param('id')),
);

/** The unsplit model, for a device that can run all of it (the SDK's dynamic placement); 404 when not built. */
modelsRoutes.get('/:id/full', artifactAccess, (c) => {
  const full = c.get('manifest').artifacts.full;
  if (!full)
    throw new HttpProblem('not-found', `Model ${c.req.param('id')} was published without its unsplit graph.`);
  return serveArtifact(c.env, full, c.req.header('if-none-match'), c.req.param('id'));
});

/** Device-side training artifacts named in manifest.training.artifacts (the tail side stays at the edge). */
modelsRoutes.get('/:id/training/:artifact', artifactAccess, (c) => {
  const manifest = c.get('manifest');
  const name = c.req.param('artifact');
  const spec = manifest.training?.artifacts;
  const artifact =
    name === 'headForward' ? spec?.headForward : name === 'headBackward' ? spec?.headBackward : undefined;
  if (!artifact) {
    throw new HttpProblem(
      'not-found',
      `Model ${manifest.modelId} has no device training artifact "${name}".`,
    );
  }
  return serveArtifact(c.env, artifact, c.req.header('if-none-match'), manifest.modelId);
});

/**
 * The device side of a published version: the head trainables (safetensors)
 * to run the head's training forward graph with (manifest.training.artifacts
 * .headForward). With `?version=` on infer, split inference uses the version.
 */
modelsRoutes.get('/:id/versions/:version/head', artifactAccess, async (c) => {
  const manifest = c.get('manifest');
  const { federationId, version } = await resolveVersion(c.env, manifest, c.req.param('version'));
  const etag = `"${federationId}@${version}"`;
  const immutable = c.req.param('version') !== `${federationId}@latest`;
  const headers = {
    etag,
    'cache-control': immutable
      ? `${(await isPrivateHead(c.env, manifest.modelId)) ? 'private' : 'public'}, max-age=31536000, immutable`
      : 'no-cache',
    'x-splitflare-version': `${federationId}@${version}`,
  };
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
  return c.body(await versionAdapters(c.env, federationId, version, 'head'), 200, {
    ...headers,
    'content-type': SAFETENSORS_CONTENT_TYPE,
  });
});

modelsRoutes.post(
  '/:id/infer',
  // Before the body is read, so a refused request costs nothing more.
  inferenceAccess,
  limitBody(MAX_INFER_BODY_BYTES),
  requireContentType(FRAME_CONTENT_TYPE),
  async (c) => {
    const manifest = c.get('manifest');
    const answer = negotiateInferAnswer(c.req.header('accept'));
    const k = parseTopK(c.req.query('k'));
    const version = c.req.query('version');
    const activation = decodeActivation(new Uint8Array(await c.req.arrayBuffer()), manifest);
    // The edge's own time, from the decoded activation to the logits: what a device weighs against its link.
    const started = performance.now();
    const store = storeOf(c.env);
    const values =
      version === undefined
        ? await initialValues(store, manifest)
        : await versionValues(c.env, manifest, version);
    const logits = unwrap(
      await inferThroughPipeline(c.env as unknown as Record<string, unknown>, manifest, values, activation),
    );
    if (!logits.data.every(Number.isFinite)) {
      throw new HttpProblem(
        'non-finite-output',
        'The tail produced non-finite logits for this activation (its values are too large for the model).',
      );
    }
    c.header('server-timing', `edge;dur=${(performance.now() - started).toFixed(1)}`);
    if (answer === 'json') {
      return c.json({
        model: manifest.modelId,
        ...(version !== undefined ? { version } : {}),
        shape: logits.shape,
        predictions: topKPredictions(logits.data, logits.shape, k, manifest.labels),
      });
    }
    const frame = encodeFrame({ shape: logits.shape, data: logits.data }, { encoding: 'fp32' });
    return c.body(frame, 200, { 'content-type': FRAME_CONTENT_TYPE });
  },
);

function parseTopK(raw: string | undefined): number {
  if (raw === undefined) return 5;
  const k = Number(raw);
  if (!Number.isInteger(k) || k < 1 || k > 1000) {
    throw new HttpProblem('bad-request', 'Query parameter k must be an integer from 1 to 1000.');
  }
  return k;
}
