// Every kernel against the float64 reference in test/support/reference.ts, over the β grid,
// both dtypes and shapes from 1×1 to ones that split into several row blocks and threads.
import { strict as assert } from 'node:assert';
import * as b from '../lib';
import * as ref from './support/reference';
import { randomDense, relError, rng, toMatrix, TOL } from './support/data';

const BETAS = [-0.5, 0, 0.5, 1, 1.25, 1.5, 2, 3];
const DTYPES = ['float64', 'float32'] as const;
// [N, F, K]: 1×1, K=1, K > F, non-square, and shapes that use several row blocks and threads.
const SHAPES: [number, number, number][] = [[1, 1, 1], [7, 5, 1], [3, 2, 6], [13, 29, 4], [600, 96, 8], [1100, 40, 6]];

function problem(seed: number, N: number, F: number, K: number, dtype: b.DType, zeros = 0.1) {
  const rand = rng(seed);
  const Xd = randomDense(rand, N, F, dtype, 0.1, 2, zeros);
  const Wd = randomDense(rand, F, K, dtype);
  const Hd = randomDense(rand, N, K, dtype);
  return { Xd, Wd, Hd, X: toMatrix(Xd, F, dtype), W: toMatrix(Wd, K, dtype), H: toMatrix(Hd, K, dtype) };
}

describe('kernels against the float64 reference', () => {
  for (const dtype of DTYPES) {
    const tol = TOL[dtype];
    for (const beta of BETAS) {
      describe(`${dtype}, β = ${beta}`, () => {
        SHAPES.forEach(([N, F, K], s) => {
          const shape = `${N}×${F}, K=${K}`;
          const p = problem(1000 * s + 17, N, F, K, dtype);
          const hRef = ref.hParts(p.Xd, p.Wd, p.Hd, beta);
          const wRef = ref.wParts(p.Xd, p.Wd, p.Hd, beta);

          it(`gradientHMu and gradientH (${shape})`, () => {
            const { pos, neg } = b.gradientHMu(p.X, p.W, p.H, beta);
            assert.ok(relError(pos, hRef.pos) <= tol, `pos: ${relError(pos, hRef.pos)}`);
            assert.ok(relError(neg, hRef.neg) <= tol, `neg: ${relError(neg, hRef.neg)}`);
            const g = b.gradientH(p.X, p.W, p.H, beta);
            assert.deepEqual(g.shape, [N, K]);
            const e = relError(g, ref.minus(hRef.neg, hRef.pos), hRef.pos, hRef.neg);
            assert.ok(e <= tol, `neg − pos: ${e}`);
          });

          it(`gradientWMu and gradientW (${shape})`, () => {
            const { pos, neg } = b.gradientWMu(p.X, p.W, p.H, beta);
            assert.ok(relError(pos, wRef.pos) <= tol, `pos: ${relError(pos, wRef.pos)}`);
            assert.ok(relError(neg, wRef.neg) <= tol, `neg: ${relError(neg, wRef.neg)}`);
            const g = b.gradientW(p.X, p.W, p.H, beta);
            assert.deepEqual(g.shape, [F, K]);
            const e = relError(g, ref.minus(wRef.neg, wRef.pos), wRef.pos, wRef.neg);
            assert.ok(e <= tol, `neg − pos: ${e}`);
          });

          it(`muUpdateH (${shape})`, () => {
            const eps = 1e-3;
            const r = b.muUpdateH(p.X, p.W, p.H, beta, eps);
            const expected = ref.muUpdate(p.Hd, hRef.pos, hRef.neg, eps);
            assert.ok(relError(r.H, expected) <= tol, `H: ${relError(r.H, expected)}`);
            assert.ok(relError(r.pos, hRef.pos) <= tol);
            assert.ok(relError(r.neg, hRef.neg) <= tol);
          });

          it(`betaDivergence (${shape})`, () => {
            // Zeros in X only where the divergence is finite (β > 0).
            const q = beta > 0 ? p : problem(1000 * s + 17, N, F, K, dtype, 0);
            const expected = ref.betaDivergence(q.Xd, q.Wd, q.Hd, beta);
            const got = b.betaDivergence(q.X, q.W, q.H, beta);
            const rel = Math.abs(got - expected) / Math.max(Math.abs(expected), 1e-300);
            assert.ok(Number.isFinite(got) && rel <= tol, `got ${got}, expected ${expected} (rel ${rel})`);
          });
        });
      });
    }

    describe(`${dtype}: elementwise kernels`, () => {
      const rand = rng(99);
      const [r, c] = [37, 11];
      const fd = randomDense(rand, r, c, dtype), pd = randomDense(rand, r, c, dtype), nd = randomDense(rand, r, c, dtype);
      const f = toMatrix(fd, c, dtype), pm = toMatrix(pd, c, dtype), nm = toMatrix(nd, c, dtype);

      it('muUpdate: factor ⊙ neg / (pos + eps), eps defaulting to 0', () => {
        assert.ok(relError(b.muUpdate(f, pm, nm), ref.muUpdate(fd, pd, nd, 0)) <= tol);
        assert.ok(relError(b.muUpdate(f, pm, nm, 0.5), ref.muUpdate(fd, pd, nd, 0.5)) <= tol);
      });

      it('updateGradW: grad − old + new, on matrices and on { pos, neg } pairs', () => {
        const expected = fd.map((row, i) => row.map((g, j) => g - pd[i][j] + nd[i][j]));
        assert.ok(relError(b.updateGradW(f, pm, nm), expected) <= tol);
        const pair = b.updateGradW({ pos: f, neg: pm }, { pos: pm, neg: nm }, { pos: nm, neg: f });
        assert.ok(relError(pair.pos, expected) <= tol);
        const expectedNeg = pd.map((row, i) => row.map((g, j) => g - nd[i][j] + fd[i][j]));
        assert.ok(relError(pair.neg, expectedNeg) <= tol);
      });
    });
  }
});

