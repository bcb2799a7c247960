// BetaNMF: the five solvers against the float64 reference, monotone MM updates, seeds,
// abort, the event loop, partialFit, transform, save/load and bad data.
import { strict as assert } from 'node:assert';
import * as b from '../lib';
import { randomDense, relError, rng, toMatrix } from './support/data';
import { referenceFit, type Solver } from './support/solver-reference';
import type { Dense } from './support/reference';

/** A low-rank nonnegative matrix with multiplicative noise (entries around 1). */
function lowRank(seed: number, N: number, F: number, K: number): Dense {
  const rand = rng(seed);
  const A = randomDense(rand, N, K, 'float64', 0.2, 1.2), B = randomDense(rand, F, K, 'float64', 0.2, 1.2);
  return A.map((a) => B.map((bb) => a.reduce((s, v, k) => s + v * bb[k], 0) * (0.8 + 0.4 * rand())));
}

const SOLVERS: Solver[] = ['mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu'];

describe('BetaNMF solvers against the float64 reference of the original', () => {
  const [N, F, K] = [53, 17, 3];
  const Xd = lowRank(11, N, F, K);
  const rand = rng(12);
  const Wd = randomDense(rand, F, K, 'float64', 0.2, 1.2), Hd = randomDense(rand, N, K, 'float64', 0.2, 1.2);
  for (const solver of SOLVERS) {
    for (const beta of [0, 0.5, 1, 2, 3]) {
      for (const update of ['heuristic', 'mm'] as const) {
        it(`${solver}, β = ${beta}, ${update}`, () => {
          const model = new b.BetaNMF({
            nComponents: K, beta, solver, batchSize: 10, sagMemory: 2, maxIter: 4, tol: 0, shuffle: false, eps: 1e-10,
            update, init: 'custom', W: toMatrix(Wd, K, 'float64'), H: toMatrix(Hd, K, 'float64'),
          });
          model.fitSync(toMatrix(Xd, F, 'float64'));
          const gamma = update === 'mm' ? b.mmExponent(beta) : 1;
          const ref = referenceFit(Xd, Wd, Hd, { beta, solver, batchSize: 10, epochs: 4, eps: 1e-10, gamma, sagMemory: 2, averageTargets: update === 'mm', guards: update === 'mm' });
          assert.ok(relError(model.W!, ref.W) < 1e-9, `W: ${relError(model.W!, ref.W)}`);
          assert.ok(relError(model.H!, ref.H) < 1e-9, `H: ${relError(model.H!, ref.H)}`);
        });
      }
    }
  }

  it('mu_batch equals full-batch MU whatever the batch size', () => {
    const X = toMatrix(Xd, F, 'float64');
    const fit = (batchSize: number) =>
      new b.BetaNMF({ nComponents: K, beta: 1.5, batchSize, maxIter: 5, tol: 0, shuffle: true, seed: 4 }).fitSync(X);
    const full = fit(N), small = fit(7);
    assert.ok(relError(small.W!, full.W!.toArray()) < 1e-12);
    assert.ok(relError(small.H!, full.H!.toArray()) < 1e-12);
  });
});

