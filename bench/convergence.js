#!/usr/bin/env node
// Convergence study: cost against time for the five solvers on a spectrogram-like matrix.
//   node bench/convergence.js [--rows 20000] [--cols 513] [--components 40] [--betas 0,1,2]
//                             [--seconds 20] [--batch-size 500] [--sag-memory 2]
//                             [--out bench/results/convergence.json]
// Each run has the same budget of update time (cost evaluations are not counted). Prints, per
// β, which solver first reaches 1.01 × the best final cost, and when.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { BetaNMF, nativeConfig, syntheticSpectrogram } = require('betanmf');

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    cols: { type: 'string', default: '513' },
    components: { type: 'string', default: '40' },
    betas: { type: 'string', default: '0,1,2' },
    seconds: { type: 'string', default: '20' },
    'batch-size': { type: 'string', default: '500' },
    'sag-memory': { type: 'string', default: '2' },
    out: { type: 'string', default: path.join(__dirname, 'results', 'convergence.json') },
  },
});
const [N, F, K] = [Number(values.rows), Number(values.cols), Number(values.components)];
const budget = Number(values.seconds);
const batchSize = Number(values['batch-size']);
const X = syntheticSpectrogram(N, F);
const sagMemory = Number(values['sag-memory']);
const solvers = [
  ['mu_batch', {}],
  ['asg_mu', {}],
  ['gsg_mu', {}],
  ['asag_mu', { sagMemory }],
  ['gsag_mu', { sagMemory }],
];

console.log(`X ${N}×${F} float32, K=${K}, batch ${batchSize}, ${budget}s of updates per run, ` +
  `${nativeConfig().numThreads} threads, OpenBLAS core ${nativeConfig().openblasCore}`);
const results = [];
for (const beta of values.betas.split(',').map(Number)) {
  const runs = [];
  for (const [solver, extra] of solvers) {
    const model = new BetaNMF({
      nComponents: K, beta, solver, batchSize, maxIter: 100000, tol: 0, costEvery: 1, seed: 7, ...extra,
      onEpoch: ({ seconds }) => seconds < budget,
    });
    let failure;
    try {
      model.fitSync(X);
    } catch (err) {
      failure = err.message; // a diverging solver stops with an Error, factors as before that epoch
    }
    const history = model.history.filter((h) => h.cost !== undefined);
    runs.push({ solver, ...extra, epochs: model.nIter, history, failure });
    const last = history[history.length - 1];
    console.log(`  β=${beta} ${solver.padEnd(8)} ${String(model.nIter).padStart(4)} epochs in ${last.seconds.toFixed(1)}s, ` +
      `cost ${history[0].cost.toExponential(4)} → ${last.cost.toExponential(4)}${failure ? ` (stopped: ${failure.split(';')[0]})` : ''}`);
  }
  const best = Math.min(...runs.map((r) => r.history[r.history.length - 1].cost));
  const target = 1.01 * best;
  const reach = runs
    .map((r) => ({ solver: r.solver, at: r.history.find((h) => h.cost <= target) }))
    .filter((r) => r.at)
    .sort((a, b) => a.at.seconds - b.at.seconds);
  const first = reach[0];
  if (!first) continue;
  console.log(`β=${beta}: best final cost ${best.toExponential(4)}; first to reach 1.01× it: ${first.solver} ` +
    `after ${first.at.seconds.toFixed(2)}s (epoch ${first.at.epoch})` +
    (reach.length > 1 ? `; then ${reach.slice(1).map((r) => `${r.solver} ${r.at.seconds.toFixed(2)}s`).join(', ')}` : ''));
  results.push({ beta, best, target, reach: reach.map((r) => ({ solver: r.solver, seconds: r.at.seconds, epoch: r.at.epoch })), runs });
}
fs.mkdirSync(path.dirname(values.out), { recursive: true });
fs.writeFileSync(values.out, JSON.stringify({ N, F, K, batchSize, budget, results }, null, 1));
console.log(`wrote ${values.out}`);
