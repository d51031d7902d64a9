// What a baseline run produced: the simulator's result shape, so the two are
// read by the same code (the experiment table, chartPoints), with the
// baseline's own config.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimResults } from '../results.js';
import type { BaselineConfig } from './config.js';

export interface BaselineResults extends Omit<SimResults, 'federation_id' | 'config'> {
  setup: 'fedavg-lora';
  /** Parameters every device trains, uploads and downloads each round. */
  trainable_parameters: number;
  config: BaselineConfig;
}

/** Writes `<dir>/results.json` and returns its path. */
export async function writeBaselineResults(dir: string, results: BaselineResults): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'results.json');
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
