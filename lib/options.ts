// BetaNMF options: defaults and checks in one table-like place.
import { describe, rangeError, typeError } from './errors';
import type { DType, Matrix } from './matrix';
import { checkMatrix } from './validate';

export type Solver = 'mu_batch' | 'asg_mu' | 'gsg_mu' | 'asag_mu' | 'gsag_mu' | 'hals';
export type BetaName = 'frobenius' | 'kullback-leibler' | 'itakura-saito';
export type InitMode = 'random' | 'nndsvd' | 'nndsvda' | 'nndsvdar' | 'custom';

/** V is clipped at the float32 machine epsilon where β < 2 (as scikit-learn does). */
export const V_FLOOR = 2 ** -23;

export type StopReason = 'converged' | 'maxIter' | 'noImprovement' | 'aborted' | 'callback';

/** One row of `model.history`. */
export interface HistoryEntry {
  /** Epoch count at that point (0 = the initial factors). */
  epoch: number;
  /** D(X | H·Wᵀ) when it was evaluated then. */
  cost?: number;
  /** Seconds spent in updates since the fit started (cost evaluations excluded). */
  seconds: number;
}

/** What onEpoch receives after each epoch. */
export interface EpochInfo {
  /** Epochs done so far in this fit (1-based). */
  epoch: number;
  /** D(X | H·Wᵀ) when evaluated this epoch (every costEvery epochs and at the end). */
  cost?: number;
  /** Seconds since the fit started. */
  seconds: number;
}

