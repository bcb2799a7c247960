// The compiled addon, loaded once, behind a typed interface. Its argument order is private:
// only lib/ calls it, after validation.
import * as fs from 'node:fs';
import * as os from 'node:os';
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

/** The CPU's vector ISA and the copy of the elementwise loops in use (native/cpu/isa.h). */
export type IsaName = 'baseline' | 'avx2' | 'avx512';
export interface CpuIsa {
  cpu: IsaName;
  loops: IsaName;
  /** BETANMF_CPU_ISA as read when the addon loaded. */
  requested: string | null;
  note?: string;
  features: Record<string, boolean>;
}

type Out = NativeArray | null;

export interface EmuControls {
  /** The next `count` (default 1) calls of `call` ('launch', 'cudaFreeAsync', …) fail with CUDA error `error`. */
  fail(call: string, error: number, count?: number): void;
  /** The next kernel launch sleeps `ms` first. */
  delayNextLaunch(ms: number): void;
  state(): {
    poolReleaseThreshold: bigint; liveAllocations: number; liveBytes: number; mallocAsyncCalls: number;
    mallocCalls: number; launches: number; sleeping: boolean; sticky: number;
    /** Bytes copied host → device and device → host so far. */
    uploadedBytes: number; downloadedBytes: number;
  };
}

/** What `new addon.Fit(spec)` reads, by name (see native/binding/fit.cpp and fit_spec.cpp). */
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
  /** The SAG variants average the batches' targets W^(1/γ)⊙neg instead of their parts (update 'mm'). */
  averageTargets?: boolean;
  /** 'mm' (default): the steps' guards (core/solver.h); 'heuristic': the original's plain steps. */
  update?: 'mm' | 'heuristic';
  /** The least ratio of a W step from part of the data under 'mm' (default ½; core/solver.h). */
  stepFloor?: number;
  /** X is part of the data (partialFit's chunk): every W step counts as partial. */
  partialData?: boolean;
  /** Solver 'hals': sweeps per factor per epoch over the same products (accelerate; default 1). */
  sweeps?: number;
  /** Read a host X of the fit's dtype in place instead of copying it (synchronous fits only). */
  borrowX?: boolean;
  /** Entry weights (N×F, X's device; copied in the fit's dtype); absent: unweighted. */
  weights?: NativeArray;
  /** Penalties (scikit-learn's alpha_H, alpha_W, l1_ratio with our names; see native/core/solver.h). */
  alphaW?: number;
  alphaH?: number;
  l1Ratio?: number;
  /** Columns of W kept as written (distinct indices in [0, K)). */
  fixedComponents?: number[];
  /** Copy a host X into the working copy by load() calls (in chunks) instead of at once. */
  loadX?: boolean;
  /** Where the fit computes, when X is a host array copied to the device (default: where X is). */
  device?: 'cpu' | 'cuda';
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
  /** A cache of rows (cacheRows) standing in for X and H (and the weights) during this slice. */
  X?: NativeArray;
  H?: NativeArray;
  weights?: NativeArray;
  solver?: string;
  batchSize?: number;
  updateH?: boolean;
  updateW?: boolean;
  forget?: number;
}

export type FitMatrixName = 'W' | 'H' | 'gradPos' | 'gradNeg' | 'sagStep';

/** A fit's native state: X's working copy, W, H, gradient state, snapshot and scratch. */
export interface NativeFit {
  run(async: boolean, spec: RunSpec): boolean | Promise<boolean>;
  cost(async: boolean): number | Promise<number>;
  restore(): boolean;
  /** Keeps W and H aside as the best seen so far / brings them back (false when none was kept). */
  saveBest(): void;
  restoreBest(): boolean;
  read(name: FitMatrixName, out: NativeArray): void;
  write(name: FitMatrixName, src: NativeArray): void;
  /** The SAG gain of averaged targets (0 before the first averaged batch); with a value, sets it. */
  sagGain(value?: number): number;
  /** Copies X's entries up to `end` (row-major) into the working copy, checking them (loadX). */
  load(end: number): void;
  /** The scan of X (on the device for a device X): sum, all zero, first invalid entry. */
  dataScan(): { sum: number; allZero: boolean; index?: number; value?: number };
  dispose(): void;
}

/**
 * What `combineShards` reads, by name (native/binding/shards.cpp): the coordinator's W step of a
 * sharded fit (lib/queue/shards.ts) through the single-process solver's own operations
 * (core/solver.h's combineShards), computed in double whatever W's dtype.
 */
export interface CombineSpec {
  F: number;
  K: number;
  solver: string;
  eps: number;
  gamma: number;
  /** The SAG average's weight of a new batch (gsag_mu: 1 / (sagMemory + 1)); default 1. */
  forget?: number;
  /** gsag_mu averages the batches' targets with the adaptive gain (update 'mm'), as FitSpec's. */
  averageTargets?: boolean;
  /** 'mm' (default): the steps' guards; 'heuristic': none. */
  update?: 'mm' | 'heuristic';
  /** asg_mu / asag_mu: each shard's row count (its W's weight in the average), one per part. */
  rows?: number[];
}

