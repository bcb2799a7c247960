// Entry weights (missing data), penalties and fixed components (issue 13): the weighted kernels
// against the float64 reference over the β grid in both dtypes, every solver's weighted and
// penalised epochs against the reference solver, weights of ones against the unweighted code,
// fixed columns bit for bit, monotone MM, missing: 'nan' against an explicit mask, and errors.
import { strict as assert } from 'node:assert';
import * as b from '../lib';
import { addon } from '../lib/native';
import * as ref from './support/reference';
import { randomDense, relError, rng, toMatrix, TOL } from './support/data';
import { referenceFit, type Solver } from './support/solver-reference';
import type { Dense } from './support/reference';

const BETAS = [-0.5, 0, 0.5, 1, 1.5, 2, 3];
const SOLVERS: Solver[] = ['mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu'];

/** X (positive), W, H and weights M with a fraction of zeros. */
function problem(seed: number, N: number, F: number, K: number, dtype: b.DType, missing = 0.2) {
  const rand = rng(seed);
  const Xd = randomDense(rand, N, F, dtype, 0.1, 2), Wd = randomDense(rand, F, K, dtype), Hd = randomDense(rand, N, K, dtype);
  const Md = randomDense(rand, N, F, dtype, 0.25, 2, missing);
  return { Xd, Wd, Hd, Md, X: toMatrix(Xd, F, dtype), W: toMatrix(Wd, K, dtype), H: toMatrix(Hd, K, dtype), M: toMatrix(Md, F, dtype) };
}

function rel(got: number, expected: number): number {
  return Math.abs(got - expected) / Math.max(Math.abs(expected), 1e-300);
}

