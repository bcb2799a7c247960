// `betanmf bench`: one full MU iteration (H then W, as the mu_batch solver runs it with one
// batch) per β, timed next to the GEMM-only floor on the same shapes, on the CPU or the GPU
// (each timed call waits for the device, so the times are real).
import { Option, type Command } from 'commander';
import { openblasWarning, resolveDevice } from '../device';
import { rangeError } from '../errors';
import { availableMemory } from '../memory';
import { randomFactor } from '../init';
import { allocate, Matrix, type DType } from '../matrix';
import { addon } from '../native';
import { openIteration } from '../fit';
import { Random } from '../random';
import { syntheticSpectrogram } from '../synthetic';
import { betaList, int, shape } from './args';
import { usage } from './io';
import { kernelLine, kernelReport } from './inspect';

export function benchCommand(cli: Command): void {
  cli
    .command('bench')
    .description('time one full MU iteration (H then W) per β next to the GEMM-only floor')
    .addOption(new Option('--shape <NxFxK>', 'problem shape').argParser(shape()).default([10000, 513, 50], '10000x513x50'))
    .addOption(new Option('--beta <LIST>', 'comma-separated β values (numbers or names)').argParser(betaList()).default([0, 0.5, 1, 1.5, 2], '0,0.5,1,1.5,2'))
    .addOption(new Option('--dtype <T>', 'dtype').choices(['float32', 'float64']).default('float32'))
    .addOption(new Option('--device <D>', 'device (default auto)').choices(['auto', 'cpu', 'cuda']))
    .option('--iters <N>', 'timed iterations per β (median reported)', int('--iters', 1), 10)
    .option('--json', 'print { results: [...] } as JSON')
    .action((f: { shape: [number, number, number]; beta: number[]; dtype: 'float32' | 'float64'; device?: string; iters: number; json?: boolean }) => {
      usage(() => checkBenchShape(f.shape, f.dtype));
      const results = bench(f.shape, f.beta, f.dtype, f.device, f.iters);
      const kernels = kernelReport();
      if (f.json) {
        process.stdout.write(JSON.stringify({ results, kernels }) + '\n');
        return;
      }
      const [N, F, K] = f.shape;
      const warning = openblasWarning();
      if (warning) process.stderr.write(`warning: ${warning}\n`);
      for (const w of kernels.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(kernelLine(kernels) + '\n');
      process.stdout.write(`N=${N} F=${F} K=${K} ${f.dtype} on ${results[0]?.device}, median of ${f.iters} iterations\n`);
      process.stdout.write('   β   ms/iter  floor ms  ratio\n');
      for (const r of results) {
        process.stdout.write(`${String(r.beta).padStart(4)} ${r.msPerIter.toFixed(2).padStart(9)} ${r.floorMs.toFixed(2).padStart(9)}  ${(r.msPerIter / r.floorMs).toFixed(2)}\n`);
      }
    });
}

export interface BenchResult {
  beta: number;
  dtype: DType;
  device: 'cpu' | 'cuda';
  N: number;
  F: number;
  K: number;
  /** Median over the timed iterations. */
  msPerIter: number;
  /** Median time of the same GEMMs alone. */
  floorMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Medians of a and b, timed alternately (a, b, a, b, …) so that machine noise hits both alike. */
function timeBoth(iters: number, a: () => void, b: () => void): [number, number] {
  a(); // warm-up: first touch of workspaces and OpenBLAS buffers
  b();
  const ta: number[] = [], tb: number[] = [];
  for (let i = 0; i < iters; i++) {
    for (const [fn, times] of [[a, ta], [b, tb]] as const) {
      const t0 = performance.now();
      fn();
      times.push(performance.now() - t0);
    }
  }
  return [median(ta), median(tb)];
}

// V8's limit on a typed array's length (2³² elements in Node 20; larger ones fail as "Invalid typed array length").
const MAX_ARRAY = 2 ** 32;

/** The matrices bench allocates (X, W, H and the gradient parts) fit in one array each and in memory; a RangeError naming --shape otherwise. */
export function checkBenchShape([N, F, K]: [number, number, number], dtype: DType): void {
  const shape = `${N}x${F}x${K}`;
  for (const [what, n] of [['X (N·F)', N * F], ['H (N·K)', N * K], ['W (F·K)', F * K]] as const) {
    if (n > MAX_ARRAY) throw rangeError('--shape', `at most ${MAX_ARRAY} values in one matrix`, `${shape}, where ${what} has ${n} values`);
  }
  const bytes = (N * F + 3 * N * K + 3 * F * K) * (dtype === 'float32' ? 4 : 8);
  const avail = availableMemory();
  if (bytes > avail.bytes) {
    const gib = (x: number) => (x / 2 ** 30).toFixed(1);
    throw rangeError('--shape', 'a problem that fits in memory', `${shape}, which needs ${gib(bytes)} GiB (${dtype}) of this machine's ${gib(avail.bytes)} GiB of ${avail.where}`);
  }
}

export function bench(shape: [number, number, number], betas: number[], dtype: DType, device: string | undefined, iters: number,
  data?: Matrix): BenchResult[] {
  const dev = resolveDevice(device, '--device');
  const [N, F, K] = shape;
  // The given data (N×F, dtype), or a synthetic spectrogram of that shape.
  const X = (data ?? syntheticSpectrogram(N, F, { dtype, seed: 3 })).to(dev);
  const rng = new Random(5);
  const results: BenchResult[] = [];
  const on = (rows: number, cols: number, fill?: boolean) => {
    const m = new Matrix(allocate(dtype, rows * cols), rows, cols);
    if (fill) randomFactor(m.data, 1, K, rng);
    return m.to(dev);
  };
  for (const beta of betas) {
    const W = on(F, K, true), H = on(N, K, true);
    const gradPos = on(F, K), gradNeg = on(F, K), hPos = on(N, K), hNeg = on(N, K);
    const fit = openIteration(X, W, H, beta);
    const floor = () => addon.gemmFloor(false, X.native, W.native, H.native, N, F, K, beta, hPos.native, hNeg.native, gradPos.native, gradNeg.native);
    try {
      const [msPerIter, floorMs] = timeBoth(iters, fit.iteration, floor);
      results.push({ beta, dtype, device: dev, N, F, K, msPerIter, floorMs });
    } finally {
      fit.dispose();
      for (const m of [W, H, gradPos, gradNeg, hPos, hNeg]) m.dispose();
    }
  }
  return results;
}
