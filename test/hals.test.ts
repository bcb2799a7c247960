// solver 'hals' (core/hals.h): coordinate descent for β = 2, checked against a float64 reference
// written here from Cichocki & Phan's update (scikit-learn's _update_cdnmf_fast, shuffle off),
// against scikit-learn's NMF(solver='cd') itself where python3 has it, and for what its theory
// promises (the objective never increases), with penalties, fixed factors and components, any
// thread count, and the CPU against the CUDA backend where one is there (the host emulation).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as b from '../lib';
import { readNpySync, writeNpySync } from '../lib/io';
import { HALS_ACCELERATED_SWEEPS } from '../lib/options';
import { checkShardedOptions } from '../lib/queue/shards';
import { randomDense, rng, toMatrix } from './support/data';
import { withThreads } from './support/threads';

type Rows = number[][];

/** One sweep of coordinate descent over the rows of A (n×K): G K×K, B n×K (scikit-learn's order). */
function sweep(A: Rows, G: Rows, B: Rows): void {
  const K = G.length;
  for (const [i, a] of A.entries()) {
    for (let t = 0; t < K; t++) {
      let g = -B[i][t];
      for (let r = 0; r < K; r++) g += G[t][r] * a[r];
      if (G[t][t] !== 0) a[t] = Math.max(a[t] - g / G[t][t], 0);
    }
  }
}

/** AᵀB for A n×p, B n×q. */
function tmul(A: Rows, B: Rows): Rows {
  const p = A[0].length, q = B[0].length;
  const C = Array.from({ length: p }, () => new Array<number>(q).fill(0));
  A.forEach((a, i) => { for (let x = 0; x < p; x++) for (let y = 0; y < q; y++) C[x][y] += a[x] * B[i][y]; });
  return C;
}

const transpose = (A: Rows): Rows => A[0].map((_, j) => A.map((r) => r[j]));

interface RefOptions { alphaW?: number; alphaH?: number; l1Ratio?: number; updateW?: boolean; fixedComponents?: number[]; sweeps?: number }

/** `iters` HALS epochs in float64 on X (N×F), W (F×K), H (N×K), in place: H then W, as the solver. */
function referenceHals(X: Rows, W: Rows, H: Rows, iters: number, o: RefOptions = {}): void {
  const [N, F] = [X.length, X[0].length];
  const rho = o.l1Ratio ?? 0, aH = o.alphaH ?? 0, aW = o.alphaW ?? 0;
  const Xt = transpose(X);
  for (let it = 0; it < iters; it++) {
    const G = tmul(W, W), B = tmul(Xt, W);  // WᵀW, X·W
    G.forEach((r, k) => (r[k] += aH * F * (1 - rho)));
    B.forEach((r) => r.forEach((_, k) => (r[k] -= aH * F * rho)));
    for (let s = 0; s < (o.sweeps ?? 1); s++) sweep(H, G, B);
    if (o.updateW === false) continue;
    const Gh = tmul(H, H), Bw = tmul(X, H);  // HᵀH, XᵀH
    Gh.forEach((r, k) => (r[k] += aW * N * (1 - rho)));
    Bw.forEach((r) => r.forEach((_, k) => (r[k] -= aW * N * rho)));
    for (const k of o.fixedComponents ?? []) Gh[k][k] = 0;
    for (let s = 0; s < (o.sweeps ?? 1); s++) sweep(W, Gh, Bw);
  }
}

const rows = (m: b.Matrix): Rows => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));

function maxRelDiff(ours: b.Matrix, theirs: Rows | ArrayLike<number>): number {
  const flat = Array.isArray(theirs) ? (theirs as Rows).flat() : Array.from(theirs as ArrayLike<number>);
  let err = 0, scale = 0;
  ours.data.forEach((v, i) => ((err = Math.max(err, Math.abs(v - flat[i]))), (scale = Math.max(scale, Math.abs(flat[i])))));
  return err / scale;
}

