#!/usr/bin/env node
// How long an async fit keeps the event loop from running while it sets up (copying and
// checking X, the initial factors): the longest gap between turns of a setImmediate ticker
// from fit() until the first epoch ends, for each init and with X converted or not.
//   node bench/setup_stall.js X.npy [-k 40]
'use strict';
const { parseArgs } = require('node:util');
const b = require('../dist');
const { readNpySync: readMatrix } = require('../dist/io');

const { values, positionals } = parseArgs({ allowPositionals: true, options: { k: { type: 'string', short: 'k', default: '40' } } });
if (positionals.length !== 1) {
  console.error('usage: node bench/setup_stall.js X.npy [-k 40]');
  process.exit(2);
}
const X = readMatrix(positionals[0]);

async function stall(options) {
  let last = performance.now(), longest = 0, on = true, firstEpoch;
  const tick = () => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  const t0 = performance.now();
  const onEpoch = () => void (firstEpoch ??= performance.now() - t0);
  await new b.BetaNMF({ nComponents: Number(values.k), maxIter: 1, seed: 1, ...options, onEpoch }).fit(X);
  on = false;
  return { longestStallMs: +longest.toFixed(1), msToFirstEpoch: +firstEpoch.toFixed(0) };
}

(async () => {
  for (const init of ['random', 'nndsvda']) {
    for (const dtype of [X.dtype, X.dtype === 'float32' ? 'float64' : 'float32']) {
      console.log(JSON.stringify({ N: X.rows, F: X.cols, init, dtype: `${X.dtype} → ${dtype}`, ...(await stall({ init, dtype })) }));
    }
  }
})();
