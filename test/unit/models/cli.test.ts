import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manifest } from '../../../protocol/manifest.js';

const exec = promisify(execFile);
const BIN = new URL('../../../models/cli/bin.mjs', import.meta.url).pathname;
const cli = (...args: string[]) => exec(process.execPath, [BIN, ...args]);

describe('splitflare-models CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitflare-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints help listing its commands', async () => {
    const { stdout } = await cli('--help');
    for (const c of ['build-reference', 'split', 'inspect']) expect(stdout).toContain(c);
  });

  it('builds, inspects and splits the reference model', async () => {
    const model = join(dir, 'vit.onnx');
    await cli('build-reference', '--depth', '2', '--out', model);
    const { stdout } = await cli('inspect', model, '--json');
    const summary = JSON.parse(stdout);
    expect(summary.opset).toBe(17);
    expect(summary.cuts).toEqual(['embed', 'block0', 'block1']);
    expect(summary.inputs).toEqual([{ name: 'pixels', dtype: 'FLOAT', shape: ['batch', 1, 28, 28] }]);
    const out = join(dir, 'split');
    await cli(
      'split',
      model,
      '--cut',
      'block:0',
      '--out',
      out,
      '--labels',
      '0,1,2,3,4,5,6,7,8,9',
      '--mean',
      '0.5',
      '--std',
      '0.25',
    );
    const manifest = Manifest.parse(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')));
    expect(manifest.modelId).toBe('vit');
    expect(manifest.cut.id).toBe('block0');
    expect(manifest.preprocess).toEqual({
      layout: 'NCHW',
      channels: 1,
      height: 28,
      width: 28,
      mean: [0.5],
      std: [0.25],
    });
  });

  it('fails with a one-line message and exit code 1 on a bad cut', async () => {
    const model = join(dir, 'vit.onnx');
    const err = await cli('split', model, '--cut', 'block:9', '--out', join(dir, 'x')).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/^error: cannot cut at block 9/);
  });
});
