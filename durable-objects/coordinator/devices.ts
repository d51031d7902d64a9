// A device's standing: which of its tokens are honoured. Tokens carry the
// device's enrolment generation; the coordinator keeps the current one and a
// revocation mark (storage.ts, `devices`). Steps never reach the coordinator,
// so the device's live session keeps a copy of the lowest generation it may
// still honour (its floor) and the coordinator pushes it there whenever it
// moves: at re-enrolment and at revocation.
import type { DeviceRecord } from '../../protocol/federation.js';
import { fail, failureOf, type RpcFailure } from '../rpc.js';
import type { DeviceRow } from './storage.js';

/**
 * Why a token of generation `generation` is not honoured for this device, or
 * null when it is. An unknown device is left to the caller, which has its own
 * answer for it (not-enrolled) in its own order. `generation` undefined means
 * the caller is trusted code that authenticated nobody (tests, tools).
 */
export function credentialFailure(
  device: DeviceRow | null,
  generation: number | undefined,
): RpcFailure | null {
  if (!device || generation === undefined) return null;
  if (device.revokedAt !== null) {
    return fail('unauthorized', `Device ${device.deviceId} has been revoked.`, {
      extensions: { reason: 'revoked' },
    });
  }
  if (generation !== device.generation) {
    return fail('unauthorized', `This token was superseded: device ${device.deviceId} was enrolled again.`, {
      extensions: { reason: 'superseded' },
    });
  }
  return null;
}

/** The lowest generation a session may still honour, and why: after a revocation, none issued so far. */
export const sessionFloor = (device: DeviceRow): { floor: number; reason: 'revoked' | 'superseded' } =>
  device.revokedAt === null
    ? { floor: device.generation, reason: 'superseded' }
    : { floor: device.generation + 1, reason: 'revoked' };

export const deviceRecord = (d: DeviceRow): DeviceRecord => ({
  deviceId: d.deviceId,
  enrolledAt: d.enrolledAt,
  generation: d.generation,
  revokedAt: d.revokedAt,
  lastSeenAt: d.lastSeenAt,
  profile: d.profile,
});

/**
 * Tells the device's session in `round` (named as the Worker names it) its new
 * floor. A failure is reported, not swallowed: until the session hears it,
 * the device's older tokens still step there, so the admin must retry.
 */
export async function pushFloor(
  env: Env,
  target: { federationId: string; round: number; deviceId: string },
  standing: ReturnType<typeof sessionFloor>,
): Promise<RpcFailure | null> {
  const name = `${target.federationId}/${target.round}/${target.deviceId}`;
  try {
    return (
      failureOf(
        await env.SESSIONS.get(env.SESSIONS.idFromName(name)).supersede(standing.floor, standing.reason),
      ) ?? null
    );
  } catch (err) {
    return fail('unavailable', `The session of round ${target.round} could not be told: ${String(err)}`, {
      retryAfter: 1,
    });
  }
}

export type { DeviceRecord };
