// What the CLI tests run against: captured output, a recording fetch that
// answers as the API would, and federation records that pass the protocol's
// schemas.
import { vi } from 'vitest';
import type { CliIo } from '../../../cli/io.js';
import { run } from '../../../cli/main.js';
import type { FederationEvent } from '../../../protocol/events.js';
import {
  FederationConfig,
  type FederationState,
  type RoundRecord,
  RoundRecord as RoundSchema,
} from '../../../protocol/federation.js';
import { PROBLEM_CONTENT_TYPE, type ProblemSlug, problemType } from '../../../protocol/problem.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';

export type Handler = (method: string, path: string, body: unknown) => Response;

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

export const problem = (slug: ProblemSlug, status: number, detail: string, extra: object = {}) =>
  new Response(
    JSON.stringify({
      type: problemType(slug),
      title: slug,
      status,
      detail,
      instance: '/v1/x',
      ...extra,
      requestId: 'req-42',
    }),
    { status, headers: { 'content-type': PROBLEM_CONTENT_TYPE } },
  );

/** Runs the CLI with `argv`; every request goes to `handler` and is recorded. */
export async function runCli(argv: string[], handler: Handler = () => json({}), more: Partial<CliIo> = {}) {
  let stdout = '';
  let stderr = '';
  const requests: Array<{ method: string; path: string; headers: Headers; body: unknown }> = [];
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const path = url.pathname + url.search;
    requests.push({ method, path, headers: new Headers(init?.headers), body });
    return handler(method, path, body);
  });
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { SPLITFLARE_ADMIN_KEY: ADMIN_KEY },
    fetch: fetch as unknown as typeof globalThis.fetch,
    ...more,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr, requests };
}

export const config = FederationConfig.parse({
  modelId: 'vit-fashion',
  rounds: 3,
  clientsPerRound: 2,
  quorum: 2,
  roundDeadlineSeconds: 600,
  localEpochs: 1,
  batchSize: 32,
  uplink: 'int8',
  downlink: 'int8',
  budgetBytesPerRound: 1e9,
  headOptimizer: { kind: 'sgd', lr: 0.01 },
  tailOptimizer: { kind: 'sgd', lr: 0.01 },
});

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

export function roundRecord(overrides: Partial<RoundRecord> = {}): RoundRecord {
  return RoundSchema.parse({
    round: 0,
    status: 'open',
    selected: ['alice', 'bob'],
    joined: [],
    participants: 0,
    samples: 0,
    meanLoss: null,
    clientAccuracy: null,
    uplinkBytes: 0,
    downlinkBytes: 0,
    openedAt: T0,
    closedAt: null,
    publishedVersion: null,
    aggregation: null,
    ...overrides,
  });
}

export function federationState(overrides: Partial<FederationState> = {}): FederationState {
  return {
    id: 'fed-1',
    config,
    cut: 'block-2',
    trainables: [],
    status: 'running',
    devices: 2,
    currentRound: null,
    latestVersion: 0,
    currentVersion: 0,
    pinned: false,
    evaluationSet: null,
    privacy: null,
    ...overrides,
  };
}

type RoundEvent = Extract<FederationEvent, { type: 'round' }>;

export const roundEvent = (
  cause: RoundEvent['cause'],
  round: Partial<RoundRecord>,
  deviceId?: string,
): RoundEvent => ({
  type: 'round',
  at: T0,
  cause,
  ...(deviceId ? { deviceId } : {}),
  deadline: T0 + 600_000,
  // A round trains from its first join on.
  round: roundRecord({ ...(cause === 'opened' ? {} : { status: 'training' }), ...round }),
});

export const progressEvent = (deviceId: string, steps: number, round = 0): FederationEvent => ({
  type: 'progress',
  at: T0,
  round,
  deviceId,
  steps,
  samples: steps * 32,
  loss: 2 - steps / 10,
  uplinkBytes: steps * 1000,
  downlinkBytes: steps * 2000,
});
