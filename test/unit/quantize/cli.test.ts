// `splitflare-models quantize-weights`: writes the model, prints the report,
// and fails with one line on bad options or models.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphOf, loadModel, opsetOf } from '../../../models/onnx/index.js';
import type { QuantizeReport } from '../../../models/quantize/index.js';
import { TORCHVISION } from './helpers.js';

const exec = promisify(execFile);
const BIN = new URL('../../../models/cli/bin.mjs', import.meta.url).pathname;
const cli = (...args: string[]) => exec(process.execPath, [BIN, ...args]);
const MODEL = `${TORCHVISION}/tv_vit_tiny_op14.onnx`;

describe('quantize-weights command', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitflare-quantize-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the quantized model and prints what it did', async () => {
    const out = join(dir, 'int4.onnx');
    const { stdout } = await cli('quantize-weights', MODEL, '--bits', '4', '--keep', '^conv_proj', '-o', out);
    expect(stdout).toMatch(
      /^quantized 8 weights to int4 \(block 32 along K, symmetric, float32 scales\): 65,536 -> 10,240 bytes/,
    );
    expect(stdout).toContain('opset 14 -> 21 (rewrote ReduceMean x10)');
    expect(stdout).toContain('products onnxruntime fuses into MatMulNBits: 8;');
    expect(stdout).toContain('conv_proj.weight [32, 3, 8, 8]: kept in fp32 by /^conv_proj/');
    expect(stdout).toContain('heads.head.weight [10, 32]: 320 elements, fewer than minElements 1024');
    expect(stdout).toContain(`wrote ${out}`);
    const model = await loadModel(out);
    expect(opsetOf(model)).toBe(21);
    expect(graphOf(model).node!.filter((n) => n.opType === 'DequantizeLinear')).toHaveLength(8);
  });

  it('--json prints the report as JSON', async () => {
    const out = join(dir, 'int8.onnx');
    const { stdout } = await cli(
      'quantize-weights',
      MODEL,
      '--bits',
      '8',
      '--block',
      '16',
      '--json',
      '-o',
      out,
    );
    const report = JSON.parse(stdout) as QuantizeReport;
    expect(report).toMatchObject({ bits: 8, blockSize: 16, opset: { from: 14, to: 21 } });
    expect(report.quantized).toHaveLength(9);
  });

  it('fails with one line on a bad block size', async () => {
    const err = await cli(
      'quantize-weights',
      MODEL,
      '--bits',
      '4',
      '--block',
      '48',
      '-o',
      join(dir, 'x.onnx'),
    ).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(
      /^error: option '--block <n>' argument '48' is invalid. expected one of 16, 32, 64/,
    );
  });
});
