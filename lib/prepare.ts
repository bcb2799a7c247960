// Data preparation for a fit, transform or partialFit, in one place: X and its entry weights are
// checked, converted once to the fit's dtype and device, missing entries marked, the memory
// checked and the data scanned (mean, zeros); the result is one prepared input around the
// native fit that owns X's working copy.
import { rangeError } from './errors';
import { mmExponent, NativeFitHandle, type HostRows } from './fit';
import { allocate, copyAs, hostAs, Matrix, type DType } from './matrix';
import { checkMemory } from './memory';
import { averagesTargets, halsSweeps, V_FLOOR, type ResolvedOptions, type Solver } from './options';
import { SETUP_CHUNK, turn, type Steps } from './steps';
import { checkMatrix, checkNonnegative, checkWeights, entryError } from './validate';

/** What a call asks of the data: a named spec (no positional flags). */
export interface FitInput {
  /** The data, N×F, as the caller gave it (any dtype or device). */
  X: Matrix;
  /** Entry weights for X (N×F, any dtype or device), as the caller gave them. */
  weights?: Matrix;
  device: 'cpu' | 'cuda';
  /**
   * 'all': the native fit owns X's working copy and H. 'host' (cacheRows): X and H stay on the
   * host and travel to the device in caches of rows; the fit owns W and the gradient state.
   */
  rows: 'all' | 'host';
  solver: Solver;
  /** The factors the solver updates. */
  update: { W: boolean; H: boolean };
  /** The fit's dtype when options.dtype is not set (default: X's). */
  dtype?: DType;
  /** Components (default options.nComponents; a transform's W may say otherwise). */
  K?: number;
  /** An async call: a host X is copied in steps, the event loop running in between. */
  async: boolean;
  /** X is one chunk of a stream (partialFit): its W steps are partial ones (core/solver.h). */
  partialData?: boolean;
}

/** The prepared data: the native fit holding it, and what the caller needs to know about it. */
export interface PreparedFit {
  fit: NativeFitHandle;
  /** X as the fit reads it (for rows 'host': on the host in the fit's dtype). */
  X: Matrix;
  /** rows 'host' only: X, the weights (host, fit's dtype) — H is the caller's. */
  host?: Omit<HostRows, 'H'>;
  /** mean(X), weighted where weights are given: the scale of a random start. */
  mean: number;
  dispose(): void;
}

/**
 * missing: 'nan': X's NaN entries become missing ones — 0 in a copy of X (in the fit's dtype) and
 * weight 0 in a copy of the weights (ones where none were given). X without NaN is returned as is.
 */
function markMissing(X: Matrix, weights: Matrix | undefined, dtype: DType): { X: Matrix; weights: Matrix | undefined } {
  const Xh = hostAs(X, dtype);
  let i = Xh.data.findIndex((v) => Number.isNaN(v));
  if (i < 0) return { X, weights };
  const Xc = Xh === X ? copyAs(X, dtype) : Xh;
  const weightsCopy = weights ? copyAs(weights, dtype) : new Matrix(allocate(dtype, X.rows * X.cols).fill(1), X.rows, X.cols);
  for (const x = Xc.data, m = weightsCopy.data; i < x.length; i++) {
    if (Number.isNaN(x[i])) x[i] = m[i] = 0;
  }
  return { X: Xc, weights: weightsCopy };
}

/**
 * Σ m·x / Σ m, in steps: with weights, the scale of a random start (and of transform's constant
 * one) comes from the entries that count — missing ones may hold anything, NaN's 0 included.
 */
function* weightedMean(X: Matrix, weights: Matrix): Steps<number> {
  let sx = 0, sm = 0;
  for (let i0 = 0; i0 < X.data.length; i0 += SETUP_CHUNK) {
    for (let i = i0, end = Math.min(X.data.length, i0 + SETUP_CHUNK); i < end; i++) {
      sx += weights.data[i] * X.data[i];
      sm += weights.data[i];
    }
    yield turn;
  }
  return sm > 0 ? sx / sm : 0;
}

