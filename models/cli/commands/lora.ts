// `lora`: adds LoRA adapters (and full-mode parameters) to a model as graph
// inputs and reports what became trainable.
import { type Command, InvalidArgumentError } from 'commander';
import { parameterCount } from '../../graph/params.js';
import { type AdapterSpec, injectLora, trainableParameterCount } from '../../lora/index.js';
import { graphOf, loadModel, saveModel } from '../../onnx/model.js';
import { type AdapterRecipe, resolveRecipe } from '../../training/index.js';
import { integer, positiveInt } from '../options.js';

interface Options {
  out: string;
  target?: RegExp[];
  full?: RegExp[];
  rank: number;
  alpha?: number;
  seed: number;
  json?: boolean;
}

/** `attn\.q` or `/attn\.q/i`; repeated options accumulate. */
function regexp(value: string, previous: RegExp[] = []): RegExp[] {
  const slashed = /^\/(.*)\/([a-z]*)$/s.exec(value);
  try {
    return [...previous, slashed ? new RegExp(slashed[1], slashed[2]) : new RegExp(value)];
  } catch (e) {
    throw new InvalidArgumentError(`not a regular expression: ${(e as Error).message}`);
  }
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/**
 * The caller's patterns; with neither --target nor --full, what the graph's
 * structure points to (every linear weight in an encoder block; the patch
 * embedding and the classifier in full).
 */
function selection(opts: Options): Pick<AdapterRecipe, 'targets' | 'full'> {
  if (!opts.target && !opts.full) return { targets: 'auto', full: 'auto' };
  return { targets: opts.target ?? [], full: opts.full ?? [] };
}

const fmt = (s: AdapterSpec) => `${s.role.padEnd(6)} ${s.name} [${s.shape.join(', ')}]`;

export function register(program: Command): void {
  program
    .command('lora')
    .description('add LoRA adapters / full-mode parameters to a model as trainable graph inputs')
    .argument('<model>', 'input .onnx file')
    .requiredOption('-o, --out <file>', 'output .onnx file')
    .option(
      '--target <regexp>',
      'weights to adapt (repeatable), e.g. "attn\\.(q|k|v|proj)\\.weight$"; ' +
        'with neither --target nor --full: every linear weight in an encoder block, found from the graph',
      regexp,
    )
    .option(
      '--full <regexp>',
      'initializers to train directly (repeatable), e.g. "^head\\."; ' +
        'with neither --target nor --full: the patch embedding and the classifier',
      regexp,
    )
    .option('--rank <n>', 'LoRA rank', positiveInt, 8)
    .option('--alpha <x>', 'LoRA alpha; scale = alpha / rank (default: rank, i.e. scale 1)', positiveNumber)
    .option('--seed <n>', 'seed for the A matrices', integer, 0)
    .option('--json', 'print the trainable inputs as JSON')
    .action(async (file: string, opts: Options) => {
      const model = await loadModel(file);
      const result = injectLora(model, {
        ...resolveRecipe(model, selection(opts)),
        rank: opts.rank,
        alpha: opts.alpha ?? opts.rank,
        seed: opts.seed,
      });
      await saveModel(opts.out, result.model);
      if (opts.json) {
        console.log(JSON.stringify({ scale: result.scale, adapters: result.adapters }, null, 2));
        return;
      }
      for (const s of result.adapters) console.log(fmt(s));
      const trainable = trainableParameterCount(result.adapters);
      const frozen = parameterCount(graphOf(result.model));
      const pct = ((100 * trainable) / (trainable + frozen)).toFixed(2);
      console.log(`${trainable} trainable parameters (${pct}%), ${frozen} frozen; scale ${result.scale}`);
      console.log(`wrote ${opts.out}`);
    });
}
