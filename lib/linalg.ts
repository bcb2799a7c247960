// Dense linear algebra for initialisation: a truncated SVD by randomized subspace iteration
// (Halko, Martinsson & Tropp 2011), products on the native GEMM, small factorisations here.
// Written as steps (lib/fit.ts): an async caller runs the products off the event loop and the
// loops here in pieces of a few ms, with the event loop running in between.
import { SETUP_CHUNK, turn, type Steps } from './steps';
import { addon, type FloatArray } from './native';
import type { Random } from './random';

/** Row-major rows×cols float64 array. */
export interface Dense {
  data: Float64Array;
  rows: number;
  cols: number;
}

// In shared memory, which async native calls use in place (see float64Copy).
function dense(rows: number, cols: number): Dense {
  return { data: new Float64Array(new SharedArrayBuffer(rows * cols * 8)), rows, cols };
}

/** op(A)·op(B) with A, B float64 (one native call: off the event loop when async). */
function* mul(A: Dense, B: Dense, transA = false, transB = false): Steps<Dense> {
  const m = transA ? A.cols : A.rows, k = transA ? A.rows : A.cols, n = transB ? B.rows : B.cols;
  const C = dense(m, n);
  yield { run: (a) => addon.gemm(a, A.data, B.data, C.data, m, n, k, transA, transB, 1, 0) };
  return C;
}

/**
 * X as float64 (through float32 first when `float32`), and the sum of those values: a copy in
 * shared memory, which async native calls read in place (an ordinary array would be copied for
 * each call, as its buffer could be detached meanwhile), made in steps of SETUP_CHUNK entries.
 */
export function* float64Copy(X: FloatArray, float32: boolean): Steps<{ data: Float64Array; sum: number }> {
  const n = X.length;
  const data = new Float64Array(new SharedArrayBuffer(n * 8));
  let sum = 0;
  for (let i = 0; i < n; i += SETUP_CHUNK) {
    if (X.length !== n) throw new Error('X: its memory was detached or transferred during the fit');
    const end = Math.min(n, i + SETUP_CHUNK);
    if (float32 && !(X instanceof Float32Array)) for (let j = i; j < end; j++) data[j] = Math.fround(X[j]);
    else data.set(X.subarray(i, end), i);
    for (let j = i; j < end; j++) sum += data[j];
    yield turn;
  }
  return { data, sum };
}

/** Orthonormalises the columns of Y in place (modified Gram–Schmidt, twice); null columns stay 0. */
function* orthonormalColumns(Y: Dense): Steps<void> {
  const { rows, cols } = Y;
  const cs: Float64Array[] = [];
  for (let j = 0; j < cols; j++) {
    const c = new Float64Array(rows);
    for (let i = 0; i < rows; i++) c[i] = Y.data[i * cols + j];
    cs.push(c);
  }
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < cols; j++) {
      const c = cs[j];
      for (let p = 0; p < j; p++) {
        const q = cs[p];
        let d = 0;
        for (let i = 0; i < rows; i++) d += q[i] * c[i];
        for (let i = 0; i < rows; i++) c[i] -= d * q[i];
      }
      let nrm = 0;
      for (let i = 0; i < rows; i++) nrm += c[i] * c[i];
      nrm = Math.sqrt(nrm);
      if (nrm > 1e-12) for (let i = 0; i < rows; i++) c[i] /= nrm;
      else c.fill(0);
      yield turn;
    }
  }
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) Y.data[i * cols + j] = cs[j][i];
}

/** Eigen-decomposition of a symmetric n×n matrix (cyclic Jacobi): eigenvalues descending. */
export function symmetricEigen(S: Dense): { values: Float64Array; vectors: Dense } {
  const n = S.rows;
  const a = Float64Array.from(S.data);
  const v = dense(n, n);
  for (let i = 0; i < n; i++) v.data[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v.data[k * n + p], vkq = v.data[k * n + q];
          v.data[k * n + p] = c * vkp - s * vkq;
          v.data[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = dense(n, n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors.data[k * n + dst] = v.data[k * n + src];
  });
  return { values, vectors };
}

/**
 * The leading `rank` singular triplets of X (rows×cols, float64): X ≈ U·diag(S)·Vᵀ with U
 * rows×rank, V cols×rank.
 */
export function* truncatedSvd(X: Float64Array, rows: number, cols: number, rank: number, rng: Random): Steps<{ U: Dense; S: Float64Array; V: Dense }> {
  const L = Math.min(rank + 10, rows, cols);
  const omega = dense(cols, L);
  for (let i = 0; i < omega.data.length; i++) omega.data[i] = rng.normal();
  const Xd: Dense = { data: X, rows, cols };
  let Q = yield* mul(Xd, omega); // rows×L
  yield* orthonormalColumns(Q);
  const powerIterations = rank < 0.1 * Math.min(rows, cols) ? 7 : 4;
  for (let it = 0; it < powerIterations; it++) {
    const Z = yield* mul(Xd, Q, true); // cols×L
    yield* orthonormalColumns(Z);
    Q = yield* mul(Xd, Z);
    yield* orthonormalColumns(Q);
  }
  const Bt = yield* mul(Xd, Q, true); // Bᵀ = Xᵀ·Q, cols×L
  const { values, vectors } = symmetricEigen(yield* mul(Bt, Bt, true, false)); // B·Bᵀ (L×L)
  const S = new Float64Array(rank);
  const Ub = dense(L, rank);
  for (let j = 0; j < Math.min(rank, L); j++) {
    S[j] = Math.sqrt(Math.max(values[j], 0));
    for (let i = 0; i < L; i++) Ub.data[i * rank + j] = vectors.data[i * L + j];
  }
  const U = yield* mul(Q, Ub); // rows×rank
  const V = yield* mul(Bt, Ub); // cols×rank, then divided by σ
  for (let j = 0; j < rank; j++) {
    const inv = S[j] > 0 ? 1 / S[j] : 0;
    for (let i = 0; i < cols; i++) V.data[i * rank + j] *= inv;
  }
  return { U, S, V };
}
