// What devices and the coordinator exchange for secure aggregation, as JSON
// (keys, encrypted shares, revealed shares) and one binary body (the masked
// update). Validated with zod on both sides; byte strings are base64.
import { z } from 'zod';
import { DeviceId } from '../federation.js';

/** X25519 public key: 32 bytes. */
const PUBLIC_KEY_B64 = 44;
/** A sealed share: 12-byte nonce, an 81-byte Shamir share of the 80-byte secret, 16-byte tag. */
const SEALED_SHARE_B64 = 148;
/** A revealed share: at most 48 bytes of secret and its x byte. */
const REVEALED_SHARE_B64 = 68;

const base64 = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');

export const SecAggPhase = z.enum(['keys', 'shares', 'masked', 'unmask', 'done', 'failed']);
export type SecAggPhase = z.infer<typeof SecAggPhase>;

export const MemberKeys = z.object({
  /** Encrypts the shares sent to this member. */
  cipherKey: base64(PUBLIC_KEY_B64),
  /** Agrees this member's pairwise mask seeds. */
  maskKey: base64(PUBLIC_KEY_B64),
});
export type MemberKeys = z.infer<typeof MemberKeys>;

const byMember = <T extends z.ZodTypeAny>(value: T) => z.record(DeviceId, value);

/** POST …/secagg/shares: one sealed share for every other member of the roster. */
export const SharesBody = z.object({ shares: byMember(base64(SEALED_SHARE_B64)) });
export type SharesBody = z.infer<typeof SharesBody>;

/** POST …/secagg/unmask: self-mask shares of the survivors, mask-key shares of the dropped. */
export const UnmaskBody = z.object({
  selfMasks: byMember(base64(REVEALED_SHARE_B64)),
  maskKeys: byMember(base64(REVEALED_SHARE_B64)),
});
export type UnmaskBody = z.infer<typeof UnmaskBody>;

/** GET …/secagg: the round's phase and what a member needs from it. */
export const SecAggStatus = z.object({
  phase: SecAggPhase,
  /** How many members every phase needs: fewer and the round fails. */
  threshold: z.number().int().min(2),
  /** When the current phase closes at the latest (ms since the epoch). */
  phaseDeadline: z.number().int(),
  /** From `shares` on: the members that advertised keys (U1). */
  roster: byMember(MemberKeys).optional(),
  /** From `masked` on: the members that shared (U2), whose masks a masked update carries. */
  sharers: z.array(DeviceId).optional(),
  /** From `masked` on: the sealed shares addressed to the asking member. */
  inbox: byMember(base64(SEALED_SHARE_B64)).optional(),
  /** In `unmask`: the members whose masked update is in the sum (U3). */
  survivors: z.array(DeviceId).optional(),
});
export type SecAggStatus = z.infer<typeof SecAggStatus>;

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** null for text that is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}
