// Which graph inputs of a model are trainable parameters, as opposed to data.
import { graphOf, realInputs, shapeOf } from '../onnx/model.js';
import type { onnx } from '../onnx/proto.js';
import { readTrainables } from './metadata.js';
import type { AdapterSpec } from './types.js';

const SUFFIXES = [
  ['.lora_A', 'lora_A'],
  ['.lora_B', 'lora_B'],
] as const;

/** Fallback when the metadata was stripped: LoRA inputs are recognisable by name. */
function byConvention(name: string): Pick<AdapterSpec, 'base' | 'role'> | undefined {
  for (const [suffix, role] of SUFFIXES) {
    if (name.endsWith(suffix) && name.length > suffix.length)
      return { base: name.slice(0, -suffix.length), role };
  }
  return undefined;
}

/**
 * Trainable graph inputs, in graph-input order. The model's
 * `splitflare.trainables` metadata (written by injectLora) is authoritative;
 * inputs named `<W>.lora_A` / `<W>.lora_B` count too, so a model whose
 * metadata was lost still reports its adapters (full-mode parameters keep
 * their original names and need the metadata). Entries whose input is absent,
 * e.g. the other segment's after a split, are ignored.
 */
export function trainableInputs(model: onnx.IModelProto): AdapterSpec[] {
  const record = readTrainables(model);
  const known = new Map<string, Pick<AdapterSpec, 'base' | 'role'>>();
  for (const r of record.lora) {
    known.set(r.a, { base: r.base, role: 'lora_A' });
    known.set(r.b, { base: r.base, role: 'lora_B' });
  }
  for (const f of record.full) known.set(f, { base: f, role: 'full' });
  const out: AdapterSpec[] = [];
  for (const input of realInputs(graphOf(model))) {
    const name = input.name ?? '';
    const what = known.get(name) ?? byConvention(name);
    if (!what) continue;
    const shape = shapeOf(input);
    if (!shape.every((d): d is number => typeof d === 'number')) {
      throw new Error(`trainable input ${name} has a non-static shape [${shape.map((d) => d ?? '?')}]`);
    }
    out.push({ name, shape, ...what });
  }
  return out;
}
