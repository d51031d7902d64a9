// `splitflare model …`: the Worker's model registry.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { type PublishResult, publishModel } from '../../models/registry/publish.js';
import { contextOf } from '../context.js';
import type { CliIo } from '../io.js';
import { table } from '../table.js';

export function register(program: Command, io: CliIo): void {
  const model = program.command('model').description('list and publish models');

  model
    .command('list')
    .description('the published models (needs no admin key)')
    .action(async (_opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const models = await ctx.client.models();
      ctx.print({ models }, () =>
        models.length === 0
          ? 'no models published'
          : table(
              ['model', 'cut', 'input', 'encodings', 'shards', 'weights', 'training'],
              models.map((m) => [
                m.id,
                m.cut,
                `[${m.input.shape.join(', ')}]`,
                m.encodings.join(' '),
                m.shards,
                `${m.weights.bits}-bit`,
                m.training ? 'yes' : 'no',
              ]),
            ),
      );
    });

  model
    .command('publish')
    .description('upload a built model directory (e.g. artifacts/vit-fashion) and publish its manifest')
    .argument('<dir>', 'directory with manifest.json and the artifacts it names')
    .action(async (dir: string, _opts, cmd: Command) => {
      const ctx = contextOf(cmd, io);
      const bar = io.stderr.isTTY && !ctx.json ? uploadBar(io) : undefined;
      const adminKey = await ctx.adminKey();
      let result: PublishResult;
      try {
        result = await publishModel(dir, { baseUrl: ctx.url, adminKey, onProgress: bar });
      } finally {
        bar?.stop();
      }
      ctx.print(
        result,
        () =>
          `${result.modelId}: ${result.uploaded} artifact(s) uploaded, ${result.skipped} already in the registry; manifest published`,
      );
    });
}

/** Upload progress in MiB on stderr, started once the total is known. */
function uploadBar(io: CliIo): ((sent: number, total: number) => void) & { stop(): void } {
  const bar = new cliProgress.SingleBar(
    {
      format: ' uploading |{bar}| {percentage}% {value}/{total} MiB',
      stream: io.stderr as NodeJS.WritableStream,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const progress = (sent: number, total: number) => {
    if (!started) bar.start(Math.ceil(total / 2 ** 20), 0);
    started = true;
    bar.update(Math.floor(sent / 2 ** 20));
  };
  return Object.assign(progress, {
    stop: () => {
      if (started) bar.stop();
    },
  });
}
