// The `lora` command on its own program (the lead wires it into main.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../../models/cli/commands/lora.js';
import { trainableInputs } from '../../../models/lora/index.js';
import { loadModel, saveModel } from '../../../models/onnx/index.js';
import { buildVit, REFERENCE_VIT } from '../../../models/vit/index.js';

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

describe('splitflare-models lora', () => {
  let dir: string;
  let input: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitflare-lora-'));
    input = join(dir, 'vit.onnx');
    await saveModel(input, buildVit({ ...REFERENCE_VIT, depth: 1 }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the adapted model and reports the trainables', async () => {
    const out = join(dir, 'lora.onnx');
    const json = await cli(
      'lora',
      input,
      '-o',
      out,
      '--target',
      'attn\\.(q|v)\\.weight$',
      '--target',
      '/MLP\\.FC2\\.WEIGHT$/i',
      '--full',
      '^head\\.',
      '--rank',
      '2',
      '--json',
    );
    const report = JSON.parse(json);
    expect(report.scale).toBe(1);
    const adapted = await loadModel(out);
    expect(trainableInputs(adapted)).toEqual(report.adapters);
    expect(report.adapters.map((a: { name: string }) => a.name)).toEqual([
      'blocks.0.attn.q.weight.lora_A',
      'blocks.0.attn.q.weight.lora_B',
      'blocks.0.attn.v.weight.lora_A',
      'blocks.0.attn.v.weight.lora_B',
      'blocks.0.mlp.fc2.weight.lora_A',
      'blocks.0.mlp.fc2.weight.lora_B',
      'head.weight',
      'head.bias',
    ]);
    const text = await cli('lora', input, '-o', out, '--target', 'attn\\.q\\.weight$', '--rank', '4');
    expect(text).toContain('512 trainable parameters');
  });

  it('without --target or --full adapts what the structure points to', async () => {
    const out = join(dir, 'auto.onnx');
    await cli('lora', input, '-o', out, '--rank', '2');
    const adapters = trainableInputs(await loadModel(out));
    const bases = (role: string) => adapters.filter((a) => a.role === role).map((a) => a.base);
    expect(bases('lora_A')).toEqual(
      ['attn.q', 'attn.k', 'attn.v', 'attn.proj', 'mlp.fc1', 'mlp.fc2'].map((p) => `blocks.0.${p}.weight`),
    );
    expect(bases('full')).toEqual(['embed.patch.weight', 'embed.patch.bias', 'head.weight', 'head.bias']);
  });

  it('fails clearly when a pattern selects nothing', async () => {
    await expect(cli('lora', input, '-o', join(dir, 'x.onnx'), '--target', 'qkv')).rejects.toThrow(
      'LoRA target /qkv/ selects no weight',
    );
  });
});
