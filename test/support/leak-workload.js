// Run by test/reliability.test.ts in a child process with --expose-gc: thousands of kernel
// calls and fits, sync and async; prints the resident set size before and after, in MB.
'use strict';
const b = require('../../dist');

const rounds = Number(process.argv[2] || 2000);
const X = b.syntheticSpectrogram(200, 60, { dtype: 'float32' });
const W = b.matrix(new Float32Array(60 * 6).fill(0.5), 60, 6);
const H = b.matrix(new Float32Array(200 * 6).fill(0.5), 200, 6);

async function round(i) {
  const beta = [0, 0.5, 1, 2][i % 4];
  b.gradientH(X, W, H, beta);
  const parts = b.gradientWMu(X, W, H, beta);
  b.muUpdate(W, parts.pos, parts.neg, 1e-10);
  b.betaDivergence(X, W, H, beta);
  await b.gradientHMuAsync(X, W, H, beta);
  await b.muUpdateHAsync(X, W, H, beta, 1e-10);
  if (i % 20 === 0) {
    const m = new b.BetaNMF({ nComponents: 4, beta, maxIter: 3, batchSize: 50, solver: 'asg_mu', seed: i });
    if (i % 40 === 0) await m.fit(X); else m.fitSync(X);
  }
}

function rssMb() {
  global.gc();
  return process.memoryUsage().rss / 2 ** 20;
}

(async () => {
  for (let i = 0; i < rounds / 4; i++) await round(i); // warm-up: workspaces, JIT, pools
  const before = rssMb();
  for (let i = 0; i < rounds; i++) await round(i);
  const after = rssMb();
  console.log(JSON.stringify({ before, after, rounds }));
})();