describe('BetaNMF behaviour', () => {
  const [N, F, K] = [120, 30, 4];
  const X = toMatrix(lowRank(21, N, F, K), F, 'float64');

  for (const beta of [-1.2, 0, 0.2, 1, 2, 2.5]) {
    it(`'mm' updates decrease the cost every epoch (β = ${beta}, 30 epochs)`, () => {
      for (const dtype of ['float64', 'float32'] as const) {
        const m = new b.BetaNMF({ nComponents: K, beta, maxIter: 30, costEvery: 1, tol: 0, seed: 5, dtype });
        m.fitSync(X);
        const costs = m.history.map((h) => h.cost!);
        assert.equal(costs.length, 31);
        const slack = dtype === 'float64' ? 1e-12 : 1e-5;
        for (let i = 1; i < costs.length; i++) {
          assert.ok(Number.isFinite(costs[i]) && costs[i] <= costs[i - 1] * (1 + slack), `${dtype} epoch ${i}: ${costs[i - 1]} → ${costs[i]}`);
        }
        assert.ok(costs[30] < costs[0] * 0.5);
      }
    });
  }

  it('is reproducible: the same seed gives identical factors, another seed does not', () => {
    const fit = (seed: number) => new b.BetaNMF({ nComponents: K, beta: 1, solver: 'asag_mu', sagMemory: 3, batchSize: 16, maxIter: 5, seed }).fitSync(X);
    const a = fit(9), c = fit(9), d = fit(10);
    assert.deepEqual(a.W!.data, c.W!.data);
    assert.deepEqual(a.H!.data, c.H!.data);
    assert.notDeepEqual(a.W!.data, d.W!.data);
  });

  it('fit (async) equals fitSync and keeps the event loop free', async () => {
    const big = toMatrix(lowRank(3, 3000, 200, 10), 200, 'float32');
    const opts = { nComponents: 10, beta: 0.5, maxIter: 6, seed: 2, batchSize: 100, solver: 'asg_mu' as const };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const m = await new b.BetaNMF(opts).fit(big);
    clearInterval(timer);
    const s = new b.BetaNMF(opts).fitSync(big);
    assert.deepEqual(m.W!.data, s.W!.data);
    assert.ok(ticks > 2, `the event loop ticked ${ticks} times during fit`);
  });

  it('abort: rejects with an AbortError and keeps consistent factors', async () => {
    const big = toMatrix(lowRank(3, 2000, 100, 5), 100, 'float64');
    const ac = new AbortController();
    const m = new b.BetaNMF({ nComponents: 5, beta: 1, maxIter: 1000, tol: 0, seed: 1, onEpoch: ({ epoch }) => void (epoch === 3 && ac.abort()) });
    await assert.rejects(m.fit(big, { signal: ac.signal }), (e: Error) => e instanceof b.AbortError && e.name === 'AbortError');
    assert.ok(m.nIter >= 3 && m.nIter < 10, `stopped after ${m.nIter} epochs`);
    for (const f of [m.W!, m.H!]) assert.ok(f.data.every((v) => Number.isFinite(v) && v >= 0));
    // Usable again afterwards.
    await m.fit(big, { signal: new AbortController().signal, onEpoch: ({ epoch }) => epoch < 2 });
    assert.equal(m.nIter, 2);
  });

  it('an already aborted signal rejects before any work', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(new b.BetaNMF({ nComponents: 2 }).fit(X, { signal: ac.signal }), b.AbortError);
  });

  it('onEpoch sees every epoch and returning false stops; tol stops early', () => {
    const seen: number[] = [];
    const m = new b.BetaNMF({ nComponents: K, maxIter: 50, seed: 1, onEpoch: (i) => (seen.push(i.epoch), i.epoch < 4) });
    m.fitSync(X);
    assert.deepEqual(seen, [1, 2, 3, 4]);
    assert.equal(m.nIter, 4);
    assert.ok(m.cost !== undefined && m.history[m.history.length - 1].cost === m.cost);
    const t = new b.BetaNMF({ nComponents: K, maxIter: 5000, tol: 1e-3, costEvery: 5, seed: 1 }).fitSync(X);
    assert.ok(t.nIter < 5000 && t.nIter % 5 === 0, `tol stopped at ${t.nIter}`);
  });

  it('partialFit over chunks reaches a cost close to fit', () => {
    const Xd = lowRank(31, 600, 40, 5);
    const Xall = toMatrix(Xd, 40, 'float64');
    const fitted = new b.BetaNMF({ nComponents: 5, beta: 1, maxIter: 60, tol: 0, seed: 3 }).fitSync(Xall);
    const stream = new b.BetaNMF({ nComponents: 5, beta: 1, solver: 'asg_mu', batchSize: 50, seed: 3 });
    for (let pass = 0; pass < 12; pass++) {
      for (let c = 0; c < 600; c += 150) stream.partialFitSync(toMatrix(Xd.slice(c, c + 150), 40, 'float64'));
    }
    assert.equal(stream.nIter, 48);
    // Judge each W by the best H it admits (a long transform), the same way for both.
    const judge = (W: b.Matrix) => {
      const t = new b.BetaNMF({ nComponents: 5, beta: 1, maxIter: 400, tol: 0, init: 'custom', W, fixed: ['W'], seed: 1 });
      return b.betaDivergence(Xall, W, t.transformSync(Xall), 1);
    };
    const streamed = judge(stream.W!), batch = judge(fitted.W!);
    assert.ok(streamed < batch * 1.1, `partialFit ${streamed} vs fit ${batch}`);
  });

  it('transform keeps W fixed and fits H', async () => {
    const m = new b.BetaNMF({ nComponents: K, beta: 1, maxIter: 100, tol: 0, seed: 8 }).fitSync(X);
    const W = m.W!.data.slice();
    const H = await m.transform(X);
    assert.deepEqual(m.W!.data, W);
    assert.deepEqual(H.shape, [N, K]);
    const c = b.betaDivergence(X, m.W!, H, 1);
    assert.ok(c < m.cost! * 1.05, `transform cost ${c} vs fit ${m.cost}`);
    const H2 = m.transformSync(X, { H: m.H! });
    assert.ok(b.betaDivergence(X, m.W!, H2, 1) <= m.cost! * (1 + 1e-9));
    assert.throws(() => new b.BetaNMF({ nComponents: 2 }).transformSync(X), /no W yet/);
  });

  it('fixed: W or H stays as given', () => {
    const W0 = toMatrix(randomDense(rng(1), F, K, 'float64', 0.2, 1), K, 'float64');
    const m = new b.BetaNMF({ nComponents: K, fixed: ['W'], W: W0, maxIter: 5, seed: 1 }).fitSync(X);
    assert.deepEqual(m.W!.data, W0.data);
    assert.notEqual(m.W, W0); // the model holds its own copy
    const H0 = toMatrix(randomDense(rng(2), N, K, 'float64', 0.2, 1), K, 'float64');
    const h = new b.BetaNMF({ nComponents: K, init: 'custom', W: W0, H: H0, fixed: ['H'], maxIter: 5 }).fitSync(X);
    assert.deepEqual(h.H!.data, H0.data);
    assert.notDeepEqual(h.W!.data, W0.data);
  });

  it("init 'nndsvd' and 'nndsvda' start from a good approximation", () => {
    const costs = (['random', 'nndsvd', 'nndsvda'] as const).map(
      (init) => new b.BetaNMF({ nComponents: K, beta: 2, init, maxIter: 0, seed: 1 }).fitSync(X).history[0].cost!,
    );
    assert.ok(costs[1] < costs[0] * 0.5, costs.join(', '));
    // nndsvda fills NNDSVD's zeros with mean(X) (as scikit-learn does), so none stays stuck at 0.
    const m = new b.BetaNMF({ nComponents: K, init: 'nndsvda', maxIter: 20, tol: 0, seed: 1 }).fitSync(X);
    assert.ok(m.W!.data.every((v) => v > 0));
    assert.ok(m.cost! < costs[2] * 0.1);
    assert.throws(() => new b.BetaNMF({ nComponents: 40, init: 'nndsvd' }).fitSync(X), /nComponents: expected at most min\(N, F\) = 30/);
  });

  it('toJSON / fromJSON round-trips a fitted model', () => {
    const m = new b.BetaNMF({ nComponents: K, beta: 'kullback-leibler', solver: 'gsag_mu', sagMemory: 2, maxIter: 5, seed: 77, dtype: 'float32' }).fitSync(X);
    const text = JSON.stringify(m);
    const r = b.BetaNMF.fromJSON(text);
    assert.deepEqual(r.W!.data, m.W!.data);
    assert.equal(r.W!.dtype, 'float32');
    assert.deepEqual(r.H!.data, m.H!.data);
    assert.deepEqual(r.history, m.history);
    assert.equal(r.seed, 77);
    assert.deepEqual(r.options, m.options);
    assert.deepEqual(r.transformSync(X).data, m.transformSync(X).data);
    assert.throws(() => b.BetaNMF.fromJSON({ format: 'other' } as never), TypeError);
  });

  it("a diverging stochastic solver ('heuristic': the original's arithmetic) stops with an Error and finite factors, never NaN", () => {
    const S = b.syntheticSpectrogram(2000, 513);
    const m = new b.BetaNMF({ nComponents: 40, beta: 1, solver: 'asag_mu', sagMemory: 10, batchSize: 500, maxIter: 100, seed: 7, tol: 0, update: 'heuristic' });
    assert.throws(() => m.fitSync(S), /asag_mu solver diverged .* W and H are as before this epoch/);
    for (const f of [m.W!, m.H!]) assert.ok(f.data.every((v) => Number.isFinite(v) && v >= 0));
  });

  for (const solver of ['mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu'] as const) {
    it(`cacheRows: ${solver} over caches of rows gives the same result as with all rows resident`, async () => {
      const opts = { nComponents: K, beta: 1.5, solver, sagMemory: 2, batchSize: 16, maxIter: 4, tol: 0, seed: 12 };
      const all = new b.BetaNMF(opts).fitSync(X);
      const cached = await new b.BetaNMF({ ...opts, cacheRows: 40 }).fit(X); // 40 → caches of 32 rows (2 batches)
      assert.ok(relError(cached.W!, all.W!.toArray()) < 1e-12, `W: ${relError(cached.W!, all.W!.toArray())}`);
      assert.ok(relError(cached.H!, all.H!.toArray()) < 1e-12);
      assert.ok(Math.abs(cached.cost! - all.cost!) <= 1e-12 * all.cost!);
    });
  }

  it('a second fit while one runs is refused', async () => {
    const m = new b.BetaNMF({ nComponents: K, maxIter: 3 });
    const first = m.fit(X);
    await assert.rejects(m.fit(X), /still running/);
    await first;
  });
});

