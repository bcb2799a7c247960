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

/** M ⊙ A, with an entry of weight 0 exactly 0 (whatever A holds there); A itself without M. */
export function weigh(A: Dense, M?: Dense): Dense {
  return M ? map2(A, M, (a, m) => (m === 0 ? 0 : m * a)) : A;
}

/** The seed's parts for H: pos and neg (N×K); with entry weights M, (M⊙V^(β−1))·W and (M⊙V^(β−2)⊙X)·W. */
export function hParts(X: Dense, W: Dense, H: Dense, beta: number, M?: Dense): { pos: Dense; neg: Dense } {
  const F = W.length, K = H[0]?.length ?? W[0]?.length ?? 0;
  const V = reconstruct(W, H, F);
  let pos: Dense, neg: Dense;
  if (beta === 2) {
    neg = matmul(weigh(X, M), W);
    pos = matmul(weigh(V, M), W);
  } else if (beta === 1) {
    neg = matmul(weigh(map2(X, V, (x, v) => x / v), M), W);
    pos = matmul(weigh(X.map((r) => r.map(() => 1)), M), W);
  } else {
    neg = matmul(weigh(map2(X, V, (x, v) => Math.pow(v, beta - 2) * x), M), W);
    pos = matmul(weigh(V.map((r) => r.map((v) => Math.pow(v, beta - 1))), M), W);
  }
  const fix = (M: Dense) => M.map((r) => (r.length ? r : new Array(K).fill(0)));
  return { pos: fix(pos), neg: fix(neg) };
}

/** The seed's parts for W: pos and neg (F×K); with entry weights M, (M⊙V^(β−1))ᵀ·H and (M⊙V^(β−2)⊙X)ᵀ·H. */
export function wParts(X: Dense, W: Dense, H: Dense, beta: number, M?: Dense): { pos: Dense; neg: Dense } {
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
  return { pos: matmul(transpose(weigh(B, M), F), H), neg: matmul(transpose(weigh(A, M), F), H) };
}

export function minus(A: Dense, B: Dense): Dense {
  return map2(A, B, (a, b) => a - b);
}

export function muUpdate(factor: Dense, pos: Dense, neg: Dense, eps: number): Dense {
  return factor.map((r, i) => r.map((f, j) => (f * neg[i][j]) / (pos[i][j] + eps)));
}

/** D(X | H·Wᵀ) with the correct formula for every β; with entry weights M, Σ m·d(x | v) (weight 0 counts 0). */
export function betaDivergence(X: Dense, W: Dense, H: Dense, beta: number, M?: Dense): number {
  const V = reconstruct(W, H, W.length);
  let s = 0;
  X.forEach((row, i) =>
    row.forEach((x, j) => {
      const v = V[i][j];
      if (M) {
        if (M[i][j] !== 0) s += M[i][j] * betaDivergence([[x]], [[1]], [[v]], beta);
        return;
      }
      if (beta === 2) s += 0.5 * (x - v) ** 2;
      else if (beta === 1) s += (x === 0 ? 0 : x * Math.log(x / v)) - x + v;
      else if (beta === 0) s += x / v - Math.log(x / v) - 1;
      else s += (Math.pow(x, beta) + (beta - 1) * Math.pow(v, beta) - beta * x * Math.pow(v, beta - 1)) / (beta * (beta - 1));
    }),
  );
  return s;
}

/** The penalties (scikit-learn's, our H its W): αH·F·(ρ‖H‖₁ + ½(1−ρ)‖H‖²) + αW·N·(ρ‖W‖₁ + ½(1−ρ)‖W‖²). */
export function penalty(W: Dense, H: Dense, F: number, o: { alphaW: number; alphaH: number; l1Ratio: number }): number {
  const norms = (A: Dense) => A.flat().reduce(([l1, l2], v) => [l1 + Math.abs(v), l2 + v * v], [0, 0]);
  const [h1, h2] = norms(H), [w1, w2] = norms(W), r = o.l1Ratio;
  return o.alphaH * F * (r * h1 + 0.5 * (1 - r) * h2) + o.alphaW * H.length * (r * w1 + 0.5 * (1 - r) * w2);
}