export interface BetaNMFOptions {
  /** K, the number of components. Default 50 (the original's). */
  nComponents?: number;
  /** β of the divergence, or its name. Default 2 ('frobenius'). */
  beta?: number | BetaName;
  /**
   * Default 'mu_batch' (full-batch MU computed batch by batch). 'hals': coordinate descent for
   * β = 2 only (HALS, scikit-learn's NMF(solver='cd') without shuffling): every epoch minimises
   * the cost exactly in each column of H, then of W, so it reaches a given loss in far fewer
   * epochs than MU at about the cost of one MU epoch each. It takes the penalties, fixed factors
   * and fixedComponents; not entry weights (weights, missing: 'nan') or sharded fits. A model
   * fitted with 'hals' also transforms with it.
   */
  solver?: Solver;
  /**
   * Rows per mini-batch of the stochastic solvers. Default 1024 (scikit-learn's MiniBatchNMF;
   * the original used 100, slower per epoch on CPUs). mu_batch ignores it: full-batch MU does
   * not depend on the batch size, so it always runs in the backend's best blocks.
   */
  batchSize?: number;
  /** Batches in the SAG average for asag_mu / gsag_mu: weight f = 1/(sagMemory + 1). Default 0 (plain SG). */
  sagMemory?: number;
  /** Epochs (passes over all batches). Default 50. */
  maxIter?: number;
  /** Stop when the cost decreased by less than tol (relative) since its previous evaluation; 0 disables. Default 1e-4. */
  tol?: number;
  /** Epochs between cost evaluations (the cost is also evaluated before the first and after the last). Default 10. */
  costEvery?: number;
  /**
   * How the mini-batch solvers visit the data each epoch: 'batches' (default, the original's
   * behaviour; true means the same) visits the contiguous batches in a new random order;
   * 'rows' re-cuts the batches from shuffled rows every epoch (rows gathered into reused
   * buffers: slower); false (or 'none') keeps row order. mu_batch is never shuffled (its result does not
   * depend on the order).
   */
  shuffle?: boolean | 'none' | 'batches' | 'rows';
  /** Seed of initialisation and shuffling. Default: a random one, kept in `model.seed`. */
  seed?: number;
  /**
   * 'random' (default: |normal| scaled to X, cheap), 'nndsvda', 'nndsvdar' or 'custom' (with W
   * and H). Every update here is multiplicative and cannot move a zero, so 'nndsvd' fills the
   * zeros NNDSVD leaves as 'nndsvdar' does (small random values). The NNDSVD variants need
   * K ≤ min(N, F) and a truncated SVD of X (seconds for large X).
   */
  init?: InitMode;
  /** Initial W (F×K) for init 'custom', or the bases of fixedComponents (copied). */
  W?: Matrix;
  /** Initial H (N×K) for init 'custom' (copied). */
  H?: Matrix;
  /** Factors kept fixed: ['W'] or ['H']. Default none. */
  fixed?: ('W' | 'H')[];
  /**
   * Columns of W (bases) kept exactly as given in `W` while the other columns and all of H are
   * learned: distinct integers in [0, nComponents). Needs `W` (with init 'custom', or with
   * another init, which then initialises the other columns). Default none.
   */
  fixedComponents?: number[];
  /**
   * Penalty on W (bases), scikit-learn's alpha_H: adds αW·N·(ρ‖W‖₁ + ½(1−ρ)‖W‖²) to the
   * objective (N rows of X). Default 0.
   */
  alphaW?: number;
  /** Penalty on H (activations), scikit-learn's alpha_W: adds αH·F·(ρ‖H‖₁ + ½(1−ρ)‖H‖²). Default 0. */
  alphaH?: number;
  /** ρ, the L1 share of both penalties, in [0, 1] (0: L2 only, 1: L1 only). Default 0. */
  l1Ratio?: number;
  /** 'nan': NaN entries of X are missing (weight 0) instead of a RangeError. Default: NaN is an error. */
  missing?: 'nan';
  /** Added to the denominator of every MU step. Default 1e-10 (the original's). */
  eps?: number;
  /**
   * The accelerated form of the solver. Default false. With 'hals': Gillis & Glineur's
   * acceleration, each factor swept twice per epoch (HALS_ACCELERATED_SWEEPS) over the same
   * products (X·W and WᵀW are the expensive part; a sweep costs a K/F share of them): fewer
   * epochs to a given loss, and no longer scikit-learn's iterates. The MU solvers do not have one
   * yet (a RangeError).
   */
  accelerate?: boolean;
  /**
   * 'mm' (default): the exponent γ(β) that makes every step decrease the cost, and guarded steps
   * (a step without information keeps the entry; a W step from a batch multiplies it by at least
   * ½, so a feature silent in one batch keeps its row of W); 'heuristic': γ = 1 and the original's
   * arithmetic bit for bit, which zeroes for good the row of W of a feature silent in one batch.
   */
  update?: 'mm' | 'heuristic';
  /** 'auto' (default; or the BETANMF_DEVICE environment variable), 'cpu' or 'cuda'. */
  device?: 'auto' | 'cpu' | 'cuda';
  /** Computation dtype. Default: the dtype of X (X is converted when it differs). */
  dtype?: DType;
  /** Rows of X (and H) resident where the model computes at once, rounded down to whole batches (0 = all); each epoch the rows travel there cache by cache. Default 0. */
  cacheRows?: number;
  /** Aborts fit/transform/partialFit: they reject with an AbortError, keeping the last consistent W and H. */
  signal?: AbortSignal;
  /** Called after each epoch; returning false stops the fit there (stopReason 'callback'). */
  onEpoch?: (info: EpochInfo) => boolean | void;
  /**
   * Stop after this many cost evaluations (every costEvery epochs) without a new lowest cost
   * (scikit-learn's MiniBatchNMF max_no_improvement); the factors are then the best seen.
   * Default: undefined (off).
   */
  maxNoImprovement?: number;
  /**
   * Receives warnings about options that do nothing or work badly here (sagMemory with a solver
   * that does not average, a batch as large as the data, K > min(N, F)). Default:
   * process.emitWarning.
   */
  onWarning?: (message: string) => void;
}

/** What each fit, transform and partialFit call takes (signal and onEpoch default to the model's). */
export interface RunOptions {
  signal?: AbortSignal;
  onEpoch?: (info: EpochInfo) => boolean | void;
  /**
   * Entry weights for X (N×F, finite and ≥ 0; 0 = missing, any dtype or device: converted as X
   * is): the fit minimises Σ m·d(x | v) (plus the penalties), and its cost is that sum.
   */
  weights?: Matrix;
}

export interface TransformOptions extends RunOptions {
  /** Starting H (N×K, copied); default: the constant √(mean(X)/K), as scikit-learn's transform. */
  H?: Matrix;
}

