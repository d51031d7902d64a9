// The `splitflare-models` CLI: program setup only; each command lives in
// commands/<name>.ts and exports register(program).
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { register as registerBuildReference } from './commands/build-reference.js';
import { register as registerExport } from './commands/export.js';
import { register as registerGrad } from './commands/grad.js';
import { register as registerInspect } from './commands/inspect.js';
import { register as registerLora } from './commands/lora.js';
import { register as registerPublish } from './commands/publish.js';
import { register as registerQuantizeWeights } from './commands/quantize-weights.js';
import { register as registerSplit } from './commands/split.js';
import { register as registerTrainArtifacts } from './commands/train-artifacts.js';

export function buildProgram(): Command {
  const program = new Command('splitflare-models')
    .description('build, inspect, split and differentiate ONNX vision transformers for splitflare')
    .version('0.1.0')
    .showHelpAfterError();
  registerBuildReference(program);
  registerSplit(program);
  registerInspect(program);
  registerGrad(program);
  registerLora(program);
  registerTrainArtifacts(program);
  registerQuantizeWeights(program);
  registerPublish(program);
  registerExport(program);
  return program;
}

/** Runs the CLI; failures print one line and set a non-zero exit code instead of a stack trace. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    if (process.env.SPLITFLARE_DEBUG) console.error(e);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
