// The native fit object: results independent of the thread count, every native buffer
// released when a call ends (whatever way it ends), batch-order shuffling, dispose.
import { strict as assert } from 'node:assert';
import * as b from '../lib';
import { SETUP_CHUNK } from '../lib/fit';
import { addon } from '../lib/native';
import { NativeFitHandle } from '../lib/fit';
import { withThreads } from './support/threads';

function bits(m: b.Matrix): Buffer {
  const d = m.toTypedArray();
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

describe('results do not depend on the thread count', () => {
  // N·F·K = 6.2e7: large enough that every pass is split into several blocks and threads.
  const [N, F, K] = [3000, 513, 40];
  const X = b.syntheticSpectrogram(N, F, { dtype: 'float32', seed: 8 });
  const rand = (rows: number, seed: number) => {
    const a = new Float32Array(rows * K);
    let s = seed;
    for (let i = 0; i < a.length; i++) a[i] = 0.1 + ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    return b.matrix(a, rows, K);
  };
  const W = rand(F, 1), H = rand(N, 2);

  for (const beta of [0, 1, 1.5, 2]) {
    it(`kernels give the same bits with 1, 2 and 3 threads (β = ${beta})`, () => {
      const run = () => {
        const h = b.gradientHMu(X, W, H, beta), w = b.gradientWMu(X, W, H, beta), d = b.gradientW(X, W, H, beta);
        return { parts: [h.pos, h.neg, w.pos, w.neg, d].map(bits), cost: b.betaDivergence(X, W, H, beta) };
      };
      const one = withThreads(1, run), two = withThreads(2, run), three = withThreads(3, run);
      for (const other of [two, three]) {
        assert.equal(other.cost, one.cost);
        other.parts.forEach((p, i) => assert.ok(p.equals(one.parts[i]), `result ${i} differs`));
      }
    });
  }

  for (const solver of ['mu_batch', 'asg_mu', 'gsag_mu'] as const) {
    it(`a ${solver} fit gives the same bits with 1, 2 and 3 threads`, () => {
      const fit = () => new b.BetaNMF({ nComponents: K, beta: 1, solver, batchSize: 700, sagMemory: 2, maxIter: 3, seed: 4 }).fitSync(X);
      const one = withThreads(1, fit), two = withThreads(2, fit), three = withThreads(3, fit);
      for (const other of [two, three]) {
        assert.ok(bits(other.W!).equals(bits(one.W!)), 'W differs');
        assert.ok(bits(other.H!).equals(bits(one.H!)), 'H differs');
        assert.equal(other.cost, one.cost);
      }
    });
  }
});

describe('the native fit releases what it allocated', () => {
  const X = b.syntheticSpectrogram(400, 60, { dtype: 'float64', seed: 2 });
  const live = () => addon.liveBuffers();

  it('after fits, transforms and partialFits, sync and async', async () => {
    const base = live();
    const m = new b.BetaNMF({ nComponents: 5, maxIter: 3, seed: 1 });
    m.fitSync(X);
    assert.equal(live(), base);
    await m.fit(X);
    assert.equal(live(), base);
    m.transformSync(X);
    await m.transform(X);
    assert.equal(live(), base);
    const p = new b.BetaNMF({ nComponents: 5, solver: 'asg_mu', batchSize: 50, seed: 1 });
    p.partialFitSync(X);
    await p.partialFit(X);
    assert.equal(live(), base);
  });

  it('after aborts, bad data, a throwing callback and a divergence', async () => {
    const base = live();
    const ac = new AbortController();
    const m = new b.BetaNMF({ nComponents: 5, maxIter: 100, tol: 0, seed: 1, onEpoch: ({ epoch }) => void (epoch === 2 && ac.abort()) });
    await assert.rejects(m.fit(X, { signal: ac.signal }), /aborted/);
    assert.equal(live(), base);
    assert.throws(() => m.fitSync(b.matrix([[1, -1], [2, 3]])), RangeError);
    assert.throws(() => m.fitSync(b.matrix([[0, 0], [0, 0]])), /all zeros/);
    assert.equal(live(), base);
    const boom = new b.BetaNMF({ nComponents: 5, maxIter: 5, onEpoch: () => { throw new Error('boom'); } });
    assert.throws(() => boom.fitSync(X), /boom/);
    await assert.rejects(boom.fit(X), /boom/);
    assert.equal(live(), base);
    // A model that overflows: the divergence error comes after the factors are restored.
    const big = new Float64Array(400 * 60).fill(1e300);
    const d = new b.BetaNMF({ nComponents: 5, beta: 2, maxIter: 5, tol: 0, seed: 1 });
    assert.throws(() => d.fitSync(b.matrix(big, 400, 60)), /diverged|finite/);
    assert.equal(live(), base);
  });

  it('Fit objects reject bad specs with TypeError/RangeError and use after dispose with an Error', () => {
    const base = live();
    assert.throws(() => new addon.Fit(null as never), TypeError);
    assert.throws(() => new addon.Fit({ X: new Float64Array(6), N: 2, F: 3, K: 2, beta: 1, dtype: 'float64', solver: 'sgd' } as never), RangeError);
    assert.throws(() => new addon.Fit({ X: new Float64Array(5), N: 2, F: 3, K: 2, beta: 1, dtype: 'float64' } as never), RangeError);
    const f = new addon.Fit({ X: new Float64Array(6).fill(1), N: 2, F: 3, K: 2, beta: 1, dtype: 'float64', shuffle: 'rows' } as never);
    assert.throws(() => f.run(false, { order: new Uint32Array([0, 5]) }), RangeError);
    assert.throws(() => f.run(false, { order: new Uint32Array([0]) }), RangeError);
    assert.throws(() => f.read('V' as never, new Float64Array(6)), RangeError);
    assert.throws(() => f.read('W', new Float64Array(5)), RangeError);
    f.dispose();
    f.dispose();
    assert.throws(() => f.cost(false), /disposed/);
    assert.equal(live(), base);
  });

  it('BetaNMF#dispose and `using` free the model', () => {
    const m = new b.BetaNMF({ nComponents: 3, maxIter: 2, seed: 1 });
    m.fitSync(X);
    m[Symbol.dispose]();
    assert.equal(m.W, undefined);
    m.fitSync(X);
    assert.ok(m.W);
    m.dispose();
    assert.equal(m.H, undefined);
  });
});

describe("an async call's setup leaves the event loop free", () => {
  // 3000×600 entries: several SETUP_CHUNKs of X to copy and check, then the random start.
  const [N, F] = [3000, 600];
  const X = b.syntheticSpectrogram(N, F, { dtype: 'float64', seed: 4 });
  const live = () => addon.liveBuffers();
  // Calls onTick(n) at the n-th turn of the event loop (setImmediate: where I/O callbacks run).
  function ticker(onTick: (n: number) => void): { stop(): void } {
    let n = 0, on = true;
    const tick = () => {
      if (!on) return;
      onTick(++n);
      setImmediate(tick);
    };
    setImmediate(tick);
    return { stop: () => void (on = false) };
  }

  it('copying and checking X and the initialisation give the loop turns: an abort then is seen before the first epoch', async () => {
    assert.ok(Math.ceil((N * F) / SETUP_CHUNK) >= 5);
    const base = live();
    // float32: X is converted on its way in. NNDSVD runs its products off the loop and its own
    // loops in pieces: well over 100 turns (an SVD's products and Gram–Schmidt columns).
    for (const [dtype, init, at] of [['float64', 'random', 2], ['float32', 'random', 2], ['float32', 'nndsvda', 100]] as const) {
      const ac = new AbortController();
      const t = ticker((n) => n === at && ac.abort());
      const m = new b.BetaNMF({ nComponents: 10, maxIter: 3, seed: 1, dtype, init });
      await assert.rejects(m.fit(X, { signal: ac.signal }), b.AbortError);
      t.stop();
      assert.equal(m.W, undefined, 'aborted during the setup');
      assert.equal(live(), base);
    }
    // Done in steps, the setup gives the same model as a sync fit.
    const opts = { nComponents: 10, maxIter: 3, seed: 1 };
    const a = await new b.BetaNMF(opts).fit(X), s = new b.BetaNMF(opts).fitSync(X);
    assert.deepEqual(bits(a.W!), bits(s.W!));
    assert.deepEqual(bits(a.H!), bits(s.H!));
  });

  it("X's memory detached or transferred during the setup is a clean Error (fit, transform, partialFit)", async () => {
    const base = live();
    const model = new b.BetaNMF({ nComponents: 10, maxIter: 2, seed: 1 }).fitSync(X);
    const calls = [
      (Xd: b.Matrix) => new b.BetaNMF({ nComponents: 10, maxIter: 3, seed: 1 }).fit(Xd),
      (Xd: b.Matrix) => model.transform(Xd),
      (Xd: b.Matrix) => new b.BetaNMF({ nComponents: 10, seed: 1 }).partialFit(Xd),
    ];
    for (const call of calls) {
      const data = Float64Array.from(X.data);
      const t = ticker((n) => n === 2 && structuredClone(data.buffer, { transfer: [data.buffer] }));
      await assert.rejects(call(b.matrix(data, N, F)), /^Error: X: its memory was detached or transferred during the fit$/);
      t.stop();
      assert.equal(data.length, 0, 'X was detached meanwhile');
    }
    model.dispose();
    assert.equal(live(), base);
  });
});

describe('shuffling', () => {
  const X = b.syntheticSpectrogram(500, 40, { dtype: 'float64', seed: 5 });
  const fit = (shuffle: b.BetaNMFOptions['shuffle'], seed = 3) =>
    new b.BetaNMF({ nComponents: 4, beta: 1, solver: 'asg_mu', batchSize: 64, maxIter: 4, tol: 0, seed, shuffle }).fitSync(X);

  it("visits the batches in a new order each epoch by default ('batches'), reproducibly", () => {
    const a = fit(undefined), c = fit('batches'), d = fit(true), none = fit(false);
    assert.deepEqual(a.W!.data, c.W!.data);
    assert.deepEqual(a.W!.data, d.W!.data);
    assert.notDeepEqual(a.W!.data, none.W!.data);
    assert.notDeepEqual(a.W!.data, fit(undefined, 4).W!.data);
  });

  it("'rows' re-cuts the batches from shuffled rows; both decrease the cost", () => {
    const rows = fit('rows'), batches = fit('batches');
    assert.notDeepEqual(rows.W!.data, batches.W!.data);
    for (const m of [rows, batches]) assert.ok(m.cost! < m.history[0].cost!);
  });

  it('mu_batch is not shuffled: the same factors whatever the shuffle option', () => {
    const m = (shuffle: b.BetaNMFOptions['shuffle']) => new b.BetaNMF({ nComponents: 4, maxIter: 3, seed: 1, shuffle }).fitSync(X);
    assert.deepEqual(m('rows').W!.data, m(false).W!.data);
  });
});

describe('the SAG state of averaged targets moves between fit objects', () => {
  // partialFit and sharded asag carry gradPos, gradNeg, sagStep and sagGain from one fit object
  // to the next (core/solver.h: the adaptive gain and the averaged steps it compares with).
  const [N, F, K] = [300, 40, 4];
  const X = b.syntheticSpectrogram(N, F, { dtype: 'float64', seed: 3 });
  const start = (rows: number, seed: number) => {
    const a = new Float64Array(rows * K);
    let s = seed;
    for (let i = 0; i < a.length; i++) a[i] = 0.1 + ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    return a;
  };
  const W0 = start(F, 1), H0 = start(N, 2);
  const make = () => new NativeFitHandle({
    X: X.data, W: W0.slice(), H: H0.slice(), N, F, K, dtype: 'float64', beta: 1, solver: 'asag_mu', batchSize: 30, eps: 1e-10,
    gamma: 1, forget: 1 / 21, vFloor: 2 ** -23, updateH: true, updateW: true, shuffle: 'none', positive: false, averageTargets: true,
  }, 'cpu');
  const names = ['W', 'H', 'gradPos', 'gradNeg', 'sagStep'] as const;
  const read = (h: NativeFitHandle, name: (typeof names)[number]) => {
    const out = new Float64Array((name === 'H' ? N : F) * K);
    h.native.read(name, out);
    return out;
  };

  it('continues the asag_mu fit bit for bit; without sagStep and sagGain it does not', () => {
    const one = make();
    for (let e = 0; e < 4; e++) one.native.run(false, {});
    const gain = one.native.sagGain();
    assert.ok(gain >= 1 / 21 && gain < 1, `the gain averages: ${gain}`);
    const moved = (withGain: boolean) => {
      const a = make(), c = make();
      for (let e = 0; e < 2; e++) a.native.run(false, {});
      for (const name of names) if (withGain || name !== 'sagStep') c.native.write(name, read(a, name));
      if (withGain) c.native.sagGain(a.native.sagGain());
      for (let e = 0; e < 2; e++) c.native.run(false, {});
      const W = read(c, 'W');
      [a, c].forEach((h) => h.dispose());
      return W;
    };
    const expected = read(one, 'W');
    one.dispose();
    assert.deepEqual(moved(true), expected);
    assert.notDeepEqual(moved(false), expected);
  });

  it('sagGain takes a number in [0, 1]; sagStep exists only with averaged targets', () => {
    const h = make();
    assert.throws(() => h.native.sagGain(1.5), RangeError);
    assert.throws(() => h.native.sagGain('1' as unknown as number), TypeError);
    h.dispose();
    const plain = new NativeFitHandle({ X: X.data, N, F, K, dtype: 'float64', beta: 1, solver: 'asg_mu', batchSize: 30, eps: 1e-10,
      gamma: 1, forget: 1, vFloor: 0, updateH: true, updateW: true, shuffle: 'none', positive: false }, 'cpu');
    assert.throws(() => plain.native.read('sagStep', new Float64Array(F * K)), /sagStep: only a fit with averageTargets/);
    plain.dispose();
  });
});
