// The workload run under AddressSanitizer by scripts/memcheck.sh: every kernel in both dtypes
// (sync, async, in place, views with offsets, empty shapes), the five solvers, bad calls.
'use strict';
const b = require('../dist');

function random(rows, cols, dtype, seed) {
  let s = seed >>> 0;
  const data = (dtype === 'float32' ? new Float32Array(rows * cols) : new Float64Array(rows * cols))
    .map(() => 0.1 + (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return b.matrix(data, rows, cols);
}

async function main() {
  let calls = 0;
  for (const dtype of ['float32', 'float64']) {
    for (const [N, F, K] of [[0, 3, 2], [1, 1, 1], [7, 5, 3], [300, 97, 6], [1200, 40, 7]]) {
      const X = random(N, F, dtype, 1), W = random(F, K, dtype, 2), H = random(N, K, dtype, 3);
      for (const beta of [-0.5, 0, 0.5, 1, 1.5, 2, 3, 2.75]) {
        b.gradientH(X, W, H, beta); b.gradientW(X, W, H, beta);
        const hp = b.gradientHMu(X, W, H, beta), wp = b.gradientWMu(X, W, H, beta);
        b.muUpdateH(X, W, H.clone(), beta, 1e-10);
        b.muUpdate(W.clone(), wp.pos, wp.neg, 1e-10, { out: W.clone() });
        b.updateGradW(wp, wp, wp);
        b.betaDivergence(X, W, H, beta);
        await Promise.all([b.gradientHAsync(X, W, H, beta), b.gradientWMuAsync(X, W, H, beta), b.betaDivergenceAsync(X, W, H, beta),
          b.muUpdateHAsync(X, W, H, beta, 0, { out: { H: H.clone(), pos: hp.pos, neg: hp.neg } })]);
        // In place, and outputs aliasing inputs.
        const H2 = H.clone();
        b.gradientH(X, W, H2, beta, { out: H2 });
        b.muUpdateH(X, W, H2, beta, 1e-10, { out: { H: H2 } });
        // Entry weights (some 0) in every kernel that takes X.
        const M = random(N, F, dtype, 4);
        for (let i = 0; i < M.data.length; i += 3) M.data[i] = 0;
        b.gradientH(X, W, H, beta, { weights: M }); b.gradientWMu(X, W, H, beta, { weights: M });
        b.gradientHMu(X, W, H, beta, { weights: M }); b.betaDivergence(X, W, H, beta, { weights: M });
        await Promise.all([b.gradientWAsync(X, W, H, beta, { weights: M }), b.betaDivergenceAsync(X, W, H, beta, { weights: M }),
          b.muUpdateHAsync(X, W, H, beta, 0, { weights: M, out: { H: H.clone() } })]);
        calls += 21;
      }
      // A view with an offset into a larger buffer.
      const big = new (dtype === 'float32' ? Float32Array : Float64Array)(N * F + 5).fill(1);
      b.gradientW(b.matrix(big.subarray(3, 3 + N * F), N, F), W, H, 1);
    }
  }
  const X = b.syntheticSpectrogram(600, 64);
  for (const solver of ['mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu']) {
    const m = new b.BetaNMF({ nComponents: 5, solver, beta: 1, batchSize: 70, sagMemory: 2, maxIter: 4, seed: 1 });
    await m.fit(X);
    m.fitSync(X);
    await m.transform(X);
    m.partialFitSync(X);
    calls += 4;
  }
  new b.BetaNMF({ nComponents: 4, init: 'nndsvda', maxIter: 2 }).fitSync(X);
  // Weights, penalties, fixed components and missing entries, in every solver (rows re-cut too).
  const M = random(600, 64, 'float32', 5), Xn = X.clone();
  for (let i = 0; i < M.data.length; i += 7) M.data[i] = 0;
  for (let i = 0; i < Xn.data.length; i += 11) Xn.data[i] = NaN;
  for (const solver of ['mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu']) {
    for (const shuffle of ['batches', 'rows']) {
      const m = new b.BetaNMF({ nComponents: 5, solver, beta: 0.5, batchSize: 70, sagMemory: 2, maxIter: 3, seed: 1, shuffle,
        alphaW: 0.1, alphaH: 0.1, l1Ratio: 0.5, W: random(64, 5, 'float32', 6), fixedComponents: [0, 3], missing: 'nan' });
      await m.fit(Xn, { weights: M });
      m.fitSync(X, { weights: M });
      await m.transform(Xn, { weights: M });
      m.partialFitSync(X, { weights: M });
      calls += 4;
    }
  }
  await new b.BetaNMF({ nComponents: 4, init: 'nndsvdar', maxIter: 2, dtype: 'float32' }).fit(X); // products on shared memory, async
  // X transferred, and its memory freed, while an async fit copies it in chunks (with the event
  // loop running in between): an Error, never a read of the freed memory.
  require('node:v8').setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  for (const dtype of ['float32', 'float64']) {
    const data = random(3000, 600, 'float64', 4).data;
    let n = 0;
    const tick = () => {
      if (++n < 2) return void setImmediate(tick);
      structuredClone(data.buffer, { transfer: [data.buffer] }); // the clone is garbage: freed by gc()
      gc();
    };
    setImmediate(tick);
    try {
      await new b.BetaNMF({ nComponents: 4, maxIter: 2, dtype }).fit(b.matrix(data, 3000, 600));
      throw new Error('expected an Error for the detached X');
    } catch (e) {
      if (!/detached or transferred during the fit/.test(e.message)) throw e;
    }
    calls += 1;
  }
  // Bad calls into the addon itself must throw, not touch memory.
  const { addon } = require('../dist/native');
  for (const bad of [
    () => addon.hParts(false, new Float64Array(4), new Float64Array(4), new Float64Array(4), 2, 3, 2, 1, null, null, null),
    () => addon.muUpdate(false, new Float32Array(3), new Float32Array(2), new Float32Array(3), 0, new Float32Array(3)),
    () => new addon.Fit({ X: new Float64Array(6), W: new Float64Array(5), H: new Float64Array(4), N: 2, F: 3, K: 2, beta: 1,
      dtype: 'float64' }),
    () => new addon.Fit({ X: new Float64Array(6), N: 2, F: 3, K: 2, beta: 1, dtype: 'float64', shuffle: 'rows' })
      .run(false, { order: new Uint32Array([0, 5]) }),
    () => addon.wParts(false, new Float64Array(6), new Float64Array(6), new Float64Array(4), 2, 3, 2, 1,
      new Float64Array(6), new Float64Array(6), null, new Float64Array(5)),
    () => new addon.Fit({ X: new Float64Array(6), weights: new Float64Array(5), N: 2, F: 3, K: 2, beta: 1, dtype: 'float64' }),
    () => new addon.Fit({ X: new Float64Array(6), N: 2, F: 3, K: 2, beta: 1, dtype: 'float64', fixedComponents: [2] }),
    () => new addon.Fit({ X: new Float64Array(6), N: 2, F: 3, K: 2, beta: 1, dtype: 'float64' })
      .run(false, { X: new Float64Array(3), H: new Float64Array(2), weights: new Float64Array(2) }),
  ]) {
    try { bad(); throw new Error('expected an exception'); } catch (e) { if (e.message === 'expected an exception') throw e; }
  }
  console.log(`memcheck: ${calls} kernel and solver calls ran clean under AddressSanitizer`);
}

main().catch((e) => { console.error(e); process.exit(1); });
