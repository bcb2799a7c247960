// A fit's progress on stderr: a bar on a terminal (redrawn at most 10 times a second, cursor
// hidden while it runs and restored on stop or interrupt), plain lines otherwise (logs, pipes),
// nothing with --no-progress.
import { cleanups } from './signals';

export interface Progress {
  update(epoch: number, cost: number | undefined, seconds: number): void;
  stop(): void;
}

const BAR = 40;
const REDRAW_MS = 100;

export function progress(maxIter: number, enabled: boolean): Progress {
  if (!enabled) return { update: () => {}, stop: () => {} };
  if (!process.stderr.isTTY) {
    return {
      update: (epoch, cost, seconds) => {
        if (cost !== undefined) process.stderr.write(`epoch ${epoch}/${maxIter}  cost ${cost.toPrecision(8)}  ${seconds.toFixed(2)}s\n`);
      },
      stop: () => {},
    };
  }
  let state = { epoch: 0, cost: '…', seconds: '0.00' };
  let drawn = 0;
  const draw = () => {
    const filled = maxIter > 0 ? Math.round((BAR * Math.min(state.epoch, maxIter)) / maxIter) : BAR;
    process.stderr.write(`\r\x1b[2Kepoch ${state.epoch}/${maxIter} [${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}] cost ${state.cost} | ${state.seconds}s`);
    drawn = performance.now();
  };
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    draw();
    process.stderr.write('\n\x1b[?25h');
    cleanups.delete(stop);
  };
  cleanups.add(stop);
  process.stderr.write('\x1b[?25l');
  draw();
  return {
    update: (epoch, cost, seconds) => {
      state = { epoch, cost: cost === undefined ? state.cost : cost.toPrecision(6), seconds: seconds.toFixed(2) };
      if (performance.now() - drawn >= REDRAW_MS) draw();
    },
    stop,
  };
}
