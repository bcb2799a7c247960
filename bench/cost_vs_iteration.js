#!/usr/bin/env node
// What a cost evaluation (betaDivergence: V formed in row blocks, fused with the divergence)
// costs next to one MU iteration (`betanmf bench`'s, H then W) on the same data, timed
// alternately (cost, iteration, cost, …), medians:
//   node bench/cost_vs_iteration.js [--shape 10000x513x50 | --data X.npy -k 40] [--beta 0,0.5,1,1.5,2] [--iters 9] [--dtype float32]
// Prints one JSON line per β: costMs, iterationMs and their ratio (target ≤ 0.3 at β ∈ {0, ½, 1, 3/2}).
'use strict';
const { parseArgs } = require('node:util');
const b = require('../dist');
const { openIteration } = require('../dist/fit');
const { randomFactor } = require('../dist/init');
const { Random } = require('../dist/random');
const { syntheticSpectrogram } = require('../dist/synthetic');

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: '10000x513x50' },
    beta: { type: 'string', default: '0,0.5,1,1.5,2' },
    iters: { type: 'string', default: '9' },
    dtype: { type: 'string', default: 'float32' },
    data: { type: 'string' },
    k: { type: 'string', short: 'k', default: '40' },
  },
});
const iters = Number(values.iters), dtype = values.dtype;
let X, K;
if (values.data) {
  const { readNpySync } = require('../dist/io');
  const d = readNpySync(values.data);
  X = d.dtype === dtype ? d : b.matrix(dtype === 'float32' ? Float32Array.from(d.data) : Float64Array.from(d.data), d.rows, d.cols);
  K = Number(values.k);
} else {
  const shape = values.shape.split('x').map(Number);
  X = syntheticSpectrogram(shape[0], shape[1], { dtype, seed: 3 });
  K = shape[2];
}
const [N, F] = [X.rows, X.cols];
const rng = new Random(5);
const factor = (rows) => {
  const m = b.zeros(rows, K, dtype);
  randomFactor(m.data, 1, K, rng);
  return m;
};
const median = (xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
for (const beta of values.beta.split(',').map(Number)) {
  const W = factor(F), H = factor(N);
  const fit = openIteration(X, W, H, beta);
  const cost = () => b.betaDivergence(X, W, H, beta);
  cost();
  fit.iteration();
  const tc = [], ti = [];
  for (let i = 0; i < iters; i++) {
    for (const [fn, times] of [[cost, tc], [fit.iteration, ti]]) {
      const t0 = performance.now();
      fn();
      times.push(performance.now() - t0);
    }
  }
  fit.dispose();
  const costMs = median(tc), iterationMs = median(ti);
  console.log(JSON.stringify({ beta, N, F, K, dtype, threads: b.nativeConfig().numThreads, loops: require('../dist/native').addon.cpuIsa().loops,
    costMs: +costMs.toFixed(2), iterationMs: +iterationMs.toFixed(2), ratio: +(costMs / iterationMs).toFixed(3) }));
}
