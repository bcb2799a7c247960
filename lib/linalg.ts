// Dense linear algebra for initialisation: a truncated SVD by randomized subspace iteration
// (Halko, Martinsson & Tropp 2011), products on the native GEMM, small factorisations here.
import { addon, type FloatArray } from './native';
import type { Random } from './random';

/** Row-major rows×cols float64 array. */
export interface Dense {
  data: Float64Array;
  rows: number;
  cols: number;
}

function dense(rows: number, cols: number): Dense {
  return { data: new Float64Array(rows * cols), rows, cols };
}

/** op(A)·op(B) with A, B float64. */
function mul(A: Dense, B: Dense, transA = false, transB = false): Dense {
  const m = transA ? A.cols : A.rows, k = transA ? A.rows : A.cols, n = transB ? B.rows : B.cols;
  const C = dense(m, n);
  addon.gemm(false, A.data, B.data, C.data, m, n, k, transA, transB, 1, 0);
  return C;
}

/** X (float32 or float64) times a float64 matrix, in float64. */
function mulData(X: FloatArray, rows: number, cols: number, B: Dense, transX: boolean): Dense {
  const X64 = X instanceof Float64Array ? X : Float64Array.from(X);
  return mul({ data: X64, rows, cols }, B, transX, false);
}

/** Orthonormalises the columns of Y in place (modified Gram–Schmidt, twice); null columns stay 0. */
function orthonormalColumns(Y: Dense): void {
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
 * The leading `rank` singular triplets of X (rows×cols): X ≈ U·diag(S)·Vᵀ with U rows×rank,
 * V cols×rank.
 */
export function truncatedSvd(X: FloatArray, rows: number, cols: number, rank: number, rng: Random): { U: Dense; S: Float64Array; V: Dense } {
  const L = Math.min(rank + 10, rows, cols);
  const omega = dense(cols, L);
  for (let i = 0; i < omega.data.length; i++) omega.data[i] = rng.normal();
  let Q = mulData(X, rows, cols, omega, false); // rows×L
  orthonormalColumns(Q);
  const powerIterations = rank < 0.1 * Math.min(rows, cols) ? 7 : 4;
  for (let it = 0; it < powerIterations; it++) {
    const Z = mulData(X, rows, cols, Q, true); // cols×L
    orthonormalColumns(Z);
    Q = mulData(X, rows, cols, Z, false);
    orthonormalColumns(Q);
  }
  const Bt = mulData(X, rows, cols, Q, true); // Bᵀ = Xᵀ·Q, cols×L
  const { values, vectors } = symmetricEigen(mul(Bt, Bt, true, false)); // B·Bᵀ (L×L)
  const S = new Float64Array(rank);
  const Ub = dense(L, rank);
  for (let j = 0; j < Math.min(rank, L); j++) {
    S[j] = Math.sqrt(Math.max(values[j], 0));
    for (let i = 0; i < L; i++) Ub.data[i * rank + j] = vectors.data[i * L + j];
  }
  const U = mul(Q, Ub); // rows×rank
  const V = mul(Bt, Ub); // cols×rank, then divided by σ
  for (let j = 0; j < rank; j++) {
    const inv = S[j] > 0 ? 1 / S[j] : 0;
    for (let i = 0; i < cols; i++) V.data[i * rank + j] *= inv;
  }
  return { U, S, V };
}