describe('weighted kernels against the float64 reference', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = TOL[dtype];
    for (const beta of BETAS) {
      // A small shape and one that splits into several row blocks, column slices and threads.
      for (const [N, F, K] of [[7, 5, 2], [600, 96, 8]] as const) {
        it(`${dtype}, β = ${beta}, ${N}×${F}, K=${K}: parts, difference, muUpdateH and divergence`, async () => {
          const p = problem(N + 31 * F + K, N, F, K, dtype);
          const h = ref.hParts(p.Xd, p.Wd, p.Hd, beta, p.Md), w = ref.wParts(p.Xd, p.Wd, p.Hd, beta, p.Md);
          const hp = b.gradientHMu(p.X, p.W, p.H, beta, { weights: p.M });
          assert.ok(relError(hp.pos, h.pos) <= tol && relError(hp.neg, h.neg) <= tol, `H parts ${relError(hp.pos, h.pos)} ${relError(hp.neg, h.neg)}`);
          assert.ok(relError(b.gradientH(p.X, p.W, p.H, beta, { weights: p.M }), ref.minus(h.neg, h.pos), h.pos, h.neg) <= tol);
          const wp = b.gradientWMu(p.X, p.W, p.H, beta, { weights: p.M });
          assert.ok(relError(wp.pos, w.pos) <= tol && relError(wp.neg, w.neg) <= tol, `W parts ${relError(wp.pos, w.pos)} ${relError(wp.neg, w.neg)}`);
          assert.ok(relError(b.gradientW(p.X, p.W, p.H, beta, { weights: p.M }), ref.minus(w.neg, w.pos), w.pos, w.neg) <= tol);
          const mu = b.muUpdateH(p.X, p.W, p.H, beta, 1e-3, { weights: p.M });
          assert.ok(relError(mu.H, ref.muUpdate(p.Hd, h.pos, h.neg, 1e-3)) <= tol);
          const d = b.betaDivergence(p.X, p.W, p.H, beta, { weights: p.M });
          assert.ok(rel(d, ref.betaDivergence(p.Xd, p.Wd, p.Hd, beta, p.Md)) <= tol, `divergence ${d}`);
          // The Async forms give the same bits.
          const hpa = await b.gradientHMuAsync(p.X, p.W, p.H, beta, { weights: p.M });
          assert.deepEqual(hpa.pos.data, hp.pos.data);
          assert.deepEqual((await b.gradientWAsync(p.X, p.W, p.H, beta, { weights: p.M })).data, b.gradientW(p.X, p.W, p.H, beta, { weights: p.M }).data);
          assert.deepEqual((await b.muUpdateHAsync(p.X, p.W, p.H, beta, 1e-3, { weights: p.M })).H.data, mu.H.data);
          assert.equal(await b.betaDivergenceAsync(p.X, p.W, p.H, beta, { weights: p.M }), d);
        });
      }
    }
  }

  it('weights of ones equal the unweighted kernels: bit for bit for β ∉ {1, 2}, to 1e-14 otherwise', () => {
    const p = problem(5, 300, 70, 5, 'float64', 0);
    const ones = b.matrix(new Float64Array(300 * 70).fill(1), 300, 70);
    for (const beta of BETAS) {
      const same = (x: b.Matrix, y: b.Matrix, what: string) => {
        // β = 1's pos is 1·W (column sums) unweighted and M·W (a product) weighted; β = 2 uses the
        // Gram matrix unweighted and forms V weighted: the same numbers, summed in another order.
        if (beta === 1 || beta === 2) assert.ok(relError(x, y.toArray()) <= 1e-14, `${what} β=${beta}: ${relError(x, y.toArray())}`);
        else assert.deepEqual(x.data, y.data, `${what} β=${beta}`);
      };
      const [hu, hw] = [b.gradientHMu(p.X, p.W, p.H, beta), b.gradientHMu(p.X, p.W, p.H, beta, { weights: ones })];
      same(hw.pos, hu.pos, 'H pos');
      same(hw.neg, hu.neg, 'H neg');
      const [wu, ww] = [b.gradientWMu(p.X, p.W, p.H, beta), b.gradientWMu(p.X, p.W, p.H, beta, { weights: ones })];
      same(ww.pos, wu.pos, 'W pos');
      same(ww.neg, wu.neg, 'W neg');
      same(b.gradientW(p.X, p.W, p.H, beta, { weights: ones }), b.gradientW(p.X, p.W, p.H, beta), 'W difference');
      assert.equal(b.betaDivergence(p.X, p.W, p.H, beta, { weights: ones }), b.betaDivergence(p.X, p.W, p.H, beta));
    }
  });

  for (const dtype of ['float64', 'float32'] as const) {
    it(`${dtype}: a mask (weights mostly 1, a few other values) against the reference`, () => {
      for (const [N, F, K] of [[9, 6, 2], [600, 96, 8]] as const) {
        const p = problem(N + F, N, F, K, dtype, 0);
        // A twentieth of the entries missing, a fiftieth weighted 0.25 or 3; the rest 1.
        const r = rng(N);
        const Md = p.Md.map((row) => row.map(() => { const u = r(); return u < 0.05 ? 0 : u < 0.07 ? (u < 0.06 ? 0.25 : 3) : 1; }));
        if (N === 9) Md[0][0] = 0;
        const M = toMatrix(Md, F, dtype);
        for (const beta of [1, 2, 0.5]) {
          const h = ref.hParts(p.Xd, p.Wd, p.Hd, beta, Md), w = ref.wParts(p.Xd, p.Wd, p.Hd, beta, Md);
          const hp = b.gradientHMu(p.X, p.W, p.H, beta, { weights: M }), wp = b.gradientWMu(p.X, p.W, p.H, beta, { weights: M });
          const errs = [relError(hp.pos, h.pos), relError(hp.neg, h.neg), relError(wp.pos, w.pos), relError(wp.neg, w.neg),
            relError(b.gradientH(p.X, p.W, p.H, beta, { weights: M }), ref.minus(h.neg, h.pos), h.pos, h.neg),
            relError(b.gradientW(p.X, p.W, p.H, beta, { weights: M }), ref.minus(w.neg, w.pos), w.pos, w.neg)];
          assert.ok(errs.every((e) => e <= TOL[dtype]), `${N}×${F} β=${beta}: ${errs}`);
          // Summed into existing outputs (keep = 1 inside the solver) the same way.
          const mu = b.muUpdateH(p.X, p.W, p.H, beta, 1e-3, { weights: M });
          assert.ok(relError(mu.H, ref.muUpdate(p.Hd, h.pos, h.neg, 1e-3)) <= TOL[dtype]);
        }
      }
    });
  }

  it('an entry of weight 0 contributes exactly 0, even where V = 0 makes its part infinite', () => {
    // Row 0 of H is zero, so V's row 0 is zero: for β < 1 its unweighted parts are infinite.
    const p = problem(8, 6, 4, 2, 'float64', 0);
    p.H.data[0] = p.H.data[1] = 0;
    p.Hd[0] = [0, 0];
    const M = p.M.clone();
    for (let j = 0; j < 4; j++) M.data[j] = 0;
    const Md = M.toArray();
    for (const beta of [-0.5, 0, 0.5]) {
      assert.ok(!Number.isFinite(b.betaDivergence(p.X, p.W, p.H, beta)));
      const d = b.betaDivergence(p.X, p.W, p.H, beta, { weights: M });
      assert.ok(Number.isFinite(d) && rel(d, ref.betaDivergence(p.Xd, p.Wd, p.Hd, beta, Md)) <= 1e-12);
      const w = b.gradientWMu(p.X, p.W, p.H, beta, { weights: M }), wr = ref.wParts(p.Xd, p.Wd, p.Hd, beta, Md);
      assert.ok(w.pos.data.every(Number.isFinite) && relError(w.pos, wr.pos) <= 1e-12 && relError(w.neg, wr.neg) <= 1e-12);
      const g = b.gradientW(p.X, p.W, p.H, beta, { weights: M });
      assert.ok(g.data.every(Number.isFinite));
    }
  });

  it('bad weights: RangeError or TypeError naming options.weights', () => {
    const p = problem(9, 4, 3, 2, 'float64');
    assert.throws(() => b.gradientHMu(p.X, p.W, p.H, 1, { weights: b.zeros(3, 4) }), /options\.weights: expected 4×3 \(N×F, the shape of X\), received 3×4/);
    const neg = p.M.clone();
    neg.data[5] = -1;
    assert.throws(() => b.muUpdateH(p.X, p.W, p.H, 1, 0, { weights: neg }), (e: Error) => e instanceof RangeError && /options\.weights: expected finite weights ≥ 0.*-1 at row 1, column 2/.test(e.message));
    neg.data[5] = NaN;
    assert.throws(() => b.betaDivergence(p.X, p.W, p.H, 1, { weights: neg }), (e: Error) => e instanceof RangeError && /options\.weights.*NaN/.test(e.message));
    neg.data[5] = Infinity;
    assert.throws(() => b.gradientW(p.X, p.W, p.H, 1, { weights: neg }), RangeError);
    assert.throws(() => b.gradientWMu(p.X, p.W, p.H, 1, { weights: toMatrix(p.Md, 3, 'float32') }), (e: Error) => e instanceof TypeError && /options\.weights/.test(e.message));
    assert.throws(() => b.gradientH(p.X, p.W, p.H, 1, { weights: [[1]] as unknown as b.Matrix }), (e: Error) => e instanceof TypeError && /options\.weights/.test(e.message));
  });
});