function problem(N: number, F: number, K: number, dtype: b.DType = 'float64', seed = 5) {
  const rand = rng(seed);
  return {
    X: toMatrix(randomDense(rand, N, F, dtype, 0.1, 1.1), F, dtype),
    W: toMatrix(randomDense(rand, F, K, dtype, 0.1, 1.1), K, dtype),
    H: toMatrix(randomDense(rand, N, K, dtype, 0.1, 1.1), K, dtype),
  };
}

describe("solver 'hals'", () => {
  const [N, F, K] = [150, 30, 5];
  const { X, W, H } = problem(N, F, K);

  for (const pen of [{}, { alphaW: 0.01, alphaH: 0.02, l1Ratio: 0.3 }, { alphaW: 0.005, l1Ratio: 1 }] as RefOptions[]) {
    it(`equals the float64 reference after 15 epochs (${JSON.stringify(pen)})`, () => {
      const m = new b.BetaNMF({ nComponents: K, solver: 'hals', init: 'custom', W, H, maxIter: 15, tol: 0, device: 'cpu', ...pen }).fitSync(X);
      const [Wr, Hr] = [rows(W), rows(H)];
      referenceHals(rows(X), Wr, Hr, 15, pen);
      assert.ok(maxRelDiff(m.W, Wr) < 1e-10, `W: ${maxRelDiff(m.W, Wr)}`);
      assert.ok(maxRelDiff(m.H, Hr) < 1e-10, `H: ${maxRelDiff(m.H, Hr)}`);
    });
  }

  it('never increases the objective, penalties included, float32 and float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const p = problem(300, 40, 6, dtype, 9);
      for (const pen of [{}, { alphaW: 0.01, alphaH: 0.01, l1Ratio: 0.5 }]) {
        const m = new b.BetaNMF({ nComponents: 6, solver: 'hals', maxIter: 40, tol: 0, costEvery: 1, seed: 3, device: 'cpu', ...pen }).fitSync(p.X);
        const costs = m.history.map((h) => h.cost!);
        for (let i = 1; i < costs.length; i++) assert.ok(costs[i] <= costs[i - 1] * (1 + 1e-6), `${dtype} epoch ${i}: ${costs[i - 1]} → ${costs[i]}`);
        assert.ok(costs[costs.length - 1] < 0.5 * costs[0]);
      }
    }
  });

  it('reaches a lower cost than mu_batch in the same epochs', () => {
    const p = problem(400, 60, 8, 'float64', 11);
    const fit = (solver: b.Solver) => new b.BetaNMF({ nComponents: 8, solver, maxIter: 30, tol: 0, seed: 4, device: 'cpu' }).fitSync(p.X).reconstructionError;
    assert.ok(fit('hals') < fit('mu_batch'));
  });

  it('keeps fixed components and matches the reference with them', () => {
    const fixedComponents = [1, 3];
    const m = new b.BetaNMF({ nComponents: K, solver: 'hals', init: 'custom', W, H, maxIter: 10, tol: 0, fixedComponents, device: 'cpu' }).fitSync(X);
    for (let f = 0; f < F; f++) for (const k of fixedComponents) assert.equal(m.W.data[f * K + k], W.data[f * K + k]);
    const [Wr, Hr] = [rows(W), rows(H)];
    referenceHals(rows(X), Wr, Hr, 10, { fixedComponents });
    assert.ok(maxRelDiff(m.W, Wr) < 1e-10 && maxRelDiff(m.H, Hr) < 1e-10);
  });

  it("fixed: ['W'] and transform run HALS on H alone", () => {
    const m = new b.BetaNMF({ nComponents: K, solver: 'hals', init: 'custom', W, H, maxIter: 12, tol: 0, fixed: ['W'], device: 'cpu' }).fitSync(X);
    assert.deepEqual(Array.from(m.W.data), Array.from(W.data));
    const [Wr, Hr] = [rows(W), rows(H)];
    referenceHals(rows(X), Wr, Hr, 12, { updateW: false });
    assert.ok(maxRelDiff(m.H, Hr) < 1e-10);
    const Ht = m.transformSync(X, { H });
    assert.ok(maxRelDiff(Ht, Hr) < 1e-10, `transform: ${maxRelDiff(Ht, Hr)}`);
  });

  it(`accelerate: ${HALS_ACCELERATED_SWEEPS} sweeps per factor per epoch, as the reference; fewer epochs to a loss`, () => {
    const m = new b.BetaNMF({ nComponents: K, solver: 'hals', accelerate: true, init: 'custom', W, H, maxIter: 10, tol: 0, device: 'cpu' }).fitSync(X);
    const [Wr, Hr] = [rows(W), rows(H)];
    referenceHals(rows(X), Wr, Hr, 10, { sweeps: HALS_ACCELERATED_SWEEPS });
    assert.ok(maxRelDiff(m.W, Wr) < 1e-10 && maxRelDiff(m.H, Hr) < 1e-10);
    const p = problem(400, 60, 8, 'float64', 11);
    const cost = (accelerate: boolean) => new b.BetaNMF({ nComponents: 8, solver: 'hals', accelerate, maxIter: 20, tol: 0, seed: 4, device: 'cpu' }).fitSync(p.X).reconstructionError;
    assert.ok(cost(true) < cost(false));
  });

  it('gives the same bits for 1, 2 and 3 threads', () => {
    const p = problem(3000, 80, 12, 'float32', 2);
    const fit = () => new b.BetaNMF({ nComponents: 12, solver: 'hals', maxIter: 5, tol: 0, seed: 1, device: 'cpu' }).fitSync(p.X);
    const [one, two, three] = [withThreads(1, fit), withThreads(2, fit), withThreads(3, fit)];
    for (const m of [two, three]) {
      assert.deepEqual(Array.from(m.W.data), Array.from(one.W.data));
      assert.deepEqual(Array.from(m.H.data), Array.from(one.H.data));
    }
  });

  it('async fit equals sync fit', async () => {
    const p = problem(3000, 80, 12, 'float32', 2);
    const opts = { nComponents: 12, solver: 'hals', maxIter: 4, tol: 0, seed: 1, device: 'cpu' } as const;
    const s = new b.BetaNMF(opts).fitSync(p.X), a = await new b.BetaNMF(opts).fit(p.X);
    assert.deepEqual(Array.from(a.W.data), Array.from(s.W.data));
  });

  it('refuses β ≠ 2, weights, missing, partialFit and shards with a RangeError naming the option', () => {
    assert.throws(() => new b.BetaNMF({ solver: 'hals', beta: 1 }), (e: Error) => e instanceof RangeError && /solver/.test(e.message) && /beta 1/.test(e.message));
    assert.throws(() => new b.BetaNMF({ solver: 'mu_batch', accelerate: true }), (e: Error) => e instanceof RangeError && /accelerate/.test(e.message));
    assert.throws(() => new b.BetaNMF({ solver: 'hals', accelerate: 1 as never }), (e: Error) => e instanceof TypeError && /accelerate/.test(e.message));
    assert.throws(() => new b.BetaNMF({ solver: 'hals', missing: 'nan' }), (e: Error) => e instanceof RangeError && /missing/.test(e.message));
    const m = new b.BetaNMF({ nComponents: K, solver: 'hals', maxIter: 2, device: 'cpu' });
    assert.throws(() => m.fitSync(X, { weights: X }), (e: Error) => e instanceof RangeError && /weights/.test(e.message));
    assert.throws(() => m.partialFitSync(X), (e: Error) => e instanceof RangeError && /solver/.test(e.message));
    assert.throws(() => checkShardedOptions({ nComponents: K, solver: 'hals' }, 2), (e: Error) => e instanceof RangeError && /options\.solver/.test(e.message));
  });
});

