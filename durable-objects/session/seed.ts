// Stochastic rounding of the gradient draws from a generator seeded by the
// session's identity and the step: the same step of the same session always
// gives the same answer bytes, after an eviction too, and two sessions never
// share a rounding noise sequence.
import { mulberry32 } from '../../common/random.js';
import { crc32 } from '../../protocol/crc32.js';
import type { Ticket } from '../../protocol/federation.js';

export function roundingSeed(ticket: Ticket, seq: number): number {
  const key = `${ticket.federationId}/${ticket.round}/${ticket.deviceId}/${ticket.version}#${seq}`;
  return crc32(new TextEncoder().encode(key));
}

export function roundingRandom(ticket: Ticket, seq: number): () => number {
  return mulberry32(roundingSeed(ticket, seq));
}
