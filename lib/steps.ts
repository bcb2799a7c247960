// The step driver: long work is written once, as a generator of native calls (Steps), and run
// by a sync driver (blocking) or an async one (each call off the event loop, an abort seen
// between calls). The estimator's fits and the kernels both run through it.

/** Rejection of an aborted fit, transform or partialFit (W and H keep their last consistent values). */
export class AbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
}

/** One native call: run(false) returns its value, run(true) a Promise of it. */
export interface Step {
  run(async: boolean): unknown;
}
export type Steps<R> = Generator<Step, R, unknown>;

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`, { cause: signal.reason });
}

// The drivers deliver an abort or a failed step into the generator (steps.throw), so its
// finally blocks run: the factors are read back and the native fit is disposed in every case.
export function runSync<R>(steps: Steps<R>, signal: AbortSignal | undefined, what: string): R {
  let r = steps.next();
  while (!r.done) {
    let value: unknown;
    try {
      throwIfAborted(signal, what);
      value = r.value.run(false);
    } catch (err) {
      r = steps.throw(err);
      continue;
    }
    r = steps.next(value);
  }
  return r.value;
}

/**
 * runSync off the event loop. `start: 'later'` (the estimator) runs the first step after a turn
 * of the event loop, so fit() returns before any work; 'now' (the kernels) starts the first
 * native call before returning, so it reads its inputs as they are at the call.
 */
export async function runAsync<R>(steps: Steps<R>, signal: AbortSignal | undefined, what: string,
  start: 'now' | 'later' = 'later'): Promise<R> {
  if (start === 'later') await Promise.resolve();
  let r = steps.next();
  while (!r.done) {
    let value: unknown;
    try {
      throwIfAborted(signal, what);
      value = await r.value.run(true);
    } catch (err) {
      r = steps.throw(err);
      continue;
    }
    r = steps.next(value);
  }
  return r.value;
}

/**
 * Entries of X copied and checked per step of an async call's setup (1–2 MB: a few
 * milliseconds, first-touch page faults included), after which the event loop gets a turn.
 */
export const SETUP_CHUNK = 1 << 18;

/** A step that only gives the event loop a turn (async), or nothing (sync). */
export const turn: Step = { run: (a) => (a ? new Promise((resolve) => setImmediate(resolve)) : undefined) };

/** One call at a time: a model's fit and partialFit exclude each other. */
export class CallGate {
  private busy = false;

  constructor(private readonly busyMessage: string) {}

  runSync<R>(fn: () => R): R {
    this.claim();
    try {
      return fn();
    } finally {
      this.busy = false;
    }
  }

  async runAsync<R>(fn: () => Promise<R>): Promise<R> {
    this.claim();
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }

  private claim(): void {
    if (this.busy) throw new Error(this.busyMessage);
    this.busy = true;
  }
}
