import { Hono } from 'hono';
import { topKPredictions } from '../../common/predictions.js';
import { encodeFrame } from '../../protocol/frame.js';
import { FRAME_CONTENT_TYPE, ONNX_CONTENT_TYPE } from '../../protocol/media.js';
import { requireContentType } from '../http/content-type.js';
import { limitBody } from '../http/limits.js';
import { negotiateInferAnswer } from '../http/negotiate.js';
import { HttpProblem } from '../http/problem.js';
import { decodeActivation } from '../inference/activation.js';
import { runTail } from '../inference/tail.js';
import { type DeployedModel, findModel, listModels } from '../registry.js';

/** Bodies above this are refused while streaming; per-model limits are checked from the frame header. */
export const MAX_INFER_BODY_BYTES = 32 * 1024 * 1024;

type Vars = { Variables: { model: DeployedModel } };

export const modelsRoutes = new Hono<Vars>();

modelsRoutes.get('/', (c) =>
  c.json({
    models: listModels().map(({ manifest }) => ({
      id: manifest.modelId,
      cut: manifest.cut.id,
      input: manifest.input,
      output: manifest.output,
      encodings: manifest.wire.encodings,
    })),
  }),
);

modelsRoutes.use('/:id/*', async (c, next) => {
  const id = c.req.param('id');
  const model = findModel(id);
  if (!model) throw new HttpProblem('unknown-model', `No model with id "${id}".`);
  c.set('model', model);
  await next();
});

modelsRoutes.get('/:id/manifest', (c) => {
  const { manifest } = c.get('model');
  return c.json(manifest, 200, {
    'cache-control': 'public, max-age=60',
    etag: `"${manifest.artifacts.head.sha256}"`,
  });
});

modelsRoutes.get('/:id/head', (c) => {
  const { manifest, head } = c.get('model');
  const etag = `"${manifest.artifacts.head.sha256}"`;
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, { etag });
  return c.body(head, 200, {
    'content-type': ONNX_CONTENT_TYPE,
    'content-length': String(head.byteLength),
    'cache-control': 'public, max-age=31536000, immutable',
    etag,
  });
});

/** Device-side training artifacts named in manifest.training.artifacts (the tail side stays on the Worker). */
modelsRoutes.get('/:id/training/:artifact', (c) => {
  const { manifest, training } = c.get('model');
  const name = c.req.param('artifact');
  const spec = manifest.training?.artifacts;
  const bytes =
    name === 'headForward'
      ? training?.headForward
      : name === 'headBackward'
        ? training?.headBackward
        : undefined;
  const artifact =
    name === 'headForward' ? spec?.headForward : name === 'headBackward' ? spec?.headBackward : undefined;
  if (!bytes || !artifact) {
    throw new HttpProblem(
      'not-found',
      `Model ${manifest.modelId} has no device training artifact "${name}".`,
    );
  }
  const etag = `"${artifact.sha256}"`;
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, { etag });
  return c.body(bytes, 200, {
    'content-type': ONNX_CONTENT_TYPE,
    'cache-control': 'public, max-age=31536000, immutable',
    etag,
  });
});

modelsRoutes.post(
  '/:id/infer',
  limitBody(MAX_INFER_BODY_BYTES),
  requireContentType(FRAME_CONTENT_TYPE),
  async (c) => {
    const model = c.get('model');
    const answer = negotiateInferAnswer(c.req.header('accept'));
    const k = parseTopK(c.req.query('k'));
    const activation = decodeActivation(new Uint8Array(await c.req.arrayBuffer()), model.manifest);
    const logits = await runTail(model, activation);
    if (answer === 'json') {
      return c.json({
        model: model.manifest.modelId,
        shape: logits.shape,
        predictions: topKPredictions(logits.data, logits.shape, k, model.manifest.labels),
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
