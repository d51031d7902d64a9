// `publish`: puts a built model directory into a Worker's R2 registry through
// the admin API (models/registry/publish.ts).

import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { publishModel } from '../../registry/publish.js';

interface Options {
  to: string;
  adminKey?: string;
}

export function register(program: Command): void {
  program
    .command('publish')
    .description("upload a built model directory's artifacts and manifest to a splitflare Worker's registry")
    .argument('<dir>', 'directory with manifest.json and the artifacts it names')
    .requiredOption(
      '--to <url>',
      'the Worker, e.g. https://splitflare.example.workers.dev or http://127.0.0.1:8787',
    )
    .option('--admin-key <key>', 'admin key (default: $SPLITFLARE_ADMIN_KEY)')
    .action(async (dir: string, opts: Options) => {
      const adminKey = opts.adminKey ?? process.env.SPLITFLARE_ADMIN_KEY;
      if (!adminKey) throw new Error('give --admin-key or set SPLITFLARE_ADMIN_KEY');
      const bar = new cliProgress.SingleBar(
        {
          format: ' uploading |{bar}| {percentage}% {value}/{total} MiB',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      let started = false;
      const result = await publishModel(dir, {
        baseUrl: opts.to,
        adminKey,
        onProgress: (sent, total) => {
          if (!started) bar.start(Math.ceil(total / 2 ** 20), 0);
          started = true;
          bar.update(Math.floor(sent / 2 ** 20));
        },
      });
      bar.stop();
      console.log(
        `${result.modelId}: ${result.uploaded} artifact(s) uploaded, ${result.skipped} already in the registry; manifest published`,
      );
    });
}
