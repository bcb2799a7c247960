// Factorise a small synthetic spectrogram with the seed's kernels: multiplicative updates of
// H (in place) then W, under the Kullback-Leibler divergence (β = 1).
'use strict';
const b = require('betanmf');

// A "spectrogram" of N frames × F frequency bins made of K0 harmonic notes switched on and off.
function spectrogram(N, F, K0, seed = 1) {
  let s = seed;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const X = new Float32Array(N * F);
  for (let k = 0; k < K0; k++) {
    const f0 = 4 + 3 * k;
    for (let n = 0; n < N; n++) {
      const gain = rand() < 0.3 ? rand() * 2 : 0;
      for (let h = 1; f0 * h < F; h++) X[n * F + f0 * h] += gain / h;
    }
  }
  for (let i = 0; i < X.length; i++) X[i] += 1e-3 + 1e-2 * rand(); // a little noise floor
  return b.matrix(X, N, F);
}

function random(rows, cols, seed) {
  let s = seed;
  const data = new Float32Array(rows * cols).map(() => 0.1 + (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  return b.matrix(data, rows, cols);
}

const [N, F, K, beta, eps] = [2000, 128, 8, 1, 1e-10];
const X = spectrogram(N, F, 6);
const W = random(F, K, 7);
const H = random(N, K, 11);

console.log(`X: ${N}×${F} (float32), K = ${K}, β = ${beta} (Kullback-Leibler)`);
const start = process.hrtime.bigint();
for (let it = 0; it <= 50; it++) {
  if (it % 10 === 0) console.log(`iteration ${String(it).padStart(2)}  D(X | H·Wᵀ) = ${b.betaDivergence(X, W, H, beta).toFixed(4)}`);
  b.muUpdateH(X, W, H, beta, eps, { out: { H } }); // H ← H ⊙ neg / (pos + eps)
  const { pos, neg } = b.gradientWMu(X, W, H, beta);
  b.muUpdate(W, pos, neg, eps, { out: W }); // W ← W ⊙ neg / (pos + eps)
}
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(`50 iterations in ${ms.toFixed(0)} ms on ${b.nativeConfig().numThreads} threads`);
