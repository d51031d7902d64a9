// The device's part in a securely aggregated round (protocol/secagg/): keys at
// join, sealed shares as soon as the roster is known (while local training
// runs), the masked update in place of the plain one, and the reveal that lets
// the coordinator unmask the sum. Each phase waits, by polling the round's
// protocol state, for the coordinator to close the one before.
import type { Ticket } from '../../protocol/federation.js';
import { SecAggClient } from '../../protocol/secagg/client.js';
import { type SecAggPhase, SecAggStatus } from '../../protocol/secagg/wire.js';
import { encodeMaskedUpdate, type UpdateMetadata } from '../../protocol/update.js';
import { ProtocolError } from '../errors.js';
import { parseJsonBody } from '../transport/json-body.js';
import { type HttpContext, send } from './http.js';
import { type SubmitAnswer, submitUpdate } from './submit.js';

const ORDER: readonly SecAggPhase[] = ['keys', 'shares', 'masked', 'unmask', 'done'];

/** The device missed a phase (the coordinator closed it without this device): it is not in the round's sum. */
export class ExcludedError extends ProtocolError {}

export interface SecureRoundUrls {
  status: string;
  keys: string;
  shares: string;
  unmask: string;
  masked: string;
}

export class SecureRound {
  readonly #client: SecAggClient;
  readonly #urls: SecureRoundUrls;
  readonly #ctx: HttpContext;
  readonly #pollMs: number;
  readonly #fractionalBits: number;
  /** Settles once this device's shares are posted (or it was left out). */
  readonly #sharing: Promise<void>;
  #bytes = 0;

  private constructor(
    client: SecAggClient,
    ticket: Ticket,
    urls: SecureRoundUrls,
    ctx: HttpContext,
    pollMs: number,
  ) {
    this.#client = client;
    this.#urls = urls;
    this.#ctx = ctx;
    this.#pollMs = pollMs;
    this.#fractionalBits = ticket.secureAggregation!.fractionalBits;
    this.#sharing = this.#share();
    // Surfaced by submit(); never an unhandled rejection meanwhile.
    this.#sharing.catch(() => {});
  }

  /** Advertises this device's keys for the round and starts sharing in the background. */
  static async start(
    ticket: Ticket,
    urls: SecureRoundUrls,
    ctx: HttpContext,
    pollMs: number,
  ): Promise<SecureRound> {
    const protocol = ticket.secureAggregation;
    if (!protocol) throw new TypeError('the ticket does not ask for secure aggregation');
    const client = await SecAggClient.create(ticket.deviceId, protocol.context);
    const keys = await postJson(urls.keys, client.keys(), ctx);
    const round = new SecureRound(client, ticket, urls, ctx, pollMs);
    round.#bytes += keys;
    return round;
  }

  /** Masks `weightedDelta` (sampleCount × (trained − published), head trainables in manifest order) and submits it. */
  async submit(
    weightedDelta: Float64Array,
    metadata: UpdateMetadata,
  ): Promise<{ answer: SubmitAnswer; bytes: number }> {
    await this.#sharing;
    const status = await this.#waitFor('masked');
    const masked = await this.#client.mask(
      weightedDelta,
      status.sharers!,
      status.inbox!,
      this.#fractionalBits,
    );
    const body = encodeMaskedUpdate(masked, metadata);
    return { answer: await submitUpdate(this.#urls.masked, body, this.#ctx), bytes: body.byteLength };
  }

  /** Reveals the shares the coordinator needs to unmask the round's sum. */
  async reveal(): Promise<void> {
    const status = await this.#waitFor('unmask');
    this.#bytes += await postJson(this.#urls.unmask, this.#client.unmask(status.survivors!), this.#ctx);
  }

  /** Bytes of the protocol's own messages so far, sent and received (the masked update not included). */
  get protocolBytes(): number {
    return this.#bytes;
  }

  async #share(): Promise<void> {
    const status = await this.#waitFor('shares');
    const shares = await this.#client.shares(status.roster!, status.threshold);
    this.#bytes += await postJson(this.#urls.shares, shares, this.#ctx);
  }

  async #waitFor(phase: SecAggPhase): Promise<SecAggStatus> {
    for (;;) {
      const answer = await send(this.#urls.status, { headers: { accept: 'application/json' } }, this.#ctx);
      this.#bytes += answer.body.byteLength;
      const status = parseJsonBody(answer.body, SecAggStatus, 'the secure-aggregation status', protocolError);
      if (status.phase === phase) return status;
      if (status.phase === 'failed') throw new ProtocolError('the round’s secure aggregation failed');
      if (ORDER.indexOf(status.phase) > ORDER.indexOf(phase)) {
        throw new ExcludedError(`the ${phase} phase closed before this device took part`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
      this.#ctx.signal?.throwIfAborted();
    }
  }
}

const protocolError = (message: string, options?: ErrorOptions) => new ProtocolError(message, options);

/** Posts a protocol message; answers the bytes sent and received. */
async function postJson(url: string, body: unknown, ctx: HttpContext): Promise<number> {
  // Every message is idempotent at the coordinator (the same message again is accepted), so retries are safe.
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  const text = JSON.stringify(body);
  const answer = await send(url, { method: 'POST', headers, body: text }, ctx);
  return new TextEncoder().encode(text).byteLength + answer.body.byteLength;
}