describe('BetaNMF bad data and options', () => {
  const X = b.matrix([[1, 2], [3, 4]]);
  const fit = (data: b.Matrix, opts: b.BetaNMFOptions = {}) => new b.BetaNMF({ nComponents: 1, maxIter: 2, ...opts }).fitSync(data);

  it('negative, NaN or infinite X → RangeError naming the entry', () => {
    assert.throws(() => fit(b.matrix([[1, -2]])), /X: expected finite nonnegative entries, received -2 at row 0, column 1/);
    assert.throws(() => fit(b.matrix([[1, 2], [NaN, 1]])), /received NaN at row 1, column 0/);
    assert.throws(() => fit(b.matrix([[Infinity, 2]])), RangeError);
    assert.throws(() => fit(b.matrix([[0, 0]])), /X: expected some positive entries, received all zeros/);
    assert.throws(() => fit(b.zeros(0, 3)), /at least 1 row/);
  });

  it('zeros in X with β ≤ 0 → RangeError saying why; fine with β > 0', () => {
    const Z = b.matrix([[0, 1], [2, 3]]);
    assert.throws(() => fit(Z, { beta: 0 }), /positive entries for beta = 0 .*divergence is infinite where x = 0/);
    assert.throws(() => fit(Z, { beta: 'itakura-saito' }), RangeError);
    assert.throws(() => fit(Z, { beta: -1 }), RangeError);
    assert.ok(Number.isFinite(fit(Z, { beta: 0.5 }).cost!));
  });

  it('bad options → TypeError or RangeError naming the option', () => {
    assert.throws(() => new b.BetaNMF({ nComponents: 0 }), /nComponents: expected an integer ≥ 1, received 0/);
    assert.throws(() => new b.BetaNMF({ nComponents: 2.5 }), RangeError);
    assert.throws(() => new b.BetaNMF({ nComponents: '3' as never }), TypeError);
    assert.throws(() => new b.BetaNMF({ beta: 'euclid' as never }), /beta: expected a number or 'frobenius'/);
    assert.throws(() => new b.BetaNMF({ beta: NaN }), RangeError);
    assert.throws(() => new b.BetaNMF({ solver: 'sgd' as never }), /solver: expected 'mu_batch' \| 'asg_mu'/);
    assert.throws(() => new b.BetaNMF({ batchSize: 0 }), RangeError);
    assert.throws(() => new b.BetaNMF({ tol: -1 }), RangeError);
    assert.throws(() => new b.BetaNMF({ eps: Infinity }), RangeError);
    assert.throws(() => new b.BetaNMF({ fixed: ['W', 'H'] }), /not both/);
    assert.throws(() => new b.BetaNMF({ fixed: ['V' as never] }), TypeError);
    assert.throws(() => new b.BetaNMF({ init: 'custom' }), /init: expected 'custom' with both W and H/);
    assert.throws(() => new b.BetaNMF({ batchSize: 100, cacheRows: 10 }), /cacheRows: expected 0 or at least batchSize/);
    assert.throws(() => new b.BetaNMF({ nComponnets: 3 } as never), /options: expected only known options.*received 'nComponnets'/);
    assert.throws(() => new b.BetaNMF({ device: 'cuda' }), /CUDA was requested but is not available/);
    assert.throws(() => new b.BetaNMF({ device: 'tpu' as never }), TypeError);
  });

  it('custom factors of the wrong shape or with negative entries → RangeError', () => {
    const W = b.matrix([[1], [1], [1]]), H = b.matrix([[1], [1]]);
    assert.throws(() => fit(X, { init: 'custom', W, H }), /W: expected 2×1 \(F×K\), received 3×1/);
    assert.throws(() => fit(X, { init: 'custom', W: b.matrix([[1], [-1]]), H }), /W: expected finite nonnegative/);
  });

  it('data of another dtype is converted; transform checks F', () => {
    const m = fit(X, { dtype: 'float32' });
    assert.equal(m.W!.dtype, 'float32');
    assert.throws(() => m.transformSync(b.matrix([[1, 2, 3]])), /X: expected 2 columns \(F, the rows of W\), received 1×3/);
  });
});

