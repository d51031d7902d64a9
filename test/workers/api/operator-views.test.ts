// What the console and the CLI read to show an operator their fleet: the list
// of federations (indexed in the registry bucket, paged) and each device's
// last contact with the coordinator.
import { describe, expect, it } from 'vitest';
import { DeviceRecord, FederationList } from '../../../protocol/federation.js';
import { call, problemOf } from '../helpers.js';
import { ADMIN, admin, federation, get, round } from './single-device.js';

describe('GET /v1/federations', () => {
  it('lists every federation created, a page at a time', async () => {
    const a = await federation({}, 'list');
    const b = await federation({}, 'list');
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page = FederationList.parse(
        await get(`/v1/federations?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
      );
      expect(page.federations.length).toBeLessThanOrEqual(1);
      all.push(...page.federations.map((f) => f.id));
      cursor = page.cursor;
    } while (cursor);
    expect(all).toEqual(expect.arrayContaining([a.fid, b.fid]));
    const listed = FederationList.parse(await get('/v1/federations')).federations.find((f) => f.id === a.fid);
    expect(listed).toMatchObject({
      modelId: 'vit-fashion',
      status: 'running',
      started: true,
      devices: 1,
      currentRound: 0,
      roundStatus: 'open',
      latestVersion: 0,
    });
  });

  it('refuses a limit out of range and callers without the admin key', async () => {
    for (const limit of ['0', '101', 'x']) {
      const res = await call(`/v1/federations?limit=${limit}`, { headers: ADMIN });
      expect(res.status, limit).toBe(400);
      expect((await problemOf(res)).type).toMatch(/bad-request$/);
    }
    expect((await call('/v1/federations')).status).toBe(401);
  });

  it('does not list a federation whose creation was refused', async () => {
    const refused = await admin('/v1/federations', {
      id: 'never-made',
      config: { modelId: 'no-such-model' },
    });
    expect(refused.status).toBe(400);
    const ids = FederationList.parse(await get('/v1/federations')).federations.map((f) => f.id);
    expect(ids).not.toContain('never-made');
  });
});

describe('a device’s last contact', () => {
  it('is null until it joins, then the time of its latest join or submit', async () => {
    const { fid, device } = await federation({}, 'seen');
    const before = (await get<{ devices: unknown[] }>(`/v1/federations/${fid}/devices`)).devices.map((d) =>
      DeviceRecord.parse(d),
    );
    expect(before[0].lastSeenAt).toBeNull();
    const t0 = Date.now();
    await round(fid, device, 1, 'k0');
    const after = (await get<{ devices: unknown[] }>(`/v1/federations/${fid}/devices`)).devices.map((d) =>
      DeviceRecord.parse(d),
    );
    expect(after[0].lastSeenAt).toBeGreaterThanOrEqual(t0);
  });
});
