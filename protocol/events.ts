// The live event stream of one federation: what the coordinator pushes to an
// operator watching it (GET /v1/federations/:fid/events, a WebSocket). Each
// WebSocket text message is one JSON event below. The first is always a
// `snapshot`; after it the watcher needs no other request to follow rounds.
//
// Round events carry the whole RoundRecord as it stands after the change, so
// a watcher that misses one (a dropped connection) is whole again at the
// next; `progress` is the exception, a device's running totals within the
// round, sent at most once a second per device (every 10 s while nobody
// watches, so the first may come late after a watcher connects) and never
// stored.
import { z } from 'zod';
import { DeviceId, FederationState, RoundRecord, VersionRecord } from './federation.js';

/** The WebSocket subprotocol of the stream. */
export const EVENTS_PROTOCOL = 'splitflare-events.v1';

/**
 * Browsers cannot set headers on a WebSocket, so the admin key may instead
 * ride in a second subprotocol, `bearer.<key>` (the key never appears in a
 * URL, where logs and histories would keep it). The server echoes only
 * EVENTS_PROTOCOL.
 */
export const BEARER_PROTOCOL_PREFIX = 'bearer.';

const base = { at: z.number().int() };

export const RoundCause = z.enum(['opened', 'joined', 'submitted', 'closed', 'settled']);
export type RoundCause = z.infer<typeof RoundCause>;

export const FederationEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), ...base, state: FederationState }),
  z.object({
    type: z.literal('round'),
    ...base,
    cause: RoundCause,
    /** The device whose join or update caused it. */
    deviceId: DeviceId.optional(),
    /** Unix milliseconds at which the round closes at the latest. */
    deadline: z.number().int(),
    round: RoundRecord,
  }),
  z.object({
    type: z.literal('progress'),
    ...base,
    round: z.number().int().nonnegative(),
    deviceId: DeviceId,
    /** Training steps the device's session has answered this round, and their samples. */
    steps: z.number().int().nonnegative(),
    samples: z.number().int().nonnegative(),
    /** Mean loss over those steps. */
    loss: z.number().nullable(),
    uplinkBytes: z.number().int().nonnegative(),
    downlinkBytes: z.number().int().nonnegative(),
  }),
  z.object({ type: z.literal('version'), ...base, version: VersionRecord }),
  z.object({ type: z.literal('finished'), ...base, state: FederationState }),
]);
export type FederationEvent = z.infer<typeof FederationEvent>;
export type ProgressEvent = Extract<FederationEvent, { type: 'progress' }>;
/** What a session reports for a progress event; the coordinator stamps it. */
export type ProgressReport = Omit<ProgressEvent, 'type' | 'at'>;

/** The subprotocols a WebSocket request offers (Sec-WebSocket-Protocol, comma-separated). */
export function offeredProtocols(header: string | null | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}