describe('penalties that drive the factors to zero, eps 0 (issue 27.3)', () => {
  const X = b.syntheticSpectrogram(60, 20, { components: 4, seed: 2, dtype: 'float64' });
  const quiet = { onWarning: () => {} };
  for (const solver of ['mu_batch', 'asg_mu', 'gsag_mu'] as const) {
    it(`β = 3, alphaW = alphaH = 1, eps 0, ${solver}: zero factors as scikit-learn, not a divergence (0/0 keeps the entry)`, () => {
      const m = new b.BetaNMF({ nComponents: 4, beta: 3, alphaW: 1, alphaH: 1, eps: 0, solver, batchSize: 20, maxIter: 50, seed: 1, ...quiet }).fitSync(X);
      assert.ok(Math.max(...m.H.data) === 0 && Math.max(...m.W.data) < 1e-100, `W ≤ ${Math.max(...m.W.data)}, H ≤ ${Math.max(...m.H.data)}`);
      assert.ok(Number.isFinite(m.cost) && m.cost < m.history[0].cost!);
    });
  }
  it('absurd penalties are refused up front, naming the bound and why', () => {
    for (const [o, name] of [[{ alphaW: 1e308 }, 'alphaW'], [{ alphaH: 1e200 }, 'alphaH'], [{ alphaW: 1e18, dtype: 'float32' as const }, 'alphaW']] as const) {
      assert.throws(() => new b.BetaNMF({ nComponents: 4, eps: 0, ...o, ...quiet }).fitSync(X),
        (e: Error) => e instanceof RangeError && new RegExp(`^${name}: expected at most .*√\\(largest float(32|64)\\), so that the penalty`).test(e.message));
    }
  });
  it("the divergence message suggests only settings not in use ('mm' and mu_batch are)", () => {
    assert.throws(() => new b.BetaNMF({ nComponents: 4, beta: 3, alphaH: 1e10, eps: 0, dtype: 'float32', maxIter: 50, seed: 1, ...quiet }).fitSync(X),
      (e: Error) => /mu_batch solver diverged/.test(e.message) && /eps > 0/.test(e.message) && /smaller alphaW \/ alphaH/.test(e.message) &&
        !/update 'mm'|solver 'mu_batch'|batchSize|sagMemory/.test(e.message));
  });
});

