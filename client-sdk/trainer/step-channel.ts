// The per-step exchange with the client's session object, and what to do when
// it goes wrong. Steps carry a sequence number so the session applies each
// exactly once:
// - a transient failure (network, timeout, 502/503/504, a 429 other than
//   budget-exhausted) is retried with the SAME seq, honouring Retry-After;
// - the session answers a retry of its last applied step with the stored
//   answer, so a lost answer normally just arrives on the retry. Should it
//   not (409 out-of-order-step after a retry, expecting seq + 1), the first
//   attempt was applied and only its answer was lost: the tail has
//   trained on the batch, the head cannot (no gradient), and training goes on;
//   any other expected seq realigns the counter and resends the batch, at
//   most twice in a row;
// - 429 budget-exhausted ends the device's local training for this round:
//   the budget is per round (the session's Retry-After points at the round's
//   deadline), so waiting inside the round cannot restore it,
//   and the head update trained so far is still worth submitting. The same
//   stop happens without a request when the server's X-Budget-Used plus the
//   previous step's cost would pass X-Budget-Bytes;
// - a planned round's ticket gives the device an uplink rate: the channel
//   waits on the same token bucket the session keeps (protocol/pacing.ts)
//   before each new step, and should the session still answer 429 `paced`,
//   waits as long as it says and sends the same seq again (not a failure);
// - everything else (round-closed, wrong-round, ...) is thrown as ProblemError.
import { decodeFrame } from '../../protocol/frame.js';
import { STEP_ANSWER_CONTENT_TYPE, STEP_CONTENT_TYPE } from '../../protocol/media.js';
import { Pacer } from '../../protocol/pacing.js';
import { decodeStepAnswer, type StepAnswer } from '../../protocol/step.js';
import { ProblemError, ProtocolError } from '../errors.js';
import { sameShape } from '../shapes.js';
import { backoffDelay, TRANSIENT_STATUSES } from '../transport/backoff.js';
import { deadline, sleep } from '../transport/signals.js';
import { attemptOnce, type HttpContext } from './http.js';

export type StepResult =
  | { kind: 'answered'; loss: number; correct: number; gradient: Float32Array }
  /** The session applied the step but its answer never arrived. */
  | { kind: 'lost' }
  | { kind: 'budget-exhausted' };

export interface StepChannel {
  /** Sends one step; `shape` is the activation's, which the gradient must match. */
  send(body: Uint8Array<ArrayBuffer>, shape: readonly number[]): Promise<StepResult>;
  readonly uplinkBytes: number;
  readonly downlinkBytes: number;
  /** Milliseconds spent waiting for the planned rate (not the link's time). */
  readonly pacedMs: number;
}

const MAX_REALIGNS = 2;
/** `paced` answers in a row before the channel gives up on a step (the session's clock would have to be far off). */
const MAX_PACED = 20;

