#!/usr/bin/env node
// What entry weights cost: one MU iteration's passes (gradientHMu + gradientWMu, into reused
// outputs) with and without weights, and a mu_batch fit epoch with and without them, per β.
// Two kinds of weights: general ones (a tenth 0, the rest in [0.5, 1.5)) and a mask (5% of
// the entries missing, the rest 1). The kernels' iteration includes their check of the weights
// (one pass over them per call); a fit checks and copies them once.
//   node bench/weighted.js [-n 10000] [-f 513] [-k 40] [--beta 0,0.5,1,1.5,2] [--reps 7] [--dtype float32]
// Weighted and unweighted runs alternate and each reports its median, so the ratio holds on a
// noisy machine. Prints one JSON line per β and a table at the end.
'use strict';
const { parseArgs } = require('node:util');
const b = require('../dist');

const { values } = parseArgs({
  options: {
    n: { type: 'string', short: 'n', default: '10000' },
    f: { type: 'string', short: 'f', default: '513' },
    k: { type: 'string', short: 'k', default: '40' },
    beta: { type: 'string', default: '0,0.5,1,1.5,2' },
    reps: { type: 'string', default: '7' },
    epochs: { type: 'string', default: '3' },
    dtype: { type: 'string', default: 'float32' },
  },
});
const [N, F, K, reps, epochs] = [values.n, values.f, values.k, values.reps, values.epochs].map(Number);
const dtype = values.dtype;
const Arr = dtype === 'float32' ? Float32Array : Float64Array;
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const X = b.syntheticSpectrogram(N, F, { components: K, dtype });
const W = b.matrix(Arr.from({ length: F * K }, () => 0.5 + rand()), F, K);
const H = b.matrix(Arr.from({ length: N * K }, () => 0.5 + rand()), N, K);
const M = b.matrix(Arr.from({ length: N * F }, () => (rand() < 0.1 ? 0 : 0.5 + rand())), N, F);
const mask = b.matrix(Arr.from({ length: N * F }, () => (rand() < 0.05 ? 0 : 1)), N, F);
const out = { h: { pos: b.zeros(N, K, dtype), neg: b.zeros(N, K, dtype) }, w: { pos: b.zeros(F, K, dtype), neg: b.zeros(F, K, dtype) } };
const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];

function iteration(beta, weights) {
  const t0 = performance.now();
  b.gradientHMu(X, W, H, beta, { out: out.h, weights });
  b.gradientWMu(X, W, H, beta, { out: out.w, weights });
  return performance.now() - t0;
}

function epoch(beta, weights) {
  const m = new b.BetaNMF({ nComponents: K, beta, maxIter: epochs, tol: 0, seed: 1, costEvery: 1000 });
  m.fitSync(X, weights ? { weights } : {});
  return (m.history[m.history.length - 1].seconds * 1000) / epochs;
}

const rows = [];
for (const beta of values.beta.split(',').map(Number)) {
  iteration(beta, undefined);
  iteration(beta, M); // warm-up
  const plain = [], weighted = [], masked = [];
  for (let r = 0; r < reps; r++) {
    plain.push(iteration(beta, undefined));
    weighted.push(iteration(beta, M));
    masked.push(iteration(beta, mask));
  }
  const fitPlain = [], fitWeighted = [], fitMasked = [];
  for (let r = 0; r < 2; r++) {
    fitPlain.push(epoch(beta, undefined));
    fitWeighted.push(epoch(beta, M));
    fitMasked.push(epoch(beta, mask));
  }
  const row = {
    beta, N, F, K, dtype, threads: b.nativeConfig().numThreads,
    iterationMs: +median(plain).toFixed(1), weightedIterationMs: +median(weighted).toFixed(1),
    ratio: +(median(weighted) / median(plain)).toFixed(3),
    epochMs: +Math.min(...fitPlain).toFixed(1), weightedEpochMs: +Math.min(...fitWeighted).toFixed(1),
    epochRatio: +(Math.min(...fitWeighted) / Math.min(...fitPlain)).toFixed(3),
    maskedIterationMs: +median(masked).toFixed(1), maskedRatio: +(median(masked) / median(plain)).toFixed(3),
    maskedEpochMs: +Math.min(...fitMasked).toFixed(1), maskedEpochRatio: +(Math.min(...fitMasked) / Math.min(...fitPlain)).toFixed(3),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
console.log('\n| β | iteration ms | weighted (ratio) | masked (ratio) | mu_batch epoch ms | weighted (ratio) | masked (ratio) |\n|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.beta} | ${r.iterationMs} | ${r.weightedIterationMs} (${r.ratio}×) | ${r.maskedIterationMs} (${r.maskedRatio}×) | ` +
    `${r.epochMs} | ${r.weightedEpochMs} (${r.epochRatio}×) | ${r.maskedEpochMs} (${r.maskedEpochRatio}×) |`);
}
