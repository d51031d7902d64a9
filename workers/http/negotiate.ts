import { FRAME_CONTENT_TYPE } from '../../protocol/media.js';
import { HttpProblem } from './problem.js';

export type InferAnswer = 'frame' | 'json';

/**
 * Picks the answer format from Accept. Missing or wildcard Accept gets the
 * binary frame (the SDK's format); JSON is opt-in. q-values are honoured only
 * as far as "q=0 means no".
 */
export function negotiateInferAnswer(accept: string | undefined): InferAnswer {
  if (!accept) return 'frame';
  const ranges = accept
    .split(',')
    .map((part) => {
      const [type, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim(), q: q ? Number(q.slice(2)) : 1 };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { type } of ranges) {
    if (type === FRAME_CONTENT_TYPE || type === 'application/*' || type === '*/*') return 'frame';
    if (type === 'application/json') return 'json';
  }
  throw new HttpProblem('not-acceptable', `Answers are ${FRAME_CONTENT_TYPE} or application/json.`);
}
