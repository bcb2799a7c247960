// The estimator surface users expect: honest stop reasons, best factors, warnings, scikit-learn
// conveniences, transform's start, and a stability grid of the solvers from a random start.
import { strict as assert } from 'node:assert';
import * as b from '../lib';

const X = b.syntheticSpectrogram(600, 48, { seed: 3 });
const quiet = { onWarning: () => {} };

describe('BetaNMF stop reasons', () => {
  it("'maxIter', 'converged' (a decrease below tol), 'callback' and 'aborted'", async () => {
    const m = new b.BetaNMF({ nComponents: 4, maxIter: 3, tol: 0, seed: 1 });
    assert.equal(m.fitSync(X).stopReason, 'maxIter');
    const c = new b.BetaNMF({ nComponents: 4, maxIter: 5000, tol: 1e-3, costEvery: 1, seed: 1 }).fitSync(X);
    assert.equal(c.stopReason, 'converged');
    const costs = c.history.map((h) => h.cost!);
    const [p, l] = costs.slice(-2);
    assert.ok(p - l >= 0 && p - l <= 1e-3 * p);
    const cb = new b.BetaNMF({ nComponents: 4, maxIter: 50, tol: 0, seed: 1, onEpoch: ({ epoch }) => epoch < 4 }).fitSync(X);
    assert.equal(cb.stopReason, 'callback');
    assert.equal(cb.nIter, 4);
    const ac = new AbortController();
    const a = new b.BetaNMF({ nComponents: 4, maxIter: 500, tol: 0, seed: 1, onEpoch: ({ epoch }) => void (epoch === 3 && ac.abort()) });
    await assert.rejects(a.fit(X, { signal: ac.signal }), b.AbortError);
    assert.equal(a.stopReason, 'aborted');
    // The cost is of the factors kept, evaluated after the abort too.
    assert.equal(a.cost, b.betaDivergence(X, a.W!, a.H!, 2));
  });

  it('a rise of the cost is never convergence; maxNoImprovement stops with the best factors', () => {
    // 'heuristic' asag at β = 1 from a random start overshoots (the original's arithmetic).
    const S = b.syntheticSpectrogram(2000, 128, { seed: 7 });
    const opts = { nComponents: 20, beta: 1, solver: 'asag_mu' as const, sagMemory: 10, batchSize: 500, maxIter: 60, seed: 7,
      update: 'heuristic' as const, costEvery: 1, tol: 1e-4, maxNoImprovement: 3 };
    const m = new b.BetaNMF(opts);
    let stopped: string | undefined;
    try {
      m.fitSync(S);
      stopped = m.stopReason;
    } catch (e) {
      stopped = (e as Error).message;
    }
    const costs = m.history.filter((h) => h.cost !== undefined).map((h) => h.cost!);
    assert.ok(costs.some((c, i) => i > 0 && c > costs[i - 1]), 'the cost rose at some point');
    assert.notEqual(stopped, 'converged');
    if (stopped === 'noImprovement') {
      const best = Math.min(...costs);
      assert.equal(m.cost, best);
      assert.ok(Math.abs(b.betaDivergence(S, m.W!, m.H!, 1) - best) <= 1e-6 * best);
    }
    assert.throws(() => new b.BetaNMF({ maxNoImprovement: 0 }), RangeError);
  });
});

describe('BetaNMF warnings', () => {
  it('says when an option does nothing or works badly, through onWarning', () => {
    const seen: string[] = [];
    const onWarning = (w: string) => seen.push(w);
    new b.BetaNMF({ solver: 'asg_mu', sagMemory: 4, onWarning });
    new b.BetaNMF({ solver: 'mu_batch', batchSize: 50, onWarning });
    new b.BetaNMF({ nComponents: 60, solver: 'asg_mu', batchSize: 5000, maxIter: 1, onWarning }).fitSync(X);
    assert.equal(seen.length, 4, seen.join('\n'));
    assert.match(seen[0], /sagMemory has no effect with solver 'asg_mu'/);
    assert.match(seen[1], /batchSize has no effect with solver 'mu_batch'/);
    assert.match(seen[2], /batchSize 5000 ≥ N = 600/);
    assert.match(seen[3], /nComponents 60 > min\(N, F\) = 48/);
    assert.throws(() => new b.BetaNMF({ onWarning: 3 as never }), TypeError);
  });
});

