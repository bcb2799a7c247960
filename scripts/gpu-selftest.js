#!/usr/bin/env node
// GPU self-test and benchmark, for the GPU machine (scripts/gpu-check.sh runs it there): needs
// only node, dist/ and the built addon (BETANMF_NATIVE may point at it). Compares every kernel
// on CUDA with the CPU in float64 over the β grid, runs the solvers on CUDA, and times each
// kernel and a full MU iteration. Writes gpu-selftest.json (and prints a summary).
//   node scripts/gpu-selftest.js [--out DIR] [--shape 100000x513x100] [--iters 20] [--small]
// --small: small correctness shapes and a tiny benchmark (the host emulation runs it in CI:
// test/cuda-emu.test.ts).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const b = require('../dist');
const { addon } = require('../dist/native');
const { openIteration } = require('../dist/fit');

const { values } = parseArgs({ options: {
  out: { type: 'string', default: process.env.OUT || '.' },
  shape: { type: 'string', default: '100000x513x100' },
  iters: { type: 'string', default: '20' },
  small: { type: 'boolean', default: false },
} });
const small = values.small;
const [N, F, K] = small ? [300, 40, 5] : values.shape.split('x').map(Number);
const iters = small ? 1 : Number(values.iters);
const report = { devices: b.devices(), checks: [], passed: 0, failed: 0, kernels: [], iterations: [] };

function rand(rows, cols, dtype, seed, lo = 0.1, hi = 1.1) {
  let s = seed >>> 0;
  const C = dtype === 'float32' ? Float32Array : Float64Array;
  return b.matrix(C.from({ length: rows * cols }, () => lo + (hi - lo) * ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)), rows, cols);
}
function relErr(g, c, ...scales) {
  const a = g.toTypedArray(), e = c.toTypedArray();
  let err = 0, scale = 0;
  for (const m of [e, ...scales.map((x) => x.toTypedArray())]) for (const v of m) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - e[i]));
  return scale ? err / scale : err;
}
function check(name, ok, detail) {
  report.checks.push({ name, ok, detail });
  ok ? report.passed++ : report.failed++;
  if (!ok) console.log(`FAIL ${name}: ${detail}`);
}

async function correctness() {
  for (const dtype of ['float64', 'float32']) {
    const tol = dtype === 'float64' ? 1e-9 : 5e-4;
    const [n, f, k] = small ? [300, 37, 4] : [3000, 257, 12];
    const X = rand(n, f, dtype, 1, 0.1, 2), W = rand(f, k, dtype, 2), H = rand(n, k, dtype, 3);
    const [Xg, Wg, Hg] = [X, W, H].map((m) => m.to('cuda'));
    for (const beta of [-0.5, 0, 0.5, 1, 1.25, 1.5, 2, 3]) {
      const tag = `${dtype} β=${beta}`;
      const hc = b.gradientHMu(X, W, H, beta), hg = b.gradientHMu(Xg, Wg, Hg, beta);
      check(`gradientHMu ${tag}`, Math.max(relErr(hg.pos, hc.pos), relErr(hg.neg, hc.neg)) <= tol, relErr(hg.neg, hc.neg));
      const e1 = relErr(b.gradientH(Xg, Wg, Hg, beta), b.gradientH(X, W, H, beta), hc.pos, hc.neg);
      check(`gradientH ${tag}`, e1 <= tol, e1);
      const wc = b.gradientWMu(X, W, H, beta), wg = await b.gradientWMuAsync(Xg, Wg, Hg, beta);
      check(`gradientWMu ${tag}`, Math.max(relErr(wg.pos, wc.pos), relErr(wg.neg, wc.neg)) <= tol, relErr(wg.neg, wc.neg));
      const e2 = relErr(b.gradientW(Xg, Wg, Hg, beta), b.gradientW(X, W, H, beta), wc.pos, wc.neg);
      check(`gradientW ${tag}`, e2 <= tol, e2);
      const e3 = relErr(b.muUpdateH(Xg, Wg, Hg, beta, 1e-10).H, b.muUpdateH(X, W, H, beta, 1e-10).H);
      check(`muUpdateH ${tag}`, e3 <= tol, e3);
      const dc = b.betaDivergence(X, W, H, beta), dg = await b.betaDivergenceAsync(Xg, Wg, Hg, beta);
      check(`betaDivergence ${tag}`, Math.abs(dg - dc) <= tol * Math.abs(dc), `${dg} vs ${dc}`);
    }
  }
  const X = small ? rand(300, 30, 'float64', 9, 0.1, 2) : rand(2000, 100, 'float64', 9, 0.1, 2);
  for (const solver of ['mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu']) {
    const opts = { nComponents: 6, beta: 1, solver, sagMemory: 1, batchSize: 128, maxIter: 5, seed: 3, tol: 0 };
    try {
      const g = await new b.BetaNMF({ ...opts, device: 'cuda' }).fit(X);
      const c = new b.BetaNMF({ ...opts, device: 'cpu' }).fitSync(X);
      check(`BetaNMF ${solver}`, Math.abs(g.cost - c.cost) <= 1e-8 * c.cost, `${g.cost} vs ${c.cost}`);
    } catch (e) {
      check(`BetaNMF ${solver}`, false, e.message);
    }
  }
  // Out of memory is an Error and the device stays usable. (2^31 − 1 squared once wrapped in
  // the byte count; it is a RangeError now. This asks for a little more than the device has.)
  const cudaInfo = report.devices.find((d) => d.kind === 'cuda');
  try {
    b.zeros(Math.ceil(cudaInfo.memoryBytes / 8 / 1000) + 1, 1000, 'float64', 'cuda');
    check('out of memory → Error', false, 'no error');
  } catch (e) {
    check('out of memory → Error', !(e instanceof RangeError) && /cudaMallocAsync|out of memory|memory/i.test(e.message), e.message);
  }
  check('usable after OOM', b.betaDivergence(X.to('cuda'), rand(X.cols, 6, 'float64', 1).to('cuda'), rand(X.rows, 6, 'float64', 2).to('cuda'), 1) > 0, '');
}