/**
 * m where the native fit reads it: as it is on the host (the fit converts as it copies) or on the
 * fit's device in the fit's dtype; otherwise a host copy in `hostDType`.
 */
function readable(m: Matrix, device: 'cpu' | 'cuda', dtype: DType, hostDType = dtype): Matrix {
  return m.device === 'cpu' || (m.device === device && m.dtype === dtype) ? m : hostAs(m, hostDType);
}

/**
 * The largest penalty weight αW·N (αH·F) a fit takes: √(largest finite number of the dtype). The
 * steps form αW·N·w for entries w of W and the cost αW·N·‖W‖², which stay finite for entries up to
 * the same bound; beyond it a penalty overflows the arithmetic instead of shrinking the factors
 * (already at αW·N = 1e19, float32, the data term is lost in the penalty's rounding: W is 0).
 */
export function penaltyBound(dtype: DType): number {
  return Math.sqrt(dtype === 'float32' ? 3.4028234663852886e38 : Number.MAX_VALUE);
}

function checkPenalties(o: Pick<ResolvedOptions, 'alphaW' | 'alphaH'>, N: number, F: number, dtype: DType): void {
  const bound = penaltyBound(dtype);
  for (const [name, alpha, rows, what] of [['alphaW', o.alphaW, N, 'N'], ['alphaH', o.alphaH, F, 'F']] as const) {
    if (alpha * rows > bound) {
      throw rangeError(name, `at most ${(bound / rows).toPrecision(3)} for this X (${name}·${what} ≤ ${bound.toPrecision(3)} = √(largest ${dtype}), ` +
        'so that the penalty and its gradient stay finite)', `${alpha}`);
    }
  }
}

/**
 * Checks X and opens the native fit that owns its working copy. A host X is copied there in
 * the fit's dtype and checked in the same native pass — by an async call in chunks, with the
 * event loop running in between (a synchronous call reads X in place instead when it can: no
 * JS runs while it computes, and the fit checks before every call that X's memory is
 * unchanged). A device X is checked on the device and used where it is. With rows 'host',
 * X stays on the host (checked there) and the fit owns W and the gradient state only.
 */
