// A synthetic spectrogram-like matrix (N frames × F bins): K0 harmonic "notes" with sparse,
// decaying activations over a small positive noise floor. Strictly positive, so every β works.
'use strict';

function lcg(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function spectrogram(N, F, K0 = 24, seed = 1, dtype = 'float32') {
  const rand = lcg(seed);
  const X = dtype === 'float32' ? new Float32Array(N * F) : new Float64Array(N * F);
  const notes = [];
  for (let k = 0; k < K0; k++) {
    const f0 = 3 + rand() * (F / 12);
    const profile = new Float64Array(F);
    for (let h = 1; h * f0 < F; h++) {
      const centre = h * f0, amp = Math.pow(h, -1.2) * (0.5 + rand());
      for (let f = Math.max(0, Math.floor(centre - 3)); f < Math.min(F, centre + 4); f++) profile[f] += amp * Math.exp(-((f - centre) ** 2) / 1.5);
    }
    notes.push(profile);
  }
  const level = new Float64Array(K0);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K0; k++) {
      level[k] = rand() < 0.01 ? 1 + 3 * rand() : level[k] * 0.95; // onsets, then decay
      if (level[k] < 1e-3) level[k] = 0;
    }
    const row = n * F;
    for (let f = 0; f < F; f++) {
      let v = 1e-3 * (1 + rand());
      for (let k = 0; k < K0; k++) if (level[k] > 0) v += level[k] * notes[k][f];
      X[row + f] = v;
    }
  }
  return X;
}

module.exports = { spectrogram };
