// Initial factors: scaled |normal| samples, or NNDSVD (Boutsidis & Gallopoulos 2008) from a
// truncated SVD, in the seed's shapes (W F×K, H N×K, X ≈ H·Wᵀ).
import { turn, type Steps } from './fit';
import { float64Copy, truncatedSvd } from './linalg';
import type { FloatArray } from './native';
import type { Random } from './random';

export type InitMode = 'random' | 'nndsvd' | 'nndsvda' | 'nndsvdar' | 'custom';

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
