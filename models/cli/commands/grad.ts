// `grad`: writes a backward graph (forward + loss or seed + gradients) as a plain ONNX model.
import { type Command, InvalidArgumentError } from 'commander';
import {
  type DifferentiateOptions,
  differentiate,
  floatInputs,
  type LossKind,
  type SeedSpec,
  trainableParameters,
} from '../../autodiff/index.js';
import { graphOf, loadModel, saveModel } from '../../onnx/model.js';
import type { ModelProto } from '../../onnx/proto.js';
import { stringList } from '../options.js';

interface Options {
  wrt: string[];
  loss?: string;
  output?: string;
  target?: string;
  seed?: SeedSpec[];
  out: string;
}

function lossKind(value: string): LossKind {
  if (value !== 'cross-entropy' && value !== 'mse')
    throw new InvalidArgumentError('expected cross-entropy or mse');
  return value;
}

function seedList(value: string, previous: SeedSpec[] = []): SeedSpec[] {
  const seeds = value.split(',').map((item) => {
    const [output, gradInput, ...rest] = item.split('=').map((s) => s.trim());
    if (!output || !gradInput || rest.length > 0) {
      throw new InvalidArgumentError('expected <output>=<gradient input name>');
    }
    return { output, gradInput };
  });
  return [...previous, ...seeds];
}

/** Expands `params` and `inputs` against the model; other entries are tensor names. */
export function resolveWrt(
  model: ModelProto,
  entries: readonly string[],
  objective?: readonly string[],
): string[] {
  const out: string[] = [];
  for (const entry of entries) {
    if (entry === 'params') out.push(...trainableParameters(model, objective));
    else if (entry === 'inputs') out.push(...floatInputs(model));
    else if (entry) out.push(entry);
  }
  return [...new Set(out)];
}

export function register(program: Command): void {
  program
    .command('grad')
    .description('generate a backward graph: forward, loss (or upstream gradient), and grad.<name> outputs')
    .argument('<model>', 'input .onnx file')
    .option(
      '--wrt <names>',
      'comma list of tensors to differentiate: params (float initializers the objective uses), inputs (float graph inputs) or names',
      stringList,
      ['params'],
    )
    .option(
      '--loss <kind>',
      'cross-entropy (int64 labels) or mse (float targets); default cross-entropy',
      lossKind,
    )
    .option('--output <name>', 'model output the loss reads (default: the only output)')
    .option('--target <name>', 'name of the labels/targets input (default labels, or targets for mse)')
    .option(
      '--seed <output=gradInput>',
      'split training: take dL/d<output> as input <gradInput> instead of a loss (repeatable)',
      seedList,
    )
    .requiredOption('-o, --out <file>', 'output .onnx file')
    .action(async (file: string, opts: Options) => {
      const model = await loadModel(file);
      if (opts.seed && (opts.loss || opts.output || opts.target)) {
        throw new Error('--seed replaces the loss: do not combine it with --loss, --output or --target');
      }
      const objective = opts.seed ? opts.seed.map((s) => s.output) : opts.output ? [opts.output] : undefined;
      const wrt = resolveWrt(model, opts.wrt, objective);
      const options: DifferentiateOptions = opts.seed
        ? { wrt, seed: opts.seed }
        : {
            wrt,
            loss: (opts.loss as LossKind | undefined) ?? 'cross-entropy',
            output: opts.output,
            target: opts.target,
          };
      const backward = differentiate(model, options);
      const bytes = await saveModel(opts.out, backward);
      const graph = graphOf(backward);
      console.log(`differentiated ${wrt.length} tensors: ${wrt.join(', ')}`);
      console.log(`inputs: ${(graph.input ?? []).map((i) => i.name).join(', ')}`);
      console.log(
        `outputs: ${(graph.output ?? []).length} (${(graph.node ?? []).length} nodes, ${bytes.byteLength} bytes)`,
      );
      console.log(`wrote ${opts.out}`);
    });
}
