// What `federation watch` shows, as a pure function of the events so far:
// the state a terminal renders (a header with the countdown, a bar per
// selected device) and the lines it prints as rounds move. No clocks, sockets
// or streams here, so a sequence of events can be replayed in a test.
import type { FederationEvent } from '../../protocol/events.js';
import type { FederationState, RoundRecord, VersionRecord } from '../../protocol/federation.js';
import { bytes, duration, loss, pct, roundLabel, time } from '../format.js';

export interface DeviceProgress {
  deviceId: string;
  state: 'selected' | 'joined' | 'submitted';
  steps: number;
  samples: number;
  loss: number | null;
  uplinkBytes: number;
  downlinkBytes: number;
}

export interface WatchView {
  federationId: string;
  /** Null until the first snapshot. */
  status: FederationState['status'] | null;
  rounds: number | null;
  version: number | null;
  round: RoundRecord | null;
  /** Unix milliseconds at which the round closes at the latest. */
  deadline: number | null;
  /** The current round's selected devices, in selection order. */
  devices: DeviceProgress[];
  /**
   * Steps each device was last heard at in the rounds before this one: what
   * its bar expects of it now. Progress comes at most once a second, so this
   * may fall short; a device past it shows its count alone.
   */
  expectedSteps: Readonly<Record<string, number>>;
  finished: boolean;
}

/** A line to print; `minor` ones (a device joined or submitted) only where no bars show the same. */
export interface Line {
  text: string;
  minor?: boolean;
}

export interface Update {
  view: WatchView;
  lines: Line[];
  /** The selected devices changed (a new round, a reconnect): bars are made anew. */
  rebuild: boolean;
}

export function initialView(federationId: string): WatchView {
  return {
    federationId,
    status: null,
    rounds: null,
    version: null,
    round: null,
    deadline: null,
    devices: [],
    expectedSteps: {},
    finished: false,
  };
}

/** When a round closes at the latest, as the coordinator sets it on opening. */
export const roundDeadline = (r: RoundRecord, config: FederationState['config']) =>
  r.openedAt + config.roundDeadlineSeconds * 1000;

const FINAL = new Set<RoundRecord['status']>(['published', 'held', 'failed']);

const devicesOf = (r: RoundRecord, known: readonly DeviceProgress[] = []): DeviceProgress[] =>
  r.selected.map((deviceId) => {
    const had = known.find((d) => d.deviceId === deviceId);
    const joined = r.joined.includes(deviceId);
    const state = had?.state === 'submitted' ? 'submitted' : joined ? 'joined' : (had?.state ?? 'selected');
    return had
      ? { ...had, state }
      : { deviceId, state, steps: 0, samples: 0, loss: null, uplinkBytes: 0, downlinkBytes: 0 };
  });

/** What a finished round achieved. */
function summary(r: RoundRecord, rounds: number | null): string {
  const label = roundLabel(r.round, rounds);
  const submitted = `${r.participants}/${r.selected.length} submitted`;
  if (r.status === 'failed') return `${label} failed: ${submitted}`;
  const made = r.publishedVersion === null ? r.status : `${r.status} version ${r.publishedVersion}`;
  const took = r.closedAt === null ? '' : `, took ${duration(r.closedAt - r.openedAt)}`;
  return (
    `${label} ${made}: ${submitted}, ${r.samples} samples, loss ${loss(r.meanLoss)}, ` +
    `client accuracy ${pct(r.clientAccuracy)}, ↑${bytes(r.uplinkBytes)} ↓${bytes(r.downlinkBytes)}${took}`
  );
}

function versionLine(v: VersionRecord): string {
  const e = v.evaluation;
  const scored = e
    ? `: accuracy ${pct(e.accuracy)}, loss ${loss(e.meanLoss)} on ${e.samples} samples (${e.source})`
    : '';
  return `version ${v.version} ${v.status}${scored}`;
}

/** The rounds so far's device step counts become what the next round's bars expect. */
function learnSteps(view: WatchView): Record<string, number> {
  const expected = { ...view.expectedSteps };
  for (const d of view.devices) if (d.steps > 0) expected[d.deviceId] = d.steps;
  return expected;
}

function fromSnapshot(view: WatchView, state: FederationState): Update {
  const r = state.currentRound;
  const sameRound = r !== null && view.round?.round === r.round;
  const deadline = r && (sameRound ? view.deadline : roundDeadline(r, state.config));
  const next: WatchView = {
    ...view,
    status: state.status,
    rounds: state.config.rounds,
    version: state.currentVersion,
    round: r,
    deadline,
    devices: r ? devicesOf(r, sameRound ? view.devices : []) : [],
    finished: state.status !== 'running',
  };
  const where = r ? `${roundLabel(r.round, state.config.rounds)} ${r.status}` : 'no round opened yet';
  const lines: Line[] = [
    {
      text: `${view.status === null ? 'watching' : 'reconnected to'} ${state.id}: ${state.status}, ${where}, version ${state.currentVersion}`,
    },
  ];
  if (next.finished) lines.push({ text: finishedLine(state) });
  return { view: next, lines, rebuild: !sameRound || view.status === null };
}

function finishedLine(state: FederationState): string {
  const r = state.currentRound;
  const last = r && FINAL.has(r.status) ? `; last ${summary(r, state.config.rounds)}` : '';
  return `federation ${state.id} ${state.status} at version ${state.currentVersion}${last}`;
}

