// What the kernels promise beyond their numbers: inputs untouched, `out` (aliasing allowed),
// async equal to sync, and the event loop free while async work runs.
import { strict as assert } from 'node:assert';
import * as b from '../lib';
import { randomDense, rng, toMatrix } from './support/data';

function problem(dtype: b.DType, N = 120, F = 70, K = 5) {
  const rand = rng(7);
  return {
    X: toMatrix(randomDense(rand, N, F, dtype, 0.1, 2, 0.05), F, dtype),
    W: toMatrix(randomDense(rand, F, K, dtype), K, dtype),
    H: toMatrix(randomDense(rand, N, K, dtype), K, dtype),
  };
}

const BETAS = [0, 0.5, 1, 2, 3];

for (const dtype of ['float64', 'float32'] as const) {
  describe(`kernel behaviour (${dtype})`, () => {
    it('never modifies its inputs', () => {
      const p = problem(dtype);
      const before = [p.X, p.W, p.H].map((m) => m.data.slice());
      for (const beta of BETAS) {
        b.gradientH(p.X, p.W, p.H, beta);
        b.gradientHMu(p.X, p.W, p.H, beta);
        b.gradientW(p.X, p.W, p.H, beta);
        b.gradientWMu(p.X, p.W, p.H, beta);
        b.muUpdateH(p.X, p.W, p.H, beta, 1e-10);
        b.betaDivergence(p.X, p.W, p.H, beta);
      }
      const { pos, neg } = b.gradientHMu(p.X, p.W, p.H, 1);
      const snap = [pos, neg].map((m) => m.data.slice());
      b.muUpdate(p.H, pos, neg, 0);
      b.updateGradW(p.H, pos, neg);
      [p.X, p.W, p.H].forEach((m, i) => assert.deepEqual(m.data, before[i]));
      [pos, neg].forEach((m, i) => assert.deepEqual(m.data, snap[i]));
    });

    it('writes into options.out and returns that matrix', () => {
      const p = problem(dtype);
      const out = b.zeros(p.H.rows, p.H.cols, dtype);
      const r = b.gradientH(p.X, p.W, p.H, 1.5, { out });
      assert.equal(r, out);
      assert.deepEqual(out.data, b.gradientH(p.X, p.W, p.H, 1.5).data);
      const pos = b.zeros(p.W.rows, p.W.cols, dtype);
      const parts = b.gradientWMu(p.X, p.W, p.H, 0.5, { out: { pos } });
      assert.equal(parts.pos, pos);
      assert.deepEqual(pos.data, b.gradientWMu(p.X, p.W, p.H, 0.5).pos.data);
    });

    for (const beta of BETAS) {
      it(`allows out to alias an input (β = ${beta})`, () => {
        const p = problem(dtype);
        // gradientH into H itself, gradientW into W itself.
        const gH = b.gradientH(p.X, p.W, p.H, beta);
        const H2 = p.H.clone();
        b.gradientH(p.X, p.W, H2, beta, { out: H2 });
        assert.deepEqual(H2.data, gH.data);
        const gW = b.gradientW(p.X, p.W, p.H, beta);
        const W2 = p.W.clone();
        b.gradientW(p.X, W2, p.H, beta, { out: W2 });
        assert.deepEqual(W2.data, gW.data);
        // muUpdateH in place, and with pos written over H (the order must not matter).
        const fresh = b.muUpdateH(p.X, p.W, p.H, beta, 1e-10);
        const H3 = p.H.clone();
        const r = b.muUpdateH(p.X, p.W, H3, beta, 1e-10, { out: { H: H3 } });
        assert.equal(r.H, H3);
        assert.deepEqual(H3.data, fresh.H.data);
        const H4 = p.H.clone();
        const r4 = b.muUpdateH(p.X, p.W, H4, beta, 1e-10, { out: { pos: H4 } });
        assert.deepEqual(r4.pos.data, fresh.pos.data);
        assert.deepEqual(r4.H.data, fresh.H.data);
        // Elementwise kernels in place.
        const f = p.H.clone();
        const expected = b.muUpdate(f, fresh.pos, fresh.neg, 0.1);
        b.muUpdate(f, fresh.pos, fresh.neg, 0.1, { out: f });
        assert.deepEqual(f.data, expected.data);
        const g = fresh.pos.clone();
        const expectedSum = b.updateGradW(g, fresh.neg, p.H);
        b.updateGradW(g, fresh.neg, p.H, { out: g });
        assert.deepEqual(g.data, expectedSum.data);
      });
    }

    it('gives the same results async as sync, for every kernel', async () => {
      const p = problem(dtype, 300, 90, 6);
      for (const beta of BETAS) {
        assert.deepEqual((await b.gradientHAsync(p.X, p.W, p.H, beta)).data, b.gradientH(p.X, p.W, p.H, beta).data);
        assert.deepEqual((await b.gradientWAsync(p.X, p.W, p.H, beta)).data, b.gradientW(p.X, p.W, p.H, beta).data);
        const hm = await b.gradientHMuAsync(p.X, p.W, p.H, beta), hs = b.gradientHMu(p.X, p.W, p.H, beta);
        assert.deepEqual([hm.pos.data, hm.neg.data], [hs.pos.data, hs.neg.data]);
        const wm = await b.gradientWMuAsync(p.X, p.W, p.H, beta), ws = b.gradientWMu(p.X, p.W, p.H, beta);
        assert.deepEqual([wm.pos.data, wm.neg.data], [ws.pos.data, ws.neg.data]);
        const ma = await b.muUpdateHAsync(p.X, p.W, p.H, beta, 1e-10), msync = b.muUpdateH(p.X, p.W, p.H, beta, 1e-10);
        assert.deepEqual([ma.H.data, ma.pos.data, ma.neg.data], [msync.H.data, msync.pos.data, msync.neg.data]);
        assert.equal(await b.betaDivergenceAsync(p.X, p.W, p.H, beta), b.betaDivergence(p.X, p.W, p.H, beta));
        assert.deepEqual((await b.muUpdateAsync(p.H, hs.pos, hs.neg, 0.5)).data, b.muUpdate(p.H, hs.pos, hs.neg, 0.5).data);
        const pa = await b.updateGradWAsync(hs, hm, hs), ps = b.updateGradW(hs, hm, hs);
        assert.deepEqual([pa.pos.data, pa.neg.data], [ps.pos.data, ps.neg.data]);
      }
    });
  });
}

describe('async work', () => {
  it('runs off the event loop: timers fire while a large call is in flight', async () => {
    const rand = rng(3);
    const [N, F, K] = [4000, 400, 40];
    const X = toMatrix(randomDense(rand, N, F, 'float64'), F, 'float64');
    const W = toMatrix(randomDense(rand, F, K, 'float64'), K, 'float64');
    const H = toMatrix(randomDense(rand, N, K, 'float64'), K, 'float64');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let settled = false;
    const work = (async () => {
      for (let i = 0; i < 5; i++) await b.gradientWMuAsync(X, W, H, 0.5);
    })().finally(() => (settled = true));
    // The promise has not settled synchronously: the work is queued, not done inline.
    assert.equal(settled, false);
    await work;
    clearInterval(timer);
    assert.ok(ticks > 0, 'the timer never fired while the kernels ran');
  });

  it('rejects (never throws synchronously) on invalid arguments', async () => {
    const X = b.matrix([[1, 2]]);
    let threw = false;
    let promise: Promise<unknown> | undefined;
    try {
      promise = b.gradientHAsync(X, X, X, 2);
    } catch {
      threw = true;
    }
    assert.equal(threw, false);
    await assert.rejects(promise!, RangeError);
  });
});