describe('special values', () => {
  it('β=1 counts a zero in X as its limit (0·log 0 = 0), not NaN as the original did', () => {
    const X = b.matrix([[0, 1]]), W = b.matrix([[1], [1]]), H = b.matrix([[2]]);
    // v = 2 everywhere: 0 − 0 + 2 for the zero, 1·log(1/2) − 1 + 2 for the one.
    assert.ok(Math.abs(b.betaDivergence(X, W, H, 1) - (2 + Math.log(0.5) + 1)) < 1e-12);
  });

  it('a zero in X gives an infinite divergence for β ≤ 0 and a finite one for β > 0', () => {
    const X = b.matrix([[0, 1]]), W = b.matrix([[1], [1]]), H = b.matrix([[2]]);
    assert.equal(b.betaDivergence(X, W, H, 0), Infinity);
    assert.equal(b.betaDivergence(X, W, H, -0.5), Infinity);
    assert.ok(Number.isFinite(b.betaDivergence(X, W, H, 0.5)));
  });

  it('the general-β divergence is the correct formula, not the original one', () => {
    // x = 2, v = 1, β = 3: (8 + 2·1 − 3·2·1) / 6 = 4/6.
    const X = b.matrix([[2]]), W = b.matrix([[1]]), H = b.matrix([[1]]);
    assert.ok(Math.abs(b.betaDivergence(X, W, H, 3) - 4 / 6) < 1e-15);
    const one = b.matrix([[1]]);
    assert.equal(b.betaDivergence(one, one, one, 3), 0); // x = v
  });

  it('integer and large β go through repeated squaring consistently with pow', () => {
    const p = problem(5, 9, 7, 3, 'float64', 0);
    for (const beta of [-3, 4, 7, 2.75, -1.3, 10]) {
      const hRef = ref.hParts(p.Xd, p.Wd, p.Hd, beta);
      const { pos, neg } = b.gradientHMu(p.X, p.W, p.H, beta);
      assert.ok(relError(pos, hRef.pos) <= 1e-9 && relError(neg, hRef.neg) <= 1e-9, `β=${beta}`);
    }
  });

  it('empty shapes (N, F or K = 0) give empty or zero results', () => {
    for (const [N, F, K] of [[0, 3, 2], [4, 0, 2], [4, 3, 0], [0, 0, 0]]) {
      const X = b.zeros(N, F), W = b.zeros(F, K), H = b.zeros(N, K);
      for (const beta of [2, 1, 0.5]) {
        const g = b.gradientW(X, W, H, beta);
        assert.deepEqual(g.shape, [F, K]);
        assert.ok(g.data.every((v) => v === 0));
        assert.deepEqual(b.gradientH(X, W, H, beta).shape, [N, K]);
        if (F === 0 || N === 0) assert.equal(b.betaDivergence(X, W, H, beta), 0);
      }
    }
  });
});
