// `npm run dev`: the Worker and its shard scripts under one `wrangler dev` on
// 127.0.0.1 (local workerd, R2 and Durable Objects, persisted under
// .wrangler/), with the built models published to the local registry, for
// your own clients. Stops on Ctrl-C.
import { localAdminKey } from '../operator/admin-key.js';
import { buildModels } from './build-models.js';
import { buildWeb } from './build-web.js';
import { startLocalWorker } from './wrangler-dev.js';

const port = Number(process.env.PORT ?? 8787);
await buildModels();
await buildWeb();
const worker = await startLocalWorker({ port, log: (line) => console.error(line) });
console.error(
  [
    `splitflare is up at ${worker.url} (models published to the local registry); Ctrl-C stops it`,
    `  operator console: ${worker.url}/console/  (admin key: ${await localAdminKey()}, from .dev.vars)`,
    `  field app:        ${worker.url}/app/`,
  ].join('\n'),
);
const stop = async () => {
  await worker.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
await new Promise(() => {});
