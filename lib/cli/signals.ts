// SIGINT / SIGTERM on the command line: undo what is half done (a progress bar, a staging
// folder) and exit 130 / 143 with one line, unless a command (`worker`) takes the signals over
// to stop gracefully.
export type Signal = 'SIGINT' | 'SIGTERM';

/** Work to undo if the process is interrupted: a progress bar to stop, a staging folder to remove. */
export const cleanups = new Set<() => void>();

let takenBy: ((signal: Signal) => void) | undefined;

/** Hands SIGINT / SIGTERM to `handler` instead of the interrupt below. */
export function takeSignals(handler: (signal: Signal) => void): void {
  takenBy = handler;
}

function onSignal(signal: Signal): void {
  if (takenBy) {
    takenBy(signal);
    return;
  }
  for (const c of cleanups) {
    try {
      c();
    } catch {
      // best effort: the process is ending
    }
  }
  process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}betanmf: interrupted (${signal}); no output was written\n`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Listens for the signals while a command runs; returns the function that stops listening. */
export function handleSignals(): () => void {
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}
