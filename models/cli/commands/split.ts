// `split`: cuts a model into head.onnx / tail.onnx (+ full.onnx) and writes manifest.json.
import { basename } from 'node:path';
import type { Command } from 'commander';
import { type Manifest, tailParameters } from '../../../protocol/manifest.js';
import { graphOf, loadModel, realInputs, shapeOf } from '../../onnx/model.js';
import { parseCut } from '../../split/cut.js';
import { writeSplitDetailed } from '../../split/write.js';
import { modelIdFromPath, numberList, positiveInt, stringList } from '../options.js';
import { addPipelineOptions, type PipelineOptions, pipelineChoice } from '../pipeline-options.js';

interface Options {
  cut: string;
  out: string;
  modelId?: string;
  source?: string;
  full: boolean;
  labels?: string[];
  mean?: number[];
  std?: number[];
  maxBatch?: number;
}

type SplitOptions = Options & PipelineOptions;

/** Preprocess from --mean/--std and the input's [C, H, W]; absent when neither option is given. */
function preprocessOf(chw: number[], opts: Options): Manifest['preprocess'] {
  if (!opts.mean && !opts.std) return undefined;
  const [channels, height, width] = chw;
  if (chw.length !== 3 || !(channels > 0 && height > 0 && width > 0)) {
    throw new Error('--mean/--std need a model input of static shape [batch, C, H, W]');
  }
  const mean = opts.mean ?? new Array(channels).fill(0);
  const std = opts.std ?? new Array(channels).fill(1);
  if (mean.length !== channels || std.length !== channels) {
    throw new Error(`--mean and --std need ${channels} values, one per channel`);
  }
  return { layout: 'NCHW', channels, height, width, mean, std };
}

export function register(program: Command): void {
  const command = program
    .command('split')
    .description('split a model into head and tail at a cut and write them with a manifest')
    .argument('<model>', 'input .onnx file')
    .requiredOption('--cut <cut>', 'embed | block:<k> | tensor:<name>')
    .requiredOption('-o, --out <dir>', 'output directory')
    .option('--model-id <id>', 'manifest model id (default: from the file name)')
    .option('--source <text>', 'manifest source description (default: the file name)')
    .option('--no-full', 'do not write full.onnx')
    .option('--labels <names>', 'comma-separated class names', stringList)
    .option('--mean <values>', 'per-channel normalisation mean (NCHW input)', numberList)
    .option('--std <values>', 'per-channel normalisation std (NCHW input)', numberList)
    .option('--max-batch <n>', 'largest batch the tail endpoint accepts', positiveInt);
  addPipelineOptions(command).action(async (file: string, opts: SplitOptions) => {
    const model = await loadModel(file);
    const cut = parseCut(opts.cut);
    const [input] = realInputs(graphOf(model));
    const chw = (input ? shapeOf(input) : []).slice(1).map((d) => (typeof d === 'number' ? d : 0));
    const { manifest, split } = await writeSplitDetailed({
      model,
      cut,
      outDir: opts.out,
      modelId: opts.modelId ?? modelIdFromPath(file),
      source: opts.source ?? basename(file),
      full: opts.full,
      labels: opts.labels,
      preprocess: preprocessOf(chw, opts),
      wire: opts.maxBatch ? { maxBatch: opts.maxBatch } : undefined,
      tail: opts.tailFile,
      pipeline: pipelineChoice(opts),
    });
    const { head } = manifest.artifacts;
    const t = manifest.cut.tensor;
    const { shards } = manifest.pipeline;
    console.log(`cut ${manifest.cut.id}: ${t.name} ${t.dtype}[${t.shape.join(', ')}]`);
    console.log(`head: ${head.parameters} parameters, ${head.bytes} bytes`);
    console.log(`tail: ${tailParameters(manifest)} parameters in ${shards.length} shard(s)`);
    for (const s of shards) {
      console.log(
        `  shard ${s.index}: blocks [${s.blocks}], ${s.forward.bytes} bytes, planned ${s.plannedMiB} MiB`,
      );
    }
    const rebuilt = split.crossings.filter((c) => c.handling === 'batch');
    if (rebuilt.length > 0) {
      console.log(`tail rebuilds ${rebuilt.map((c) => c.tensor).join(', ')} from the cut's batch size`);
    }
    console.log(`wrote ${opts.out}/manifest.json`);
  });
}
