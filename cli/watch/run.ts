// `federation watch`: the event stream, folded into the view, shown by the
// sink that suits the output, until the federation finishes or Ctrl-C.

import { followEvents } from '../../operator/events/follow.js';
import { applyEvent, initialView } from '../../operator/events/view.js';
import type { Context } from '../context.js';
import { barSink, jsonSink, lineSink, type WatchSink } from './terminal.js';

export async function watchFederation(ctx: Context, fid: string): Promise<void> {
  const { stdout, stderr } = ctx.io;
  const sink: WatchSink = ctx.json
    ? jsonSink(stdout, stderr)
    : stdout.isTTY
      ? barSink(stdout)
      : lineSink(stdout);
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  let view = initialView(fid);
  try {
    await followEvents(ctx.client, fid, {
      signal: interrupt.signal,
      onEvent: (event) => {
        const update = applyEvent(view, event);
        view = update.view;
        sink.event(event, update);
        return view.finished;
      },
      onNotice: (text) => sink.notice(text),
    });
  } finally {
    process.off('SIGINT', onSigint);
    sink.stop();
  }
}