function fromRound(view: WatchView, e: Extract<FederationEvent, { type: 'round' }>): Update {
  const r = e.round;
  const label = roundLabel(r.round, view.rounds);
  // A late word about a round already behind the current one (it settled after the next opened).
  if (view.round && r.round < view.round.round) {
    return { view, lines: FINAL.has(r.status) ? [{ text: summary(r, view.rounds) }] : [], rebuild: false };
  }
  const isNew = view.round?.round !== r.round;
  const known = isNew ? [] : view.devices;
  let devices = devicesOf(r, known);
  if (e.cause === 'submitted' && e.deviceId) {
    devices = devices.map((d) => (d.deviceId === e.deviceId ? { ...d, state: 'submitted' } : d));
  }
  const expectedSteps = isNew ? learnSteps(view) : view.expectedSteps;
  const lines: Line[] = [];
  switch (e.cause) {
    case 'opened':
      lines.push({
        text:
          `${label} opened on version ${view.version ?? '?'}: ${r.selected.length} device(s) selected ` +
          `(${r.selected.join(', ')}), closes ${time(e.deadline)}`,
      });
      break;
    case 'joined':
      lines.push({
        text: `${e.deviceId ?? 'a device'} joined ${label} (${r.joined.length}/${r.selected.length})`,
        minor: true,
      });
      break;
    case 'submitted':
      lines.push({
        text: `${e.deviceId ?? 'a device'} submitted to ${label} (${r.participants}/${r.selected.length})`,
        minor: true,
      });
      break;
    case 'closed':
    case 'settled':
      lines.push({ text: FINAL.has(r.status) ? summary(r, view.rounds) : `${label} closed: ${r.status}` });
      break;
  }
  const next: WatchView = {
    ...view,
    round: r,
    deadline: e.deadline,
    devices,
    expectedSteps,
  };
  return { view: next, lines, rebuild: isNew };
}

function fromProgress(view: WatchView, e: Extract<FederationEvent, { type: 'progress' }>): Update {
  if (view.round?.round !== e.round) return { view, lines: [], rebuild: false };
  const known = view.devices.some((d) => d.deviceId === e.deviceId);
  const totals = {
    steps: e.steps,
    samples: e.samples,
    loss: e.loss,
    uplinkBytes: e.uplinkBytes,
    downlinkBytes: e.downlinkBytes,
  };
  const devices: DeviceProgress[] = known
    ? view.devices.map((d) =>
        d.deviceId === e.deviceId
          ? { ...d, ...totals, state: d.state === 'selected' ? 'joined' : d.state }
          : d,
      )
    : [...view.devices, { deviceId: e.deviceId, state: 'joined', ...totals }];
  return { view: { ...view, devices }, lines: [], rebuild: !known };
}

export function applyEvent(view: WatchView, event: FederationEvent): Update {
  switch (event.type) {
    case 'snapshot':
      return fromSnapshot(view, event.state);
    case 'round':
      return fromRound(view, event);
    case 'progress':
      return fromProgress(view, event);
    case 'version': {
      const v = event.version;
      const version = v.status === 'published' && v.version > (view.version ?? -1) ? v.version : view.version;
      return { view: { ...view, version }, lines: [{ text: versionLine(v) }], rebuild: false };
    }
    case 'finished': {
      const s = event.state;
      const next = { ...view, status: s.status, version: s.currentVersion, finished: true };
      return { view: next, lines: [{ text: finishedLine(s) }], rebuild: false };
    }
  }
}

/** The line above the bars: where the federation is, and the countdown to the round's deadline. */
export function headerLine(view: WatchView, now: number): string {
  const parts = [view.federationId];
  if (view.status === null) return `${view.federationId}: connecting…`;
  const r = view.round;
  if (!r) {
    parts.push(view.status === 'running' ? 'waiting for round 0 (federation start)' : view.status);
  } else {
    parts.push(`${roundLabel(r.round, view.rounds)} ${r.status}`);
    parts.push(`${r.joined.length}/${r.selected.length} joined`, `${r.participants} submitted`);
    if (r.closedAt === null && view.deadline !== null) {
      const left = view.deadline - now;
      parts.push(left > 0 ? `closes in ${duration(left)}` : 'deadline passed');
    }
  }
  if (view.version !== null) parts.push(`version ${view.version}`);
  return parts.join(' · ');
}

/** A device's bar: steps against what it ran last round (or the round's leader, the first time). */
export interface DeviceBar {
  value: number;
  total: number;
  payload: { device: string; steps: string; loss: string; traffic: string; state: string };
}

export function deviceBar(view: WatchView, d: DeviceProgress): DeviceBar {
  const expected = view.expectedSteps[d.deviceId];
  const leader = Math.max(1, ...view.devices.map((x) => x.steps));
  const total = Math.max(expected ?? leader, d.steps, 1);
  const width = Math.max(...view.devices.map((x) => x.deviceId.length), 6);
  return {
    value: d.steps,
    total,
    payload: {
      device: d.deviceId.padEnd(width),
      steps: expected === undefined || d.steps > expected ? `${d.steps}` : `${d.steps}/${expected}`,
      loss: loss(d.loss),
      traffic: `↑${bytes(d.uplinkBytes)} ↓${bytes(d.downlinkBytes)}`,
      state: d.state,
    },
  };
}
