// Where `federation watch` output goes. On a terminal: a cli-progress
// multibar (a header with the deadline countdown, one bar per selected
// device) with round transitions printed above it. Elsewhere (pipes, CI
// logs), where bars cannot redraw, the same lines and no bars. With --json,
// each event as one JSON line and nothing else on stdout.
import cliProgress from 'cli-progress';
import { deviceBar, headerLine, type Update, type WatchView } from '../../operator/events/view.js';
import type { FederationEvent } from '../../protocol/events.js';
import type { Output } from '../io.js';

export interface WatchSink {
  event(event: FederationEvent, update: Update): void;
  notice(text: string): void;
  stop(): void;
}

export function jsonSink(stdout: Output, stderr: Output): WatchSink {
  return {
    event: (event) => stdout.write(`${JSON.stringify(event)}\n`),
    notice: (text) => stderr.write(`${text}\n`),
    stop: () => {},
  };
}

export function lineSink(out: Output): WatchSink {
  const say = (text: string) => out.write(`${text}\n`);
  return {
    event: (_event, update) => {
      for (const line of update.lines) say(line.text);
    },
    notice: say,
    stop: () => {},
  };
}

const DEVICE_FORMAT = ' {device} |{bar}| {steps} steps · loss {loss} · {traffic} · {state}';

export function barSink(out: Output, now: () => number = Date.now): WatchSink {
  let view: WatchView | undefined;
  let multi: cliProgress.MultiBar | undefined;
  let header: cliProgress.SingleBar | undefined;
  const bars = new Map<string, cliProgress.SingleBar>();

  const headerText = () => (view ? headerLine(view, now()) : '');
  /** Flushes lines still waiting for a redraw, then clears the bars. */
  const clear = () => {
    if (!multi) return;
    multi.update();
    multi.stop();
    multi = undefined;
    bars.clear();
  };
  const build = (v: WatchView) => {
    clear();
    multi = new cliProgress.MultiBar(
      {
        stream: out as NodeJS.WritableStream,
        hideCursor: true,
        clearOnComplete: true,
        barsize: 24,
        format: DEVICE_FORMAT,
      },
      cliProgress.Presets.shades_classic,
    );
    header = multi.create(1, 0, { header: headerText() }, { format: '{header}' });
    for (const d of v.devices) {
      const b = deviceBar(v, d);
      bars.set(d.deviceId, multi.create(b.total, b.value, b.payload));
    }
  };
  // The countdown moves with no event to move it.
  const tick = setInterval(() => header?.update(0, { header: headerText() }), 1000);

  return {
    event: (_event, update) => {
      view = update.view;
      if (!multi || update.rebuild) build(view);
      for (const line of update.lines) if (!line.minor) multi?.log(`${line.text}\n`);
      for (const d of view.devices) {
        const b = deviceBar(view, d);
        const bar = bars.get(d.deviceId);
        bar?.setTotal(b.total);
        bar?.update(b.value, b.payload);
      }
      header?.update(0, { header: headerText() });
    },
    notice: (text) => (multi ? multi.log(`${text}\n`) : out.write(`${text}\n`)),
    stop: () => {
      clearInterval(tick);
      clear();
    },
  };
}
