/**
 * betanmf: nonnegative matrix factorisation with the β-divergence and multiplicative updates,
 * on a native OpenBLAS core. Shapes follow the Theano original's: X ≈ H·Wᵀ with X N×F, W F×K, H N×K.
 */
import { describe, rangeError, typeError } from './errors';
import { addon } from './native';

export { Matrix, matrix, zeros, isMatrix, type DType, type Device, type MatrixOptions } from './matrix';
export {
  gradientH, gradientHAsync, gradientHMu, gradientHMuAsync,
  gradientW, gradientWAsync, gradientWMu, gradientWMuAsync,
  muUpdateH, muUpdateHAsync, muUpdate, muUpdateAsync,
  updateGradW, updateGradWAsync, betaDivergence, betaDivergenceAsync,
  type Parts, type OutOption, type KernelOptions, type WeightsOption, type MuUpdateHResult,
} from './kernels';
export type { FloatArray } from './native';

export {
  BetaNMF, AbortError, mmExponent, type Fitted, type HistoryEntry, type StopReason, type RunOptions, type TransformOptions, type SavedModel, type SaveOptions,
} from './betanmf';
export { readNpy, readNpySync, writeNpy, writeNpySync, readCsv, DataFileError, type CsvOptions } from './io';
export { type BetaNMFOptions, type EpochInfo, type Solver, type BetaName } from './options';
export { devices, type DeviceInfo, type DeviceRequest } from './device';
export { syntheticSpectrogram, type SpectrogramOptions } from './synthetic';

/** How the native core is set up: its threads and the OpenBLAS build it carries. */
export function nativeConfig(): {
  numThreads: number;
  openblasConfig: string;
  openblasCore: string;
  cudaCompiled: boolean;
} {
  const c = addon.config();
  return { numThreads: c.numThreads, openblasConfig: c.openblasConfig, openblasCore: c.openblasCore, cudaCompiled: c.cudaCompiled };
}

/**
 * Sets how many threads the CPU kernels use (default: the BETANMF_NUM_THREADS environment
 * variable, else the number of cores); 0 restores the default. Returns the setting in force,
 * which is never more than 4 threads per core (larger requests, and the variable, are capped).
 */
export function setNumThreads(threads: number): number {
  if (typeof threads !== 'number') throw typeError('threads', 'a number', threads);
  if (!Number.isInteger(threads) || threads < 0 || threads > 1024) throw rangeError('threads', 'an integer in [0, 1024]', describe(threads));
  return addon.setNumThreads(threads);
}
export * from './serving';
export * from './rank';