describe("betanmf fit --solver hals --accelerate", () => {
  it('fits from the command line, its cost decreasing; β ≠ 2 is refused naming the option', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-hals-cli-'));
    const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');
    const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, BETANMF_DEVICE: '' } });
    try {
      const { X } = problem(200, 30, 4, 'float32', 6);
      writeNpySync(path.join(dir, 'X.npy'), X);
      const r = cli('fit', path.join(dir, 'X.npy'), '-k', '4', '--solver', 'hals', '--accelerate', '--max-iter', '20', '--tol', '0', '--seed', '1',
        '--device', 'cpu', '--out', path.join(dir, 'out'), '--json', '--no-progress');
      assert.equal(r.status, 0, r.stderr);
      const history = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'history.json'), 'utf8'));
      const costs = (Array.isArray(history) ? history : history.history).filter((h: { cost?: number }) => h.cost !== undefined).map((h: { cost: number }) => h.cost);
      assert.ok(costs[costs.length - 1] < costs[0]);
      const bad = cli('fit', path.join(dir, 'X.npy'), '-k', '4', '--solver', 'hals', '--beta', '1', '--out', path.join(dir, 'bad'), '--no-progress');
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /solver/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("solver 'hals' equals scikit-learn NMF(solver='cd', shuffle=False)", function () {
  let py: string | undefined;
  before(function () {
    py = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import sklearn, numpy'], { stdio: 'ignore' }).status === 0);
    if (!py) {
      if (process.env.CI) throw new Error('scikit-learn is needed in CI (.ci/run installs python3-sklearn)');
      console.log('      (skipped: no python3 with scikit-learn here)');
      this.skip();
    }
  });
  const [N, F, K] = [120, 25, 4];
  const { X, W, H } = problem(N, F, K, 'float64', 3);
  for (const pen of [{ alphaW: 0, alphaH: 0, l1Ratio: 0 }, { alphaW: 0.01, alphaH: 0.02, l1Ratio: 0.4 }]) {
    it(`the same factors from the same start, 20 iterations (${JSON.stringify(pen)})`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-cd-'));
      try {
        writeNpySync(path.join(dir, 'X.npy'), X);
        writeNpySync(path.join(dir, 'H0.npy'), H);
        writeNpySync(path.join(dir, 'W0.npy'), W);
        const args = [path.join(__dirname, 'support', 'sklearn_cd.py'), dir, '20', String(pen.alphaH), String(pen.alphaW), String(pen.l1Ratio)];
        const r = spawnSync(py!, args, { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const m = new b.BetaNMF({ nComponents: K, solver: 'hals', init: 'custom', W, H, maxIter: 20, tol: 0, device: 'cpu', onWarning: () => {}, ...pen }).fitSync(X);
        for (const [ours, file] of [[m.W, 'W.npy'], [m.H, 'H.npy']] as const) {
          const d = maxRelDiff(ours, readNpySync(path.join(dir, file)).data);
          assert.ok(d <= 1e-12, `${file}: ${d}`);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("solver 'hals' on CUDA equals the CPU", function () {
  before(function () {
    if (!b.devices()[1].available) {
      console.log('      (skipped: no CUDA device; npm run test:cuda-emu -- test/hals.test.ts runs these on the emulation)');
      this.skip();
    }
  });
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: the same factors to rounding, penalties and fixed components included`, () => {
      const p = problem(700, 50, 7, dtype, 8);
      const opts = { nComponents: 7, solver: 'hals', init: 'custom', W: p.W, H: p.H, maxIter: 10, tol: 0, alphaW: 0.01, alphaH: 0.01, l1Ratio: 0.5, fixedComponents: [2] } as const;
      const cpu = new b.BetaNMF({ ...opts, device: 'cpu' }).fitSync(p.X);
      const gpu = new b.BetaNMF({ ...opts, device: 'cuda' }).fitSync(p.X);
      const tol = dtype === 'float32' ? 1e-4 : 1e-11;
      for (const [c, g] of [[cpu.W, gpu.W], [cpu.H, gpu.H]]) {
        const gh = g.toTypedArray();
        assert.ok(maxRelDiff(c, gh) < tol, `${maxRelDiff(c, gh)}`);
      }
      gpu.dispose();
    });
  }
});
