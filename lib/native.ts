// The compiled addon, loaded once, behind a typed interface. Its argument order is private:
// only lib/ calls it, after validation.
import * as path from 'node:path';

export type FloatArray = Float32Array | Float64Array;
/** Device memory owned by the addon (an opaque External); freed by deviceFree or when collected. */
export type DeviceHandle = { readonly __betanmfDeviceArray: unique symbol };
/** What the native kernels take for a matrix: its typed array, or its device memory. */
export type NativeArray = FloatArray | DeviceHandle;

export interface CudaInfo {
  compiled: boolean;
  available: boolean;
  reason?: string;
  name?: string;
  memoryBytes?: number;
  computeCapability?: string;
  driverVersion?: number;
  runtimeVersion?: number;
  cublas?: string;
}

export interface NativeConfig {
  numThreads: number;
  openblasConfig: string;
  openblasCore: string;
  openblasThreads: number;
  cudaCompiled: boolean;
  cpuFeatures?: { avx2: boolean; fma: boolean; avx512f: boolean };
}

type Out = NativeArray | null;

/** What `new addon.Fit(spec)` reads, by name (see native/binding/fit.cpp). */
export interface FitSpec {
  X: NativeArray;
  /** Initial factors; zero when left out (then written with `write`). */
  W?: NativeArray;
  H?: NativeArray;
  N: number;
  F: number;
  K: number;
  dtype: 'float32' | 'float64';
  beta: number;
  solver: string;
  batchSize: number;
  eps: number;
  gamma: number;
  forget: number;
  vFloor: number;
  updateH: boolean;
  updateW: boolean;
  /** What `order` permutes in run(): the batches, the rows (batches re-cut), or nothing. */
  shuffle: 'none' | 'batches' | 'rows';
  /** Whether X must be positive (β ≤ 0) rather than nonnegative, for dataScan. */
  positive: boolean;
}

/** One slice of an epoch: positions [first, end) of the epoch's batches (overrides optional). */
export interface RunSpec {
  first?: number;
  end?: number;
  order?: Uint32Array | null;
  starts?: boolean;
  ends?: boolean;
  /** Copy W, H and the gradient state aside first (restore() brings them back). */
  snapshot?: boolean;
  /** Run the scale guard after the slice; the result is false when W or H is not finite. */
  guard?: boolean;
  /** A cache of rows (cacheRows) standing in for X and H during this slice. */
  X?: NativeArray;
  H?: NativeArray;
  solver?: string;
  batchSize?: number;
  updateH?: boolean;
  updateW?: boolean;
  forget?: number;
}

export type FitMatrixName = 'W' | 'H' | 'gradPos' | 'gradNeg';

/** A fit's native state: X's working copy, W, H, gradient state, snapshot and scratch. */
export interface NativeFit {
  run(async: boolean, spec: RunSpec): boolean | Promise<boolean>;
  cost(async: boolean): number | Promise<number>;
  restore(): boolean;
  read(name: FitMatrixName, out: NativeArray): void;
  write(name: FitMatrixName, src: NativeArray): void;
  /** The scan of X's working copy (CPU fits): sum, all zero, first invalid entry. */
  dataScan(): { sum: number; allZero: boolean; index?: number; value?: number };
  dispose(): void;
}

export interface NativeAddon {
  hParts(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number,
    beta: number, pos: Out, neg: Out, diff: Out): undefined | Promise<void>;
  wParts(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number,
    beta: number, pos: Out, neg: Out, diff: Out): undefined | Promise<void>;
  muUpdateH(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number,
    beta: number, eps: number, Hout: NativeArray, pos: NativeArray, neg: NativeArray): undefined | Promise<void>;
  betaDivergence(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number,
    beta: number, vFloor: number): number | Promise<number>;
  Fit: new (spec: FitSpec) => NativeFit;
  /** Backend buffers allocated and not yet freed (all backends). */
  liveBuffers(): number;
  muUpdate(async: boolean, factor: NativeArray, pos: NativeArray, neg: NativeArray, eps: number,
    out: NativeArray): undefined | Promise<void>;
  updateGrad(async: boolean, grad: NativeArray, oldPart: NativeArray, newPart: NativeArray, unused: number,
    out: NativeArray): undefined | Promise<void>;
  gemm(async: boolean, A: FloatArray, B: FloatArray, C: FloatArray, m: number, n: number, k: number,
    transA: boolean, transB: boolean, scale: number, keep: number): undefined | Promise<void>;
  gemmFloor(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number, beta: number,
    hPos: NativeArray, hNeg: NativeArray, wPos: NativeArray, wNeg: NativeArray): undefined | Promise<void>;
  config(): NativeConfig;
  cudaInfo(): CudaInfo;
  deviceAlloc(float32: boolean, length: number): DeviceHandle;
  deviceUpload(async: boolean, handle: DeviceHandle, data: FloatArray): undefined | Promise<void>;
  deviceDownload(async: boolean, handle: DeviceHandle, data: FloatArray): undefined | Promise<void>;
  deviceFree(handle: DeviceHandle): void;
  setNumThreads(n: number): number;
  /** Gives this thread's cached async-copy memory back to the OS (lib/kernels.ts, when idle). */
  trimCopies(): void;
}

export const packageRoot = path.join(__dirname, '..');

function load(): NativeAddon {
  // BETANMF_NATIVE names a specific build of the addon (the memcheck script loads an
  // AddressSanitizer build this way).
  const explicit = process.env.BETANMF_NATIVE;
  if (explicit) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.resolve(explicit)) as NativeAddon;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    return nodeGypBuild(packageRoot) as NativeAddon;
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    throw new Error(
      `betanmf: could not load the native addon for ${process.platform}-${process.arch} ` +
        `(node ${process.versions.node}, looked in ${path.join(packageRoot, 'build/Release')} and ` +
        `${path.join(packageRoot, 'prebuilds')}): ${cause}\n` +
        `Build it from source with \`npm run build:native\` in ${packageRoot} ` +
        '(needs cmake, g++ and OpenBLAS: apt-get install libopenblas-dev).',
      { cause: err },
    );
  }
}

export const addon: NativeAddon = load();
