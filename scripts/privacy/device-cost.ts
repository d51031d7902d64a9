// What a cut costs the device that trains at it: the head's parameters, the
// trainables it updates and sends, and the time of one local training step
// of the head (forward to the cut, then backward from the cut's gradient) on
// the runtime devices use, onnxruntime-web's WASM build with one thread,
// through the SDK's own graph binding.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeSessionFactory } from '../../client-sdk/node.js';
import { bindHeadGraphs, type Params } from '../../client-sdk/trainer/head-graphs.js';
import { mulberry32 } from '../../common/random.js';
import { parseSafetensors } from '../../common/safetensors.js';
import type { Manifest, TrainingSpec } from '../../protocol/manifest.js';

export interface DeviceCost {
  head_parameters: number;
  device_trainables: number;
  batch: number;
  /** Median of `repeats` steps after one warm-up. */
  step_ms: number;
}

export async function deviceCost(
  dir: string,
  manifest: Manifest & { training: TrainingSpec },
  batch = 32,
  repeats = 10,
): Promise<DeviceCost> {
  const t = manifest.training;
  const load = async (file: string) => new Uint8Array(await readFile(join(dir, file)));
  const factory = nodeSessionFactory({ numThreads: 1 });
  const graphs = bindHeadGraphs(
    manifest,
    await factory(await load(t.artifacts.headForward.file)),
    t.artifacts.headBackward ? await factory(await load(t.artifacts.headBackward.file)) : undefined,
  );
  const initial = parseSafetensors(await load(t.artifacts.trainables.file));
  const params: Params = Object.fromEntries(
    graphs.trainables.map((s) => [s.name, initial.get(s.name)!.data as Float32Array]),
  );
  const inputSize = (manifest.input.shape as number[]).slice(1).reduce((a, b) => a * b, 1);
  // Seeded stand-ins: the step's cost does not depend on the values.
  const uniform = mulberry32(1);
  const fill = (n: number) => Float32Array.from({ length: n }, () => uniform() * 2 - 1);
  const pixels = fill(batch * inputSize);
  const step = async () => {
    const cut = await graphs.forward(pixels, batch, params);
    await graphs.backward(pixels, batch, params, { data: fill(cut.data.length), dims: cut.dims });
  };
  await step();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await step();
    times.push(performance.now() - start);
  }
  await graphs.release();
  times.sort((a, b) => a - b);
  return {
    head_parameters: manifest.artifacts.head.parameters,
    device_trainables: graphs.trainables.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0),
    batch,
    step_ms: Number(times[Math.floor(times.length / 2)].toFixed(1)),
  };
}
