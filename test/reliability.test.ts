// A native addon in a long-running service: no leaks, safe concurrency, worker threads,
// disposed matrices, and failures that come before any allocation.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as b from '../lib';
import { randomDense, rng, toMatrix } from './support/data';

function problem(seed: number, N = 400, F = 80, K = 6, dtype: b.DType = 'float64') {
  const rand = rng(seed);
  return {
    X: toMatrix(randomDense(rand, N, F, dtype, 0.1, 2), F, dtype),
    W: toMatrix(randomDense(rand, F, K, dtype), K, dtype),
    H: toMatrix(randomDense(rand, N, K, dtype), K, dtype),
  };
}

describe('reliability', function () {
  this.timeout(180000);

  it('memory stays flat over thousands of kernel calls and fits (sync and async)', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'support', 'leak-workload.js'), '2000'], { encoding: 'utf8' });
    const { before, after } = JSON.parse(out);
    assert.ok(after - before < 20, `RSS grew from ${before.toFixed(1)} MB to ${after.toFixed(1)} MB over 2000 rounds`);
  });

  it('100 concurrent async kernel calls on shared and separate inputs equal sequential results', async () => {
    const shared = problem(1);
    const separate = Array.from({ length: 10 }, (_, i) => problem(100 + i, 120, 40, 4, i % 2 ? 'float32' : 'float64'));
    const betas = [0, 0.5, 1, 1.5, 2];
    const jobs = Array.from({ length: 100 }, (_, i) => {
      const p = i % 2 ? shared : separate[i % 10];
      const beta = betas[i % 5];
      const kind = i % 4;
      const sync = () =>
        kind === 0 ? [b.gradientH(p.X, p.W, p.H, beta).data]
        : kind === 1 ? Object.values(b.gradientWMu(p.X, p.W, p.H, beta)).map((m) => m.data)
        : kind === 2 ? [new Float64Array([b.betaDivergence(p.X, p.W, p.H, beta)])]
        : Object.values(b.muUpdateH(p.X, p.W, p.H, beta, 1e-10)).map((m) => m.data);
      const async = async () =>
        kind === 0 ? [(await b.gradientHAsync(p.X, p.W, p.H, beta)).data]
        : kind === 1 ? Object.values(await b.gradientWMuAsync(p.X, p.W, p.H, beta)).map((m) => m.data)
        : kind === 2 ? [new Float64Array([await b.betaDivergenceAsync(p.X, p.W, p.H, beta)])]
        : Object.values(await b.muUpdateHAsync(p.X, p.W, p.H, beta, 1e-10)).map((m) => m.data);
      return { sync, async };
    });
    const concurrent = await Promise.all(jobs.map((j) => j.async()));
    jobs.forEach((j, i) => assert.deepEqual(concurrent[i], j.sync(), `job ${i}`));
  });

  it('8 concurrent fits equal the same fits run one after another', async () => {
    const X = problem(5, 600, 60).X;
    const opts = (i: number): b.BetaNMFOptions => ({ nComponents: 5, beta: [0.5, 1, 2, 1.5][i % 4], solver: (['mu_batch', 'asg_mu', 'gsg_mu', 'gsag_mu'] as const)[i % 4],
      sagMemory: 1, batchSize: 64, maxIter: 8, seed: i });
    const together = await Promise.all(Array.from({ length: 8 }, (_, i) => new b.BetaNMF(opts(i)).fit(i < 4 ? X : problem(50 + i, 300, 60).X)));
    for (let i = 0; i < 8; i++) {
      const alone = new b.BetaNMF(opts(i)).fitSync(i < 4 ? X : problem(50 + i, 300, 60).X);
      assert.deepEqual(together[i].W!.data, alone.W!.data, `fit ${i}`);
      assert.deepEqual(together[i].H!.data, alone.H!.data, `fit ${i}`);
    }
  });

  it('mutating an input while an async call runs does not reach the result (the call works on a copy)', async () => {
    const p = problem(9, 2000, 200, 10);
    const X = p.X.clone();
    const expected = b.gradientWMu(X, p.W, p.H, 0.5);
    const pending = b.gradientWMuAsync(X, p.W, p.H, 0.5);
    X.data.fill(1);
    const r = await pending;
    assert.deepEqual(r.pos.data, expected.pos.data);
    assert.deepEqual(r.neg.data, expected.neg.data);
    // After the promise settles the arrays are the caller's again.
    assert.deepEqual(b.gradientWMu(X, p.W, p.H, 0.5).neg.data, (await b.gradientWMuAsync(X, p.W, p.H, 0.5)).neg.data);
  });

  it('a disposed matrix is an Error wherever it is used', async () => {
    const p = problem(2, 10, 5, 2);
    const H = p.H.clone();
    H.dispose();
    assert.equal(H.disposed, true);
    assert.throws(() => b.gradientH(p.X, p.W, H, 1), /H: the matrix was disposed/);
    await assert.rejects(b.betaDivergenceAsync(p.X, p.W, H, 1), /H: the matrix was disposed/);
    assert.throws(() => H.toArray(), /disposed/);
    assert.throws(() => new b.BetaNMF({ init: 'custom', W: p.W, H }), /H: the matrix was disposed/);
    assert.throws(() => new b.BetaNMF({ nComponents: 2 }).fitSync(H), /X: the matrix was disposed/);
  });

  it('loads and computes in several worker threads at once, and again after they exit', async () => {
    const p = problem(3, 300, 50, 5);
    const expected = b.gradientH(p.X, p.W, p.H, 1.5).data;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const b = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
      const { X, W, H, N, F, K } = workerData;
      (async () => {
        const m = (d, r, c) => b.matrix(d, r, c);
        const g = await b.gradientHAsync(m(X, N, F), m(W, F, K), m(H, N, K), 1.5);
        const fit = new b.BetaNMF({ nComponents: 3, maxIter: 3, seed: 1 }).fitSync(m(X, N, F));
        parentPort.postMessage({ g: g.data, cost: fit.cost });
      })();`;
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        Array.from({ length: 4 }, () => new Promise<{ g: Float64Array; cost: number }>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { X: p.X.data, W: p.W.data, H: p.H.data, N: 300, F: 50, K: 5 } });
          w.once('message', (m) => { resolve(m); void w.terminate(); });
          w.once('error', reject);
        })),
      );
      for (const r of results) {
        assert.deepEqual(r.g, expected);
        assert.ok(Number.isFinite(r.cost));
      }
    }
  });

  it('a model whose memory cannot be had fails before allocating anything', () => {
    const X = problem(4, 50, 20, 2).X;
    const m = new b.BetaNMF({ nComponents: 2 ** 30, maxIter: 1 });
    assert.throws(() => m.fitSync(X), /nComponents: expected a model that fits in memory .* needs \d+(\.\d+)? GiB/);
    assert.equal(m.W, undefined);
    assert.equal(m.H, undefined);
    assert.equal(m.nIter, 0);
  });
});
