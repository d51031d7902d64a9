// `train-artifacts`: the split plus head_forward / head_backward / tail_train /
// tail_infer graphs, initial trainables and a manifest with a `training` part.
import { basename } from 'node:path';
import type { Command } from 'commander';
import { loadModel } from '../../onnx/model.js';
import { parseCut } from '../../split/cut.js';
import { writeTrainingArtifacts } from '../../training/artifacts.js';
import { type Selection, STRUCTURAL_RECIPE } from '../../training/recipe.js';
import { integer, modelIdFromPath, positiveInt, stringList } from '../options.js';
import { addPipelineOptions, type PipelineOptions, pipelineChoice } from '../pipeline-options.js';

interface Options extends PipelineOptions {
  cut: string;
  maxBatch?: number;
  out: string;
  modelId?: string;
  targets?: string[];
  full?: string[];
  rank: number;
  alpha?: number;
  seed: number;
}

/** Given patterns override the structural default; an empty list (`--targets ''`) selects none. */
const selection = (sources: string[] | undefined): Selection =>
  sources === undefined ? 'auto' : sources.filter((s) => s.length > 0).map((s) => new RegExp(s));

export function register(program: Command): void {
  const command = program
    .command('train-artifacts')
    .description('split a model and generate the plain-ONNX training graphs of each side with LoRA adapters')
    .argument('<model>', 'input .onnx file')
    .requiredOption('--cut <cut>', 'embed | block:<k> | tensor:<name>')
    .requiredOption('-o, --out <dir>', 'output directory')
    .option('--model-id <id>', 'manifest model id (default: from the file name)')
    .option(
      '--targets <regexps>',
      'comma-separated patterns of weights that get LoRA adapters ' +
        '(default: every linear weight inside an encoder block, found from the graph)',
      stringList,
    )
    .option(
      '--full <regexps>',
      'comma-separated patterns of parameters trained in full ' +
        '(default: the patch embedding and the classifier, found from the graph)',
      stringList,
    )
    .option('--rank <r>', 'LoRA rank', positiveInt, STRUCTURAL_RECIPE.rank)
    .option('--alpha <a>', 'LoRA alpha (scale = alpha / rank); default 2 × rank', Number)
    .option('--seed <n>', 'seed of the LoRA A initialisation', integer, STRUCTURAL_RECIPE.seed)
    .option('--max-batch <n>', 'largest batch a request or a training step may carry', positiveInt)
    .option(
      '--no-unsharded',
      'do not differentiate the whole tail (tail_train.onnx, tail_infer.onnx): large models',
    );
  addPipelineOptions(command).action(async (file: string, opts: Options & { unsharded: boolean }) => {
    const manifest = await writeTrainingArtifacts({
      model: await loadModel(file),
      cut: parseCut(opts.cut),
      outDir: opts.out,
      modelId: opts.modelId ?? modelIdFromPath(file),
      source: basename(file),
      wire: opts.maxBatch ? { maxBatch: opts.maxBatch } : undefined,
      tail: opts.tailFile,
      unshardedTail: opts.unsharded,
      pipeline: pipelineChoice(opts),
      recipe: {
        targets: selection(opts.targets),
        full: selection(opts.full),
        rank: opts.rank,
        alpha: opts.alpha ?? 2 * opts.rank,
        seed: opts.seed,
      },
    });
    const training = manifest.training!;
    const bases = (role: string) =>
      new Set(training.trainables.filter((t) => t.role === role).map((t) => t.base));
    console.log(
      `${bases('lora_A').size} LoRA targets (rank ${opts.rank}), ${bases('full').size} full-mode parameters`,
    );
    for (const owner of ['head', 'tail'] as const) {
      const mine = training.trainables.filter((t) => t.owner === owner);
      const n = mine.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
      console.log(`${owner}: ${mine.length} trainable tensors, ${n} parameters`);
    }
    const { shards } = manifest.pipeline;
    console.log(
      `tail: ${shards.length} shard(s), planned peak ${Math.max(...shards.map((x) => x.plannedMiB))} MiB per isolate`,
    );
    console.log(
      `wrote ${Object.values(training.artifacts)
        .map((a) => a.file)
        .join(', ')} and manifest.json to ${opts.out}`,
    );
  });
}