describe('BetaNMF conveniences (scikit-learn names)', () => {
  it('fitTransform, inverseTransform, reconstructionError, nFeaturesIn', async () => {
    const m = new b.BetaNMF({ nComponents: 5, maxIter: 20, seed: 2 });
    const H = m.fitTransformSync(X);
    assert.equal(H, m.H);
    assert.equal(m.nFeaturesIn, 48);
    const V = m.inverseTransform(H);
    assert.deepEqual(V.shape, [600, 48]);
    let sq = 0;
    for (let i = 0; i < X.data.length; i++) sq += (X.data[i] - V.data[i]) ** 2;
    assert.ok(Math.abs(m.reconstructionError! - Math.sqrt(sq)) <= 1e-9 * Math.sqrt(sq));
    const H2 = await new b.BetaNMF({ nComponents: 5, maxIter: 20, seed: 2 }).fitTransform(X);
    assert.deepEqual(H2.data, H.data);
    assert.throws(() => m.inverseTransform(b.zeros(3, 4)), RangeError);
    assert.throws(() => new b.BetaNMF().inverseTransform(H), /no W yet/);
  });

  it('after fit, TypeScript sees W, H and cost as present', async () => {
    const m = await new b.BetaNMF({ nComponents: 3, maxIter: 2, seed: 1 }).fit(X);
    const w: number = m.W.data[0] + m.H.data[0] + m.cost; // compiles under strict without '!'
    assert.ok(Number.isFinite(w));
  });

  it("transform starts from the constant √(mean(X)/K): the same H whatever the model's seed or init", () => {
    const W = new b.BetaNMF({ nComponents: 4, maxIter: 10, seed: 1 }).fitSync(X).W;
    const H = b.matrix(new Float64Array(600 * 4).fill(1), 600, 4);
    const t = (seed: number) => new b.BetaNMF({ nComponents: 4, maxIter: 15, init: 'custom', W, H, seed }).transformSync(X);
    assert.deepEqual(t(1).data, t(2).data);
    const m = new b.BetaNMF({ nComponents: 4, maxIter: 0, init: 'custom', W, H, seed: 9 });
    const start = Math.sqrt(X.data.reduce((s, v) => s + v, 0) / X.data.length / 4);
    assert.ok(m.transformSync(X).data.every((v) => v === Math.fround(start)));
  });

  it("'nndsvd' and 'nndsvdar' leave no zeros for MU to keep; 'nndsvda' fills them with mean(X)", () => {
    for (const init of ['nndsvd', 'nndsvdar', 'nndsvda'] as const) {
      const m = new b.BetaNMF({ nComponents: 6, maxIter: 0, init, seed: 3, ...quiet }).fitSync(X);
      assert.ok(m.W.data.every((v) => v > 0) && m.H.data.every((v) => v > 0), init);
    }
  });
});

