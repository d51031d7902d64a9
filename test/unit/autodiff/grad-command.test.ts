import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../../models/cli/commands/grad.js';
import { graphOf, loadModel } from '../../../models/onnx/index.js';

const MODEL = '/work/shared/testdata/torchvision-vit/tv_vit_tiny_op17.onnx';

async function grad(...args: string[]): Promise<string[]> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  register(program);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await program.parseAsync(['grad', ...args], { from: 'user' });
    return log.mock.calls.map((c) => String(c[0]));
  } finally {
    log.mockRestore();
  }
}

describe('splitflare-models grad', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitflare-grad-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--wrt params,inputs with the default cross-entropy loss', async () => {
    const out = join(dir, 'grad.onnx');
    const printed = await grad(MODEL, '--wrt', 'params,inputs', '--out', out);
    const g = graphOf(await loadModel(out));
    expect(g.input!.map((i) => i.name).slice(0, 2)).toEqual(['pixel_values', 'labels']);
    const grads = g.output!.map((o) => o.name!).filter((n) => n.startsWith('grad.'));
    expect(grads).toHaveLength(33);
    expect(grads).toContain('grad.pixel_values');
    expect(g.output![0].name).toBe('loss');
    expect(printed.at(-1)).toBe(`wrote ${out}`);
  });

  it('explicit names, mse', async () => {
    const out = join(dir, 'mse.onnx');
    await grad(MODEL, '--wrt', 'heads.head.weight,heads.head.bias', '--loss', 'mse', '--out', out);
    const g = graphOf(await loadModel(out));
    expect(g.input!.map((i) => i.name)).toEqual([
      'pixel_values',
      'targets',
      'heads.head.weight',
      'heads.head.bias',
    ]);
    expect(g.initializer!.map((t) => t.name)).not.toContain('heads.head.weight');
  });

  it('--seed for a split head backward', async () => {
    const out = join(dir, 'seed.onnx');
    await grad(MODEL, '--seed', 'logits=grad_logits', '--out', out);
    const g = graphOf(await loadModel(out));
    expect(g.input!.map((i) => i.name).slice(0, 2)).toEqual(['pixel_values', 'grad_logits']);
    expect(g.output!.map((o) => o.name)).not.toContain('loss');
  });

  it('rejects a bad loss and a seed combined with a loss', async () => {
    await expect(grad(MODEL, '--loss', 'hinge', '--out', join(dir, 'x.onnx'))).rejects.toThrow(
      /cross-entropy or mse/,
    );
    await expect(
      grad(MODEL, '--seed', 'logits=g', '--loss', 'mse', '--out', join(dir, 'x.onnx')),
    ).rejects.toThrow(/--seed replaces the loss/);
  });
});
