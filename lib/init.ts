// Initial factors: scaled |normal| samples, or NNDSVD (Boutsidis & Gallopoulos 2008) from a
// truncated SVD, in the original's shapes (W F×K, H N×K, X ≈ H·Wᵀ).
import { rangeError } from './errors';
import { float64Copy, truncatedSvd } from './linalg';
import { allocate, copyAs, hostAs, Matrix, type DType } from './matrix';
import type { FloatArray } from './native';
import type { ResolvedOptions } from './options';
import type { Random } from './random';
import { turn, type Steps } from './steps';
import { checkMatrix, checkNonnegative } from './validate';

export type { InitMode } from './options';

/**
 * |N(0,1)|·sqrt(mean(X)/K), so that H·Wᵀ starts at the scale of X (as scikit-learn does), into
 * out[start, end) (filling it in pieces, in order, gives the same values as all at once).
 */
export function randomFactor(out: FloatArray, meanX: number, K: number, rng: Random, start = 0, end = out.length): void {
  const scale = Math.sqrt(meanX / K);
  for (let i = start; i < end; i++) out[i] = scale * Math.abs(rng.normal());
}

/** Entries of a random start per step: a normal sample costs ~50 ns here, so ~2 ms a step. */
const RANDOM_CHUNK = 1 << 15;

/** randomFactor in steps, the event loop running in between (async calls). */
export function* randomSteps(out: FloatArray, meanX: number, K: number, rng: Random): Steps<void> {
  for (let i = 0; i < out.length; i += RANDOM_CHUNK) {
    randomFactor(out, meanX, K, rng, i, Math.min(out.length, i + RANDOM_CHUNK));
    yield turn;
  }
}

/**
 * NNDSVD: each singular pair split into its positive and negative parts, keeping the larger.
 * Zeros never move under multiplicative updates, so they are filled: 'a' with mean(X), 'ar'
 * with uniform values in [0, mean(X)/100) (scikit-learn's nndsvda and nndsvdar). X is taken in
 * the factors' precision (`float32`: rounded to it first), in steps (see lib/linalg.ts).
 */
export function* nndsvd(X: FloatArray, N: number, F: number, K: number, W: FloatArray, H: FloatArray, fillZeros: 'a' | 'ar',
  rng: Random, float32: boolean): Steps<void> {
  const X64 = yield* float64Copy(X, float32);
  const { U, S, V } = yield* truncatedSvd(X64.data, N, F, K, rng);
  const col = (M: { data: Float64Array; rows: number; cols: number }, j: number) => {
    const c = new Float64Array(M.rows);
    for (let i = 0; i < M.rows; i++) c[i] = M.data[i * M.cols + j];
    return c;
  };
  const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  for (let j = 0; j < K; j++) {
    const u = col(U, j), v = col(V, j);
    let hu: Float64Array, wv: Float64Array, weight: number;
    if (j === 0) {
      // The leading pair can be taken nonnegative as a whole (Perron–Frobenius).
      hu = u.map(Math.abs);
      wv = v.map(Math.abs);
      weight = S[0];
    } else {
      const up = u.map((x) => Math.max(x, 0)), un = u.map((x) => Math.max(-x, 0));
      const vp = v.map((x) => Math.max(x, 0)), vn = v.map((x) => Math.max(-x, 0));
      const nup = norm(up), nun = norm(un), nvp = norm(vp), nvn = norm(vn);
      const mp = nup * nvp, mn = nun * nvn;
      if (mp > mn) {
        hu = nup > 0 ? up.map((x) => x / nup) : up;
        wv = nvp > 0 ? vp.map((x) => x / nvp) : vp;
        weight = S[j] * mp;
      } else {
        hu = nun > 0 ? un.map((x) => x / nun) : un;
        wv = nvn > 0 ? vn.map((x) => x / nvn) : vn;
        weight = S[j] * mn;
      }
    }
    const lambda = Math.sqrt(weight);
    for (let i = 0; i < N; i++) H[i * K + j] = lambda * hu[i];
    for (let i = 0; i < F; i++) W[i * K + j] = lambda * wv[i];
    yield turn;
  }
  const m = X64.sum / X64.data.length;
  for (const M of [W, H]) {
    for (let i0 = 0; i0 < M.length; i0 += RANDOM_CHUNK) {
      for (let i = i0; i < Math.min(M.length, i0 + RANDOM_CHUNK); i++) if (M[i] < 1e-6) M[i] = fillZeros === 'a' ? m : (m / 100) * rng.uniform();
      yield turn;
    }
  }
}

