// The original's update kernels (X N×F, W F×K, H N×K, V = H·Wᵀ), each in a sync form and an
// Async form that runs on a worker thread. Every kernel returns new matrices unless
// `options.out` names where to write (which may be one of the inputs: in-place updates).
import { types } from 'node:util';
import { addon, type DeviceHandle } from './native';
import { rangeError, typeError } from './errors';
import { Matrix } from './matrix';
import { runAsync as driveAsync, runSync as driveSync, type Step, type Steps } from './steps';
import {
  checkBeta, checkDisjointOutputs, checkDType, checkEps, checkFactors, checkMatrix, checkOptions,
  checkSameDevice, checkShape, checkWeights, isMatrixValue, outputGroup, outputMatrix, sharesMemory,
} from './validate';

/** The two parts of a gradient for multiplicative updates: gradient = neg − pos. */
export interface Parts {
  pos: Matrix;
  neg: Matrix;
}

export interface OutOption<T> {
  /** Where to write the result instead of new matrices (may alias an input). */
  out?: T;
}

export interface WeightsOption {
  /**
   * Entry weights (N×F, X's dtype and device, finite and ≥ 0; 0 = missing): the objective
   * becomes Σ m·d(x | v) and the parts (m⊙V^(β−1))·W, (m⊙V^(β−2)⊙X)·W (ᵀ·H for W).
   */
  weights?: Matrix;
}

/** The options of the kernels that take X: `{ weights, out }`. */
export type KernelOptions<T> = OutOption<T> & WeightsOption;

/** A validated call: one native step (`run`), and `result`, what the kernel returns from its value. */
interface Prepared<R> extends Step {
  result(nativeValue: unknown): R;
}

/** A kernel call as steps for the driver (steps.ts): prepare (validate), the native call, the result. */
function* kernelSteps<R>(prepare: () => Prepared<R>): Steps<R> {
  const p = prepare();
  return p.result(yield p);
}

function runSync<R>(p: Prepared<R>): R {
  return driveSync(kernelSteps(() => p), undefined, 'kernel');
}

// An async call works on copies of its arrays; the native side keeps the copies' memory for
// the next calls and gives it back once no call has been in flight for IDLE_MS.
const IDLE_MS = 1000;
let inFlight = 0;
let idleTimer: NodeJS.Timeout | undefined;

async function runAsync<R>(prepare: () => Prepared<R>): Promise<R> {
  inFlight++;
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  try {
    // Validation errors become rejections; the native call starts now, reading its inputs as
    // they are at the call.
    return await driveAsync(kernelSteps(prepare), undefined, 'kernel', 'now');
  } finally {
    if (--inFlight === 0) {
      idleTimer = setTimeout(() => {
        idleTimer = undefined;
        addon.trimCopies();
      }, IDLE_MS);
      idleTimer.unref();
    }
  }
}

// ---- gradient parts ------------------------------------------------------------------------

type Factor = 'H' | 'W';

function prepareParts(factor: Factor, X: unknown, W: unknown, H: unknown, beta: unknown, options: unknown,
  difference: true): Prepared<Matrix>;
function prepareParts(factor: Factor, X: unknown, W: unknown, H: unknown, beta: unknown, options: unknown,
  difference: false): Prepared<Parts>;
function prepareParts(factor: Factor, X: unknown, W: unknown, H: unknown, beta: unknown, options: unknown,
  difference: boolean): Prepared<Matrix | Parts> {
  const f = checkFactors(X, W, H);
  const b = checkBeta(beta);
  const opts = checkOptions(options);
  const rows = factor === 'H' ? f.N : f.F;
  const why = factor === 'H' ? 'N×K, the shape of H' : 'F×K, the shape of W';
  const fn = factor === 'H' ? addon.hParts : addon.wParts;
  const args = [f.X.native, f.W.native, f.H.native, f.N, f.F, f.K, b] as const;
  const weights = checkWeights('options.weights', opts.weights, f.N, f.F, f.dtype, f.device, false)?.native ?? null;
  if (difference) {
    const out = outputMatrix('options.out', opts.out, rows, f.K, f.dtype, why, f.device);
    return { run: (async) => fn(async, ...args, null, null, out.native, weights), result: () => out };
  }
  const group = outputGroup(opts.out, ['pos', 'neg']);
  const pos = outputMatrix('options.out.pos', group.pos, rows, f.K, f.dtype, why, f.device);
  const neg = outputMatrix('options.out.neg', group.neg, rows, f.K, f.dtype, why, f.device);
  checkDisjointOutputs({ 'options.out.pos': pos, 'options.out.neg': neg });
  return { run: (async) => fn(async, ...args, pos.native, neg.native, null, weights), result: () => ({ pos, neg }) };
}

