// Argument parsers shared by the CLI commands; commander reports their errors
// as usage errors instead of stack traces.
import { basename, extname } from 'node:path';
import { InvalidArgumentError } from 'commander';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

export function numberList(value: string): number[] {
  const items = value.split(',').map((s) => Number(s.trim()));
  if (items.length === 0 || items.some((n) => !Number.isFinite(n))) {
    throw new InvalidArgumentError('expected comma-separated numbers');
  }
  return items;
}

export function stringList(value: string): string[] {
  return value.split(',').map((s) => s.trim());
}

/** A manifest-safe model id derived from a file name: `ViT_Tiny.onnx` → `vit_tiny`. */
export function modelIdFromPath(path: string): string {
  const stem = basename(path, extname(path))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return (stem || 'model').slice(0, 64);
}