/** How a given factor's columns are used: which stay fixed, and where a warning goes. */
export interface FactorUse {
  fixed(k: number): boolean;
  warn(message: string): void;
}

/**
 * A given starting factor must let every component learn: a multiplicative update never moves
 * a zero, so an all-zero factor, or an all-zero column of a factor the fit learns (component k
 * would stay 0 and contribute nothing), is a RangeError. A fixed all-zero column is legitimate
 * (a component switched off) and only warned about.
 */
export function checkStartingFactor(which: string, m: Matrix, use: FactorUse = { fixed: () => false, warn: () => {} }): void {
  const zero = new Array<boolean>(m.cols).fill(true);
  const data = hostAs(m, m.dtype).data;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) zero[i % m.cols] = false;
  if (zero.every(Boolean)) {
    throw rangeError(which, 'some positive entries (a multiplicative update never moves a zero)', 'all zeros');
  }
  const learned = zero.flatMap((z, k) => (z && !use.fixed(k) ? [k] : []));
  if (learned.length > 0) {
    throw rangeError(which, `no all-zero column where the fit learns it (a multiplicative update never moves a zero: component ${learned[0]} would stay 0)`,
      `column${learned.length > 1 ? 's' : ''} ${learned.join(', ')} all zero`);
  }
  const fixed = zero.flatMap((z, k) => (z ? [k] : []));
  if (fixed.length > 0) use.warn(`BetaNMF: the fixed ${which} has all-zero column${fixed.length > 1 ? 's' : ''} ${fixed.join(', ')}: those components contribute nothing`);
}

/**
 * A factor given in the options (`given`: checked, converted to `dtype` — the fit's, whatever
 * the given one's, as X and the weights are — and copied) or a new one to initialise.
 */
export function initialFactor(which: 'W' | 'H', given: Matrix | undefined, rows: number, K: number, dtype: DType, use?: FactorUse): { m: Matrix; given: boolean } {
  if (given) {
    const what = which === 'W' ? 'F×K' : 'N×K';
    if (given.rows !== rows || given.cols !== K) throw rangeError(which, `${rows}×${K} (${what})`, `${given.rows}×${given.cols}`);
    const m = copyAs(given, dtype);
    checkNonnegative(which, m);
    checkStartingFactor(which, m, use);
    return { m, given: true };
  }
  return { m: new Matrix(allocate(dtype, rows * K), rows, K), given: false };
}

/** How options use a given W or H: fixed: [which] fixes all of it, fixedComponents W's columns. */
export function factorUse(o: Pick<ResolvedOptions, 'fixed' | 'fixedComponents'>, which: 'W' | 'H', warn: (message: string) => void): FactorUse {
  const all = o.fixed.includes(which);
  return { fixed: (k) => all || (which === 'W' && o.fixedComponents.includes(k)), warn };
}

/** fixedComponents with an init other than 'custom': the given W's fixed columns over the initialised ones. */
export function placeFixedComponents(W: Matrix, given: Matrix | undefined, fixed: readonly number[], warn?: (message: string) => void): void {
  if (fixed.length === 0 || !given) return;
  if (given.rows !== W.rows || given.cols !== W.cols) throw rangeError('W', `${W.rows}×${W.cols} (F×K)`, `${given.rows}×${given.cols}`);
  const g = copyAs(given, W.dtype);
  checkNonnegative('W', g);
  for (let f = 0; f < W.rows; f++) for (const k of fixed) W.data[f * W.cols + k] = g.data[f * W.cols + k];
  const zero = fixed.filter((k) => W.data.every((v, i) => i % W.cols !== k || v === 0));
  if (warn && zero.length > 0) warn(`BetaNMF: the fixed W has all-zero column${zero.length > 1 ? 's' : ''} ${zero.join(', ')}: those components contribute nothing`);
}