describe('given starting factors (issue 28.2, 28.3)', () => {
  const X = b.syntheticSpectrogram(30, 8, { components: 3, seed: 5, dtype: 'float64' });
  const filled = (rows: number, cols: number, f: (i: number, k: number) => number, dtype: b.DType = 'float64') => {
    const m = b.zeros(rows, cols, dtype);
    for (let i = 0; i < rows; i++) for (let k = 0; k < cols; k++) m.data[i * cols + k] = f(i, k);
    return m;
  };
  const W = filled(8, 3, (i, k) => 0.5 + ((i + k) % 3) / 4), H = filled(30, 3, (i, k) => 0.4 + ((i * k) % 5) / 5);
  const quiet = { onWarning: () => {} };
  it('an all-zero W or H is a RangeError (default eps and eps 0), as is a learned all-zero column', () => {
    for (const eps of [1e-10, 0]) {
      assert.throws(() => new b.BetaNMF({ nComponents: 3, init: 'custom', W: b.zeros(8, 3), H, eps, ...quiet }).fitSync(X),
        /^RangeError: W: expected some positive entries \(a multiplicative update never moves a zero\), received all zeros/);
      assert.throws(() => new b.BetaNMF({ nComponents: 3, init: 'custom', W, H: b.zeros(30, 3), eps, ...quiet }).fitSync(X), /^RangeError: H: expected some positive entries/);
    }
    const W1 = filled(8, 3, (i, k) => (k === 1 ? 0 : 1));
    assert.throws(() => new b.BetaNMF({ nComponents: 3, init: 'custom', W: W1, H, ...quiet }).fitSync(X),
      /^RangeError: W: expected no all-zero column .*component 1 would stay 0\), received column 1 all zero/);
    assert.throws(() => new b.BetaNMF({ nComponents: 3, init: 'custom', W: W1, H, fixedComponents: [0], ...quiet }).fitSync(X), /column 1 all zero/);
    assert.throws(() => new b.BetaNMF({ nComponents: 3, init: 'custom', W, H: filled(30, 3, (i, k) => (k === 2 ? 0 : 1)), ...quiet }).fitSync(X), /^RangeError: H: .*column 2 all zero/);
    assert.throws(() => new b.BetaNMF({ nComponents: 3, init: 'custom', W, H, ...quiet }).fitSync(X).transformSync(X, { H: b.zeros(30, 3) }), /^RangeError: options.H: expected some positive entries/);
    assert.throws(() => new b.BetaNMF({ nComponents: 3, init: 'custom', W: W1, H, ...quiet }).partialFitSync(X), /column 1 all zero/);
  });
  it('a fixed all-zero column is legitimate (a component switched off): a warning, and the fit runs', () => {
    const W1 = filled(8, 3, (i, k) => (k === 1 ? 0 : 1));
    for (const o of [{ fixed: ['W' as const], init: 'custom' as const }, { fixedComponents: [1], init: 'custom' as const, H }, { fixedComponents: [1] }]) {
      const warnings: string[] = [];
      const m = new b.BetaNMF({ nComponents: 3, W: W1, maxIter: 5, seed: 1, ...o, onWarning: (w) => warnings.push(w) }).fitSync(X);
      assert.ok(warnings.some((w) => /fixed W has all-zero column 1: those components contribute nothing/.test(w)), JSON.stringify(warnings));
      assert.ok(m.W.data.every((v, i) => i % 3 !== 1 || v === 0));
    }
  });
  it('custom factors of the other dtype are converted to the fit\'s dtype, as X and the weights are (float32 W/H with float64 X)', () => {
    const to32 = (m: b.Matrix) => b.matrix(Float32Array.from(m.data), m.rows, m.cols);
    const to64 = (m: b.Matrix) => b.matrix(Float64Array.from(m.data), m.rows, m.cols);
    const [W32, H32] = [to32(W), to32(H)];
    const o = { nComponents: 3, init: 'custom' as const, maxIter: 10, tol: 0, ...quiet };
    const a = new b.BetaNMF({ ...o, W: W32, H: H32 }).fitSync(X), c = new b.BetaNMF({ ...o, W: to64(W32), H: to64(H32) }).fitSync(X);
    assert.equal(a.W.dtype, 'float64');
    assert.deepEqual([...a.W.data], [...c.W.data]);
    assert.deepEqual([...a.H.data], [...c.H.data]);
    const f = new b.BetaNMF({ ...o, W: W32, fixed: ['W'] }).fitSync(X);
    assert.equal(f.W.dtype, 'float64');
    assert.deepEqual([...f.W.data], [...W32.data]);
    // and the other way: float64 factors with options.dtype float32 are rounded as X is.
    const g = new b.BetaNMF({ ...o, W, H, dtype: 'float32' }).fitSync(X);
    assert.equal(g.W.dtype, 'float32');
  });
});
