// The CUDA backend. Without a GPU: CUDA is reported unavailable with a reason, asking for it is
// a clear Error, and 'auto' runs on the CPU. With one: every kernel and the solvers on CUDA
// against the CPU over the β grid in both dtypes, aliasing, zero sizes, out of memory, and
// device memory returning to its baseline (run on the GPU machine, and in CI on the host
// emulation of the CUDA backend: npm run test:cuda-emu; skipped visibly elsewhere).
import { strict as assert } from 'node:assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as b from '../lib';
import { addon } from '../lib/native';
import { betaDivergence as refDivergence } from './support/reference';
import { randomDense, relError, rng, toMatrix } from './support/data';

const cuda = b.devices().find((d) => d.kind === 'cuda')!;

// Device memory once the garbage of earlier tests is collected (their finalizers free what they
// did not dispose), so that a test's own allocations can be counted from there.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
async function settledDeviceMemory(): Promise<ReturnType<typeof addon.deviceMemory>> {
  let last = '';
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const now = JSON.stringify(addon.deviceMemory());
    if (now === last) break;
    last = now;
  }
  return addon.deviceMemory();
}

describe('CUDA device choice', () => {
  it('devices() lists the CPU first and says whether CUDA is usable, and why not', () => {
    const [cpu, gpu] = b.devices();
    assert.equal(cpu.kind, 'cpu');
    assert.equal(cpu.available, true);
    assert.equal(gpu.kind, 'cuda');
    if (!gpu.available) assert.ok(gpu.reason && gpu.reason.length > 5, `reason: ${gpu.reason}`);
    else assert.ok(gpu.name && gpu.memoryBytes! > 0);
  });

  it("without a GPU, to('cuda') and device: 'cuda' are Errors saying why; 'auto' runs on the CPU", function () {
    if (cuda.available) this.skip();
    const X = b.matrix([[1, 2], [3, 4]]);
    assert.throws(() => X.to('cuda'), new RegExp(`CUDA was requested but is not available \\(${cuda.reason!.replace(/[()]/g, '.')}\\)`));
    assert.throws(() => b.matrix([[1]], { device: 'cuda' }), /not available/);
    assert.throws(() => b.zeros(2, 2, 'float32', 'cuda'), /not available/);
    assert.throws(() => new b.BetaNMF({ nComponents: 1, device: 'cuda' }), /not available/);
    assert.equal(X.to('auto'), X);
    const m = new b.BetaNMF({ nComponents: 1, device: 'auto', maxIter: 2 }).fitSync(X);
    assert.equal(m.W!.device, 'cpu');
    const saved = process.env.BETANMF_DEVICE;
    process.env.BETANMF_DEVICE = 'cuda';
    try {
      assert.throws(() => new b.BetaNMF({ nComponents: 1 }), /BETANMF_DEVICE: CUDA was requested but is not available/);
    } finally {
      if (saved === undefined) delete process.env.BETANMF_DEVICE;
      else process.env.BETANMF_DEVICE = saved;
    }
  });
});

describe('Matrix allocation', () => {
  it('a shape beyond 2^53 − 1 bytes is a RangeError naming it, before anything is allocated', () => {
    // rows·cols = 2^61 + 2^30 is exact in a double; ·8 bytes once wrapped to 8 GiB in native code.
    const devices = cuda.available ? (['cpu', 'cuda'] as const) : (['cpu'] as const);
    for (const device of devices) {
      assert.throws(() => b.zeros(1431655766, 1610612736, 'float64', device),
        (e: Error) => e instanceof RangeError && /^shape: expected at most 2\^53 − 1 bytes, received 1431655766×1610612736 float64/.test(e.message));
    }
    // Below the bound but more than a typed array holds: V8's RangeError, naming the shape.
    assert.throws(() => b.zeros(2 ** 31 - 1, 2 ** 17, 'float64'),
      (e: Error) => e instanceof RangeError && /^shape: expected a matrix this process can allocate, received 2147483647×131072 float64/.test(e.message));
  });

  it('Matrix implements Symbol.dispose', () => {
    const m = b.zeros(2, 2);
    m[Symbol.dispose]();
    assert.equal(m.disposed, true);
  });
});

