// Versions an operator can trust: list them, give the federation a held-out
// set, score a version on it at the edge (or take the score the federation's
// evaluator device reports), pin the version rounds start from and `latest`
// serves, roll back to an earlier one, unpin. Holding a worse round back is
// the coordinator's (config.hold); these routes are how an operator sees and
// overrides it.
import { Hono } from 'hono';
import { sha256Hex } from '../../common/digest.js';
import { evaluationSetKey, evaluationTarget } from '../../durable-objects/coordinator/evaluation.js';
import { ArtifactStore } from '../../edge/artifacts.js';
import { VersionBody } from '../../protocol/api.js';
import {
  decodeEvaluationSet,
  EVALUATION_LIMITS,
  Evaluation,
  EvaluationSetError,
} from '../../protocol/evaluation.js';
import { SAFETENSORS_CONTENT_TYPE } from '../../protocol/media.js';
import { type AuthEnv, requireAdmin, requireDevice } from '../auth/middleware.js';
import { requireContentType } from '../http/content-type.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody } from '../http/limits.js';
import { HttpProblem } from '../http/problem.js';
import { unwrap } from '../http/rpc.js';
import { coordinator, federationId, nonNegativeInt } from './federation-refs.js';

export const versionRoutes = new Hono<AuthEnv>();

versionRoutes.get('/:fid/versions', requireAdmin, async (c) =>
  c.json(unwrap(await coordinator(c.env, federationId(c.req.param('fid'))).versions())),
);

/** The held-out set (protocol/evaluation.ts), checked against the federation's model before it is kept. */
versionRoutes.put(
  '/:fid/evaluation-set',
  requireAdmin,
  limitBody(EVALUATION_LIMITS.maxBytes),
  requireContentType(SAFETENSORS_CONTENT_TYPE),
  async (c) => {
    const fid = federationId(c.req.param('fid'));
    const coord = coordinator(c.env, fid);
    const { config } = unwrap(await coord.state());
    const manifest = await new ArtifactStore(c.env.MODELS).manifest(config.modelId);
    if (!manifest) throw new HttpProblem('unknown-model', `Model ${config.modelId} is not in the registry.`);
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    let samples: number;
    try {
      samples = decodeEvaluationSet(bytes, evaluationTarget(manifest)).labels.length;
    } catch (err) {
      if (!(err instanceof EvaluationSetError)) throw err;
      throw new HttpProblem('invalid-evaluation-set', err.message, { code: err.code });
    }
    const digest = await sha256Hex(bytes);
    await c.env.MODELS.put(evaluationSetKey(fid), bytes, { sha256: digest });
    unwrap(await coord.setEvaluationSet({ digest, samples }));
    return c.json({ digest, samples }, 201);
  },
);

versionRoutes.post('/:fid/versions/:version/evaluate', requireAdmin, async (c) => {
  const fid = federationId(c.req.param('fid'));
  const version = nonNegativeInt(c.req.param('version'), 'version');
  return c.json(unwrap(await coordinator(c.env, fid).evaluate(version)));
});

/** A score the federation's evaluator device (config.evaluator) measured on its own held-out data. */
versionRoutes.post('/:fid/versions/:version/evaluation', requireDevice, limitBody(4 * 1024), async (c) => {
  const { federationId: fid, deviceId, generation } = c.get('device');
  const version = nonNegativeInt(c.req.param('version'), 'version');
  const evaluation = await jsonBody(c, Evaluation);
  return c.json(
    unwrap(await coordinator(c.env, fid).reportEvaluation(deviceId, generation, version, evaluation)),
  );
});

/** Rounds start from `version`, and `latest` serves it, until unpinned. */
versionRoutes.post('/:fid/pin', requireAdmin, limitBody(1024), async (c) => {
  const fid = federationId(c.req.param('fid'));
  const { version } = await jsonBody(c, VersionBody);
  return c.json(unwrap(await coordinator(c.env, fid).setCurrent(version, 'pin')));
});

versionRoutes.post('/:fid/unpin', requireAdmin, async (c) =>
  c.json(unwrap(await coordinator(c.env, federationId(c.req.param('fid'))).unpin())),
);

/**
 * Rounds start from `version` again: a live round that trains from another
 * version fails and a new one opens from it; the next round that publishes
 * moves `latest` on from there.
 */
versionRoutes.post('/:fid/rollback', requireAdmin, limitBody(1024), async (c) => {
  const fid = federationId(c.req.param('fid'));
  const { version } = await jsonBody(c, VersionBody);
  return c.json(unwrap(await coordinator(c.env, fid).setCurrent(version, 'rollback')));
});
