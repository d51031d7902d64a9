// `quantize-weights`: frozen MatMul/Gemm/Conv weights as int8 or int4 DequantizeLinear (opset 21).
import { type Command, InvalidArgumentError } from 'commander';
import { loadModel, saveModel } from '../../onnx/model.js';
import type { WeightBits } from '../../quantize/blockwise.js';
import {
  BLOCK_SIZES,
  DEFAULT_BLOCK_SIZE,
  DEFAULT_MIN_ELEMENTS,
  quantizeWeights,
} from '../../quantize/index.js';
import { formatReport } from '../../quantize/report.js';
import { integer } from '../options.js';

interface Options {
  bits: WeightBits;
  block: number;
  keep?: RegExp[];
  minElements: number;
  json?: boolean;
  out: string;
}

function bits(value: string): WeightBits {
  if (value !== '8' && value !== '4') throw new InvalidArgumentError('expected 8 or 4');
  return Number(value) as WeightBits;
}

function block(value: string): number {
  const n = Number(value);
  if (!BLOCK_SIZES.includes(n)) throw new InvalidArgumentError(`expected one of ${BLOCK_SIZES.join(', ')}`);
  return n;
}

function regexp(value: string, previous: RegExp[] = []): RegExp[] {
  try {
    return [...previous, new RegExp(value)];
  } catch (e) {
    throw new InvalidArgumentError(`not a regular expression: ${(e as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command('quantize-weights')
    .description(
      'store frozen MatMul, Gemm and Conv weights as block-wise int8/int4 DequantizeLinear (opset 21); onnxruntime fuses the MatMul ones into MatMulNBits',
    )
    .argument('<model>', 'input .onnx file')
    .requiredOption('--bits <n>', '8 or 4', bits)
    .option('--block <n>', `weights per scale along K (${BLOCK_SIZES.join(', ')})`, block, DEFAULT_BLOCK_SIZE)
    .option('--keep <regexp>', 'keep initializers whose name matches in fp32 (repeatable)', regexp)
    .option('--min-elements <n>', 'keep weights with fewer elements in fp32', integer, DEFAULT_MIN_ELEMENTS)
    .option('--json', 'print the report as JSON')
    .requiredOption('-o, --out <file>', 'output .onnx file')
    .action(async (file: string, opts: Options) => {
      const { model, report } = quantizeWeights(await loadModel(file), {
        bits: opts.bits,
        blockSize: opts.block,
        keep: opts.keep,
        minElements: opts.minElements,
      });
      await saveModel(opts.out, model);
      console.log(opts.json ? JSON.stringify(report, null, 2) : `${formatReport(report)}\nwrote ${opts.out}`);
    });
}
