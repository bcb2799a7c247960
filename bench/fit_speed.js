#!/usr/bin/env node
// What a default fit costs per epoch next to `betanmf bench`'s iteration on the same data:
//   node bench/fit_speed.js X.npy [-k 40] [--beta 0,1,2] [--epochs 12] [--solvers mu_batch,asg_mu,...] [--cost-every 10]
// Prints one JSON line per β: bench ms/iter and floor, and per solver the epoch time (updates
// only, from model.history) and the whole fit's time per epoch (setup and costs included).
'use strict';
const { parseArgs } = require('node:util');
const b = require('../dist');
const { readNpySync: readMatrix } = require('../dist/io');
const { bench } = require('../dist/cli/bench');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    k: { type: 'string', short: 'k', default: '40' },
    beta: { type: 'string', default: '0,1,2' },
    epochs: { type: 'string', default: '12' },
    solvers: { type: 'string', default: 'mu_batch,asg_mu,gsg_mu,asag_mu,gsag_mu' },
    'batch-size': { type: 'string', default: '1024' },
    // 10 is the estimator's default (a default fit's costs); 1000 leaves only the first and last.
    'cost-every': { type: 'string', default: '1000' },
  },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/fit_speed.js X.npy [-k 40] [--beta 0,1,2] [--epochs 12] [--solvers ...]');
  process.exit(2);
}
const X = readMatrix(positionals[0]);
const Xf = X.dtype === 'float32' ? X : b.matrix(Float32Array.from(X.data), X.rows, X.cols);
const K = Number(values.k), epochs = Number(values.epochs), batchSize = Number(values['batch-size']);
for (const beta of values.beta.split(',').map(Number)) {
  const [r] = bench([Xf.rows, Xf.cols, K], [beta], 'float32', 'cpu', 5, Xf);
  const row = { beta, N: Xf.rows, F: Xf.cols, K, threads: b.nativeConfig().numThreads, benchMs: +r.msPerIter.toFixed(2), floorMs: +r.floorMs.toFixed(2), solvers: {} };
  for (const solver of values.solvers.split(',')) {
    const t0 = performance.now();
    const m = new b.BetaNMF({ nComponents: K, beta, solver, batchSize, maxIter: epochs, tol: 0, seed: 1, costEvery: Number(values['cost-every']) });
    m.fitSync(Xf);
    const total = (performance.now() - t0) / epochs;
    const epoch = (m.history[m.history.length - 1].seconds * 1000) / epochs;
    row.solvers[solver] = { epochMs: +epoch.toFixed(2), wholeFitMsPerEpoch: +total.toFixed(2), vsBench: +(epoch / r.msPerIter).toFixed(3) };
  }
  console.log(JSON.stringify(row));
}