/** The original's gradient_h: neg − pos for H (N×K), i.e. minus the gradient of D(X | H·Wᵀ). */
export function gradientH(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: KernelOptions<Matrix>): Matrix {
  return runSync(prepareParts('H', X, W, H, beta, options, true));
}
export function gradientHAsync(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: KernelOptions<Matrix>): Promise<Matrix> {
  return runAsync(() => prepareParts('H', X, W, H, beta, options, true));
}

/** The original's gradient_h_mu: { pos: V^(β−1)·W, neg: (V^(β−2)⊙X)·W }, both N×K. */
export function gradientHMu(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: KernelOptions<Partial<Parts>>): Parts {
  return runSync(prepareParts('H', X, W, H, beta, options, false));
}
export function gradientHMuAsync(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: KernelOptions<Partial<Parts>>): Promise<Parts> {
  return runAsync(() => prepareParts('H', X, W, H, beta, options, false));
}

/** The original's gradient_w: neg − pos for W (F×K). */
export function gradientW(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: KernelOptions<Matrix>): Matrix {
  return runSync(prepareParts('W', X, W, H, beta, options, true));
}
export function gradientWAsync(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: KernelOptions<Matrix>): Promise<Matrix> {
  return runAsync(() => prepareParts('W', X, W, H, beta, options, true));
}

/** The original's gradient_w_mu: { pos: (V^(β−1))ᵀ·H, neg: (V^(β−2)⊙X)ᵀ·H }, both F×K. */
export function gradientWMu(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: KernelOptions<Partial<Parts>>): Parts {
  return runSync(prepareParts('W', X, W, H, beta, options, false));
}
export function gradientWMuAsync(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: KernelOptions<Partial<Parts>>): Promise<Parts> {
  return runAsync(() => prepareParts('W', X, W, H, beta, options, false));
}

// ---- multiplicative updates ----------------------------------------------------------------

/** Result of muUpdateH: the updated H and the parts it was computed from. */
export interface MuUpdateHResult extends Parts {
  H: Matrix;
}

function splitEps<T>(eps: unknown, options: unknown): [number, T | undefined] {
  // muUpdate(…, { out }) without eps is accepted: eps then keeps its default of 0.
  if (typeof eps === 'object' && eps !== null && options === undefined) return [0, eps as T];
  return [eps === undefined ? 0 : checkEps(eps), options as T | undefined];
}

function prepareMuUpdateH(X: unknown, W: unknown, H: unknown, beta: unknown, epsArg: unknown,
  optionsArg: unknown): Prepared<MuUpdateHResult> {
  const f = checkFactors(X, W, H);
  const b = checkBeta(beta);
  const [eps, options] = splitEps<unknown>(epsArg, optionsArg);
  const opts = checkOptions(options);
  const weights = checkWeights('options.weights', opts.weights, f.N, f.F, f.dtype, f.device, false)?.native ?? null;
  const group = outputGroup(opts.out, ['H', 'pos', 'neg']);
  const why = 'N×K, the shape of H';
  const hOut = outputMatrix('options.out.H', group.H, f.N, f.K, f.dtype, why, f.device);
  const pos = outputMatrix('options.out.pos', group.pos, f.N, f.K, f.dtype, why, f.device);
  const neg = outputMatrix('options.out.neg', group.neg, f.N, f.K, f.dtype, why, f.device);
  checkDisjointOutputs({ 'options.out.H': hOut, 'options.out.pos': pos, 'options.out.neg': neg });
  return {
    run: (async) => addon.muUpdateH(async, f.X.native, f.W.native, f.H.native, f.N, f.F, f.K, b, eps, hOut.native, pos.native, neg.native, weights),
    result: () => ({ H: hOut, pos, neg }),
  };
}

