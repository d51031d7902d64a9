// How numbers, sizes and times read in the CLI's human output: one place, so
// `status`, `watch` and the tables agree. Plain functions of their inputs,
// with no Node dependency, so a browser page can show the same figures.
import type { DeviceProfileReport } from '../protocol/profile.js';

export const pct = (x: number | null | undefined) => (x == null ? '-' : `${(x * 100).toFixed(1)}%`);

export const loss = (x: number | null | undefined) => (x == null ? '-' : x.toFixed(4));

/** Decimal units, as network traffic is usually counted. */
export function bytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n / 1e3;
  let unit = 0;
  while (value >= 1e3 && unit < units.length - 1) {
    value /= 1e3;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** A span of milliseconds as 1h02m, 4m05s or 12s. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** Unix milliseconds as an ISO time to the second (UTC, so outputs compare across machines). */
export const time = (ms: number | null | undefined) =>
  ms == null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A round as the API numbers it (from 0), and how far through the federation it is. */
export const roundLabel = (round: number, rounds: number | null) =>
  rounds === null ? `round ${round}` : `round ${round} (${round + 1}/${rounds})`;

/** What a device reported of itself (protocol/profile.ts), on one line. */
export function profileSummary(p: DeviceProfileReport | null): string {
  if (!p) return 'not reported';
  const head = Object.entries(p.headMsPerSample).map(([cut, ms]) => `${ms.toFixed(2)} ms/sample at ${cut}`);
  const link = p.uplinkBps === undefined ? [] : [`${(p.uplinkBps / 1e6).toFixed(1)} Mbit/s`];
  const power = p.power ? [`${p.power.computeW} W compute, ${p.power.radioW} W radio`] : [];
  return [...head, ...link, ...power].join(' · ') || 'not reported';
}
