// Manifest shapes name the batch symbolically (e.g. ["batch", 3, 224, 224]);
// a request fills it in.
import type { TensorSpec } from '../protocol/manifest.js';

/** The shape of `spec` for a batch of `batch`: every symbolic dim becomes the batch size. */
export function concreteShape(spec: TensorSpec, batch: number): number[] {
  return spec.shape.map((d) => (typeof d === 'number' ? d : batch));
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
