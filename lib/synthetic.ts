// A synthetic spectrogram-like matrix (N frames × F bins), for demos, tests and benchmarks:
// `components` harmonic "notes" with sparse onsets and decaying activations, over a small
// positive noise floor. Strictly positive, so every β applies.
import { allocate, Matrix, type DType } from './matrix';
import { Random } from './random';

export interface SpectrogramOptions {
  /** Number of notes. Default 24. */
  components?: number;
  /** Default 1. */
  seed?: number;
  /** Default 'float32'. */
  dtype?: DType;
}

export function syntheticSpectrogram(N: number, F: number, options: SpectrogramOptions = {}): Matrix {
  const { components = 24, seed = 1, dtype = 'float32' } = options;
  const rng = new Random(seed);
  const X = allocate(dtype, N * F);
  const notes: Float64Array[] = [];
  for (let k = 0; k < components; k++) {
    const f0 = 3 + rng.uniform() * (F / 12);
    const profile = new Float64Array(F);
    for (let h = 1; h * f0 < F; h++) {
      const centre = h * f0, amp = Math.pow(h, -1.2) * (0.5 + rng.uniform());
      for (let f = Math.max(0, Math.floor(centre - 3)); f < Math.min(F, centre + 4); f++) {
        profile[f] += amp * Math.exp(-((f - centre) ** 2) / 1.5);
      }
    }
    notes.push(profile);
  }
  const level = new Float64Array(components);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < components; k++) {
      level[k] = rng.uniform() < 0.01 ? 1 + 3 * rng.uniform() : level[k] * 0.95; // onsets, then decay
      if (level[k] < 1e-3) level[k] = 0;
    }
    for (let f = 0; f < F; f++) {
      let v = 1e-3 * (1 + rng.uniform());
      for (let k = 0; k < components; k++) if (level[k] > 0) v += level[k] * notes[k][f];
      X[n * F + f] = v;
    }
  }
  return new Matrix(X, N, F);
}
