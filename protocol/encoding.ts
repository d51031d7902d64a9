// Names shared by the wire format, the manifest and the HTTP API.

export const ENCODINGS = ['fp32', 'fp16', 'int8', 'int4', 'int2'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Quantization scales: one per tensor, or one per token (all dims but the last). */
export const GRANULARITIES = ['tensor', 'token'] as const;
export type ScaleGranularity = (typeof GRANULARITIES)[number];

export type Rounding = 'nearest' | 'stochastic';

/** Bits per element on the wire. */
export const BITS: Record<Encoding, number> = { fp32: 32, fp16: 16, int8: 8, int4: 4, int2: 2 };

export function isEncoding(s: string): s is Encoding {
  return (ENCODINGS as readonly string[]).includes(s);
}