export function stepChannel(
  stepUrl: (seq: number) => string,
  ctx: HttpContext,
  budgetBytes: number,
  rateBps?: number,
): StepChannel {
  const pacer = rateBps !== undefined && rateBps > 0 ? new Pacer(rateBps) : null;
  let pacedMs = 0;
  let seq = 0;
  let uplinkBytes = 0;
  let downlinkBytes = 0;
  /** The server's count, when it reports one; else ours. */
  let budgetUsed = 0;
  let budgetLimit = budgetBytes;
  let lastCost: { bytes: number; requestBytes: number } | undefined;

  const wouldOverrun = (requestBytes: number): boolean => {
    if (!lastCost) return false;
    // Scale by the body size: the last batch of an epoch is smaller.
    const predicted = (lastCost.bytes * requestBytes) / lastCost.requestBytes;
    return budgetUsed + predicted > budgetLimit;
  };

  const send = async (body: Uint8Array<ArrayBuffer>, shape: readonly number[]): Promise<StepResult> => {
    if (wouldOverrun(body.byteLength)) return { kind: 'budget-exhausted' };
    const wait = async (ms: number) => {
      const start = performance.now();
      await sleep(ms, deadline(undefined, [ctx.signal]));
      pacedMs += performance.now() - start;
    };
    if (pacer) {
      for (
        let ms = pacer.admit(body.byteLength, Date.now());
        ms > 0;
        ms = pacer.admit(body.byteLength, Date.now())
      )
        await wait(ms);
    }
    let failures = 0;
    let realigns = 0;
    let paced = 0;
    for (;;) {
      const attempt = await attemptOnce(
        stepUrl(seq),
        {
          method: 'POST',
          headers: { 'content-type': STEP_CONTENT_TYPE, accept: STEP_ANSWER_CONTENT_TYPE },
          body,
        },
        ctx,
      );
      uplinkBytes += body.byteLength;
      if (attempt.ok) {
        const { response } = attempt;
        downlinkBytes += response.body.byteLength;
        const before = budgetUsed;
        budgetUsed =
          headerNumber(response.headers, 'x-budget-used') ??
          budgetUsed + body.byteLength + response.body.byteLength;
        budgetLimit = headerNumber(response.headers, 'x-budget-bytes') ?? budgetLimit;
        // A replayed answer (a retry of a step already applied) costs nothing new and predicts nothing.
        if (budgetUsed > before) lastCost = { bytes: budgetUsed - before, requestBytes: body.byteLength };
        seq++;
        return { kind: 'answered', ...readAnswer(response.body, response.headers, shape) };
      }
      const { error } = attempt;
      if (error instanceof ProblemError) {
        if (error.slug === 'budget-exhausted') return { kind: 'budget-exhausted' };
        if (error.slug === 'paced' && ++paced <= MAX_PACED) {
          const ms = error.problem.retryAfterMs;
          await wait(
            typeof ms === 'number' && ms > 0
              ? Math.min(ms, ctx.policy.maxRetryAfterMs)
              : (attempt.retryAfterMs ?? 1000),
          );
          continue;
        }
        if (error.slug === 'out-of-order-step') {
          const expected = error.problem.expected;
          if (typeof expected !== 'number' || !Number.isInteger(expected) || expected < 0) throw error;
          if (failures > 0 && expected === seq + 1) {
            seq = expected;
            return { kind: 'lost' };
          }
          if (++realigns > MAX_REALIGNS) throw error;
          seq = expected;
          continue;
        }
        if (!TRANSIENT_STATUSES.has(error.status)) throw error;
      }
      failures++;
      if (failures > ctx.policy.retries) throw error;
      const retryAfterMs = attempt.retryAfterMs;
      if (retryAfterMs !== undefined && retryAfterMs > ctx.policy.maxRetryAfterMs) throw error;
      await sleep(retryAfterMs ?? backoffDelay(failures - 1, ctx.policy), deadline(undefined, [ctx.signal]));
    }
  };

  return {
    send,
    get uplinkBytes() {
      return uplinkBytes;
    },
    get downlinkBytes() {
      return downlinkBytes;
    },
    get pacedMs() {
      return pacedMs;
    },
  };
}

function readAnswer(
  body: Uint8Array,
  headers: Headers,
  shape: readonly number[],
): { loss: number; correct: number; gradient: Float32Array } {
  const contentType = headers.get('content-type') ?? '';
  if (!contentType.toLowerCase().startsWith(STEP_ANSWER_CONTENT_TYPE)) {
    throw new ProtocolError(`expected ${STEP_ANSWER_CONTENT_TYPE}, got ${contentType || 'no content type'}`);
  }
  let answer: StepAnswer;
  let gradient: Float32Array;
  try {
    answer = decodeStepAnswer(body);
    gradient = decodeFrame(answer.frame).data;
  } catch (err) {
    throw new ProtocolError(`the step answer is unreadable: ${(err as Error).message}`, { cause: err });
  }
  if (!sameShape(answer.header.shape, shape)) {
    throw new ProtocolError(`the gradient is [${answer.header.shape}], the activation was [${shape}]`);
  }
  return { loss: answer.loss, correct: answer.correct, gradient };
}

function headerNumber(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw);
}
