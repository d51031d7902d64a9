import type { Encoding, Rounding, ScaleGranularity } from '../protocol/encoding.js';

/** How activations are put on the wire. */
export interface WireSettings {
  encoding: Encoding;
  /** Default 'token' when the tail accepts it (one scale per token keeps outlier tokens from crushing the rest). */
  granularity?: ScaleGranularity;
  /** Default 'nearest'. */
  rounding?: Rounding;
}
