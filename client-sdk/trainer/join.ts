// Joining the open round. The expected "not this time" answers (not picked,
// nothing open, federation over) are outcomes, not errors.
import { JoinAnswer, type Ticket } from '../../protocol/federation.js';
import type { DeviceProfileReport, JoinBody } from '../../protocol/profile.js';
import { ProblemError, ProtocolError } from '../errors.js';
import { parseJsonBody } from '../transport/json-body.js';
import { type HttpContext, send } from './http.js';
import type { SkipReason } from './types.js';

const SKIPS: Partial<Record<string, SkipReason>> = {
  'not-selected': 'not-selected',
  'no-open-round': 'no-open-round',
  'federation-finished': 'finished',
};

export async function joinRound(
  url: string,
  ctx: HttpContext,
  federationId: string,
  profile?: DeviceProfileReport,
): Promise<{ ticket: Ticket; sessionPass: string } | { skipped: SkipReason }> {
  let body: Uint8Array;
  const init: RequestInit = profile
    ? {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({ profile } satisfies JoinBody),
      }
    : { method: 'POST', headers: { accept: 'application/json' } };
  try {
    // Joining twice hands back the same ticket, so the transport may retry it.
    body = (await send(url, init, ctx)).body;
  } catch (err) {
    const skipped = err instanceof ProblemError && err.slug ? SKIPS[err.slug] : undefined;
    if (skipped) return { skipped };
    throw err;
  }
  const { sessionPass, ...ticket } = parseJsonBody(
    body,
    JoinAnswer,
    'the ticket',
    (m, o) => new ProtocolError(m, o),
  );
  if (ticket.federationId !== federationId) {
    throw new ProtocolError(`joined ${federationId}, the ticket is for ${ticket.federationId}`);
  }
  return { ticket, sessionPass };
}
