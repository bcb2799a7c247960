// A fit's progress on stderr: a bar on a terminal (cursor restored on stop or interrupt), plain
// lines otherwise (logs, pipes), nothing with --no-progress.
import { SingleBar } from 'cli-progress';
import { cleanups } from './signals';

export interface Progress {
  update(epoch: number, cost: number | undefined, seconds: number): void;
  stop(): void;
}

export function progress(maxIter: number, enabled: boolean): Progress {
  if (!enabled) return { update: () => {}, stop: () => {} };
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      format: 'epoch {value}/{total} [{bar}] cost {cost} | {seconds}s',
      stream: process.stderr,
      hideCursor: true,
    });
    bar.start(maxIter, 0, { cost: '…', seconds: '0.00' });
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
      cleanups.delete(stop);
    };
    cleanups.add(stop);
    return {
      update: (epoch, cost, seconds) => bar.update(epoch, { seconds: seconds.toFixed(2), ...(cost === undefined ? {} : { cost: cost.toPrecision(6) }) }),
      stop,
    };
  }
  return {
    update: (epoch, cost, seconds) => {
      if (cost !== undefined) process.stderr.write(`epoch ${epoch}/${maxIter}  cost ${cost.toPrecision(8)}  ${seconds.toFixed(2)}s\n`);
    },
    stop: () => {},
  };
}
