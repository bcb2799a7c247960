#!/usr/bin/env node
// Does a rank sweep use the cores? A cross-validation sweep (ranks × reps fits) on the synthetic
// spectrogram, timed twice: every fit one after the other in this process on one native thread
// (their single-thread times, summed), and the whole sweep with one worker process per core.
// Target (issue 25): parallel wall ≤ 1.2 × (Σ single-thread fit times) / cores. Also checks that
// both sweeps gave the same numbers bit for bit. On a shared machine, parallelCoreShare says how
// much of the cores the sweep actually got (the ratio is only meaningful near 1); CPU seconds say
// whether the parallel sweep does more work than the sequential one (ratioIfAlone: parallel CPU /
// sequential CPU, the wall ratio an idle machine would show if the workers never wait).
//   node bench/rank_sweep.js [-n 4000] [-f 257] [--ranks 4-10] [--reps 3] [--beta 1] [--max-iter 50] [--workers <cores>]
'use strict';
const os = require('node:os');
const { parseArgs } = require('node:util');
const b = require('../dist');

const { values } = parseArgs({
  options: {
    n: { type: 'string', short: 'n', default: '4000' },
    f: { type: 'string', short: 'f', default: '257' },
    ranks: { type: 'string', default: '4-10' },
    reps: { type: 'string', default: '3' },
    beta: { type: 'string', default: '1' },
    'max-iter': { type: 'string', default: '50' },
    workers: { type: 'string' },
  },
});
const [lo, hi] = values.ranks.split('-').map(Number);
const ranks = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
const cores = os.availableParallelism();
const workers = Number(values.workers ?? cores);
const X = b.syntheticSpectrogram(Number(values.n), Number(values.f), { components: 12, seed: 1 });
const options = { ranks, reps: Number(values.reps), beta: Number(values.beta), maxIter: Number(values['max-iter']), tol: 0, seed: 1 };

/** CPU seconds of this process and of its reaped children (Linux /proc: utime, stime, cutime, cstime). */
function cpuSeconds() {
  const f = require('node:fs').readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  const tick = 100; // USER_HZ
  return { self: (Number(f[11]) + Number(f[12])) / tick, children: (Number(f[13]) + Number(f[14])) / tick };
}

(async () => {
  b.setNumThreads(1);
  const s0 = cpuSeconds();
  let t0 = performance.now();
  const seq = await b.crossValidate(X, { ...options, workers: 1 });
  const seqWall = (performance.now() - t0) / 1000;
  const sumFits = seq.runs.reduce((s, r) => s + r.seconds, 0);
  const seqCpu = cpuSeconds().self - s0.self;
  b.setNumThreads(0);
  const c0 = cpuSeconds();
  t0 = performance.now();
  const par = await b.crossValidate(X, { ...options, workers });
  const parWall = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 500)); // let the workers be reaped
  const c1 = cpuSeconds();
  // The share of the cores the parallel sweep had: its workers' CPU seconds over wall × cores (1 = every core busy with it).
  const parCpu = c1.children - c0.children + c1.self - c0.self;
  const coreShare = parCpu / (parWall * cores);
  const same = JSON.stringify(seq.runs.map(({ seconds, ...r }) => r)) === JSON.stringify(par.runs.map(({ seconds, ...r }) => r));
  const ideal = sumFits / cores;
  console.log(JSON.stringify({ N: X.rows, F: X.cols, ranks, reps: options.reps, fits: seq.runs.length, cores, workers,
    sequentialSingleThreadWall: +seqWall.toFixed(2), sumSingleThreadFitSeconds: +sumFits.toFixed(2), parallelWall: +parWall.toFixed(2),
    ratioToIdeal: +(parWall / ideal).toFixed(3), sequentialCpuSeconds: +seqCpu.toFixed(2), parallelCpuSeconds: +parCpu.toFixed(2),
    ratioIfAlone: +((parCpu / cores) / (seqCpu / cores)).toFixed(3), parallelCoreShare: +coreShare.toFixed(3), loadavg: os.loadavg()[0], identical: same, chosenK: par.chosenK, cpu: os.cpus()[0].model }));
})();