/** A call's RunOptions, checked, with the model's signal and onEpoch where the call gives none. */
export function resolveRunOptions(o: RunOptions, defaults: Pick<RunOptions, 'signal' | 'onEpoch'>): RunOptions {
  if (typeof o !== 'object' || o === null) throw typeError('options', 'an object', o);
  const signal = o.signal ?? defaults.signal;
  const onEpoch = o.onEpoch ?? defaults.onEpoch;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('signal', 'an AbortSignal', signal);
  if (onEpoch !== undefined && typeof onEpoch !== 'function') throw typeError('onEpoch', 'a function', onEpoch);
  return { signal, onEpoch, weights: o.weights };
}

export interface ResolvedOptions {
  nComponents: number;
  beta: number;
  solver: Solver;
  batchSize: number;
  sagMemory: number;
  maxIter: number;
  tol: number;
  costEvery: number;
  shuffle: 'none' | 'batches' | 'rows';
  seed: number | undefined;
  init: InitMode;
  fixed: ('W' | 'H')[];
  fixedComponents: number[];
  alphaW: number;
  alphaH: number;
  l1Ratio: number;
  missing: 'nan' | undefined;
  eps: number;
  update: 'mm' | 'heuristic';
  accelerate: boolean;
  device: 'auto' | 'cpu' | 'cuda' | undefined;
  dtype: DType | undefined;
  cacheRows: number;
  maxNoImprovement: number | undefined;
}

export const SOLVERS: readonly Solver[] = ['mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu', 'hals'];
const BETA_NAMES: Record<BetaName, number> = { frobenius: 2, 'kullback-leibler': 1, 'itakura-saito': 0 };
const KNOWN = new Set([
  'nComponents', 'beta', 'solver', 'batchSize', 'sagMemory', 'maxIter', 'tol', 'costEvery', 'shuffle', 'seed', 'init',
  'W', 'H', 'fixed', 'fixedComponents', 'alphaW', 'alphaH', 'l1Ratio', 'missing', 'eps', 'update', 'accelerate', 'device', 'dtype', 'cacheRows', 'signal', 'onEpoch', 'maxNoImprovement', 'onWarning',
]);

function integer(name: string, v: unknown, min: number, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number') throw typeError(name, `an integer ≥ ${min}`, v);
  if (!Number.isInteger(v) || v < min || v > 2 ** 31 - 1) throw rangeError(name, `an integer ≥ ${min}`, describe(v));
  return v;
}

function real(name: string, v: unknown, min: number, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number') throw typeError(name, `a number ≥ ${min}`, v);
  if (!Number.isFinite(v) || v < min) throw rangeError(name, `a finite number ≥ ${min}`, describe(v));
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], def: T | undefined): T | undefined {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw typeError(name, allowed.map((a) => `'${a}'`).join(' | '), v);
  }
  return v as T;
}

export function resolveBeta(v: unknown): number {
  if (v === undefined) return 2;
  if (typeof v === 'string') {
    if (v in BETA_NAMES) return BETA_NAMES[v as BetaName];
    throw typeError('beta', "a number or 'frobenius' | 'kullback-leibler' | 'itakura-saito'", v);
  }
  if (typeof v !== 'number') throw typeError('beta', "a number or 'frobenius' | 'kullback-leibler' | 'itakura-saito'", v);
  if (!Number.isFinite(v)) throw rangeError('beta', 'a finite number', describe(v));
  return v;
}

