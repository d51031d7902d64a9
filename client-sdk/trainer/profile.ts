// What the trainer measures of its device for the coordinator's round
// planner (protocol/profile.ts), from its own work: the head's forward and
// backward time per sample at the cut it trained (and the runtime's heap
// after it, where the runtime shows it), and the effective rate of
// its step exchanges (bytes both ways over their wall time, the edge's
// compute included, so a lower bound on the link). Reported with the next
// join, beside what the application declares (power model, memory).
import type { DeviceProfileReport, PowerModel, RadioReport } from '../../protocol/profile.js';

export interface DeclaredProfile {
  power?: PowerModel;
  radio?: RadioReport;
  memoryLimitBytes?: number;
  /** Training examples the device holds. */
  samples?: number;
}

export class ProfileMeter {
  readonly #head = new Map<string, { ms: number; samples: number }>();
  /** The runtime's heap after the head's steps, per cut: the largest seen. */
  readonly #headPeak = new Map<string, number>();
  #exchangeMs = 0;
  #exchangeBytes = 0;
  #roundTripMs: number | undefined;

  constructor(
    private readonly declared: DeclaredProfile = {},
    /** The runtime's heap size (SessionFactory.heapBytes), read right after each head step. */
    private readonly heapBytes?: () => number | undefined,
  ) {}

  /** The head's forward and backward for `samples` samples at `cut` took `ms`. */
  head(cut: string, ms: number, samples: number): void {
    const h = this.#head.get(cut) ?? { ms: 0, samples: 0 };
    h.ms += ms;
    h.samples += samples;
    this.#head.set(cut, h);
    const heap = this.heapBytes?.();
    if (heap !== undefined && heap > (this.#headPeak.get(cut) ?? 0)) this.#headPeak.set(cut, heap);
  }

  /** A step exchange moved `bytes` (both ways) in `ms`. */
  exchange(ms: number, bytes: number): void {
    this.#exchangeMs += ms;
    this.#exchangeBytes += bytes;
  }

  /**
   * A small request (a join) took `ms` there and back. The smallest seen is
   * kept: the link's round trip is what is left when nothing else is slow.
   */
  roundTrip(ms: number): void {
    if (ms > 0 && (this.#roundTripMs === undefined || ms < this.#roundTripMs)) this.#roundTripMs = ms;
  }

  /** The profile to report, or undefined before anything was measured or declared. */
  report(): DeviceProfileReport | undefined {
    const headMsPerSample = Object.fromEntries(
      [...this.#head].filter(([, h]) => h.samples > 0 && h.ms > 0).map(([cut, h]) => [cut, h.ms / h.samples]),
    );
    const rate =
      this.#exchangeMs > 0 && this.#exchangeBytes > 0
        ? (this.#exchangeBytes * 8) / (this.#exchangeMs / 1000)
        : undefined;
    const measured =
      Object.keys(headMsPerSample).length > 0 || rate !== undefined || this.#roundTripMs !== undefined;
    if (!measured && !this.declared.power && this.declared.memoryLimitBytes === undefined) return undefined;
    return {
      headMsPerSample,
      ...(this.#headPeak.size > 0 ? { headPeakBytes: Object.fromEntries(this.#headPeak) } : {}),
      ...(rate === undefined ? {} : { uplinkBps: rate, downlinkBps: rate }),
      ...(this.#roundTripMs === undefined ? {} : { rttMs: this.#roundTripMs }),
      ...(this.declared.power ? { power: this.declared.power } : {}),
      ...(this.declared.radio ? { radio: this.declared.radio } : {}),
      ...(this.declared.samples ? { samples: this.declared.samples } : {}),
      ...(this.declared.memoryLimitBytes === undefined
        ? {}
        : { memoryLimitBytes: this.declared.memoryLimitBytes }),
    };
  }
}
