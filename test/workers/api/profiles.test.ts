// A device's profile (protocol/profile.ts): reported in the join's optional
// body or with its update, kept per device, shown to the admin; anything out of bounds or
// unexpected is refused with a 400 that names it, and the join does not happen.
import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../../protocol/federation.js';
import { call, problemOf } from '../helpers.js';
import { federation, get, round } from './single-device.js';

const PROFILE = {
  headMsPerSample: { embed: 0.12 },
  uplinkBps: 24e6,
  downlinkBps: 24e6,
  power: { computeW: 3.5, radioW: 0.8, batteryLevel: 0.6 },
  memoryLimitBytes: 512 * 2 ** 20,
};

const join = (fid: string, device: Record<string, string>, body?: unknown) =>
  call(`/v1/federations/${fid}/join`, {
    method: 'POST',
    headers: { ...device, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const devices = async (fid: string) =>
  (await get<{ devices: DeviceRecord[] }>(`/v1/federations/${fid}/devices`)).devices;

describe('device profiles', () => {
  it('keeps what a device reports at its join and shows it to the admin', async () => {
    const { fid, device } = await federation({}, 'profile');
    expect((await devices(fid))[0].profile).toBeNull();
    expect((await join(fid, device, { profile: PROFILE })).status).toBe(200);
    expect((await devices(fid))[0].profile).toEqual(PROFILE);
    // A join without a body leaves the last report in place.
    expect((await join(fid, device)).status).toBe(200);
    expect((await devices(fid))[0].profile).toEqual(PROFILE);
  });

  it('takes the profile an update carries as the device’s latest', async () => {
    const { fid, device } = await federation({}, 'profile');
    const after = { ...PROFILE, headMsPerSample: { embed: 0.1 }, headPeakBytes: { embed: 2 ** 24 } };
    await round(fid, device, 1, 'profile-on-submit', { profile: PROFILE }, { profile: after });
    expect((await devices(fid))[0].profile).toEqual(after);
  });

  it('refuses a profile out of bounds, with unknown fields or of the wrong type, before joining', async () => {
    const { fid, device } = await federation({}, 'profile');
    for (const profile of [
      { headMsPerSample: { embed: -1 } },
      { headMsPerSample: { embed: 1e300 } },
      { headMsPerSample: { 'no spaces allowed': 1 } },
      { headMsPerSample: {}, uplinkBps: 1e15 },
      { headMsPerSample: {}, power: { computeW: 3, radioW: 1, batteryLevel: 2 } },
      { headMsPerSample: {}, lies: true },
      'a string',
    ]) {
      const res = await join(fid, device, { profile });
      expect(res.status, JSON.stringify(profile)).toBe(400);
      expect((await problemOf(res)).type).toMatch(/bad-request$/);
    }
    const notJson = await call(`/v1/federations/${fid}/join`, {
      method: 'POST',
      headers: { ...device, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(notJson.status).toBe(415);
    const [d] = await devices(fid);
    expect(d.profile).toBeNull();
    expect(d.lastSeenAt).toBeNull();
  });
});