/**
 * The original's mu_update_h: computes the H parts and returns H ⊙ neg / (pos + eps) with them.
 * `eps` defaults to 0 as in the original. Pass `{ out: { H } }` to update H in place.
 */
export function muUpdateH(X: Matrix, W: Matrix, H: Matrix, beta: number, eps?: number | KernelOptions<Partial<MuUpdateHResult>>,
  options?: KernelOptions<Partial<MuUpdateHResult>>): MuUpdateHResult {
  return runSync(prepareMuUpdateH(X, W, H, beta, eps, options));
}
export function muUpdateHAsync(X: Matrix, W: Matrix, H: Matrix, beta: number, eps?: number | KernelOptions<Partial<MuUpdateHResult>>,
  options?: KernelOptions<Partial<MuUpdateHResult>>): Promise<MuUpdateHResult> {
  return runAsync(() => prepareMuUpdateH(X, W, H, beta, eps, options));
}

function sameAs(name: string, value: unknown, ref: Matrix, refName: string): Matrix {
  const m = checkMatrix(name, value);
  checkDType(name, m, ref.dtype, refName);
  checkShape(name, m, ref.rows, ref.cols, `the shape of ${refName}`);
  checkSameDevice(name, m, ref, refName);
  return m;
}

function prepareMuUpdate(factor: unknown, pos: unknown, neg: unknown, epsArg: unknown, optionsArg: unknown): Prepared<Matrix> {
  const f = checkMatrix('factor', factor);
  const p = sameAs('pos', pos, f, 'factor');
  const n = sameAs('neg', neg, f, 'factor');
  const [eps, options] = splitEps<unknown>(epsArg, optionsArg);
  const out = outputMatrix('options.out', checkOptions(options).out, f.rows, f.cols, f.dtype, 'the shape of factor', f.device);
  return { run: (async) => addon.muUpdate(async, f.native, p.native, n.native, eps, out.native), result: () => out };
}

/** The original's mu_update: factor ⊙ neg / (pos + eps), elementwise (eps defaults to 0). */
export function muUpdate(factor: Matrix, pos: Matrix, neg: Matrix, eps?: number | OutOption<Matrix>, options?: OutOption<Matrix>): Matrix {
  return runSync(prepareMuUpdate(factor, pos, neg, eps, options));
}
export function muUpdateAsync(factor: Matrix, pos: Matrix, neg: Matrix, eps?: number | OutOption<Matrix>,
  options?: OutOption<Matrix>): Promise<Matrix> {
  return runAsync(() => prepareMuUpdate(factor, pos, neg, eps, options));
}

// ---- the running SAG sum -------------------------------------------------------------------

type Grad = Matrix | Parts;

function isParts(v: unknown): v is Parts {
  return typeof v === 'object' && v !== null && !types.isProxy(v) && !(v instanceof Matrix) && 'pos' in v && 'neg' in v;
}

