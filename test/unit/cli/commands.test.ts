// The CLI end to end in-process, against a recording fetch: what it sends,
// what it prints, and that a bad command line sends nothing at all.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, federationState, json, problem, roundRecord, runCli } from './fixtures.js';

const tempFile = async (name: string, text: string) => {
  const path = join(await mkdtemp(join(tmpdir(), 'splitflare-cli-')), name);
  await writeFile(path, text);
  return path;
};

describe('federation create', () => {
  it('sends the defaults, the file and the flags, in that order of precedence, with the admin key', async () => {
    const file = await tempFile('fed.json', JSON.stringify({ rounds: 7, batchSize: 16, localEpochs: 3 }));
    const created = federationState();
    const r = await runCli(
      [
        'federation',
        'create',
        'fed-1',
        '--model',
        'vit-fashion',
        '--config',
        file,
        '--rounds',
        '9',
        '--json',
      ],
      () => json(created, 201),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.requests).toHaveLength(1);
    const [req] = r.requests;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/federations');
    expect(req.headers.get('authorization')).toBe(`Bearer ${ADMIN_KEY}`);
    const { id, config } = req.body as { id: string; config: Record<string, unknown> };
    expect(id).toBe('fed-1');
    expect(config).toMatchObject({ modelId: 'vit-fashion', rounds: 9, batchSize: 16, localEpochs: 3 });
    expect(config.quorum).toBe(8); // 80% of the default 10 per round
    expect(JSON.parse(r.stdout)).toEqual(created);
  });

  it('names every issue of an invalid config and sends nothing', async () => {
    const r = await runCli([
      'federation',
      'create',
      'fed-1',
      '--model',
      'vit-fashion',
      '--per-round',
      '2',
      '--quorum',
      '3',
    ]);
    expect(r.code).toBe(1);
    expect(r.requests).toHaveLength(0);
    expect(r.stderr).toContain('invalid federation; nothing was sent');
    expect(r.stderr).toContain('quorum must not exceed clientsPerRound');
    expect(r.stderr).toContain('config.quorum');
  });

  it('refuses an id the API would refuse, and a config without a model', async () => {
    const r = await runCli(['federation', 'create', 'Not_An_Id']);
    expect(r.code).toBe(1);
    expect(r.requests).toHaveLength(0);
    expect(r.stderr).toContain('lower-case letters, digits and dashes');
    expect(r.stderr).toContain('config.modelId');
  });

  it('prints the issues as JSON with --json', async () => {
    const r = await runCli([
      'federation',
      'create',
      'fed-1',
      '--model',
      'm',
      '--uplink',
      'int8',
      '--rounds',
      '0',
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(r.requests).toHaveLength(0);
    const { error } = JSON.parse(r.stderr);
    expect(error.issues).toContainEqual(expect.objectContaining({ path: ['config', 'rounds'] }));
  });

  it('explains a config file that is not JSON or not an object', async () => {
    const notJson = await runCli([
      'federation',
      'create',
      'fed-1',
      '--config',
      await tempFile('a.json', '{rounds: 3'),
    ]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/a\.json is not JSON/);
    const notObject = await runCli([
      'federation',
      'create',
      'fed-1',
      '--config',
      await tempFile('b.json', '[1]'),
    ]);
    expect(notObject.stderr).toMatch(/b\.json must hold a JSON object/);
    const missing = await runCli(['federation', 'create', 'fed-1', '--config', '/nonexistent/fed.json']);
    expect(missing.stderr).toMatch(/cannot read \/nonexistent\/fed\.json/);
    expect([notJson, notObject, missing].flatMap((x) => x.requests)).toHaveLength(0);
  });

  it('rejects a flag that is not a number before anything else', async () => {
    const r = await runCli(['federation', 'create', 'fed-1', '--model', 'm', '--rounds', 'many']);
    expect(r.code).toBe(1);
    expect(r.requests).toHaveLength(0);
    expect(r.stderr).toContain("option '--rounds <n>' argument 'many' is invalid");
  });

  it('refuses --momentum for AdamW rather than drop it', async () => {
    const r = await runCli([
      'federation',
      'create',
      'f',
      '--model',
      'm',
      '--optimizer',
      'adamw',
      '--momentum',
      '0.5',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--momentum applies to the sgd optimizer only');
  });
});

describe('errors from the API', () => {
  const conflict = () =>
    problem('federation-exists', 409, 'A federation with id "fed-1" exists with another config.', {
      code: 'x1',
    });

  it('prints the problem’s type, detail and request id, exits 1, and never the admin key', async () => {
    const r = await runCli(['federation', 'create', 'fed-1', '--model', 'vit-fashion'], conflict);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('(409) from POST /v1/federations');
    expect(r.stderr).toContain('type: urn:splitflare:problem:federation-exists');
    expect(r.stderr).toContain('A federation with id "fed-1" exists with another config.');
    expect(r.stderr).toContain('requestId: req-42');
    expect(r.stderr).toContain('code: x1');
    expect(r.stderr + r.stdout).not.toContain(ADMIN_KEY);
  });

  it('prints the problem as JSON with --json', async () => {
    const r = await runCli(['--json', 'federation', 'start', 'fed-1'], () =>
      problem('unknown-federation', 404, 'No federation fed-1.'),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const { error } = JSON.parse(r.stderr);
    expect(error).toMatchObject({
      type: 'urn:splitflare:problem:unknown-federation',
      status: 404,
      requestId: 'req-42',
      path: '/v1/federations/fed-1/start',
    });
  });

  it('makes a problem of an error answer that is not one, keeping the request id header', async () => {
    const r = await runCli(
      ['federation', 'status', 'fed-1'],
      () =>
        new Response('upstream down', {
          status: 502,
          statusText: 'Bad Gateway',
          headers: { 'x-request-id': 'r-9' },
        }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Bad Gateway (502)');
    expect(r.stderr).toContain('upstream down');
    expect(r.stderr).toContain('requestId: r-9');
  });

  it('says so when an answer does not match the protocol', async () => {
    const r = await runCli(['federation', 'close', 'fed-1'], () => json({ id: 'fed-1' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('POST /v1/federations/fed-1/close: unexpected answer from the Worker');
  });

  it('says which Worker it cannot reach', async () => {
    const r = await runCli(['--url', 'http://127.0.0.1:1', 'model', 'list'], () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: cannot reach http://127.0.0.1:1: connect ECONNREFUSED');
  });
});

describe('the other commands', () => {
  it('federation status: the state, the current round and the history table', async () => {
    const published = roundRecord({
      status: 'published',
      participants: 2,
      samples: 512,
      meanLoss: 0.5,
      clientAccuracy: 0.81,
      uplinkBytes: 2_500_000,
      downlinkBytes: 5_000_000,
      closedAt: roundRecord().openedAt + 65_000,
      publishedVersion: 1,
    });
    const current = roundRecord({ round: 1, status: 'training', joined: ['alice'], openedAt: Date.now() });
    const state = federationState({ currentRound: current, latestVersion: 1, currentVersion: 1 });
    const r = await runCli(['federation', 'status', 'fed-1'], (_m, path) =>
      path.endsWith('/history') ? json({ rounds: [published, current] }) : json(state),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('federation fed-1: running, vit-fashion cut at block-2');
    expect(r.stdout).toMatch(/round 1 \(2\/3\): training, 0\/2 submitted, closes in (9m\d\ds|10m00s)/);
    expect(r.stdout).toMatch(
      /│ 0 +│ published │ 2\/2 +│ 512 +│ 0\.5000 │ 81\.0% +│ 2\.50 MB │ 5\.00 MB +│ 1 +│ 1m05s │/,
    );
  });

  it('federation list reads every page', async () => {
    const summary = (id: string, currentRound: number | null) => ({
      id,
      modelId: 'vit-fashion',
      status: 'running',
      started: currentRound !== null,
      devices: 2,
      rounds: 5,
      currentRound,
      roundStatus: currentRound === null ? null : 'training',
      latestVersion: currentRound ?? 0,
    });
    const r = await runCli(['federation', 'list'], (_m, path) =>
      path === '/v1/federations'
        ? json({ federations: [summary('fed-a', 2)], cursor: 'c1' })
        : json({ federations: [summary('fed-b', null)], cursor: null }),
    );
    expect(r.code).toBe(0);
    expect(r.requests.map((q) => q.path)).toEqual(['/v1/federations', '/v1/federations?cursor=c1']);
    expect(r.stdout).toMatch(/fed-a +│ vit-fashion │ running │ round 2 \(3\/5\) training/);
    expect(r.stdout).toMatch(/fed-b +│ vit-fashion │ running │ not started, 5 round\(s\)/);
  });

  it('device enroll prints the token once; --json gives the enrolment', async () => {
    const enrolment = {
      federationId: 'fed-1',
      deviceId: 'alice',
      generation: 1,
      token: 'tok.en',
      expiresAt: 1_800_000_000_000,
      enrolledAt: 1_700_000_000_000,
    };
    const human = await runCli(['device', 'enroll', 'fed-1', 'alice'], () => json(enrolment, 201));
    expect(human.stdout.match(/tok\.en/g)).toHaveLength(1);
    expect(human.requests[0].body).toEqual({ deviceId: 'alice' });
    const machine = await runCli(['device', 'enroll', 'fed-1', 'alice', '--json'], () =>
      json(enrolment, 201),
    );
    expect(JSON.parse(machine.stdout)).toEqual(enrolment);
  });

  it('device revoke and list use their routes', async () => {
    const record = {
      deviceId: 'bob',
      enrolledAt: 1,
      generation: 0,
      revokedAt: 2,
      lastSeenAt: null,
      profile: null,
    };
    const revoke = await runCli(['device', 'revoke', 'fed-1', 'bob', '--json'], () => json(record));
    expect(revoke.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/federations/fed-1/devices/bob/revoke',
    });
    expect(JSON.parse(revoke.stdout)).toEqual(record);
    const profiled = {
      ...record,
      deviceId: 'carol',
      lastSeenAt: 3,
      profile: { headMsPerSample: { embed: 0.125 }, uplinkBps: 12e6, downlinkBps: 12e6 },
    };
    const list = await runCli(['device', 'list', 'fed-1'], () => json({ devices: [record, profiled] }));
    expect(list.requests[0]).toMatchObject({ method: 'GET', path: '/v1/federations/fed-1/devices' });
    expect(list.stdout).toContain('bob');
    expect(list.stdout).toContain('not reported');
    expect(list.stdout).toContain('0.13 ms/sample at embed · 12.0 Mbit/s');
  });

  it('model list needs no admin key', async () => {
    const model = {
      id: 'vit-fashion',
      cut: 'block-2',
      input: { name: 'pixels', shape: ['batch', 1, 28, 28], dtype: 'float32' },
      output: { name: 'logits', shape: ['batch', 10], dtype: 'float32' },
      encodings: ['fp32', 'int8'],
      shards: 1,
      weights: { bits: 32 },
      training: true,
    };
    const r = await runCli(['model', 'list'], () => json({ models: [model] }));
    expect(r.code).toBe(0);
    expect(r.requests[0].headers.get('authorization')).toBeNull();
    expect(r.stdout).toContain('vit-fashion');
    expect(r.stdout).toContain('[batch, 1, 28, 28]');
  });
});
