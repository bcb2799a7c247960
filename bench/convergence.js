#!/usr/bin/env node
// Convergence grid of the five solvers from a random start (issue 12): every solver at
// β ∈ {0, 0.5, 1, 1.5, 2}, sagMemory ∈ {1, 5, 20}, batch sizes {100, 500, 1024}, the same number
// of epochs each, on the synthetic spectrogram and on a real speech spectrogram (make it with
// bench/speech_spectrogram.py). A run passes when its cost decreased (every evaluation below the
// start, and the end below it); a SAG run also needs a final cost within --bound × its plain
// sibling's (asag_mu ÷ asg_mu, gsag_mu ÷ gsg_mu).
//   node bench/convergence.js [--speech bench/results/speech.npy] [--rows 3000] [--epochs 100]
//        [--components 20] [--update mm|heuristic] [--betas 0,0.5,1,1.5,2] [--batches 100,500,1024]
//        [--memories 1,5,20] [--data synthetic,speech] [--bound 1.5] [--json FILE]
// Prints one line per run (final cost, epochs, seconds, ratio, pass/fail), then a summary.
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
    betas: { type: 'string', default: '0,0.5,1,1.5,2' },
    batches: { type: 'string', default: '100,500,1024' },
    memories: { type: 'string', default: '1,5,20' },
    data: { type: 'string', default: 'synthetic,speech' },
    bound: { type: 'string', default: '1.5' },
    json: { type: 'string' },
  },
});
const list = (s) => s.split(',').map(Number);
const rows = Number(values.rows), epochs = Number(values.epochs), K = Number(values.components), bound = Number(values.bound);
const wanted = values.data.split(',');
const data = [];
if (wanted.includes('synthetic')) data.push(['synthetic', b.syntheticSpectrogram(rows, 257, { seed: 1 })]);
if (wanted.includes('speech')) {
  if (fs.existsSync(values.speech)) {
    const S = readNpySync(values.speech);
    const n = Math.min(rows, S.rows);
    data.push(['speech', b.matrix(S.data.slice(0, n * S.cols), n, S.cols)]);
  } else {
    console.error(`(no ${values.speech}: speech data skipped; make it with bench/speech_spectrogram.py)`);
  }
}

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
  return { solver, beta, batchSize, sagMemory, initial: costs[0], final, decreased, epochs: m.nIter,
    seconds: (performance.now() - t0) / 1000, error };
}

const e = (x) => (Number.isFinite(x) ? x.toExponential(3) : 'diverged');
function line(name, r, base) {
  const ratio = base ? r.final / base.final : undefined;
  const pass = r.decreased && (ratio === undefined || ratio <= bound);
  r.ratio = ratio;
  r.pass = pass;
  console.log(`${name.padEnd(10)} ${String(r.beta).padEnd(4)} ${String(r.batchSize).padStart(5)} ${r.solver.padEnd(8)} ` +
    `${String(r.sagMemory ?? '').padStart(3)}  ${e(r.initial)} ${e(r.final)} ${String(r.epochs).padStart(4)} ` +
    `${r.seconds.toFixed(2).padStart(6)}  ${ratio === undefined ? '     ' : ratio.toFixed(2).padStart(5)}  ${pass ? 'pass' : 'FAIL'}`);
  return r;
}

console.log(`${epochs} epochs from a random start, K=${K}, ${rows} rows, update '${values.update}', ` +
  `${b.nativeConfig().numThreads} threads; SAG bound ${bound}× the plain sibling`);
console.log('data       β    batch solver   mem  start     final     epochs  secs   ratio  pass');
const results = [];
for (const [name, X] of data) {
  for (const beta of list(values.betas)) {
    results.push({ data: name, ...line(name, run(X, beta, 'mu_batch', 1024)) });
    for (const batchSize of list(values.batches)) {
      for (const [plain, sag] of [['asg_mu', 'asag_mu'], ['gsg_mu', 'gsag_mu']]) {
        const base = line(name, run(X, beta, plain, batchSize));
        results.push({ data: name, ...base });
        for (const m of list(values.memories)) results.push({ data: name, ...line(name, run(X, beta, sag, batchSize, m), base) });
      }
    }
  }
}
console.log('\nsummary (SAG final cost ÷ plain sibling\'s, worst per data × memory):');
for (const [name] of data) {
  for (const m of list(values.memories)) {
    const sag = results.filter((r) => r.data === name && r.sagMemory === m);
    const worst = sag.reduce((a, r) => (!(r.ratio <= a.ratio) ? r : a), sag[0]);
    if (!worst) continue;
    console.log(`  ${name.padEnd(10)} sagMemory ${String(m).padStart(2)}: ${sag.filter((r) => r.pass).length}/${sag.length} pass, ` +
      `worst ${worst.ratio.toFixed(2)} (${worst.solver} β=${worst.beta} batch ${worst.batchSize})`);
  }
}
const failed = results.filter((r) => !r.pass);
console.log(`${results.length - failed.length}/${results.length} runs pass`);
if (values.json) fs.writeFileSync(values.json, JSON.stringify({ epochs, K, rows, update: values.update, bound, results }, null, 1));