function prepareUpdateGradW(grad: unknown, gradOld: unknown, gradNew: unknown, options: unknown): Prepared<Grad> {
  const opts = checkOptions(options);
  if (isParts(grad)) {
    // Pairs: the same sum on pos and on neg.
    const pick = (name: string, v: unknown): Parts => {
      if (!isParts(v)) throw typeError(name, 'a { pos, neg } pair like grad', v);
      return v;
    };
    const old = pick('gradOld', gradOld), nw = pick('gradNew', gradNew);
    const out = outputGroup(opts.out, ['pos', 'neg']);
    // The two halves run one after the other (or concurrently): an out.pos sharing memory with
    // an input of the neg half (or the reverse) would change that input before it is read.
    // Such an output is computed into a new matrix and copied over once both halves are done.
    const negInputs = [grad.neg, old.neg, nw.neg], posInputs = [grad.pos, old.pos, nw.pos];
    const aside = (o: unknown, others: unknown[]): Matrix | undefined =>
      isMatrixValue(o) && !o.disposed && others.some((m) => isMatrixValue(m) && !m.disposed && sharesMemory(o, m)) ? o : undefined;
    const posTarget = aside(out.pos, negInputs), negTarget = aside(out.neg, posInputs);
    if (posTarget && isMatrixValue(out.neg) && !out.neg.disposed && sharesMemory(posTarget, out.neg)) {
      throw rangeError('options.out.neg', 'memory separate from options.out.pos', 'an overlapping matrix');
    }
    const pos = prepareUpdateGradW(grad.pos, old.pos, nw.pos, { out: posTarget ? undefined : out.pos }) as Prepared<Matrix>;
    const neg = prepareUpdateGradW(grad.neg, old.neg, nw.neg, { out: negTarget ? undefined : out.neg }) as Prepared<Matrix>;
    const finish = (m: Matrix, target: Matrix | undefined): Matrix => {
      if (!target) return m;
      checkMatrix('options.out', target); // still usable (not disposed meanwhile)
      if (target.device === 'cpu') target.data.set(m.data);
      else addon.deviceUpload(false, target.native as DeviceHandle, m.toTypedArray());
      m.dispose();
      return target;
    };
    return {
      run: (async) => (async ? Promise.all([pos.run(true), neg.run(true)]) : (pos.run(false), neg.run(false))),
      result: () => {
        const p = pos.result(undefined), n = neg.result(undefined); // both halves are complete
        return { pos: finish(p, posTarget), neg: finish(n, negTarget) };
      },
    };
  }
  const g = checkMatrix('grad', grad);
  const o = sameAs('gradOld', gradOld, g, 'grad');
  const n = sameAs('gradNew', gradNew, g, 'grad');
  const out = outputMatrix('options.out', opts.out, g.rows, g.cols, g.dtype, 'the shape of grad', g.device);
  return { run: (async) => addon.updateGrad(async, g.native, o.native, n.native, 0, out.native), result: () => out };
}

/** The original's update_grad_w: grad − gradOld + gradNew, on matrices or on { pos, neg } pairs. */
export function updateGradW<G extends Grad>(grad: G, gradOld: G, gradNew: G, options?: OutOption<Partial<G>>): G {
  return runSync(prepareUpdateGradW(grad, gradOld, gradNew, options)) as G;
}
export function updateGradWAsync<G extends Grad>(grad: G, gradOld: G, gradNew: G, options?: OutOption<Partial<G>>): Promise<G> {
  return runAsync(() => prepareUpdateGradW(grad, gradOld, gradNew, options)) as Promise<G>;
}

// ---- cost ----------------------------------------------------------------------------------

function prepareBetaDivergence(X: unknown, W: unknown, H: unknown, beta: unknown, options: unknown): Prepared<number> {
  const f = checkFactors(X, W, H);
  const b = checkBeta(beta);
  const weights = checkWeights('options.weights', checkOptions(options).weights, f.N, f.F, f.dtype, f.device, false)?.native ?? null;
  return {
    run: (async) => addon.betaDivergence(async, f.X.native, f.W.native, f.H.native, f.N, f.F, f.K, b, 0, weights),
    result: (value) => value as number,
  };
}

/**
 * D(X | H·Wᵀ) summed over all entries (accumulated in double): β=2 ½(x−v)², β=1 x·log(x/v) − x + v,
 * β=0 x/v − log(x/v) − 1, otherwise (x^β + (β−1)v^β − β·x·v^(β−1)) / (β(β−1)).
 * Zeros in X count as their limit (0·log 0 = 0); with β ≤ 0 a zero in X gives Infinity.
 */
export function betaDivergence(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: WeightsOption): number {
  return runSync(prepareBetaDivergence(X, W, H, beta, options));
}
export function betaDivergenceAsync(X: Matrix, W: Matrix, H: Matrix, beta: number, options?: WeightsOption): Promise<number> {
  return runAsync(() => prepareBetaDivergence(X, W, H, beta, options));
}

