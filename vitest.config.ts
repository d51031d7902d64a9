import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { SHARD_BUNDLE_DIR, shardScriptName, shardSlots } from './scripts/shards.js';

// Four suites: `unit` (Node: models, codec, SDK), `workers` (inside workerd via
// the Cloudflare plugin, real routes and real onnxruntime-web), `e2e` (the SDK
// in Node against `wrangler dev` over loopback HTTP), and `browser` (the SDK's
// browser entry in Chromium, driven by playwright-core, against `wrangler dev`).
//
// In the workers suite the shard scripts run as auxiliary Workers, one per
// SHARD_<i> binding, from the bundle `npm run build:shards` makes (wrangler's
// own build of workers/shard/), beside the main Worker under test; they share
// its local R2 bucket, which each test file seeds (test/workers/setup.ts).
const shardModules = [
  { type: 'ESModule' as const, path: join(SHARD_BUNDLE_DIR, 'index.js') },
  ...readdirSync(SHARD_BUNDLE_DIR)
    .filter((f) => f.endsWith('.wasm'))
    .map((f) => ({ type: 'CompiledWasm' as const, path: join(SHARD_BUNDLE_DIR, f) })),
];
const shardWorkers = Array.from({ length: shardSlots() }, (_, i) => ({
  name: shardScriptName(i),
  modules: shardModules,
  modulesRoot: SHARD_BUNDLE_DIR,
  compatibilityDate: '2026-11-01',
  r2Buckets: { MODELS: 'splitflare-models' },
  durableObjects: { TAIL_SHARD: { className: 'TailShard', useSQLite: true } },
}));

export default defineConfig({
  test: {
    // The Worker's structured log lines (edge/log.ts) are for operators; the
    // logs test reads them through a spy, and printing thousands of them here
    // would bury the failures.
    onConsoleLog: (log) => !log.startsWith('{"time":'),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: { workers: shardWorkers },
          }),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          setupFiles: ['test/workers/setup.ts'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