/** A low-rank nonnegative matrix with multiplicative noise (entries around 1). */
function lowRank(seed: number, N: number, F: number, K: number): Dense {
  const rand = rng(seed);
  const A = randomDense(rand, N, K, 'float64', 0.2, 1.2), B = randomDense(rand, F, K, 'float64', 0.2, 1.2);
  return A.map((a) => B.map((bb) => a.reduce((s, v, k) => s + v * bb[k], 0) * (0.8 + 0.4 * rand())));
}

describe('weighted, penalised solvers with fixed components against the float64 reference', () => {
  const [N, F, K] = [53, 17, 3];
  const Xd = lowRank(11, N, F, K);
  const rand = rng(12);
  const Wd = randomDense(rand, F, K, 'float64', 0.2, 1.2), Hd = randomDense(rand, N, K, 'float64', 0.2, 1.2);
  const Md = randomDense(rand, N, F, 'float64', 0.5, 1.5, 0.2);
  const pen = { alphaW: 0.02, alphaH: 0.05, l1Ratio: 0.3 };
  const runs: [Solver, 'mm' | 'heuristic'][] = [...SOLVERS.map((s) => [s, 'mm'] as [Solver, 'mm']), ['asag_mu', 'heuristic'], ['gsag_mu', 'heuristic']];
  for (const [solver, update] of runs) {
    for (const beta of [0, 0.5, 1, 1.5, 2, 3]) {
      if (update === 'heuristic' && beta !== 1) continue;
      it(`${solver}, β = ${beta}, ${update}: 4 epochs with weights, alphaW, alphaH, l1Ratio and fixedComponents`, () => {
        const model = new b.BetaNMF({
          nComponents: K, beta, solver, batchSize: 10, sagMemory: 2, maxIter: 4, tol: 0, shuffle: false, eps: 1e-10, update,
          init: 'custom', W: toMatrix(Wd, K, 'float64'), H: toMatrix(Hd, K, 'float64'), fixedComponents: [1], ...pen, onWarning: () => {},
        });
        model.fitSync(toMatrix(Xd, F, 'float64'), { weights: toMatrix(Md, F, 'float64') });
        const gamma = update === 'mm' ? b.mmExponent(beta) : 1;
        const r = referenceFit(Xd, Wd, Hd, { beta, solver, batchSize: 10, epochs: 4, eps: 1e-10, gamma, sagMemory: 2,
          averageTargets: update === 'mm', guards: update === 'mm', weights: Md, fixedComponents: [1], ...pen });
        assert.ok(relError(model.W!, r.W) < 1e-9, `W: ${relError(model.W!, r.W)}`);
        assert.ok(relError(model.H!, r.H) < 1e-9, `H: ${relError(model.H!, r.H)}`);
        // The cost is the weighted divergence plus the penalties.
        const cost = ref.betaDivergence(Xd, r.W, r.H, beta, Md) + ref.penalty(r.W, r.H, F, pen);
        assert.ok(rel(model.cost!, cost) < 1e-9, `cost ${model.cost} vs ${cost}`);
        for (let f = 0; f < F; f++) assert.equal(model.W!.data[f * K + 1], Wd[f][1]);
      });
    }
  }
});