export interface NativeAddon {
  hParts(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number,
    beta: number, pos: Out, neg: Out, diff: Out, weights: Out): undefined | Promise<void>;
  wParts(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number,
    beta: number, pos: Out, neg: Out, diff: Out, weights: Out): undefined | Promise<void>;
  muUpdateH(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number,
    beta: number, eps: number, Hout: NativeArray, pos: NativeArray, neg: NativeArray, weights: Out): undefined | Promise<void>;
  /** D(X | H·Wᵀ) (Σ m·d with weights), plus the penalties of a fit when given (see native/core/solver.h). */
  betaDivergence(async: boolean, X: NativeArray, W: NativeArray, H: NativeArray, N: number, F: number, K: number,
    beta: number, vFloor: number, weights: Out, alphaW?: number, alphaH?: number, l1Ratio?: number): number | Promise<number>;
  Fit: new (spec: FitSpec) => NativeFit;
  /**
   * A sharded fit's next W, written over `W` (the published one, F×K): from each shard's parts
   * (pos then neg, 2·F·K, or empty for a shard without the epoch's first batch; asg_mu/asag_mu:
   * the shard's own W, F·K) in shard order. `state` (gsag_mu only, Float64Array of 3·F·K + 1:
   * the averaged parts, the averaged steps, the SAG gain; zeros at first) carries over between epochs.
   */
  combineShards(spec: CombineSpec, W: FloatArray, parts: FloatArray[], state?: Float64Array): void;
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
  cpuIsa(): CpuIsa;
  cudaInfo(): CudaInfo;
  deviceAlloc(float32: boolean, length: number): DeviceHandle;
  deviceUpload(async: boolean, handle: DeviceHandle, data: FloatArray): undefined | Promise<void>;
  deviceDownload(async: boolean, handle: DeviceHandle, data: FloatArray): undefined | Promise<void>;
  deviceFree(handle: DeviceHandle): void;
  /** Device memory alive now (for tests): JS device arrays, allocations of any kind and their bytes, bytes reported to V8. */
  deviceMemory(): { arrays: number; allocations: number; bytes: number; reportedBytes: number };
  /** Test controls of the host CUDA emulation; only in a BETANMF_CUDA_EMU build (npm run test:cuda-emu). */
  emu?: EmuControls;
  setNumThreads(n: number): number;
  /** Gives this thread's cached async-copy memory back to the OS (lib/kernels.ts, when idle). */
  trimCopies(): void;
}

export const packageRoot = path.join(__dirname, '..');
/** The oldest glibc the shipped prebuild loads with (its newest GLIBC_ symbol version; test/package.test.ts checks it). */
export const GLIBC_BASELINE = '2.34';

/** Facts that explain why a binary does not load here (glibc too old, a CPU without what it was built for). */
function platformFacts(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const glibc = header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'no glibc (musl?)';
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  let features = '';
  try {
    const flags = new Set(/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim().split(/\s+/) ?? []);
    features = ` (${['sse4_2', 'avx2', 'fma', 'avx512f'].map((f) => `${f} ${flags.has(f) ? 'yes' : 'no'}`).join(', ')})`;
  } catch {
    // not Linux: no feature list
  }
  return `${process.platform}-${process.arch}, node ${process.versions.node} (N-API ${process.versions.napi}), ${glibc}, ${cpu}${features}`;
}

/**
 * The addon: BETANMF_NATIVE if set (the memcheck script loads an AddressSanitizer build this
 * way), else the first of a source build (build/Release) and the shipped prebuild
 * (prebuilds/<platform>-<arch>) that loads. No install script is needed to find the prebuild.
 * A candidate that exists but fails to load is reported (with why) before the next is tried.
 */
function load(): NativeAddon {
  const explicit = process.env.BETANMF_NATIVE;
  const candidates = explicit
    ? [path.resolve(explicit)]
    : [path.join(packageRoot, 'build', 'Release', 'betanmf.node'), path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node')];
  const tried: string[] = [];
  for (const file of candidates) {
    if (!fs.existsSync(file)) {
      tried.push(`${file}: missing`);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const addon = require(file) as NativeAddon;
      if (typeof addon?.config !== 'function') throw new Error('not a betanmf addon (no config())');
      addon.config();
      return addon;
    } catch (err) {
      const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      tried.push(`${file}: present but does not load (${why})`);
      if (file !== candidates[candidates.length - 1]) {
        process.emitWarning(`betanmf: ${file} does not load here (${why}; ${platformFacts()}); trying the next binary`, { code: 'BETANMF_NATIVE_FALLBACK' });
      }
    }
  }
  throw new Error(
    `betanmf: no native addon loads on ${platformFacts()}.\n` +
      tried.map((t) => `  ${t}\n`).join('') +
      (explicit ? 'BETANMF_NATIVE names the binary to load; unset it to use the package\'s own.\n' : '') +
      `The prebuilt binary needs Linux x64 with glibc ≥ ${GLIBC_BASELINE}. To build from source instead: ` +
      `\`npm install cmake-js node-addon-api node-api-headers\` and \`apt-get install cmake g++ libopenblas-dev\`, ` +
      `then \`npm rebuild betanmf\` (or \`npm run build:native\` in ${packageRoot}).`,
  );
}

export const addon: NativeAddon = load();
