#!/usr/bin/env node
// Stability grid of the five solvers from a random start (issue: SAG solvers that never
// diverge silently): every solver at β ∈ {0, 0.5, 1, 1.5, 2}, sagMemory ∈ {1, 5, 20}, batch sizes
// {100, 500, 1024}, on the synthetic spectrogram and on a real speech spectrogram.
//   node bench/stability.js [--speech bench/results/speech.npy] [--rows 3000] [--epochs 100]
//                           [--update mm|heuristic] [--json FILE]
// (make the speech matrix with bench/speech_spectrogram.py). Prints one line per (data, β, batch):
// final costs, whether each decreased, and each SAG variant's final cost over its plain sibling's.
'use strict';
const fs = require('node:fs');
const { parseArgs } = require('node:util');
const b = require('../dist');
const { readNpySync } = require('../dist/io');

const { values } = parseArgs({
  options: {
    speech: { type: 'string', default: 'bench/results/speech.npy' },
    rows: { type: 'string', default: '3000' },
    epochs: { type: 'string', default: '100' },
    components: { type: 'string', default: '20' },
    update: { type: 'string', default: 'mm' },
    json: { type: 'string' },
  },
});
const rows = Number(values.rows), epochs = Number(values.epochs), K = Number(values.components);
const data = [['synthetic', b.syntheticSpectrogram(rows, 257, { seed: 1 })]];
if (fs.existsSync(values.speech)) {
  const S = readNpySync(values.speech);
  const n = Math.min(rows, S.rows);
  data.push(['speech', b.matrix(S.data.slice(0, n * S.cols), n, S.cols)]);
} else {
  console.error(`(no ${values.speech}: speech data skipped; make it with bench/speech_spectrogram.py)`);
}

const results = [];
function run(X, beta, solver, batchSize, sagMemory) {
  const t0 = performance.now();
  const m = new b.BetaNMF({ nComponents: K, beta, solver, batchSize, sagMemory, maxIter: epochs, tol: 0, costEvery: 10, seed: 1,
    update: values.update, onWarning: () => {} });
  let error;
  try {
    m.fitSync(X);
  } catch (e) {
    error = e.message;
  }
  const costs = m.history.filter((h) => h.cost !== undefined).map((h) => h.cost);
  const final = error ? NaN : costs[costs.length - 1];
  const decreased = !error && costs.every((c, i) => i === 0 || c < costs[0]) && final < costs[0];
  return { solver, beta, batchSize, sagMemory, final, initial: costs[0], decreased, epochs: m.nIter,
    seconds: (performance.now() - t0) / 1000, error };
}

console.log(`${epochs} epochs from a random start, K=${K}, update '${values.update}', ${b.nativeConfig().numThreads} threads`);
console.log('data       β    batch  mu_batch   asg      gsg      asag m=1/5/20 ÷asg     gsag m=1/5/20 ÷gsg   all decreased  seconds');
for (const [name, X] of data) {
  for (const beta of [0, 0.5, 1, 1.5, 2]) {
    const mu = run(X, beta, 'mu_batch', 1024);
    for (const batchSize of [100, 500, 1024]) {
      const t0 = performance.now();
      const asg = run(X, beta, 'asg_mu', batchSize), gsg = run(X, beta, 'gsg_mu', batchSize);
      const asag = [1, 5, 20].map((m) => run(X, beta, 'asag_mu', batchSize, m));
      const gsag = [1, 5, 20].map((m) => run(X, beta, 'gsag_mu', batchSize, m));
      const all = [mu, asg, gsg, ...asag, ...gsag];
      results.push(...all.map((r) => ({ data: name, ...r })));
      const e = (x) => (Number.isFinite(x) ? x.toExponential(2) : 'diverged');
      const ratio = (rs, base) => rs.map((r) => (Number.isFinite(r.final) ? (r.final / base.final).toFixed(2) : 'div')).join('/');
      console.log(`${name.padEnd(10)} ${String(beta).padEnd(4)} ${String(batchSize).padStart(5)}  ${e(mu.final)} ${e(asg.final)} ${e(gsg.final)}  ` +
        `${ratio(asag, asg).padEnd(18)} ${ratio(gsag, gsg).padEnd(18)} ${String(all.every((r) => r.decreased)).padEnd(14)} ` +
        `${((performance.now() - t0) / 1000).toFixed(1)}`);
    }
  }
}
if (values.json) fs.writeFileSync(values.json, JSON.stringify({ epochs, K, update: values.update, results }, null, 1));
