// One fit of a rank sweep or a consensus: the data every fit of a sweep shares (X in the fit's
// dtype, the entry weights, the held-out entries of each repetition) and the function that runs
// one fit from it. The same function runs in this process and in the worker processes of
// rank-parallel.ts, so a sweep's numbers do not depend on where its fits ran.
import { BetaNMF, type HistoryEntry, type StopReason } from './betanmf';
import { betaDivergence } from './kernels';
import { Matrix, type DType } from './matrix';
import type { BetaNMFOptions } from './options';
import type { FloatArray } from './native';

/** The options of a fit that a sweep passes through (the sweep sets nComponents and seed). */
export type SweepFitOptions = Omit<BetaNMFOptions, 'nComponents' | 'seed' | 'W' | 'H' | 'init' | 'fixed' | 'fixedComponents' | 'signal' | 'onEpoch' | 'onWarning'> & {
  init?: 'random' | 'nndsvd' | 'nndsvda' | 'nndsvdar';
};

/** What every fit of a sweep shares; structured-clonable, so it travels to worker processes as is. */
export interface SweepData {
  /** X (rows×cols, row-major) in the fits' dtype; missing entries (NaN) already 0 with weight 0. */
  X: FloatArray;
  rows: number;
  cols: number;
  /** Entry weights (same dtype), or undefined for all ones. */
  weights?: FloatArray;
  /** Per repetition, the flat indices of the held-out entries (cross-validation only). */
  heldOut: Uint32Array[];
  options: SweepFitOptions;
}

export interface FitTask {
  k: number;
  seed: number;
  /** The repetition whose held-out entries are left out of training (cross-validation), or undefined. */
  rep?: number;
  /** Return the fitted model (consensus) rather than only its numbers. */
  keepModel?: boolean;
}

export interface FitOutcome {
  /** β-divergence per unit of weight on the training entries (all entries without held-out ones). */
  trainLoss: number;
  /** The same on the held-out entries (NaN without held-out entries). */
  testLoss: number;
  /** The fit's cost (its objective, penalties included). */
  cost: number;
  nIter: number;
  /** Wall-clock seconds of the fit. */
  seconds: number;
  /** The fitted model's state (keepModel), to rebuild it where the sweep is summarised. */
  model?: FittedState;
}

/** What makes a fitted model, in structured-clonable form. */
export interface FittedState {
  W: FloatArray;
  H: FloatArray;
  K: number;
  seed: number;
  nIter: number;
  history: HistoryEntry[];
  stopReason: StopReason;
}

/** The fitted model of a FittedState (its options those of the sweep; warnings were heard when it was fitted). */
export function modelOf(d: SweepData, s: FittedState): BetaNMF {
  const model = new BetaNMF({ ...d.options, nComponents: s.K, seed: s.seed, onWarning: () => {} });
  model.W = new Matrix(s.W, d.cols, s.K);
  model.H = new Matrix(s.H, d.rows, s.K);
  model.nIter = s.nIter;
  model.history = s.history;
  model.stopReason = s.stopReason;
  return model;
}

export function dtypeOfArray(a: FloatArray): DType {
  return a instanceof Float32Array ? 'float32' : 'float64';
}

/** Weights for training (held-out entries 0) and for testing (only the held-out entries), or none. */
function repWeights(d: SweepData, rep: number | undefined): { train?: Matrix; test?: Matrix } {
  if (rep === undefined) return { train: d.weights && new Matrix(d.weights, d.rows, d.cols) };
  const Ctor = d.X instanceof Float32Array ? Float32Array : Float64Array;
  const train = d.weights ? new Ctor(d.weights) : new Ctor(d.X.length).fill(1);
  const test = new Ctor(d.X.length);
  for (const i of d.heldOut[rep]) {
    test[i] = train[i];
    train[i] = 0;
  }
  return { train: new Matrix(train, d.rows, d.cols), test: new Matrix(test, d.rows, d.cols) };
}

/** Σ weights (the number of entries when there are none). */
function weightSum(M: Matrix | undefined, entries: number): number {
  if (!M) return entries;
  let s = 0;
  for (const m of M.data) s += m;
  return s;
}

/** Runs one fit of the sweep and measures it. */
export async function runFit(d: SweepData, task: FitTask): Promise<FitOutcome> {
  const X = new Matrix(d.X, d.rows, d.cols);
  const { train, test } = repWeights(d, task.rep);
  const model = new BetaNMF({ ...d.options, nComponents: task.k, seed: task.seed, onWarning: () => {} });
  try {
    const t0 = performance.now();
    await model.fit(X, { weights: train });
    const seconds = (performance.now() - t0) / 1000;
    const W = model.W!.to('cpu'), H = model.H!.to('cpu');
    const beta = model.options.beta;
    const trainLoss = betaDivergence(X, W, H, beta, { weights: train }) / weightSum(train, X.data.length);
    const testLoss = test ? betaDivergence(X, W, H, beta, { weights: test }) / weightSum(test, X.data.length) : NaN;
    const state = task.keepModel
      ? { W: W.toTypedArray(), H: H.toTypedArray(), K: task.k, seed: task.seed, nIter: model.nIter, history: model.history, stopReason: model.stopReason! }
      : undefined;
    return { trainLoss, testLoss, cost: model.cost!, nIter: model.nIter, seconds, ...(state ? { model: state } : {}) };
  } finally {
    model.dispose();
  }
}
