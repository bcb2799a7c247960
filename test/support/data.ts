// Reproducible random test data and comparisons.
import { matrix, type DType, type Matrix } from '../../lib';
import type { Dense } from './reference';

/** mulberry32: a small seeded generator, so every run tests the same numbers. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** rows×cols uniform in [lo, hi), with a fraction `zeros` of exact zeros; rounded to float32 when asked. */
export function randomDense(rand: () => number, rows: number, cols: number, dtype: DType, lo = 0.1, hi = 1.1, zeros = 0): Dense {
  const round = dtype === 'float32' ? Math.fround : (x: number) => x;
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () => (rand() < zeros ? 0 : round(lo + (hi - lo) * rand()))),
  );
}

export function toMatrix(d: Dense, cols: number, dtype: DType): Matrix {
  const data = dtype === 'float32' ? new Float32Array(d.length * cols) : new Float64Array(d.length * cols);
  d.forEach((r, i) => data.set(r, i * cols));
  return matrix(data, d.length, cols);
}

/** max |a − b| / scale, with scale the largest |entry| of the references given. */
export function relError(actual: Matrix, expected: Dense, ...scaleFrom: Dense[]): number {
  const got = actual.toArray();
  let err = 0;
  let scale = 0;
  for (const M of [expected, ...scaleFrom]) for (const r of M) for (const v of r) scale = Math.max(scale, Math.abs(v));
  expected.forEach((r, i) => r.forEach((v, j) => (err = Math.max(err, Math.abs(got[i][j] - v)))));
  return scale === 0 ? err : err / scale;
}

export const TOL = { float64: 1e-9, float32: 5e-4 } as const;