describe('CUDA kernels and solvers against the CPU', function () {
  before(function () {
    if (!cuda.available) {
      console.log(`      (skipped: ${cuda.reason})`);
      this.skip();
    }
  });

  const [N, F, K] = [700, 90, 7];
  const rand = rng(42);
  for (const dtype of ['float64', 'float32'] as const) {
    const tol = dtype === 'float64' ? 1e-9 : 5e-4;
    const Xd = randomDense(rand, N, F, dtype, 0.1, 2), Wd = randomDense(rand, F, K, dtype), Hd = randomDense(rand, N, K, dtype);
    for (const beta of [-0.5, 0, 0.5, 1, 1.25, 1.5, 2, 3]) {
      it(`${dtype}, β = ${beta}: every kernel equals the CPU`, async () => {
        const X = toMatrix(Xd, F, dtype), W = toMatrix(Wd, K, dtype), H = toMatrix(Hd, K, dtype);
        const [Xg, Wg, Hg] = [X.to('cuda'), W.to('cuda'), H.to('cuda')];
        const same = (g: b.Matrix, c: b.Matrix, ...scale: b.Matrix[]) => {
          assert.equal(g.device, 'cuda');
          const e = relError(g.to('cpu'), c.toArray(), ...scale.map((m) => m.toArray()));
          assert.ok(e <= tol, `${e}`);
        };
        const hc = b.gradientHMu(X, W, H, beta), hg = b.gradientHMu(Xg, Wg, Hg, beta);
        same(hg.pos, hc.pos);
        same(hg.neg, hc.neg);
        same(b.gradientH(Xg, Wg, Hg, beta), b.gradientH(X, W, H, beta), hc.pos, hc.neg);
        const wc = b.gradientWMu(X, W, H, beta), wg = await b.gradientWMuAsync(Xg, Wg, Hg, beta);
        same(wg.pos, wc.pos);
        same(wg.neg, wc.neg);
        same(b.gradientW(Xg, Wg, Hg, beta), b.gradientW(X, W, H, beta), wc.pos, wc.neg);
        same(b.muUpdateH(Xg, Wg, Hg, beta, 1e-10).H, b.muUpdateH(X, W, H, beta, 1e-10).H);
        same(b.muUpdate(Wg, wg.pos, wg.neg, 1e-10), b.muUpdate(W, wc.pos, wc.neg, 1e-10));
        same(b.updateGradW(Wg, wg.pos, wg.neg), b.updateGradW(W, wc.pos, wc.neg));
        const dc = b.betaDivergence(X, W, H, beta), dg = await b.betaDivergenceAsync(Xg, Wg, Hg, beta);
        assert.ok(Math.abs(dg - dc) <= tol * Math.abs(dc), `${dg} vs ${dc}`);
        // Entry weights (a fifth of them 0): the weighted passes and divergence on the device.
        const M = toMatrix(randomDense(rand, N, F, dtype, 0.5, 2, 0.2), F, dtype), Mg = M.to('cuda');
        const hmc = b.gradientHMu(X, W, H, beta, { weights: M }), hmg = b.gradientHMu(Xg, Wg, Hg, beta, { weights: Mg });
        same(hmg.pos, hmc.pos);
        same(hmg.neg, hmc.neg);
        same(b.gradientH(Xg, Wg, Hg, beta, { weights: Mg }), b.gradientH(X, W, H, beta, { weights: M }), hmc.pos, hmc.neg);
        const wmc = b.gradientWMu(X, W, H, beta, { weights: M }), wmg = await b.gradientWMuAsync(Xg, Wg, Hg, beta, { weights: Mg });
        same(wmg.pos, wmc.pos);
        same(wmg.neg, wmc.neg);
        same(b.gradientW(Xg, Wg, Hg, beta, { weights: Mg }), b.gradientW(X, W, H, beta, { weights: M }), wmc.pos, wmc.neg);
        same(b.muUpdateH(Xg, Wg, Hg, beta, 1e-10, { weights: Mg }).H, b.muUpdateH(X, W, H, beta, 1e-10, { weights: M }).H);
        const mdc = b.betaDivergence(X, W, H, beta, { weights: M }), mdg = b.betaDivergence(Xg, Wg, Hg, beta, { weights: Mg });
        assert.ok(Math.abs(mdg - mdc) <= tol * Math.abs(mdc), `weighted: ${mdg} vs ${mdc}`);
        Mg.dispose();
        // In place on the device.
        const H2 = Hg.clone();
        b.muUpdateH(Xg, Wg, H2, beta, 1e-10, { out: { H: H2 } });
        same(H2, b.muUpdateH(X, W, H, beta, 1e-10).H);
        for (const m of [Xg, Wg, Hg, H2]) m.dispose();
      });
    }
  }

  it('mixed devices are an Error; a disposed device matrix too', () => {
    const X = b.matrix([[1, 2]]), W = b.matrix([[1], [1]]), H = b.matrix([[1]]);
    assert.throws(() => b.gradientH(X, W.to('cuda'), H, 1), /W: expected a matrix on cpu like X, received one on cuda/);
    const G = W.to('cuda');
    G.dispose();
    assert.throws(() => b.gradientH(X.to('cuda'), G, H.to('cuda'), 1), /W: the matrix was disposed/);
  });

  it('outputs may alias inputs on the device (in place and overlapping)', () => {
    const dtype = 'float64';
    const X = toMatrix(randomDense(rand, 40, 9, dtype, 0.1, 2), 9, dtype), W = toMatrix(randomDense(rand, 9, 3, dtype), 3, dtype);
    const H = toMatrix(randomDense(rand, 40, 3, dtype), 3, dtype);
    const [Xg, Wg] = [X.to('cuda'), W.to('cuda')];
    for (const beta of [0.5, 1, 2]) {
      const Hg = H.to('cuda');
      b.gradientH(Xg, Wg, Hg, beta, { out: Hg }); // the output is an input of its own products
      assert.ok(relError(Hg, b.gradientH(X, W, H, beta).toArray()) <= 1e-9);
      const wp = b.gradientWMu(X, W, H, beta), Wi = W.to('cuda');
      b.muUpdate(Wi, wp.pos.to('cuda'), wp.neg.to('cuda'), 1e-10, { out: Wi });
      assert.ok(relError(Wi, b.muUpdate(W, wp.pos, wp.neg, 1e-10).toArray()) <= 1e-9);
      const g = { pos: wp.pos.to('cuda'), neg: wp.neg.to('cuda') };
      b.updateGradW(g, g, { pos: wp.neg.to('cuda'), neg: wp.pos.to('cuda') }, { out: g });
      assert.ok(relError(g.pos, wp.neg.toArray()) <= 1e-12 && relError(g.neg, wp.pos.toArray()) <= 1e-12);
      for (const m of [Hg, Wi, g.pos, g.neg]) m.dispose();
    }
    Xg.dispose();
    Wg.dispose();
  });

  it('zero sizes: empty results on the device equal the CPU\'s', () => {
    for (const [N, F, K] of [[0, 5, 3], [4, 0, 3], [4, 5, 0], [0, 0, 0]]) {
      const X = b.zeros(N, F), W = toMatrix(randomDense(rand, F, K, 'float64'), K, 'float64'), H = toMatrix(randomDense(rand, N, K, 'float64'), K, 'float64');
      const [Xg, Wg, Hg] = [X.to('cuda'), W.to('cuda'), H.to('cuda')];
      for (const beta of [0, 1, 2]) {
        const tag = `${N}×${F}×${K} β=${beta}`;
        assert.deepEqual(b.gradientWMu(Xg, Wg, Hg, beta).pos.toArray(), b.gradientWMu(X, W, H, beta).pos.toArray(), tag);
        assert.deepEqual(b.gradientHMu(Xg, Wg, Hg, beta).neg.toArray(), b.gradientHMu(X, W, H, beta).neg.toArray(), tag);
        assert.deepEqual(b.gradientW(Xg, Wg, Hg, beta).toArray(), b.gradientW(X, W, H, beta).toArray(), tag);
        assert.equal(b.betaDivergence(Xg, Wg, Hg, beta), b.betaDivergence(X, W, H, beta), tag);
      }
    }
  });

  it('betaDivergence computes the exact formula with signed W and H (no hidden clipping), like the CPU', () => {
    // V = H·Wᵀ has negative entries here; vFloor = 0 means no clipping on either backend.
    const r = rng(11), sign = (rows: number, cols: number) => randomDense(r, rows, cols, 'float64', -1, 1.1);
    const Xd = randomDense(r, 6, 4, 'float64', 0.1, 2), Wd = sign(4, 3), Hd = sign(6, 3);
    const X = toMatrix(Xd, 4, 'float64'), W = toMatrix(Wd, 3, 'float64'), H = toMatrix(Hd, 3, 'float64');
    for (const beta of [2, 3]) {
      const exact = refDivergence(Xd, Wd, Hd, beta);
      const gpu = b.betaDivergence(X.to('cuda'), W.to('cuda'), H.to('cuda'), beta), cpu = b.betaDivergence(X, W, H, beta);
      assert.ok(Math.abs(gpu - exact) <= 1e-12 * Math.abs(exact), `β=${beta}: CUDA ${gpu}, exact ${exact}`);
      assert.ok(Math.abs(cpu - exact) <= 1e-12 * Math.abs(exact), `β=${beta}: CPU ${cpu}, exact ${exact}`);
    }
  });

  it('out of memory is an Error and the device stays usable; device memory returns to its baseline', async () => {
    const before = await settledDeviceMemory();
    const rows = Math.ceil(cuda.memoryBytes! / 8 / 1000) + 1; // float64 rows of 1000: more than the device has
    assert.throws(() => b.zeros(rows, 1000, 'float64', 'cuda'), (e: Error) => !(e instanceof RangeError) && /out of memory|cudaMalloc/.test(e.message));
    const X = toMatrix(randomDense(rand, 50, 8, 'float64', 0.1, 2), 8, 'float64'), W = toMatrix(randomDense(rand, 8, 2, 'float64'), 2, 'float64');
    const H = toMatrix(randomDense(rand, 50, 2, 'float64'), 2, 'float64');
    const [Xg, Wg, Hg] = [X.to('cuda'), W.to('cuda'), H.to('cuda')];
    assert.ok(Math.abs(b.betaDivergence(Xg, Wg, Hg, 1) - b.betaDivergence(X, W, H, 1)) < 1e-9);
    const Z = b.zeros(1000, 100, 'float64', 'cuda'); // 800 kB, reported to V8 (AdjustExternalMemory)
    const during = addon.deviceMemory();
    assert.equal(during.reportedBytes - before.reportedBytes, 800_000 + 8 * (50 * 8 + 8 * 2 + 50 * 2));
    assert.equal(during.arrays, before.arrays + 4);
    assert.ok(during.bytes - before.bytes >= 800_000);
    for (const m of [Xg, Wg, Hg, Z]) m.dispose();
    assert.deepEqual(addon.deviceMemory(), before);
  });

  it('a fit on the device leaves no device memory behind once disposed', async () => {
    const before = await settledDeviceMemory();
    const X = toMatrix(randomDense(rng(3), 120, 20, 'float64', 0.1, 2), 20, 'float64');
    const m = await new b.BetaNMF({ nComponents: 3, solver: 'asag_mu', batchSize: 32, maxIter: 2, device: 'cuda', seed: 1 }).fit(X);
    (await m.transform(X)).dispose();
    m.dispose();
    assert.deepEqual(addon.deviceMemory(), before);
  });

  it('a device X is checked on the device: the same RangeError as a host X, and X is never downloaded or uploaded again', async () => {
    const [N, F] = [300, 40];
    // Bytes copied each way during fn (counted by the host emulation; on a GPU, not counted).
    const transfers = async (fn: () => Promise<unknown>) => {
      const s0 = addon.emu?.state();
      await fn();
      const s1 = addon.emu?.state();
      return s0 && s1 ? { up: s1.uploadedBytes - s0.uploadedBytes, down: s1.downloadedBytes - s0.downloadedBytes } : undefined;
    };
    for (const dtype of ['float64', 'float32'] as const) {
      const bytesX = N * F * (dtype === 'float64' ? 8 : 4);
      for (const [bad, beta] of [[NaN, 1], [-2.5, 1], [Infinity, 2], [0, 0]] as const) {
        const Xd = randomDense(rng(9), N, F, dtype, 0.1, 2);
        Xd[123][7] = bad; // the first invalid entry: a later one must not be the one named
        Xd[250][3] = -1;
        const X = toMatrix(Xd, F, dtype), Xg = X.to('cuda');
        const opts = { nComponents: 3, beta, maxIter: 2, seed: 1 };
        let expected: Error | undefined;
        try {
          new b.BetaNMF({ ...opts, device: 'cpu' }).fitSync(X);
        } catch (err) {
          expected = err as Error;
        }
        assert.ok(expected instanceof RangeError && /at row 123, column 7/.test(expected.message), `${expected}`);
        const same = (e: Error) => e instanceof RangeError && e.message === expected!.message;
        const t = await transfers(() => assert.rejects(new b.BetaNMF({ ...opts, device: 'cuda' }).fit(Xg), same));
        assert.throws(() => new b.BetaNMF({ ...opts, device: 'cuda' }).fitSync(Xg), same);
        if (t) assert.ok(t.up === 0 && t.down < bytesX / 10, `${dtype} ${bad}: ${JSON.stringify(t)}`);
        Xg.dispose();
      }
      // A valid X: on the device, only W and H travel (X stays where it is); from the host, X
      // is uploaded once. Both start from the same scale (the device's sum of X).
      const X = toMatrix(randomDense(rng(10), N, F, dtype, 0.1, 2), F, dtype), Xg = X.to('cuda');
      const opts = { nComponents: 3, beta: 1, maxIter: 3, seed: 1, device: 'cuda' } as const;
      let fromDevice: b.BetaNMF | undefined, fromHost: b.BetaNMF | undefined;
      const td = await transfers(async () => (fromDevice = await new b.BetaNMF(opts).fit(Xg)));
      const th = await transfers(async () => (fromHost = await new b.BetaNMF(opts).fit(X)));
      if (td && th) {
        assert.ok(td.up < bytesX / 2 && td.down < bytesX / 10, `device X: ${JSON.stringify(td)}`);
        assert.ok(th.up >= bytesX && th.up < bytesX * 1.5 && th.down < bytesX / 10, `host X: ${JSON.stringify(th)}`);
      }
      assert.ok(relError(fromDevice!.W!.to('cpu'), fromHost!.W!.to('cpu').toArray()) < (dtype === 'float64' ? 1e-12 : 1e-5));
      for (const m of [fromDevice!, fromHost!]) m.dispose();
      Xg.dispose();
    }
  });

  it('cacheRows on the device: the same model as with all rows resident; X checked on the host as it stays there', async () => {
    const Xd = randomDense(rng(12), 200, 30, 'float64', 0.1, 2);
    // Unshuffled: with shuffling, a cached epoch visits shuffled rows, a resident one shuffled batches.
    const opts = { nComponents: 4, beta: 1.5, solver: 'asag_mu', sagMemory: 2, batchSize: 16, maxIter: 3, tol: 0, seed: 12, device: 'cuda', shuffle: 'none' } as const;
    const all = await new b.BetaNMF(opts).fit(toMatrix(Xd, 30, 'float64'));
    const cached = await new b.BetaNMF({ ...opts, cacheRows: 40 }).fit(toMatrix(Xd, 30, 'float64'));
    const e = relError(cached.W!.to('cpu'), all.W!.to('cpu').toArray());
    assert.ok(e < 1e-12, `${e}`);
    Xd[150][2] = NaN;
    await assert.rejects(new b.BetaNMF({ ...opts, cacheRows: 40 }).fit(toMatrix(Xd, 30, 'float64')),
      (e: Error) => e instanceof RangeError && /^X: expected finite nonnegative entries, received NaN at row 150, column 2/.test(e.message));
    for (const m of [all, cached]) m.dispose();
  });

  it('the scale guard rebalances columns on the device as on the CPU (column maxima on CUDA)', async () => {
    const X = toMatrix(randomDense(rng(5), 200, 30, 'float64', 0.1, 2), 30, 'float64');
    const r = rng(6), W0 = randomDense(r, 30, 4, 'float64'), H0 = randomDense(r, 200, 4, 'float64');
    W0.forEach((row) => (row[1] *= 1e5));
    H0.forEach((row) => (row[1] *= 1e-5)); // column scales 1e10 apart: the guard must rebalance
    const opts = { nComponents: 4, beta: 1, solver: 'asg_mu', batchSize: 50, maxIter: 2, seed: 1, init: 'custom',
      W: toMatrix(W0, 4, 'float64'), H: toMatrix(H0, 4, 'float64') } as const;
    const g = await new b.BetaNMF({ ...opts, device: 'cuda' }).fit(X), c = new b.BetaNMF({ ...opts, device: 'cpu' }).fitSync(X);
    const Wc = c.W!.toArray();
    assert.ok(Math.max(...Wc.map((row) => row[1])) < 100, 'the CPU rebalanced');
    assert.ok(relError(g.W!.to('cpu'), Wc) < 1e-8);
    g.dispose();
  });

  it('device weights are checked on the device: the host weights\' RangeError, the weights never downloaded', async () => {
    const [N, F, K] = [200, 30, 3];
    const r = rng(21);
    const X = toMatrix(randomDense(r, N, F, 'float64', 0.1, 2), F, 'float64');
    const W = toMatrix(randomDense(r, F, K, 'float64'), K, 'float64'), H = toMatrix(randomDense(r, N, K, 'float64'), K, 'float64');
    const [Xg, Wg, Hg] = [X.to('cuda'), W.to('cuda'), H.to('cuda')];
    for (const bad of [NaN, -0.5, Infinity]) {
      const M = toMatrix(randomDense(r, N, F, 'float64', 0.5, 1.5), F, 'float64');
      M.data[57 * F + 11] = bad;
      M.data[150 * F + 2] = -1; // later: not the one named
      const Mg = M.to('cuda');
      const message = (fn: () => unknown) => {
        try {
          fn();
        } catch (e) {
          assert.ok(e instanceof RangeError, String(e));
          return (e as Error).message;
        }
        assert.fail('expected a RangeError');
      };
      const host = message(() => b.gradientHMu(X, W, H, 1, { weights: M }));
      assert.match(host, /options\.weights: expected finite weights ≥ 0 .*at row 57, column 11/);
      const down0 = addon.emu?.state().downloadedBytes;
      assert.equal(message(() => b.gradientHMu(Xg, Wg, Hg, 1, { weights: Mg })), host);
      assert.equal(message(() => b.betaDivergence(Xg, Wg, Hg, 1, { weights: Mg })), host);
      assert.equal(message(() => new b.BetaNMF({ nComponents: K, maxIter: 1, device: 'cuda' }).fitSync(Xg, { weights: Mg })), host);
      const down1 = addon.emu?.state().downloadedBytes;
      if (down0 !== undefined && down1 !== undefined) assert.ok(down1 - down0 < (N * F * 8) / 10, `downloaded ${down1 - down0} bytes`);
      await assert.rejects(new b.BetaNMF({ nComponents: K, maxIter: 1, device: 'cuda' }).fit(X, { weights: M }), (e: Error) => e.message === host);
      Mg.dispose();
    }
    for (const m of [Xg, Wg, Hg]) m.dispose();
  });

  for (const solver of ['mu_batch', 'asag_mu'] as const) {
    it(`BetaNMF ${solver} with weights, penalties and fixed components on CUDA matches the CPU (float64, 4 epochs; cacheRows too)`, async () => {
      const r = rng(8);
      const X = toMatrix(randomDense(r, 300, 40, 'float64', 0.1, 2), 40, 'float64');
      const M = toMatrix(randomDense(r, 300, 40, 'float64', 0.5, 1.5, 0.25), 40, 'float64');
      const W = toMatrix(randomDense(r, 40, 4, 'float64'), 4, 'float64');
      const opts = { nComponents: 4, beta: 0.5, solver, maxIter: 4, seed: 3, alphaW: 0.05, alphaH: 0.1, l1Ratio: 0.3, W,
        fixedComponents: [1], shuffle: 'rows', ...(solver === 'mu_batch' ? {} : { batchSize: 64, sagMemory: 2 }) } as const;
      const c = new b.BetaNMF({ ...opts, device: 'cpu' }).fitSync(X, { weights: M });
      const g = await new b.BetaNMF({ ...opts, device: 'cuda' }).fit(X, { weights: M.to('cuda') });
      assert.ok(relError(g.W!.to('cpu'), c.W!.toArray()) < 1e-8);
      assert.ok(Math.abs(g.cost! - c.cost!) < 1e-8 * c.cost!);
      const Wg = g.W!.to('cpu');
      for (let f = 0; f < 40; f++) assert.equal(Wg.data[f * 4 + 1], W.data[f * 4 + 1]);
      if (solver === 'asag_mu') {
        const cached = await new b.BetaNMF({ ...opts, shuffle: 'none', device: 'cuda', cacheRows: 128 }).fit(X, { weights: M });
        const whole = new b.BetaNMF({ ...opts, shuffle: 'none', device: 'cpu' }).fitSync(X, { weights: M });
        assert.ok(relError(cached.W!.to('cpu'), whole.W!.toArray()) < 1e-8);
        assert.ok(Math.abs(cached.cost! - whole.cost!) < 1e-8 * whole.cost!);
        cached.dispose();
      }
      g.dispose();
    });
  }

  for (const solver of ['mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu'] as const) {
    it(`BetaNMF ${solver} on CUDA matches the CPU (float64, shuffled, 5 epochs)`, async () => {
      const X = toMatrix(randomDense(rng(7), 500, 60, 'float64', 0.1, 2), 60, 'float64');
      const opts = { nComponents: 5, beta: 1, solver, maxIter: 5, seed: 3,
        ...(solver.includes('sag') ? { sagMemory: 2 } : {}), ...(solver === 'mu_batch' ? {} : { batchSize: 64 }) };
      const g = await new b.BetaNMF({ ...opts, device: 'cuda' }).fit(X);
      const c = new b.BetaNMF({ ...opts, device: 'cpu' }).fitSync(X);
      assert.equal(g.W!.device, 'cuda');
      assert.ok(relError(g.W!.to('cpu'), c.W!.toArray()) < 1e-8);
      assert.ok(Math.abs(g.cost! - c.cost!) < 1e-8 * c.cost!);
      const H = await g.transform(X);
      assert.equal(H.device, 'cuda');
      H.dispose();
      g.dispose();
    });
  }
});
