// The `splitflare` operator CLI as an operator runs it (cli/bin.mjs, a child
// process) against the Worker under `wrangler dev`: publish a model, create a
// federation, enrol devices, start, inspect and close it, follow a round live
// while an SDK trainer plays it, and fail with the API's problem.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, nodeSessionFactory } from '../../client-sdk/node.js';
import { loadFashionMnist, trainTestSplit } from '../../datasets/index.js';
import { FederationEvent } from '../../protocol/events.js';
import { buildModels } from '../../scripts/build-models.js';
import { clientDatasets } from '../../scripts/sim/clients.js';
import { type LocalWorker, startLocalWorker } from '../../scripts/wrangler-dev.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'cli/bin.mjs');
const MODEL = 'vit-fashion';

let worker: LocalWorker;

beforeAll(async () => {
  await buildModels({ log: () => {} });
  // Nothing published at start: `model publish` is the CLI's to do.
  worker = await startLocalWorker({ publish: [] });
});

afterAll(async () => {
  await worker?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI against the local Worker; `lines` receives its stdout line by line. */
function start(args: string[], lines?: (line: string) => void): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, '--url', worker.url, ...args], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk;
    pending += chunk;
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) lines?.(line);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

const cli = (...args: string[]) => start(args).done;

/** Runs a --json command that must succeed, and answers its output. */
async function cliJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const r = await cli(...args, '--json');
  expect(r.stderr, `splitflare ${args.join(' ')}`).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

const uniqueId = (name: string) => `cli-${name}-${Date.now().toString(36)}`;

