// `export`: a federation's published version as one merged ONNX model
// (models/training/export.ts). The version's values come from a safetensors
// file, or straight from a Worker with the admin key.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseSafetensors } from '../../../common/safetensors.js';
import { Manifest } from '../../../protocol/manifest.js';
import { encodeModel, loadModel } from '../../onnx/model.js';
import { exportVersion } from '../../training/export.js';

interface Options {
  out: string;
  model?: string;
  adapters?: string;
  from?: string;
  version?: string;
  adminKey?: string;
}

async function versionValues(opts: Options): Promise<Uint8Array> {
  if (opts.adapters) return new Uint8Array(await readFile(opts.adapters));
  if (!opts.from || !opts.version)
    throw new Error('give --adapters <file>, or --from <worker url> with --version');
  const m = /^([^@]+)@(\d+)$/.exec(opts.version);
  if (!m) throw new Error('--version is <federation id>@<n>');
  const adminKey = opts.adminKey ?? process.env.SPLITFLARE_ADMIN_KEY;
  if (!adminKey) throw new Error('give --admin-key or set SPLITFLARE_ADMIN_KEY');
  const url = `${opts.from.replace(/\/+$/, '')}/v1/federations/${m[1]}/adapters/${m[2]}/all`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${adminKey}` } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return new Uint8Array(await res.arrayBuffer());
}

export function register(program: Command): void {
  program
    .command('export')
    .description(
      "write a federation version's merged model (both sides' adapters folded in) as one ONNX file",
    )
    .argument('<dir>', 'the built model directory (manifest.json with a training part)')
    .requiredOption('-o, --out <file>', 'output .onnx file')
    .option('--model <file>', 'the unsplit model it was built from (default: <dir>/full.onnx)')
    .option('--adapters <file>', "the version's trainables (safetensors, e.g. from GET …/adapters/<v>/all)")
    .option('--from <url>', 'fetch the version from this Worker instead')
    .option('--version <fid@n>', 'with --from: the federation and version')
    .option('--admin-key <key>', 'with --from: admin key (default: $SPLITFLARE_ADMIN_KEY)')
    .action(async (dir: string, opts: Options) => {
      const manifest = Manifest.parse(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
      if (!manifest.training)
        throw new Error(`${manifest.modelId} was not built for training: it has no versions`);
      const base = await loadModel(opts.model ?? join(dir, manifest.artifacts.full?.file ?? 'full.onnx'));
      const tensors = parseSafetensors(await versionValues(opts));
      const merged = exportVersion(base, manifest.training, Object.fromEntries(tensors));
      const bytes = encodeModel(merged);
      await writeFile(opts.out, bytes);
      console.log(
        `wrote ${opts.out} (${bytes.byteLength} bytes): ${manifest.modelId} with ${tensors.size} trained tensors folded in`,
      );
    });
}
