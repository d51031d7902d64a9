// Who trains in a baseline round: the coordinator's seeded draw over the
// simulator's device ids, so a baseline round and a split round with the same
// seed and round number train the same devices on the same data.
import { selectDevices } from '../../../strategy/select.js';
import { deviceId } from '../devices.js';

/** Indices into the client list of the devices selected for `round`. */
export function roundParticipants(clients: number, perRound: number, seed: number, round: number): number[] {
  const ids = Array.from({ length: clients }, (_, i) => deviceId(i));
  const index = new Map(ids.map((id, i) => [id, i]));
  return selectDevices(ids, perRound, seed, round).map((id) => index.get(id)!);
}
