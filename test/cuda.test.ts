// The CUDA backend. Without a GPU: CUDA is reported unavailable with a reason, asking for it is
// a clear Error, and 'auto' runs on the CPU. With one: every kernel and the solver on CUDA
// against the CPU in float64 over the β grid (run on the GPU machine; skipped here visibly).
import { strict as assert } from 'node:assert';
import * as b from '../lib';
import { randomDense, relError, rng, toMatrix } from './support/data';

const cuda = b.devices().find((d) => d.kind === 'cuda')!;

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

describe('CUDA kernels and solver against the CPU (float64)', function () {
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

  for (const solver of ['mu_batch', 'asg_mu', 'gsag_mu'] as const) {
    it(`BetaNMF ${solver} on CUDA matches the CPU (float64, shuffled, 5 epochs)`, async () => {
      const X = toMatrix(randomDense(rng(7), 500, 60, 'float64', 0.1, 2), 60, 'float64');
      const opts = { nComponents: 5, beta: 1, solver, sagMemory: 2, batchSize: 64, maxIter: 5, seed: 3 };
      const g = await new b.BetaNMF({ ...opts, device: 'cuda' }).fit(X);
      const c = new b.BetaNMF({ ...opts, device: 'cpu' }).fitSync(X);
      assert.equal(g.W!.device, 'cuda');
      assert.ok(relError(g.W!.to('cpu'), c.W!.toArray()) < 1e-8);
      assert.ok(Math.abs(g.cost! - c.cost!) < 1e-8 * c.cost!);
      const H = await g.transform(X);
      assert.equal(H.device, 'cuda');
    });
  }
});
