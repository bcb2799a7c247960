// The driver of a native fit: one `addon.Fit` per fit, transform or partialFit owns every
// buffer the solver touches (X's working copy, W, H, gradient state, the guard's snapshot,
// scratch); this file schedules its epochs in slices (sync, or async in slices short enough
// for an abort to be seen within tens of milliseconds) and frees it when the call ends.
import { allocate, copyAs, Matrix, zeros, type DType } from './matrix';
import { addon, type FitSpec, type FitMatrixName, type NativeFit, type RunSpec } from './native';
import type { Solver } from './options';

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

export async function runAsync<R>(steps: Steps<R>, signal: AbortSignal | undefined, what: string): Promise<R> {
  // The first step runs after a turn of the event loop, so fit() returns before any work.
  await Promise.resolve();
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

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`, { cause: signal.reason });
}

/** MM exponent γ(β) (Févotte & Idier 2011): 1/(2−β) below 1, 1 on [1, 2], 1/(β−1) above 2. */
export function mmExponent(beta: number): number {
  if (beta < 1) return 1 / (2 - beta);
  if (beta > 2) return 1 / (beta - 1);
  return 1;
}

/** Work per native call of an async fit (flops), so an abort is seen within some tens of ms. */
export const FLOPS_PER_CALL = 5e8;
/** Batches per native call of a sync mini-batch fit, so scale drift is caught between calls. */
const MAX_BATCHES_PER_CALL = 32;

/**
 * Rows per batch for full-batch MU (mu_batch, transform, partialFit's H iterations): its result
 * does not depend on the batch size, so it runs in blocks of whole 512-row multiples sized to
 * ~FLOPS_PER_CALL — the same blocks sync and async, so both give the same bits.
 */
export function fullBatchRows(F: number, K: number): number {
  const rows = Math.ceil(FLOPS_PER_CALL / (12 * Math.max(F, 1) * Math.max(K, 1)) / 512) * 512;
  return Math.max(512, rows);
}

export function divergedError(solver: Solver, restored: boolean, epoch?: number): Error {
  return new Error(`BetaNMF: the ${solver} solver diverged${epoch ? ` in epoch ${epoch}` : ''} (W or H overflowed)` +
    (restored ? '; W and H are as before this epoch' : '') +
    ". Try update 'mm' (the default) if you chose 'heuristic', a smaller sagMemory, a larger batchSize, or solver 'mu_batch'.");
}

/** A native fit and the facts the driver needs about it. Dispose it when the call ends. */
export class NativeFitHandle {
  readonly fit: NativeFit;
  readonly device: 'cpu' | 'cuda';
  readonly dtype: DType;
  readonly N: number;
  readonly F: number;
  readonly K: number;
  private disposed = false;

  constructor(spec: FitSpec, device: 'cpu' | 'cuda') {
    this.fit = new addon.Fit({ ...spec, device });
    this.device = device;
    this.dtype = spec.dtype;
    [this.N, this.F, this.K] = [spec.N, spec.F, spec.K];
  }

  run(spec: RunSpec): Step {
    return { run: (a) => this.fit.run(a, spec) };
  }

  cost(): Step {
    return { run: (a) => this.fit.cost(a) };
  }

  /**
   * The steps that copy a host X (loadX) into the fit in chunks of SETUP_CHUNK entries, the event
   * loop running in between (each chunk checks first that X's memory is still there).
   */
  *load(): Steps<void> {
    const total = this.N * this.F;
    for (let i = 0; i < total; i += SETUP_CHUNK) {
      this.fit.load(Math.min(total, i + SETUP_CHUNK));
      yield turn;
    }
  }

  /** A new Matrix (where the fit lives) holding a copy of W, H or a gradient part. */
  read(name: FitMatrixName): Matrix {
    const rows = name === 'H' ? this.N : this.F;
    const m = this.device === 'cpu' ? new Matrix(allocate(this.dtype, rows * this.K), rows, this.K) : zeros(rows, this.K, this.dtype, 'cuda');
    this.fit.read(name, m.native);
    return m;
  }

  /** Copies m (any device or dtype) into the fit; temporaries made on the way are freed now. */
  write(name: FitMatrixName, m: Matrix): void {
    if (m.device === this.device && m.dtype === this.dtype) return this.fit.write(name, m.native);
    const there = (m.dtype === this.dtype ? m : copyAs(m, this.dtype)).to(this.device);
    try {
      this.fit.write(name, there.native);
    } finally {
      if (there !== m) there.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.fit.dispose();
  }
}

export interface EpochPlan {
  solver: Solver;
  batchSize: number;
  order: Uint32Array | null;
  updateH: boolean;
  updateW: boolean;
  forget: number;
  /**
   * Run the scale guard after every slice, and (stochastic solvers) keep the epoch's start to
   * restore if it diverges. Full-batch MU under 'mm' only ever decreases the cost, so it skips
   * the snapshot (a copy of H per epoch: 10–20% of an epoch at β = 2).
   */
  guard: boolean;
  /** A cache of rows standing in for X and H, and whether it opens / closes the epoch. */
  cache?: { X: Matrix; H: Matrix; weights?: Matrix; starts: boolean; ends: boolean };
  /** The epoch this is (for the divergence message). */
  epoch?: number;
}

/**
 * The native calls of one epoch: slices of batches (all of a full-batch epoch at once when
 * sync). Returns normally, or throws the divergence Error after restoring the epoch's start.
 */
export function* epochSteps(h: NativeFitHandle, plan: EpochPlan, async: boolean): Steps<void> {
  const rows = plan.cache ? plan.cache.X.rows : h.N;
  const nBatches = Math.ceil(rows / plan.batchSize);
  const fullBatch = plan.solver === 'mu_batch';
  const perBatch = 12 * plan.batchSize * h.F * h.K + 1;
  const slice = async ? Math.max(1, Math.floor(FLOPS_PER_CALL / perBatch)) : fullBatch ? nBatches : MAX_BATCHES_PER_CALL;
  for (let b0 = 0; b0 < nBatches; b0 += slice) {
    const b1 = Math.min(nBatches, b0 + slice);
    const spec: RunSpec = {
      first: b0, end: b1, order: plan.order, solver: plan.solver, batchSize: plan.batchSize, updateH: plan.updateH,
      updateW: plan.updateW, forget: plan.forget, snapshot: plan.guard && b0 === 0 && plan.solver !== 'mu_batch',
      // The guard (a pass over all of H) after every MAX_BATCHES_PER_CALL batches and at the end of
      // the epoch, however the epoch is sliced: where a sync fit's calls end, so both rebalance alike.
      guard: plan.guard && (b1 === nBatches || Math.floor(b1 / MAX_BATCHES_PER_CALL) > Math.floor(b0 / MAX_BATCHES_PER_CALL)),
    };
    if (plan.cache) {
      Object.assign(spec, { X: plan.cache.X.native, H: plan.cache.H.native, starts: plan.cache.starts, ends: plan.cache.ends });
      if (plan.cache.weights) spec.weights = plan.cache.weights.native;
    }
    const finite = (yield h.run(spec)) as boolean;
    if (!finite) {
      const restored = plan.guard && plan.solver !== 'mu_batch' && h.fit.restore();
      throw divergedError(plan.solver, restored, plan.epoch);
    }
  }
}

/**
 * One full MU iteration (H, then W, as mu_batch runs it) on a native fit over copies of X, W
 * and H: what `betanmf bench`, the GPU self-test and the memcheck workload time and exercise.
 */
export function openIteration(X: Matrix, W: Matrix, H: Matrix, beta: number): { iteration(): void; dispose(): void } {
  const [N, F, K] = [X.rows, X.cols, W.cols];
  const h = new NativeFitHandle({
    X: X.native, W: W.native, H: H.native, N, F, K, dtype: X.dtype, beta, solver: 'mu_batch', batchSize: fullBatchRows(F, K),
    eps: 1e-10, gamma: mmExponent(beta), forget: 1, vFloor: beta < 2 ? 2 ** -23 : 0, updateH: true, updateW: true,
    shuffle: 'none', positive: false,
  }, X.device);
  return { iteration: () => void h.fit.run(false, {}), dispose: () => h.dispose() };
}