describe('masked solvers at β = 1 and 2 (0/1 weights) against the float64 reference', () => {
  const [N, F, K] = [53, 17, 3];
  const Xd = lowRank(13, N, F, K);
  const rand = rng(14);
  const Wd = randomDense(rand, F, K, 'float64', 0.2, 1.2), Hd = randomDense(rand, N, K, 'float64', 0.2, 1.2);
  const Md = Xd.map((row) => row.map(() => (rand() < 0.06 ? 0 : 1)));
  for (const solver of SOLVERS) {
    for (const beta of [1, 2]) {
      it(`${solver}, β = ${beta}: 4 epochs with a mask and penalties`, () => {
        const pen = { alphaW: 0.01, alphaH: 0.03, l1Ratio: 0.6 };
        const model = new b.BetaNMF({ nComponents: K, beta, solver, batchSize: 10, sagMemory: 2, maxIter: 4, tol: 0, shuffle: false,
          init: 'custom', W: toMatrix(Wd, K, 'float64'), H: toMatrix(Hd, K, 'float64'), ...pen, onWarning: () => {} });
        model.fitSync(toMatrix(Xd, F, 'float64'), { weights: toMatrix(Md, F, 'float64') });
        const r = referenceFit(Xd, Wd, Hd, { beta, solver, batchSize: 10, epochs: 4, eps: 1e-10, gamma: b.mmExponent(beta), sagMemory: 2,
          averageTargets: true, guards: true, weights: Md, ...pen });
        assert.ok(relError(model.W!, r.W) < 1e-9 && relError(model.H!, r.H) < 1e-9, `W ${relError(model.W!, r.W)}, H ${relError(model.H!, r.H)}`);
        assert.ok(rel(model.cost!, ref.betaDivergence(Xd, r.W, r.H, beta, Md) + ref.penalty(r.W, r.H, F, pen)) < 1e-9);
      });
    }
  }
});