/** Initialises W and/or H (those given) from X by options.init, drawing from rng. */
export function* initialSteps(o: Pick<ResolvedOptions, 'init' | 'nComponents'>, rng: Random, data: { X: Matrix; mean: number },
  W: Matrix | undefined, H: Matrix | undefined): Steps<void> {
  const K = o.nComponents;
  const X = data.X;
  if (o.init === 'nndsvd' || o.init === 'nndsvda' || o.init === 'nndsvdar') {
    if (K > Math.min(X.rows, X.cols)) {
      throw rangeError('nComponents', `at most min(N, F) = ${Math.min(X.rows, X.cols)} with init '${o.init}'`, `${K}`);
    }
    const dtype = (W ?? H)!.dtype;
    const w = W?.data ?? allocate(dtype, X.cols * K), h = H?.data ?? allocate(dtype, X.rows * K);
    yield* nndsvd(hostAs(X, X.dtype).data, X.rows, X.cols, K, w, h, o.init === 'nndsvda' ? 'a' : 'ar', rng, dtype === 'float32');
    return;
  }
  if (W) yield* randomSteps(W.data, data.mean, K, rng);
  if (H) yield* randomSteps(H.data, data.mean, K, rng);
}

/** The W or H given in the options, where a fit starts from it (init 'custom', or fixed). */
export function givenFactor(o: Pick<ResolvedOptions, 'init' | 'fixed'>, given: { W?: Matrix; H?: Matrix }, which: 'W' | 'H'): Matrix | undefined {
  return o.init === 'custom' || o.fixed.includes(which) ? given[which] : undefined;
}

/**
 * A fit's starting W (F×K) and H (N×K) in `dtype`: the given ones (givenFactor), or initialised
 * from the data by options.init; a given factor the fit leaves unused is warned about.
 */
export function* startingFactors(o: Pick<ResolvedOptions, 'init' | 'fixed' | 'fixedComponents' | 'nComponents'>, given: { W?: Matrix; H?: Matrix },
  rng: Random, data: { X: Matrix; mean: number }, dtype: DType, warn: (message: string) => void): Steps<{ W: Matrix; H: Matrix }> {
  const [N, F, K] = [data.X.rows, data.X.cols, o.nComponents];
  const W0 = initialFactor('W', givenFactor(o, given, 'W'), F, K, dtype, factorUse(o, 'W', warn));
  const H0 = initialFactor('H', givenFactor(o, given, 'H'), N, K, dtype, factorUse(o, 'H', warn));
  for (const [which, f] of [['W', W0], ['H', H0]] as const) {
    const used = f.given || (which === 'W' && o.fixedComponents.length > 0);
    if (given[which] && !used) {
      warn(`BetaNMF: the given ${which} is not used by fit with init '${o.init}' (give init: 'custom', fixed: ['${which}']` +
        `${which === 'W' ? ' or fixedComponents' : ''} to start from it)`);
    }
  }
  if (!W0.given || !H0.given) yield* initialSteps(o, rng, data, W0.given ? undefined : W0.m, H0.given ? undefined : H0.m);
  if (!W0.given) placeFixedComponents(W0.m, given.W, o.fixedComponents, warn);
  return { W: W0.m, H: H0.m };
}

/**
 * A transform's starting H (N×K, in `dtype`): a copy of the given options.H, or the constant
 * √(mean(X)/K) as scikit-learn's transform: no zeros for MU to keep, the scale of the data, and
 * the same H whatever the seed or how W was initialised.
 */
export function transformStart(given: Matrix | undefined, N: number, K: number, dtype: DType, mean: number): Matrix {
  if (given === undefined) return new Matrix(allocate(dtype, N * K).fill(Math.sqrt(mean / K)), N, K);
  checkMatrix('options.H', given);
  if (given.rows !== N || given.cols !== K) throw rangeError('options.H', `${N}×${K} (N×K)`, `${given.rows}×${given.cols}`);
  const H = copyAs(given, dtype);
  checkNonnegative('options.H', H);
  checkStartingFactor('options.H', H);
  return H;
}