describe('stability: every solver decreases the cost from a random start', () => {
  const S = b.syntheticSpectrogram(1200, 64, { seed: 11 });
  for (const beta of [0, 0.5, 1, 1.5, 2]) {
    it(`β = ${beta}: all solvers, sagMemory 1/5/20, batch sizes 100/500; SAG within 3× of its plain sibling`, () => {
      const final = (solver: b.Solver, batchSize: number, sagMemory?: number) => {
        const m = new b.BetaNMF({ nComponents: 8, beta, solver, batchSize, sagMemory, maxIter: 40, tol: 0, costEvery: 10, seed: 5, ...quiet });
        m.fitSync(S);
        const costs = m.history.filter((h) => h.cost !== undefined).map((h) => h.cost!);
        for (let i = 1; i < costs.length; i++) assert.ok(costs[i] < costs[0], `${solver} bs ${batchSize} m ${sagMemory}: ${costs}`);
        assert.ok(costs[costs.length - 1] < 0.5 * costs[0], `${solver} bs ${batchSize} m ${sagMemory}: ${costs}`);
        return costs[costs.length - 1];
      };
      final('mu_batch', 100);
      for (const batchSize of [100, 500]) {
        const asg = final('asg_mu', batchSize), gsg = final('gsg_mu', batchSize);
        for (const mem of [1, 5, 20]) {
          assert.ok(final('asag_mu', batchSize, mem) < 3 * asg);
          assert.ok(final('gsag_mu', batchSize, mem) < 3 * gsg);
        }
      }
    });
  }

  // A fixed weight 1/(sagMemory + 1) lags here (1.5–4× the plain solver's cost with memory 20);
  // the adaptive gain keeps up (core/solver.h, README "Stable SAG").
  for (const beta of [0.5, 1, 2]) {
    it(`β = ${beta}: asag_mu / gsag_mu with sagMemory 5 and 20 end within 1.5× of asg_mu / gsg_mu after 40 epochs`, () => {
      const final = (solver: b.Solver, batchSize: number, sagMemory?: number) =>
        new b.BetaNMF({ nComponents: 8, beta, solver, batchSize, sagMemory, maxIter: 40, tol: 0, costEvery: 40, seed: 5, ...quiet })
          .fitSync(S).cost;
      for (const batchSize of [100, 300]) {
        const asg = final('asg_mu', batchSize), gsg = final('gsg_mu', batchSize);
        for (const mem of [5, 20]) {
          const asag = final('asag_mu', batchSize, mem), gsag = final('gsag_mu', batchSize, mem);
          assert.ok(asag <= 1.5 * asg, `batch ${batchSize}, memory ${mem}: asag ${asag} vs asg ${asg}`);
          assert.ok(gsag <= 1.5 * gsg, `batch ${batchSize}, memory ${mem}: gsag ${gsag} vs gsg ${gsg}`);
        }
      }
    });
  }

  it('small batches at β = 1.5 and 2: asag_mu with sagMemory 20 averages (ends below 0.75× asg_mu), it is not asg_mu', () => {
    for (const beta of [1.5, 2]) {
      const final = (solver: b.Solver, sagMemory?: number) =>
        new b.BetaNMF({ nComponents: 8, beta, solver, batchSize: 100, sagMemory, maxIter: 40, tol: 0, costEvery: 40, seed: 5, ...quiet })
          .fitSync(S).cost;
      const asg = final('asg_mu'), asag = final('asag_mu', 20);
      assert.ok(asag < 0.75 * asg, `β = ${beta}: asag ${asag} vs asg ${asg}`);
    }
  });
});

describe('SAG with sagMemory 0', () => {
  it("is the plain solver's arithmetic: asag_mu = asg_mu and gsag_mu = gsg_mu bit for bit, under both updates", () => {
    const X = b.syntheticSpectrogram(600, 64, { components: 5, seed: 4 });
    for (const [sag, plain] of [['asag_mu', 'asg_mu'], ['gsag_mu', 'gsg_mu']] as const) {
      for (const update of ['mm', 'heuristic'] as const) {
        const opts = { nComponents: 5, beta: 0.5, batchSize: 100, maxIter: 8, seed: 2, update };
        const averaged = new b.BetaNMF({ ...opts, solver: sag }).fitSync(X), plainFit = new b.BetaNMF({ ...opts, solver: plain }).fitSync(X);
        assert.deepEqual(averaged.W.data, plainFit.W.data, `${sag} ${update}`);
        assert.deepEqual(averaged.H.data, plainFit.H.data, `${sag} ${update}`);
        // With a memory they differ (the average is used).
        const m = new b.BetaNMF({ ...opts, solver: sag, sagMemory: 3 }).fitSync(X);
        assert.notDeepEqual(m.W.data, plainFit.W.data, `${sag} ${update} sagMemory 3`);
      }
    }
  });
});