/** Resolves once `check` holds, polling; fails after `ms`. */
async function until(check: () => boolean, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the splitflare CLI against a local Worker', () => {
  it('publishes a built model and lists it', async () => {
    const published = await cliJson<{ modelId: string; uploaded: number; skipped: number }>(
      'model',
      'publish',
      join(ROOT, 'artifacts', MODEL),
    );
    expect(published.modelId).toBe(MODEL);
    expect(published.uploaded + published.skipped).toBeGreaterThan(0);
    const { models } = await cliJson<{ models: Array<{ id: string; training: boolean }> }>('model', 'list');
    expect(models).toContainEqual(expect.objectContaining({ id: MODEL, training: true }));
  });

  it('creates a federation, enrols two devices, starts, reports and closes it', async () => {
    const fid = uniqueId('life');
    const created = await cliJson(
      'federation',
      'create',
      fid,
      '--model',
      MODEL,
      '--rounds',
      '2',
      '--per-round',
      '2',
      '--quorum',
      '2',
      '--deadline',
      '600',
    );
    expect(created).toMatchObject({ id: fid, status: 'running', currentRound: null });
    expect(created.config).toMatchObject({ modelId: MODEL, rounds: 2, clientsPerRound: 2, quorum: 2 });

    for (const deviceId of ['dev-a', 'dev-b']) {
      const enrolled = await cliJson('device', 'enroll', fid, deviceId);
      expect(enrolled).toMatchObject({ federationId: fid, deviceId, generation: expect.any(Number) });
      expect(String(enrolled.token).length).toBeGreaterThan(20);
    }
    const { devices } = await cliJson<{ devices: Array<{ deviceId: string }> }>('device', 'list', fid);
    expect(devices.map((d) => d.deviceId).sort()).toEqual(['dev-a', 'dev-b']);

    const round = await cliJson('federation', 'start', fid);
    expect(round).toMatchObject({ round: 0, status: 'open' });
    expect([...(round.selected as string[])].sort()).toEqual(['dev-a', 'dev-b']);

    const status = await cliJson<{ state: Record<string, unknown>; rounds: unknown[] }>(
      'federation',
      'status',
      fid,
    );
    expect(status.state).toMatchObject({ id: fid, devices: 2, currentRound: { round: 0 } });
    expect(status.rounds).toHaveLength(1);
    const human = await cli('federation', 'status', fid);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`federation ${fid}: running, ${MODEL}`);
    expect(human.stdout).toMatch(/│ 0 +│ open +│ 0\/2 /);

    const revoked = await cliJson('device', 'revoke', fid, 'dev-b');
    expect(revoked).toMatchObject({ deviceId: 'dev-b', revokedAt: expect.any(Number) });

    const { federations } = await cliJson<{ federations: Array<{ id: string }> }>('federation', 'list');
    expect(federations).toContainEqual(
      expect.objectContaining({ id: fid, status: 'running', currentRound: 0 }),
    );

    const closed = await cliJson('federation', 'close', fid);
    expect(closed).toMatchObject({ id: fid, status: 'closed' });
  });

  it('fails with the API’s problem type and request id, or before sending when the config is invalid', async () => {
    const fid = uniqueId('fail');
    const unknown = await cli('federation', 'create', fid, '--model', 'no-such-model', '--json');
    expect(unknown.code).toBe(1);
    const { error } = JSON.parse(unknown.stderr);
    expect(error).toMatchObject({ type: 'urn:splitflare:problem:unknown-model', status: 404 });
    expect(error.requestId).toEqual(expect.any(String));

    const human = await cli('federation', 'status', uniqueId('absent'));
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('type: urn:splitflare:problem:unknown-federation');
    expect(human.stderr).toMatch(/requestId: \S+/);

    const badKey = await cli('--admin-key', 'not-the-key', 'device', 'list', fid);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain('type: urn:splitflare:problem:forbidden');
    expect(badKey.stderr).not.toContain('not-the-key');

    const config = join(await mkdtemp(join(tmpdir(), 'splitflare-cli-')), 'fed.json');
    await writeFile(config, JSON.stringify({ modelId: MODEL, clientsPerRound: 2, quorum: 5 }));
    const invalid = await cli('federation', 'create', fid, '--config', config);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('invalid federation; nothing was sent');
    expect(invalid.stderr).toContain('quorum must not exceed clientsPerRound');
    // Nothing was sent: the id is still free.
    expect((await cli('federation', 'status', fid)).stderr).toContain('unknown-federation');
  });

  it('watches a round live while a device trains it, until the federation finishes', async () => {
    const fid = uniqueId('watch');
    await cliJson(
      'federation',
      'create',
      fid,
      '--model',
      MODEL,
      '--rounds',
      '1',
      '--per-round',
      '1',
      '--quorum',
      '1',
    );
    const { token } = await cliJson<{ token: string }>('device', 'enroll', fid, 'dev-w');

    const events: FederationEvent[] = [];
    const machine = start(['federation', 'watch', fid, '--json'], (line) =>
      events.push(FederationEvent.parse(JSON.parse(line))),
    );
    const humanLines: string[] = [];
    const human = start(['federation', 'watch', fid], (line) => humanLines.push(line));
    await until(() => events.length > 0 && humanLines.length > 0, 'the snapshots');
    expect(events[0]).toMatchObject({ type: 'snapshot', state: { id: fid, currentRound: null } });

    await cliJson('federation', 'start', fid);
    await until(() => events.some((e) => e.type === 'round' && e.cause === 'opened'), 'the round to open');

    const ds = await loadFashionMnist();
    const [dataset] = clientDatasets(ds, [trainTestSplit(ds, { seed: 0 }).train.subarray(0, 64)], 0);
    const trainer = createTrainer({
      baseUrl: worker.url,
      federationId: fid,
      token,
      dataset,
      seed: 1,
      sessionFactory: nodeSessionFactory({ numThreads: 1 }),
      timeoutMs: 120_000,
    });
    try {
      await trainer.runRound();
    } finally {
      await trainer.close();
    }

    const [machineRun, humanRun] = await Promise.all([machine.done, human.done]);
    expect(machineRun.code).toBe(0);
    expect(humanRun.code).toBe(0);
    const rounds = events.flatMap((e) => (e.type === 'round' ? [`${e.cause}:${e.round.status}`] : []));
    // One device and a quorum of one: its update closes the round, so `closed` stands for its submission.
    expect(rounds.slice(0, 2)).toEqual(['opened:open', 'joined:training']);
    expect(rounds).toContain('closed:published');
    expect(events.some((e) => e.type === 'version' && e.version.version === 1)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'finished', state: { status: 'finished' } });

    expect(humanLines[0]).toBe(`watching ${fid}: running, no round opened yet, version 0`);
    expect(
      humanLines.some((l) => l.startsWith('round 0 (1/1) opened on version 0: 1 device(s) selected (dev-w)')),
    ).toBe(true);
    expect(
      humanLines.some((l) =>
        /^round 0 \(1\/1\) published version 1: 1\/1 submitted, 64 samples, loss \d/.test(l),
      ),
    ).toBe(true);
    expect(humanLines.at(-1)).toMatch(new RegExp(`^federation ${fid} finished at version 1`));
  });

  it('ends a watch of an unknown federation with the API’s problem', async () => {
    const r = await cli('federation', 'watch', uniqueId('nowhere'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('urn:splitflare:problem:unknown-federation');
  });
});
