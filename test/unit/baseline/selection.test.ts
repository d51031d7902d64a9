import { describe, expect, it } from 'vitest';
import { roundParticipants } from '../../../scripts/sim/baseline/selection.js';
import { deviceId } from '../../../scripts/sim/devices.js';
import { selectDevices } from '../../../strategy/select.js';

describe('baseline selection', () => {
  it('trains the devices the coordinator selects for the same seed and round', () => {
    const ids = Array.from({ length: 50 }, (_, i) => deviceId(i));
    for (const [seed, round] of [
      [0, 0],
      [0, 4],
      [3, 1],
    ]) {
      const picked = roundParticipants(50, 10, seed, round);
      expect(picked.map(deviceId)).toEqual(selectDevices(ids, 10, seed, round));
      expect(new Set(picked).size).toBe(10);
    }
  });

  it('selects everyone when fewer are enrolled than asked for', () => {
    expect(roundParticipants(3, 10, 0, 0).sort()).toEqual([0, 1, 2]);
  });
});
