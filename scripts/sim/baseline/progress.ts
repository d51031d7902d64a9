// Progress of a baseline run that scores only some rounds (--eval-every):
// the simulator's line per round, with "not scored" where there is no
// held-out figure instead of a NaN percentage. On stderr; stdout is for --json.
import type { SimProgress } from '../progress.js';

export function roundLines(rounds: number, stream: NodeJS.WritableStream = process.stderr): SimProgress {
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
      const score = Number.isNaN(accuracy) ? 'not scored' : `${(accuracy * 100).toFixed(1)}%`;
      say(
        `round ${round + 1}/${rounds}: ${devices} devices submitted, ${done}/${steps} steps, ${seconds} s, held-out accuracy ${score}`,
      );
    },
    log: say,
    stop() {},
  };
}
