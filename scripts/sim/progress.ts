// Progress on stderr (stdout is reserved for --json). On a terminal: one bar
// for the rounds, one for the training steps of the selected devices within
// the round. Elsewhere (CI logs, pipes) bars would not render, so a line per
// event instead.
import cliProgress from 'cli-progress';

export interface SimProgress {
  startRound(round: number): void;
  /** A selected device joined and will run `steps` steps. */
  addSteps(steps: number): void;
  step(): void;
  submitted(): void;
  endRound(accuracy: number): void;
  log(line: string): void;
  stop(): void;
}

export function simProgress(rounds: number, perRound: number, stream = process.stderr): SimProgress {
  return stream.isTTY ? barProgress(rounds, perRound, stream) : lineProgress(rounds, stream);
}

function barProgress(rounds: number, perRound: number, stream: NodeJS.WriteStream): SimProgress {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      hideCursor: true,
      clearOnComplete: false,
      format: ' {label} |{bar}| {value}/{total} {unit} {info}',
    },
    cliProgress.Presets.shades_classic,
  );
  const roundsBar = multi.create(rounds, 0, { label: 'rounds  ', unit: 'rounds', info: '' });
  let roundBar: cliProgress.SingleBar | undefined;
  let total = 0;
  let submitted = 0;
  let round = 0;
  const info = () => `| ${submitted}/${perRound} devices submitted`;
  return {
    startRound(r) {
      round = r;
      total = 0;
      submitted = 0;
      if (roundBar) multi.remove(roundBar);
      roundBar = multi.create(1, 0, { label: `round ${String(r).padEnd(2)}`, unit: 'steps', info: info() });
    },
    addSteps(steps) {
      total += steps;
      roundBar?.setTotal(total);
    },
    step() {
      roundBar?.increment(1, { info: info() });
    },
    submitted() {
      submitted++;
      roundBar?.update({ info: info() });
    },
    endRound(accuracy) {
      roundsBar.increment(1, { info: `| round ${round}: held-out accuracy ${heldOut(accuracy)}` });
    },
    log(line) {
      multi.log(`${line}\n`);
    },
    stop() {
      multi.stop();
    },
  };
}

/** A held-out accuracy as printed; NaN is a round that was not scored (the baseline's --eval-every). */
const heldOut = (accuracy: number) =>
  Number.isNaN(accuracy) ? 'not scored' : `${(accuracy * 100).toFixed(1)}%`;

/** A line per round, on any stream (what simProgress uses off a terminal). */
export function lineProgress(rounds: number, stream: NodeJS.WritableStream = process.stderr): SimProgress {
  const say = (line: string) => stream.write(`${line}\n`);
  let round = 0;
  let steps = 0;
  let done = 0;
  let devices = 0;
  let started = 0;
  return {
    startRound(r) {
      round = r;
      steps = 0;
      done = 0;
      devices = 0;
      started = performance.now();
    },
    addSteps(n) {
      steps += n;
    },
    step() {
      done++;
    },
    submitted() {
      devices++;
    },
    endRound(accuracy) {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      say(
        `round ${round + 1}/${rounds}: ${devices} devices, ${done}/${steps} steps, ${seconds} s, ` +
          `held-out accuracy ${heldOut(accuracy)}`,
      );
    },
    log: say,
    stop() {},
  };
}