export function resolveOptions(o: BetaNMFOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw typeError('options', 'an object', o);
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw rangeError('options', `only known options (${[...KNOWN].join(', ')})`, `'${key}'`);
  }
  const batchSize = integer('batchSize', o.batchSize, 1, 1024);
  const cacheRows = integer('cacheRows', o.cacheRows, 0, 0);
  if (cacheRows > 0 && cacheRows < batchSize) {
    throw rangeError('cacheRows', `0 or at least batchSize (${batchSize})`, `${cacheRows}`);
  }
  let fixed: ('W' | 'H')[] = [];
  if (o.fixed !== undefined) {
    if (!Array.isArray(o.fixed)) throw typeError('fixed', "an array such as ['W'] or ['H']", o.fixed);
    fixed = o.fixed.map((f, i) => oneOf(`fixed[${i}]`, f, ['W', 'H'] as const, undefined)!);
    if (fixed.includes('W') && fixed.includes('H')) throw rangeError('fixed', "['W'] or ['H'], not both", "['W', 'H']");
  }
  if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isInteger(o.seed))) {
    if (typeof o.seed !== 'number') throw typeError('seed', 'an integer', o.seed);
    throw rangeError('seed', 'an integer', describe(o.seed));
  }
  if (o.shuffle !== undefined && typeof o.shuffle !== 'boolean' && !['none', 'batches', 'rows'].includes(o.shuffle)) {
    throw typeError('shuffle', "a boolean, 'batches', 'rows' or 'none'", o.shuffle);
  }
  for (const k of ['W', 'H'] as const) {
    if (o[k] !== undefined) checkMatrix(k, o[k]);
  }
  const init = oneOf('init', o.init, ['random', 'nndsvd', 'nndsvda', 'nndsvdar', 'custom'] as const, 'random')!;
  const nComponents = integer('nComponents', o.nComponents, 1, 50);
  let fixedComponents: number[] = [];
  if (o.fixedComponents !== undefined) {
    if (!Array.isArray(o.fixedComponents)) throw typeError('fixedComponents', 'an array of column indices such as [0, 1]', o.fixedComponents);
    fixedComponents = o.fixedComponents.map((k, i) => {
      if (typeof k !== 'number') throw typeError(`fixedComponents[${i}]`, 'an integer', k);
      if (!Number.isInteger(k) || k < 0 || k >= nComponents) throw rangeError(`fixedComponents[${i}]`, `an integer in [0, ${nComponents}) (nComponents)`, describe(k));
      return k;
    });
    if (new Set(fixedComponents).size !== fixedComponents.length) throw rangeError('fixedComponents', 'distinct column indices', `[${fixedComponents.join(', ')}]`);
    if (fixedComponents.length > 0 && !o.W) throw rangeError('fixedComponents', 'W given (the bases whose columns stay fixed)', 'no W');
  }
  if (init === 'custom' && (!o.W || !o.H) && !((fixed.includes('W') || fixedComponents.length > 0) && o.W)) {
    throw rangeError('init', "'custom' with both W and H given (or W with fixed: ['W'] or fixedComponents)", `W ${o.W ? 'given' : 'missing'}, H ${o.H ? 'given' : 'missing'}`);
  }
  const l1Ratio = real('l1Ratio', o.l1Ratio, 0, 0);
  if (l1Ratio > 1) throw rangeError('l1Ratio', 'a number in [0, 1]', describe(l1Ratio));
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError('signal', 'an AbortSignal', o.signal);
  if (o.onEpoch !== undefined && typeof o.onEpoch !== 'function') throw typeError('onEpoch', 'a function', o.onEpoch);
  if (o.onWarning !== undefined && typeof o.onWarning !== 'function') throw typeError('onWarning', 'a function', o.onWarning);
  const beta = resolveBeta(o.beta);
  const solver = oneOf('solver', o.solver, SOLVERS, 'mu_batch')!;
  if (solver === 'hals' && beta !== 2) throw rangeError('solver', "'hals' only with beta 2 (frobenius); for other β use a MU solver", `'hals' with beta ${beta}`);
  if (o.accelerate !== undefined && typeof o.accelerate !== 'boolean') throw typeError('accelerate', 'a boolean', o.accelerate);
  if (o.accelerate && solver !== 'hals') throw rangeError('accelerate', "true only with solver 'hals' (the MU solvers have no accelerated form yet)", `true with solver '${solver}'`);
  if (solver === 'hals' && o.missing !== undefined) throw rangeError('missing', "undefined with solver 'hals' (it takes no entry weights)", `'${o.missing}'`);
  return {
    nComponents,
    beta,
    solver,
    batchSize,
    sagMemory: integer('sagMemory', o.sagMemory, 0, 0),
    maxIter: integer('maxIter', o.maxIter, 0, 50),
    tol: real('tol', o.tol, 0, 1e-4),
    costEvery: integer('costEvery', o.costEvery, 1, 10),
    shuffle: o.shuffle === undefined || o.shuffle === true ? 'batches' : o.shuffle === false ? 'none' : o.shuffle,
    seed: o.seed,
    init,
    fixed,
    fixedComponents,
    alphaW: real('alphaW', o.alphaW, 0, 0),
    alphaH: real('alphaH', o.alphaH, 0, 0),
    l1Ratio,
    missing: oneOf('missing', o.missing, ['nan'] as const, undefined),
    eps: real('eps', o.eps, 0, 1e-10),
    update: oneOf('update', o.update, ['mm', 'heuristic'] as const, 'mm')!,
    accelerate: o.accelerate ?? false,
    device: oneOf('device', o.device, ['auto', 'cpu', 'cuda'] as const, undefined),
    dtype: oneOf('dtype', o.dtype, ['float32', 'float64'] as const, undefined),
    cacheRows,
    maxNoImprovement: o.maxNoImprovement === undefined ? undefined : integer('maxNoImprovement', o.maxNoImprovement, 1, 10),
  };
}

