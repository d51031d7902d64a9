// `npm run dev`: the Worker and its shard scripts under one `wrangler dev` on
// 127.0.0.1 (local workerd, R2 and Durable Objects, persisted under
// .wrangler/), with the built models published to the local registry, for
// your own clients. Stops on Ctrl-C.
import { buildModels } from './build-models.js';
import { startLocalWorker } from './wrangler-dev.js';

const port = Number(process.env.PORT ?? 8787);
await buildModels();
const worker = await startLocalWorker({ port, log: (line) => console.error(line) });
console.error(`splitflare is up at ${worker.url} (models published to the local registry); Ctrl-C stops it`);
const stop = async () => {
  await worker.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
await new Promise(() => {});
