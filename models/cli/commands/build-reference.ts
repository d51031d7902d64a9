// `build-reference`: writes the builder's ViT (REFERENCE_VIT unless overridden).
import type { Command } from 'commander';
import { parameterCount } from '../../graph/params.js';
import { graphOf, saveModel } from '../../onnx/model.js';
import { buildVit } from '../../vit/builder.js';
import { describeVit, REFERENCE_VIT, type VitConfig } from '../../vit/config.js';
import { integer, positiveInt } from '../options.js';

interface Options extends VitConfig {
  out: string;
}

export function register(program: Command): void {
  const r = REFERENCE_VIT;
  program
    .command('build-reference')
    .description('build the reference ViT as ONNX (opset 17); options override the reference config')
    .requiredOption('-o, --out <file>', 'output .onnx file')
    .option('--image-size <n>', 'image height and width', positiveInt, r.imageSize)
    .option('--channels <n>', 'input channels', positiveInt, r.channels)
    .option('--patch-size <n>', 'patch height and width', positiveInt, r.patchSize)
    .option('--width <n>', 'embedding width', positiveInt, r.width)
    .option('--depth <n>', 'encoder blocks', positiveInt, r.depth)
    .option('--heads <n>', 'attention heads', positiveInt, r.heads)
    .option('--mlp-ratio <n>', 'MLP hidden width / embedding width', positiveInt, r.mlpRatio)
    .option('--classes <n>', 'output classes', positiveInt, r.classes)
    .option('--seed <n>', 'weight initialisation seed', integer, r.seed)
    .action(async (opts: Options) => {
      const { out, ...config } = opts;
      const model = buildVit(config);
      const bytes = await saveModel(out, model);
      console.log(`${out}: ${describeVit(config)}`);
      console.log(`${parameterCount(graphOf(model))} parameters, ${bytes.byteLength} bytes`);
    });
}