const warned = new Set<string>();
/** The default onWarning: process.emitWarning, once per distinct message in a process. */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.emitWarning(message, { code: 'BETANMF_OPTION' });
}

/** Options that are legal but do nothing, or work badly, for this configuration (one message each). */
export function optionWarnings(o: ResolvedOptions, given: BetaNMFOptions): string[] {
  const out: string[] = [];
  const sag = o.solver === 'asag_mu' || o.solver === 'gsag_mu';
  if (given.sagMemory !== undefined && !sag) out.push(`sagMemory has no effect with solver '${o.solver}' (only asag_mu and gsag_mu average)`);
  if (given.batchSize !== undefined && o.solver === 'hals') out.push("batchSize has no effect with solver 'hals' (full batch, run in the backend's own blocks)");
  if (given.batchSize !== undefined && o.solver === 'mu_batch') {
    out.push("batchSize has no effect with solver 'mu_batch' (full-batch MU runs in the backend's own blocks; the result does not depend on it)");
  }
  if (given.cacheRows !== undefined && o.cacheRows > 0 && o.device === 'cpu') out.push('cacheRows has no effect on the CPU (all rows are resident)');
  if (given.l1Ratio !== undefined && o.alphaW === 0 && o.alphaH === 0) out.push('l1Ratio has no effect without alphaW or alphaH (the penalties it splits)');
  return out;
}

/**
 * Whether a fit averages the batches' targets (core/solver.h): the SAG solvers under 'mm' with a
 * memory. With sagMemory 0 every batch has weight 1, which is the plain solver's arithmetic.
 */
export function averagesTargets(o: Pick<ResolvedOptions, 'update' | 'sagMemory' | 'solver'>): boolean {
  return o.update === 'mm' && o.sagMemory > 0 && (o.solver === 'asag_mu' || o.solver === 'gsag_mu');
}

/**
 * Sweeps per factor per epoch of accelerated HALS (Gillis & Glineur 2012 repeat the sweep while
 * the products are at hand). Measured on speech 22902×513, K=40 (docs/performance.md): 2 and 3
 * sweeps reached scikit-learn cd's 100-iteration loss in the same time, 1.8× sooner than 1; 5 was
 * slower.
 */
export const HALS_ACCELERATED_SWEEPS = 2;

/** The `sweeps` of a fit's native spec: HALS_ACCELERATED_SWEEPS for accelerated HALS, else 1. */
export function halsSweeps(o: Pick<ResolvedOptions, 'solver' | 'accelerate'>): number {
  return o.solver === 'hals' && o.accelerate ? HALS_ACCELERATED_SWEEPS : 1;
}

/** Warnings that need the data's shape. */
export function shapeWarnings(o: ResolvedOptions, N: number, F: number): string[] {
  const out: string[] = [];
  if (o.solver !== 'mu_batch' && o.solver !== 'hals' && o.batchSize >= N) {
    out.push(`batchSize ${o.batchSize} ≥ N = ${N} rows: solver '${o.solver}' then sees one batch per epoch (use 'mu_batch', or a smaller batchSize)`);
  }
  if (o.nComponents > Math.min(N, F)) {
    out.push(`nComponents ${o.nComponents} > min(N, F) = ${Math.min(N, F)}: more components than the data has dimensions (the factorisation is not unique)`);
  }
  return out;
}
