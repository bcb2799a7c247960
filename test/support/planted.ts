// Planted low-rank data for rank selection: X = H·Wᵀ with known K (sparse exponential factors),
// plus Poisson or Gaussian noise, reproducible from a seed.
import { Matrix } from '../../lib';
import { rng } from './data';

export type Noise = 'poisson' | 'gaussian';

/**
 * N×F data of rank K. Each entry of H (of W) is exponential with probability densityH (densityW), else 0.
 * Noise 'poisson': X = Poisson(level·V/mean(V))·mean(V)/level (level = counts per mean entry:
 * larger is cleaner); 'gaussian': X = max(0, V + level·mean(V)·z) (level = noise sd / mean).
 */
export function planted(N: number, F: number, K: number, noise: Noise, level: number, seed: number, densityH = 1, densityW = 0.5): Matrix {
  const rand = rng(seed);
  const exp = (density: number) => () => (rand() < density ? -Math.log(1 - rand()) : 0);
  const H = Float64Array.from({ length: N * K }, exp(densityH)), W = Float64Array.from({ length: F * K }, exp(densityW));
  const X = new Float64Array(N * F);
  for (let n = 0; n < N; n++) {
    for (let f = 0; f < F; f++) {
      let v = 0;
      for (let k = 0; k < K; k++) v += H[n * K + k] * W[f * K + k];
      X[n * F + f] = v;
    }
  }
  const mean = X.reduce((a, b) => a + b, 0) / X.length;
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  for (let i = 0; i < X.length; i++) {
    if (noise === 'gaussian') {
      X[i] = Math.max(0, X[i] + level * mean * normal());
      continue;
    }
    const lambda = (level * X[i]) / mean;
    let count = 0;
    if (lambda > 50) count = Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
    else for (let p = rand(), L = Math.exp(-lambda); p > L; p *= rand()) count++; // Knuth's method
    X[i] = (count * mean) / level;
  }
  return new Matrix(X, N, F);
}
