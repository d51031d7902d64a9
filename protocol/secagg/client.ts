// A device's side of secure aggregation (SecAgg, Bonawitz et al. 2017, for an
// honest-but-curious coordinator): keys, then sealed shares of its secrets to
// every other member, then its update masked by a self mask and one pairwise
// mask per sharer, then the shares that let the coordinator remove the masks
// of the updates that arrived (self masks) and of the members that dropped
// (their mask keys) — never both for one member. Transport-free: the SDK's
// trainer carries the messages, the tests call it directly.
import { split } from 'shamir-secret-sharing';
import { agree, exportPrivate, generateKeyPair, type KeyPair, open, seal } from './keys.js';
import { expandMask } from './prg.js';
import { addInto, contributionLimit, encodeFixed } from './ring.js';
import { fromBase64, type MemberKeys, type SharesBody, toBase64, type UnmaskBody } from './wire.js';

/** Bytes of the self-mask seed, the head of every shared secret; the mask key's PKCS#8 follows. */
export const SEED_BYTES = 32;
export const SECRET_BYTES = SEED_BYTES + 48;

export class SecAggError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecAggError';
  }
}

/** The additional data a sealed share is bound to: which round, from whom, to whom. */
export const shareAad = (context: string, from: string, to: string) => `${context}|${from}|${to}`;

/** Members order pairwise masks: the lesser id adds, the greater subtracts. */
export const maskSign = (self: string, peer: string): 1 | -1 => (self < peer ? 1 : -1);

export class SecAggClient {
  readonly #deviceId: string;
  readonly #context: string;
  readonly #cipher: KeyPair;
  readonly #mask: KeyPair;
  readonly #seed = crypto.getRandomValues(new Uint8Array(SEED_BYTES));
  #roster: Record<string, MemberKeys> | null = null;
  /** Every member's share of its secrets held here, this device's own included. */
  readonly #held = new Map<string, Uint8Array<ArrayBuffer>>();
  #sharers: readonly string[] | null = null;

  private constructor(deviceId: string, context: string, cipher: KeyPair, mask: KeyPair) {
    this.#deviceId = deviceId;
    this.#context = context;
    this.#cipher = cipher;
    this.#mask = mask;
  }

  /** `context` names the federation and round, so nothing sealed for one round opens in another. */
  static async create(deviceId: string, context: string): Promise<SecAggClient> {
    const [cipher, mask] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    return new SecAggClient(deviceId, context, cipher, mask);
  }

  keys(): MemberKeys {
    return { cipherKey: toBase64(this.#cipher.publicKey), maskKey: toBase64(this.#mask.publicKey) };
  }

  /** Splits this device's secrets among the roster (U1), `threshold` of them needed, and seals each share. */
  async shares(roster: Record<string, MemberKeys>, threshold: number): Promise<SharesBody> {
    const members = Object.keys(roster).sort();
    if (!members.includes(this.#deviceId)) throw new SecAggError('this device is not on the roster');
    if (threshold < 2 || threshold > members.length) {
      throw new SecAggError(`threshold ${threshold} does not fit a roster of ${members.length}`);
    }
    const secret = new Uint8Array(SECRET_BYTES);
    secret.set(this.#seed);
    secret.set(await exportPrivate(this.#mask.privateKey), SEED_BYTES);
    const pieces = await split(secret, members.length, threshold);
    const shares: Record<string, string> = {};
    for (const [i, member] of members.entries()) {
      const piece = pieces[i] as Uint8Array<ArrayBuffer>;
      if (member === this.#deviceId) {
        this.#held.set(member, piece);
        continue;
      }
      const key = await agree(
        this.#cipher.privateKey,
        publicKey(roster, member, 'cipherKey'),
        'share',
        this.#context,
      );
      shares[member] = toBase64(await seal(key, piece, shareAad(this.#context, this.#deviceId, member)));
    }
    this.#roster = roster;
    return { shares };
  }

  /**
   * The update masked for the sum: `values` (already weighted as the
   * aggregate wants them) in fixed point, plus the self mask, plus or minus
   * one pairwise mask per other sharer. Opens and keeps the shares in
   * `inbox` first: every sharer's must be there, or the device could not
   * help unmask.
   */
  async mask(
    values: ArrayLike<number>,
    sharers: readonly string[],
    inbox: Record<string, string>,
    fractionalBits: number,
  ): Promise<Float64Array> {
    const roster = this.#roster;
    if (!roster) throw new SecAggError('shares() comes before mask()');
    if (!sharers.includes(this.#deviceId)) throw new SecAggError('this device is not among the sharers');
    for (const from of sharers) {
      if (from === this.#deviceId) continue;
      const sealed = inbox[from] === undefined ? null : fromBase64(inbox[from]);
      if (!sealed) throw new SecAggError(`no share from ${from}`);
      const key = await agree(
        this.#cipher.privateKey,
        publicKey(roster, from, 'cipherKey'),
        'share',
        this.#context,
      );
      const piece = await open(key, sealed, shareAad(this.#context, from, this.#deviceId));
      if (!piece || piece.length !== SECRET_BYTES + 1)
        throw new SecAggError(`the share from ${from} does not open`);
      this.#held.set(from, piece);
    }
    const y = new Float64Array(values.length);
    encodeFixed(values, fractionalBits, contributionLimit(sharers.length, fractionalBits), y);
    addInto(y, await expandMask(this.#seed, y.length));
    for (const peer of sharers) {
      if (peer === this.#deviceId) continue;
      const seed = await agree(
        this.#mask.privateKey,
        publicKey(roster, peer, 'maskKey'),
        'mask',
        this.#context,
      );
      addInto(y, await expandMask(seed, y.length), maskSign(this.#deviceId, peer));
    }
    this.#sharers = [...sharers];
    return y;
  }

  /**
   * The shares that unmask the sum of `survivors`' updates: their self-mask
   * seeds, and the mask keys of the sharers that did not make it. A survivor
   * list that is not a subset of the sharers this device masked for is
   * refused: revealing both secrets of one member would expose its update.
   */
  unmask(survivors: readonly string[]): UnmaskBody {
    const sharers = this.#sharers;
    if (!sharers) throw new SecAggError('mask() comes before unmask()');
    const alive = new Set(survivors);
    if (!alive.has(this.#deviceId)) throw new SecAggError('this device is not among the survivors');
    for (const s of alive) if (!sharers.includes(s)) throw new SecAggError(`${s} never shared`);
    const selfMasks: Record<string, string> = {};
    const maskKeys: Record<string, string> = {};
    for (const member of sharers) {
      const piece = this.#held.get(member)!;
      const x = piece.subarray(SECRET_BYTES);
      if (alive.has(member)) selfMasks[member] = toBase64(concat(piece.subarray(0, SEED_BYTES), x));
      else maskKeys[member] = toBase64(concat(piece.subarray(SEED_BYTES, SECRET_BYTES), x));
    }
    return { selfMasks, maskKeys };
  }
}

function publicKey(roster: Record<string, MemberKeys>, member: string, which: keyof MemberKeys) {
  const keys = roster[member];
  const bytes = keys ? fromBase64(keys[which]) : null;
  if (bytes?.length !== 32 || !bytes) throw new SecAggError(`${member}'s ${which} is not a 32-byte key`);
  return bytes;
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
