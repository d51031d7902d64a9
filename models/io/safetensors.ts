// safetensors files on disk; the format itself is common/safetensors.ts.
import { readFile } from 'node:fs/promises';
import { parseSafetensors } from '../../common/safetensors.js';
import type { HostTensor } from '../onnx/tensor.js';

export { encodeSafetensors, parseSafetensors } from '../../common/safetensors.js';

export async function readSafetensors(path: string): Promise<Map<string, HostTensor>> {
  return parseSafetensors(await readFile(path));
}
