// Where one inference request should run, chosen per request as Neurosurgeon
// does: each placement (all on the device, or split at one of the model's
// cuts) costs the device's compute, the bytes it moves over the link and the
// edge's compute. The device's and the edge's times are measured on earlier
// requests (the edge reports its own in Server-Timing); the link is fitted
// from the remote requests' transfer times (round trip minus the edge's
// time) against their bytes. Pure: no I/O, so it is tested on its own.

export interface Placement {
  id: string;
  /** Whether the request goes to the edge (a split); false: everything on the device. */
  remote: boolean;
  /** Bytes a sample sends up (the activation frame) and brings down (the logits frame). */
  upBytesPerSample: number;
  downBytesPerSample: number;
}

/** What one request at a placement took. */
export interface Observation {
  batch: number;
  /** The device's compute (ms). */
  deviceMs: number;
  /** Remote only: the edge's compute (ms) and the whole exchange, edge included (ms). */
  edgeMs?: number;
  roundTripMs?: number;
  /** Remote only: the bytes the exchange moved, both ways. */
  bytes?: number;
}

/** Weight of the newest observation in the running means. */
const SMOOTHING = 0.3;
/**
 * Each placement is measured twice before it is trusted: the first run of a
 * graph pays for its own setup, and an estimate inflated by it would never be
 * corrected, since a placement that looks slow is never chosen again.
 */
const TRIES = 2;
/**
 * A placement not chosen for this many requests is tried once more, if it is
 * expected within RETRY_WITHIN of the best: links and loads change, and a
 * close second may have become the first. A far slower one is not worth it.
 */
const STALE_AFTER = 25;
const RETRY_WITHIN = 1.5;

interface Running {
  deviceMsPerSample: number;
  edgeMsPerSample: number;
  seen: number;
}

export class PlacementChooser {
  readonly #placements: ReadonlyMap<string, Placement>;
  readonly #costs = new Map<string, Running>();
  readonly #lastChosen = new Map<string, number>();
  #requests = 0;
  /**
   * Remote exchanges by size (one running mean per power of two of bytes),
   * so the link's fixed and per-byte parts stay separable however long the
   * requests keep one size.
   */
  readonly #transfers = new Map<number, { bytes: number; ms: number }>();

  constructor(placements: readonly Placement[]) {
    if (placements.length === 0) throw new RangeError('no placement to choose from');
    this.#placements = new Map(placements.map((p) => [p.id, p]));
  }

  /**
   * The placement for a request of `batch` samples: one not yet measured
   * twice, or a close second not chosen for a long while, else the fastest expected.
   */
  choose(batch: number): string {
    const request = this.#requests++;
    const pick = (id: string) => {
      this.#lastChosen.set(id, request);
      return id;
    };
    for (const id of this.#placements.keys()) if ((this.#costs.get(id)?.seen ?? 0) < TRIES) return pick(id);
    let best: { id: string; ms: number } | null = null;
    for (const id of this.#placements.keys()) {
      const ms = this.expectedMs(id, batch)!;
      if (!best || ms < best.ms) best = { id, ms };
    }
    for (const id of this.#placements.keys()) {
      const stale = request - (this.#lastChosen.get(id) ?? 0) > STALE_AFTER;
      if (stale && this.expectedMs(id, batch)! <= RETRY_WITHIN * best!.ms) return pick(id);
    }
    return pick(best!.id);
  }

  /** What a request of `batch` samples is expected to take at `id`, or undefined before it was measured. */
  expectedMs(id: string, batch: number): number | undefined {
    const p = this.#placements.get(id);
    const c = this.#costs.get(id);
    if (!p || !c) return undefined;
    const device = c.deviceMsPerSample * batch;
    if (!p.remote) return device;
    const { fixedMs, msPerByte } = this.link();
    const bytes = (p.upBytesPerSample + p.downBytesPerSample) * batch;
    return device + fixedMs + msPerByte * bytes + c.edgeMsPerSample * batch;
  }

  observe(id: string, o: Observation): void {
    const p = this.#placements.get(id);
    if (!p || !(o.batch > 0)) return;
    const prior = this.#costs.get(id);
    const mix = (old: number | undefined, now: number) =>
      old === undefined ? now : (1 - SMOOTHING) * old + SMOOTHING * now;
    // Until a placement is settled each measurement replaces the last: the first pays for setup.
    const settled = (prior?.seen ?? 0) >= TRIES;
    const next = (old: number | undefined, now: number) => (settled ? mix(old, now) : now);
    const edge = (o.edgeMs ?? 0) / o.batch;
    this.#costs.set(id, {
      deviceMsPerSample: next(prior?.deviceMsPerSample, o.deviceMs / o.batch),
      edgeMsPerSample: p.remote ? next(prior?.edgeMsPerSample, edge) : 0,
      seen: (prior?.seen ?? 0) + 1,
    });
    if (p.remote && o.roundTripMs !== undefined && o.bytes !== undefined && o.bytes > 0) {
      const ms = Math.max(0, o.roundTripMs - (o.edgeMs ?? 0));
      const bucket = Math.floor(Math.log2(o.bytes));
      const old = this.#transfers.get(bucket);
      this.#transfers.set(bucket, { bytes: mix(old?.bytes, o.bytes), ms: mix(old?.ms, ms) });
    }
  }

  /**
   * The link as a line: a fixed time per exchange (round trip) plus a time
   * per byte, fitted by least squares; with too little spread in the sizes to
   * tell them apart, all of it per byte.
   */
  link(): { fixedMs: number; msPerByte: number } {
    const t = [...this.#transfers.values()];
    if (t.length === 0) return { fixedMs: 0, msPerByte: 0 };
    const n = t.length;
    const mb = t.reduce((s, x) => s + x.bytes, 0) / n;
    const mt = t.reduce((s, x) => s + x.ms, 0) / n;
    const sxx = t.reduce((s, x) => s + (x.bytes - mb) ** 2, 0);
    const sxy = t.reduce((s, x) => s + (x.bytes - mb) * (x.ms - mt), 0);
    // Sizes too alike to separate the two: all of it per byte.
    if (!(sxx / n > (0.1 * mb) ** 2)) return { fixedMs: 0, msPerByte: mb > 0 ? mt / mb : 0 };
    const slope = sxy / sxx;
    const fixed = mt - slope * mb;
    if (slope < 0) return { fixedMs: mt, msPerByte: 0 };
    if (fixed < 0) {
      // Noise put the line below the origin: the best line through it.
      const through = t.reduce((s, x) => s + x.bytes * x.ms, 0) / t.reduce((s, x) => s + x.bytes ** 2, 0);
      return { fixedMs: 0, msPerByte: through };
    }
    return { fixedMs: fixed, msPerByte: slope };
  }
}
