// `train-artifacts` defaults to the structural recipe, so a torchvision export
// trains something without any flags; --targets/--full override it.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../../models/cli/commands/train-artifacts.js';
import { Manifest } from '../../../protocol/manifest.js';
import { TESTDATA } from '../models/helpers.js';

async function cli(...args: string[]): Promise<string> {
  const program = new Command('splitflare-models').exitOverride();
  register(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await program.parseAsync(['node', 'cli', ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

const model = `${TESTDATA}tv_vit_tiny_op17.onnx`;

describe('splitflare-models train-artifacts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitflare-train-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const manifestIn = async (out: string) =>
    Manifest.parse(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')));

  it('finds the trainables of a torchvision export by structure by default', async () => {
    const out = join(dir, 'auto');
    const text = await cli('train-artifacts', model, '--cut', 'embed', '-o', out);
    expect(text).toContain('8 LoRA targets (rank 8), 4 full-mode parameters');
    expect(text).toContain('head: 2 trainable tensors, 6176 parameters');
    const training = (await manifestIn(out)).training!;
    expect(training.lora).toMatchObject({ rank: 8, alpha: 16, seed: 0 });
    const bases = new Set(training.trainables.map((t) => t.base));
    expect(bases).toContain('encoder.layers.encoder_layer_1.self_attention.in_proj_weight');
    expect(bases).toContain('conv_proj.weight');
    expect(bases).toContain('heads.head.bias');
  });

  it('--targets and --full override the structural choice', async () => {
    const out = join(dir, 'explicit');
    const text = await cli(
      'train-artifacts',
      model,
      '--cut',
      'embed',
      '-o',
      out,
      '--targets',
      'mlp\\.0\\.weight$',
    );
    expect(text).toContain('2 LoRA targets (rank 8), 4 full-mode parameters');
    await cli('train-artifacts', model, '--cut', 'embed', '-o', out, '--full', '^heads\\.head\\.');
    const training = (await manifestIn(out)).training!;
    expect(training.lora.full).toEqual(['^heads\\.head\\.']);
    expect(training.trainables.filter((t) => t.role === 'lora_A')).toHaveLength(8);
    expect(training.trainables.some((t) => t.owner === 'head')).toBe(false);
  });

  it('fails clearly when the choice selects nothing', async () => {
    const out = join(dir, 'none');
    await expect(
      cli('train-artifacts', model, '--cut', 'embed', '-o', out, '--targets', '', '--full', ''),
    ).rejects.toThrow('the recipe selects nothing to train');
    await expect(
      cli('train-artifacts', model, '--cut', 'embed', '-o', out, '--targets', 'attn\\.q\\.weight'),
    ).rejects.toThrow('LoRA target /attn\\.q\\.weight/ selects no weight');
  });
});