export function* prepareFit(o: ResolvedOptions, input: FitInput): Steps<PreparedFit> {
  const { device, rows, solver, update, async } = input;
  const K = input.K ?? o.nComponents;
  checkMatrix('X', input.X);
  if (input.X.rows < 1 || input.X.cols < 1) throw rangeError('X', 'at least 1 row and 1 column', `${input.X.rows}×${input.X.cols}`);
  const dtype = o.dtype ?? input.dtype ?? input.X.dtype;
  const [N, F] = [input.X.rows, input.X.cols];
  checkPenalties(o, N, F, dtype);
  // The native fit checks the weights' values as it copies them; a cache of rows takes them unchecked.
  if (solver === 'hals' && input.weights !== undefined) throw rangeError('options.weights', "undefined with solver 'hals' (it takes no entry weights)", 'weights');
  let X = input.X, weights = checkWeights('options.weights', input.weights, N, F, undefined, undefined, rows === 'host');
  if (o.missing === 'nan') ({ X, weights } = markMissing(X, weights, dtype));
  checkMemory({ N, F, K, dtype, batchSize: o.batchSize, beta: o.beta, copiesX: device === 'cpu', weighted: weights !== undefined });
  // With weights, an entry of weight 0 is missing: β ≤ 0 needs X positive only where weighted.
  const positive = o.beta <= 0;
  const spec = {
    N: rows === 'host' ? 0 : N, F, K, dtype, beta: o.beta, solver, batchSize: o.batchSize, eps: o.eps,
    gamma: o.update === 'mm' ? mmExponent(o.beta) : 1, forget: 1, vFloor: o.beta < 2 ? V_FLOOR : 0, updateH: update.H, updateW: update.W,
    shuffle: o.shuffle, positive: positive && !weights, averageTargets: averagesTargets(o), update: o.update, partialData: input.partialData ?? false,
    sweeps: halsSweeps(o),
    alphaW: o.alphaW, alphaH: o.alphaH, l1Ratio: o.l1Ratio, fixedComponents: update.W && K === o.nComponents ? o.fixedComponents : [],
  };
  // X without a positive entry: say so, or that nothing is observed at all (all NaN with
  // missing 'nan', or every weight 0) — checked on this error path only.
  const noData = () => {
    const observed = !weights || hostAs(weights, weights.dtype).data.some((w) => w > 0);
    return observed ? rangeError('X', 'some positive entries', 'all zeros')
      : rangeError('X', 'some observed entries', o.missing === 'nan' ? 'only NaN (missing) entries' : 'only entries of weight 0');
  };
  // Zeros of X where the weight is positive (β ≤ 0 with weights).
  const checkWeightedZeros = (Xh: Matrix, weightsHost: Matrix) => {
    if (!positive) return;
    for (let i = 0; i < Xh.data.length; i++) if (Xh.data[i] === 0 && weightsHost.data[i] > 0) throw entryError('X', 0, Math.floor(i / F), i % F, o.beta);
  };
  const weightedMeanOf = function* (Xh: Matrix, weightsHost: Matrix): Steps<number> {
    checkWeightedZeros(Xh, weightsHost);
    const mean = yield* weightedMean(Xh, weightsHost);
    if (!(mean > 0)) {
      if (!weightsHost.data.some((w) => w > 0)) throw noData();
      throw rangeError('X', 'some positive entries where the weights are positive', 'none');
    }
    return mean;
  };
  if (rows === 'host') {
    // X stays on the host: checked there, in steps (async) as a copy would be.
    const Xh = hostAs(X, dtype);
    let sum = 0;
    for (let i0 = 0; i0 < N * F; i0 += SETUP_CHUNK) {
      if (Xh.data.length !== N * F) throw new Error('X: its memory was detached or transferred during the fit');
      const end = Math.min(N * F, i0 + SETUP_CHUNK);
      checkNonnegative('X', Xh, weights ? undefined : o.beta, i0, end);
      for (let i = i0; i < end; i++) sum += Xh.data[i];
      yield turn;
    }
    if (!(sum > 0)) throw noData();
    const weightsHost = weights ? hostAs(weights, dtype) : undefined;
    const mean = weightsHost ? yield* weightedMeanOf(Xh, weightsHost) : sum / (N * F);
    const empty = new Matrix(allocate(dtype, 0), 0, F).to(device);
    const fit = new NativeFitHandle({ ...spec, X: empty.native }, device);
    empty.dispose();
    return { fit, X: Xh, host: { X: Xh, weights: weightsHost }, mean, dispose: () => fit.dispose() };
  }
  // A device X of another dtype, or for a CPU fit, comes to the host first (a device X of the
  // fit's dtype on its device is read where it is); the weights likewise, in their own dtype.
  X = readable(X, device, dtype);
  const loadX = async && X.device === 'cpu';
  const weightsForFit = weights && readable(weights, device, dtype, weights.dtype);
  const fit = new NativeFitHandle({ ...spec, X: X.native, borrowX: !async, loadX, ...(weightsForFit ? { weights: weightsForFit.native } : {}) }, device);
  let mean: number;
  try {
    if (loadX) yield* fit.load();
    const scan = fit.native.dataScan();
    if (scan.allZero) throw noData();
    if (scan.index !== undefined) {
      const i = scan.index, v = X.device === 'cpu' && i < X.data.length ? X.data[i] : scan.value!;
      throw entryError('X', v, Math.floor(i / F), i % F, positive ? o.beta : undefined);
    }
    mean = weights ? yield* weightedMeanOf(hostAs(X, dtype), hostAs(weights, weights.dtype)) : scan.sum / (N * F);
  } catch (err) {
    fit.dispose();
    throw err;
  }
  return { fit, X, mean, dispose: () => fit.dispose() };
}