function median(xs) { const s = [...xs].sort((a, c) => a - c); return s[s.length >> 1]; }
function time(fn) { fn(); const t = []; for (let i = 0; i < iters; i++) { const t0 = performance.now(); fn(); t.push(performance.now() - t0); } return median(t); }

function benchmark() {
  const dtype = 'float32';
  const X = b.syntheticSpectrogram(N, F, { dtype }).to('cuda');
  const W = rand(F, K, dtype, 2).to('cuda'), H = rand(N, K, dtype, 3).to('cuda');
  const hp = b.zeros(N, K, dtype, 'cuda'), hn = b.zeros(N, K, dtype, 'cuda'), wp = b.zeros(F, K, dtype, 'cuda'), wn = b.zeros(F, K, dtype, 'cuda');
  const Hs = H.clone();
  for (const beta of [0, 0.5, 1, 1.5, 2]) {
    const flops = 2 * N * F * K;
    const k = {
      beta,
      gradientHMu: time(() => b.gradientHMu(X, W, H, beta, { out: { pos: hp, neg: hn } })),
      gradientWMu: time(() => b.gradientWMu(X, W, H, beta, { out: { pos: wp, neg: wn } })),
      muUpdateH: time(() => b.muUpdateH(X, W, Hs, beta, 1e-10, { out: { H: Hs, pos: hp, neg: hn } })),
      betaDivergence: time(() => b.betaDivergence(X, W, H, beta)),
      muUpdate: time(() => b.muUpdate(H, hp, hn, 1e-10, { out: Hs })),
    };
    report.kernels.push(k);
    const fit = openIteration(X, W, Hs, beta);
    const it = time(fit.iteration);
    fit.dispose();
    const floor = time(() => addon.gemmFloor(false, X.native, W.native, H.native, N, F, K, beta, hp.native, hn.native, wp.native, wn.native));
    const gemms = beta === 2 ? 2 : beta === 1 ? 4 : 6;
    report.iterations.push({ beta, msPerIter: it, floorMs: floor, gflops: (gemms * flops) / (it * 1e6) });
  }
}

(async () => {
  const cuda = report.devices.find((d) => d.kind === 'cuda');
  console.log('devices:', JSON.stringify(report.devices));
  if (!cuda.available) {
    console.log(`CUDA unavailable: ${cuda.reason}`);
  } else {
    await correctness();
    benchmark();
  }
  fs.mkdirSync(values.out, { recursive: true });
  fs.writeFileSync(path.join(values.out, 'gpu-selftest.json'), JSON.stringify(report, null, 1));
  console.log(`${report.passed} passed, ${report.failed} failed`);
  for (const r of report.iterations) console.log(`β=${r.beta}: ${r.msPerIter.toFixed(2)} ms/iter (floor ${r.floorMs.toFixed(2)} ms, ${r.gflops.toFixed(0)} GFLOP/s)`);
  process.exitCode = report.failed ? 1 : 0;
})();