describe('BetaNMF with weights, penalties and fixed components', () => {
  const [N, F, K] = [120, 30, 4];
  const Xd = lowRank(21, N, F, K);
  const X = toMatrix(Xd, F, 'float64');
  const Md = randomDense(rng(22), N, F, 'float64', 0.5, 1.5, 0.15);
  const M = toMatrix(Md, F, 'float64');
  const ones = b.matrix(new Float64Array(N * F).fill(1), N, F);

  it('weights of ones give the unweighted fit bit for bit (β = 0.5, every solver, shuffled rows too)', () => {
    for (const solver of SOLVERS) {
      for (const shuffle of ['batches', 'rows'] as const) {
        const opts = { nComponents: K, beta: 0.5, solver, batchSize: 32, sagMemory: 2, maxIter: 3, seed: 4, shuffle };
        const plain = new b.BetaNMF(opts).fitSync(X), weighted = new b.BetaNMF(opts).fitSync(X, { weights: ones });
        assert.deepEqual(weighted.W!.data, plain.W!.data, `${solver} ${shuffle}`);
        assert.deepEqual(weighted.H!.data, plain.H!.data, `${solver} ${shuffle}`);
        assert.equal(weighted.cost, plain.cost);
      }
    }
  });

  it('weights of ones give the unweighted fit to 1e-10 at β = 1 and 2 (products in another order), mu_batch and asag_mu', () => {
    for (const beta of [1, 2]) {
      for (const solver of ['mu_batch', 'asag_mu'] as const) {
        const opts = { nComponents: K, beta, solver, batchSize: 32, sagMemory: 2, maxIter: 4, seed: 4, onWarning: () => {} };
        const plain = new b.BetaNMF(opts).fitSync(X), weighted = new b.BetaNMF(opts).fitSync(X, { weights: ones });
        assert.ok(relError(weighted.W!, plain.W!.toArray()) < 1e-10 && relError(weighted.H!, plain.H!.toArray()) < 1e-10);
        assert.ok(rel(weighted.cost!, plain.cost!) < 1e-10);
      }
    }
  });

  for (const beta of [0, 0.5, 1, 1.5, 2, 3]) {
    it(`update 'mm' decreases the weighted, penalised cost every epoch (mu_batch, β = ${beta}, both dtypes)`, () => {
      for (const dtype of ['float64', 'float32'] as const) {
        const m = new b.BetaNMF({ nComponents: K, beta, maxIter: 25, costEvery: 1, tol: 0, seed: 5, dtype, alphaW: 0.01, alphaH: 0.02, l1Ratio: 0.5 });
        m.fitSync(X, { weights: M });
        const costs = m.history.map((h) => h.cost!);
        const slack = dtype === 'float64' ? 1e-12 : 1e-5;
        for (let i = 1; i < costs.length; i++) {
          assert.ok(Number.isFinite(costs[i]) && costs[i] <= costs[i - 1] * (1 + slack), `${dtype} epoch ${i}: ${costs[i - 1]} → ${costs[i]}`);
        }
        assert.ok(costs[25] < costs[0] * 0.7);
      }
    });
  }

  it("fixedComponents keep W's columns bit for bit (float32; init 'custom' with W only, and W over another init)", () => {
    const W = toMatrix(randomDense(rng(30), F, K, 'float32'), K, 'float32');
    const X32 = toMatrix(Xd, F, 'float32');
    for (const init of ['custom', 'random', 'nndsvda'] as const) {
      for (const solver of ['mu_batch', 'asag_mu'] as const) {
        const m = new b.BetaNMF({ nComponents: K, beta: 1, solver, batchSize: 32, sagMemory: 3, maxIter: 6, seed: 2, init, W, fixedComponents: [0, 2] });
        m.fitSync(X32, { weights: M });
        for (let f = 0; f < F; f++) {
          assert.equal(m.W!.data[f * K], W.data[f * K], `${init} ${solver}`);
          assert.equal(m.W!.data[f * K + 2], W.data[f * K + 2], `${init} ${solver}`);
        }
        assert.ok([1, 3].every((k) => Array.from({ length: F }, (_, f) => m.W!.data[f * K + k] !== W.data[f * K + k]).some(Boolean)), 'the free columns are learned');
        // partialFit keeps them too.
        const p = new b.BetaNMF({ nComponents: K, beta: 1, solver, batchSize: 32, seed: 2, init, W, fixedComponents: [0, 2] });
        p.partialFitSync(X32, { weights: M });
        p.partialFitSync(X32);
        for (let f = 0; f < F; f++) assert.equal(p.W!.data[f * K + 2], W.data[f * K + 2]);
      }
    }
    // The scale guard does not rescale a fixed column, even 1e10 out of scale.
    const big = W.clone();
    for (let f = 0; f < F; f++) big.data[f * K] *= 1e5;
    const m = new b.BetaNMF({ nComponents: K, beta: 1, solver: 'asg_mu', batchSize: 32, maxIter: 2, seed: 1, init: 'custom', W: big, fixedComponents: [0] }).fitSync(X32);
    for (let f = 0; f < F; f++) assert.equal(m.W!.data[f * K], big.data[f * K]);
  });

  it("missing: 'nan' equals an explicit 0/1 mask with zeros in X (fit, transform, partialFit), and NaN stays an error without it", async () => {
    const Xn = X.clone(), X0 = X.clone();
    const mask = new Float64Array(N * F).fill(1);
    for (let i = 3; i < N * F; i += 17) [Xn.data[i], X0.data[i], mask[i]] = [NaN, 0, 0];
    const Mask = b.matrix(mask, N, F);
    const opts = { nComponents: K, beta: 1.5, solver: 'asag_mu', sagMemory: 2, batchSize: 32, maxIter: 4, seed: 6, alphaH: 0.1 } as const;
    const a = new b.BetaNMF({ ...opts, missing: 'nan' }).fitSync(Xn), c = new b.BetaNMF(opts).fitSync(X0, { weights: Mask });
    assert.deepEqual(a.W!.data, c.W!.data);
    assert.deepEqual(a.H!.data, c.H!.data);
    assert.equal(a.cost, c.cost);
    const async = await new b.BetaNMF({ ...opts, missing: 'nan', dtype: 'float32' }).fit(Xn);
    const asyncMask = await new b.BetaNMF({ ...opts, dtype: 'float32' }).fit(X0, { weights: Mask });
    assert.deepEqual(async.W!.data, asyncMask.W!.data);
    assert.deepEqual(a.transformSync(Xn).data, a.transformSync(X0, { weights: Mask }).data);
    // NaN and weights together: NaN entries become weight 0, the others keep theirs.
    const both = new b.BetaNMF({ ...opts, missing: 'nan' }).fitSync(Xn, { weights: M });
    const Mz = M.clone();
    for (let i = 3; i < N * F; i += 17) Mz.data[i] = 0;
    assert.deepEqual(both.W!.data, new b.BetaNMF(opts).fitSync(X0, { weights: Mz }).W!.data);
    const pa = new b.BetaNMF({ ...opts, missing: 'nan' }), pc = new b.BetaNMF(opts);
    pa.partialFitSync(Xn);
    pc.partialFitSync(X0, { weights: Mask });
    assert.deepEqual(pa.W!.data, pc.W!.data);
    assert.throws(() => new b.BetaNMF(opts).fitSync(Xn), /X: expected finite nonnegative entries, received NaN at row 0, column 3/);
    // The missing entries filled from H·Wᵀ.
    const filled = a.inverseTransform(a.H!);
    assert.ok(filled.data.every(Number.isFinite));
  });

  it('β ≤ 0 accepts zeros in X where the weight is 0, and refuses them where it is not', () => {
    const Z = X.clone(), Mz = ones.clone();
    Z.data[7] = 0;
    assert.throws(() => new b.BetaNMF({ nComponents: 2, beta: 0, maxIter: 1 }).fitSync(Z, { weights: Mz }), /positive entries for beta = 0.*0 at row 0, column 7/);
    Mz.data[7] = 0;
    assert.ok(Number.isFinite(new b.BetaNMF({ nComponents: 2, beta: 0, maxIter: 3, seed: 1 }).fitSync(Z, { weights: Mz }).cost!));
  });

  it('the options survive toJSON / fromJSON; the restored model keeps the fixed columns', () => {
    const W = toMatrix(randomDense(rng(31), F, K, 'float64'), K, 'float64');
    const m = new b.BetaNMF({ nComponents: K, beta: 1, maxIter: 3, seed: 1, alphaW: 0.1, alphaH: 0.2, l1Ratio: 0.7, W, fixedComponents: [3], missing: 'nan' }).fitSync(X);
    const again = b.BetaNMF.fromJSON(JSON.stringify(m));
    for (const k of ['alphaW', 'alphaH', 'l1Ratio', 'fixedComponents', 'missing'] as const) assert.deepEqual(again.options[k], m.options[k], k);
    again.fitSync(X);
    for (let f = 0; f < F; f++) assert.equal(again.W!.data[f * K + 3], W.data[f * K + 3]);
  });

  it('bad options and run weights → RangeError or TypeError naming them', () => {
    const W = toMatrix(randomDense(rng(32), F, K, 'float64'), K, 'float64');
    assert.throws(() => new b.BetaNMF({ alphaW: -1 }), /alphaW: expected a finite number ≥ 0, received -1/);
    assert.throws(() => new b.BetaNMF({ alphaH: -0.5 }), (e: Error) => e instanceof RangeError && /alphaH/.test(e.message));
    assert.throws(() => new b.BetaNMF({ l1Ratio: 1.5 }), /l1Ratio: expected a number in \[0, 1\], received 1\.5/);
    assert.throws(() => new b.BetaNMF({ nComponents: K, W, fixedComponents: [K] }), /fixedComponents\[0\]: expected an integer in \[0, 4\)/);
    assert.throws(() => new b.BetaNMF({ nComponents: K, W, fixedComponents: [1, 1] }), /fixedComponents: expected distinct column indices/);
    assert.throws(() => new b.BetaNMF({ nComponents: K, W, fixedComponents: [0.5] }), RangeError);
    assert.throws(() => new b.BetaNMF({ nComponents: K, fixedComponents: [0] }), /fixedComponents: expected W given/);
    assert.throws(() => new b.BetaNMF({ nComponents: K, W, fixedComponents: 1 as unknown as number[] }), TypeError);
    assert.throws(() => new b.BetaNMF({ missing: 'zero' as 'nan' }), (e: Error) => e instanceof TypeError && /missing/.test(e.message));
    const warnings: string[] = [];
    new b.BetaNMF({ l1Ratio: 0.5, onWarning: (w) => warnings.push(w) });
    new b.BetaNMF({ l1Ratio: 0.5, alphaH: 1, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings, ['BetaNMF: l1Ratio has no effect without alphaW or alphaH (the penalties it splits)']);
    const m = new b.BetaNMF({ nComponents: 2, maxIter: 1 });
    assert.throws(() => m.fitSync(X, { weights: b.zeros(N, F + 1) }), /options\.weights: expected 120×30/);
    const neg = M.clone();
    neg.data[0] = -2;
    assert.throws(() => m.fitSync(X, { weights: neg }), (e: Error) => e instanceof RangeError && /options\.weights/.test(e.message));
    assert.throws(() => m.fitSync(X, { weights: 'all' as unknown as b.Matrix }), TypeError);
  });

  it('a fit checks its weights as it copies them: the kernels\' RangeError, sync and async, nothing left allocated', async () => {
    const base = addon.liveBuffers();
    const bad = M.clone();
    bad.data[7 * F + 5] = NaN;
    const m = new b.BetaNMF({ nComponents: 2, maxIter: 1 });
    const expected = /^options\.weights: expected finite weights ≥ 0 \(0 marks a missing entry\), received NaN at row 7, column 5$/;
    assert.throws(() => m.fitSync(X, { weights: bad }), (e: Error) => e instanceof RangeError && expected.test(e.message));
    await assert.rejects(m.fit(X, { weights: bad }), (e: Error) => e instanceof RangeError && expected.test(e.message));
    await assert.rejects(m.fit(X, { weights: b.matrix(Float32Array.from(bad.data), N, F) }), (e: Error) => expected.test(e.message));
    assert.equal(addon.liveBuffers(), base);
  });
});
