// An independent float64 reference of the seed's formulas: plain loops, Math.pow, every
// product formed explicitly (no Gram trick, no special cases but the seed's own).
export type Dense = number[][];

export function matmul(A: Dense, B: Dense): Dense {
  const n = A.length, m = B[0]?.length ?? 0, k = B.length;
  const C: Dense = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(m).fill(0);
    for (let p = 0; p < k; p++) {
      const a = A[i][p];
      for (let j = 0; j < m; j++) row[j] += a * B[p][j];
    }
    C.push(row);
  }
  return C;
}

export function transpose(A: Dense, cols?: number): Dense {
  const r = A.length, c = cols ?? A[0]?.length ?? 0;
  const T: Dense = [];
  for (let j = 0; j < c; j++) {
    const row = new Array<number>(r);
    for (let i = 0; i < r; i++) row[i] = A[i][j];
    T.push(row);
  }
  return T;
}

export function map2(A: Dense, B: Dense, f: (a: number, b: number) => number): Dense {
  return A.map((row, i) => row.map((a, j) => f(a, B[i][j])));
}

export function reconstruct(W: Dense, H: Dense, F: number): Dense {
  return H.length === 0 ? [] : matmul(H, transpose(W, H[0].length)).map((r) => (r.length ? r : new Array(F).fill(0)));
}

/** The seed's parts for H: pos and neg (N×K). */
export function hParts(X: Dense, W: Dense, H: Dense, beta: number): { pos: Dense; neg: Dense } {
  const F = W.length, K = H[0]?.length ?? W[0]?.length ?? 0;
  const V = reconstruct(W, H, F);
  let pos: Dense, neg: Dense;
  if (beta === 2) {
    neg = matmul(X, W);
    pos = matmul(V, W);
  } else if (beta === 1) {
    neg = matmul(map2(X, V, (x, v) => x / v), W);
    pos = matmul(X.map((r) => r.map(() => 1)), W);
  } else {
    neg = matmul(map2(X, V, (x, v) => Math.pow(v, beta - 2) * x), W);
    pos = matmul(V.map((r) => r.map((v) => Math.pow(v, beta - 1))), W);
  }
  const fix = (M: Dense) => M.map((r) => (r.length ? r : new Array(K).fill(0)));
  return { pos: fix(pos), neg: fix(neg) };
}

/** The seed's parts for W: pos and neg (F×K). */
export function wParts(X: Dense, W: Dense, H: Dense, beta: number): { pos: Dense; neg: Dense } {
  const F = W.length, K = W[0]?.length ?? 0, N = X.length;
  const V = reconstruct(W, H, F);
  let A: Dense, B: Dense;
  if (beta === 2) {
    A = X;
    B = V;
  } else if (beta === 1) {
    A = map2(X, V, (x, v) => x / v);
    B = X.map((r) => r.map(() => 1));
  } else {
    A = map2(X, V, (x, v) => Math.pow(v, beta - 2) * x);
    B = V.map((r) => r.map((v) => Math.pow(v, beta - 1)));
  }
  if (N === 0) {
    const z = () => Array.from({ length: F }, () => new Array<number>(K).fill(0));
    return { pos: z(), neg: z() };
  }
  return { pos: matmul(transpose(B, F), H), neg: matmul(transpose(A, F), H) };
}

export function minus(A: Dense, B: Dense): Dense {
  return map2(A, B, (a, b) => a - b);
}

export function muUpdate(factor: Dense, pos: Dense, neg: Dense, eps: number): Dense {
  return factor.map((r, i) => r.map((f, j) => (f * neg[i][j]) / (pos[i][j] + eps)));
}

/** D(X | H·Wᵀ) with the correct formula for every β. */
export function betaDivergence(X: Dense, W: Dense, H: Dense, beta: number): number {
  const V = reconstruct(W, H, W.length);
  let s = 0;
  X.forEach((row, i) =>
    row.forEach((x, j) => {
      const v = V[i][j];
      if (beta === 2) s += 0.5 * (x - v) ** 2;
      else if (beta === 1) s += (x === 0 ? 0 : x * Math.log(x / v)) - x + v;
      else if (beta === 0) s += x / v - Math.log(x / v) - 1;
      else s += (Math.pow(x, beta) + (beta - 1) * Math.pow(v, beta) - beta * x * Math.pow(v, beta - 1)) / (beta * (beta - 1));
    }),
  );
  return s;
}
