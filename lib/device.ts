// Device choice. This build has the CPU backend only; 'cuda' is refused with the reason.
import { typeError } from './errors';
import { addon } from './native';

export type DeviceRequest = 'auto' | 'cpu' | 'cuda';

export interface DeviceInfo {
  kind: 'cpu' | 'cuda';
  available: boolean;
  /** Why the device cannot be used, when it cannot. */
  reason?: string;
  name?: string;
  threads?: number;
}

/** The devices this process could compute on, CPU first. */
export function devices(): DeviceInfo[] {
  const c = addon.config();
  return [
    { kind: 'cpu', available: true, name: `OpenBLAS (${c.openblasCore})`, threads: c.numThreads },
    {
      kind: 'cuda',
      available: false,
      reason: c.cudaCompiled ? 'no CUDA device' : 'this build of betanmf has no CUDA backend',
    },
  ];
}

/**
 * The device a computation runs on: the request, else BETANMF_DEVICE, else 'auto'
 * (CUDA when available, otherwise the CPU).
 */
export function resolveDevice(requested: unknown, name = 'device'): 'cpu' {
  const fromEnv = process.env.BETANMF_DEVICE;
  const value = requested ?? (fromEnv && fromEnv.length ? fromEnv : 'auto');
  const source = requested === undefined && fromEnv ? 'BETANMF_DEVICE' : name;
  if (value !== 'auto' && value !== 'cpu' && value !== 'cuda') {
    throw typeError(source, "'auto', 'cpu' or 'cuda'", value);
  }
  if (value === 'cuda') {
    const cuda = devices().find((d) => d.kind === 'cuda')!;
    throw new Error(`${source}: CUDA was requested but is not available (${cuda.reason})`);
  }
  return 'cpu';
}

/** OpenBLAS kernels that use neither AVX2 nor FMA. */
const GENERIC_CORES = new Set(['Prescott', 'Core2', 'Penryn', 'Dunnington', 'Nehalem', 'Atom', 'Katmai', 'Coppermine', 'Northwood', 'Banias']);

/**
 * A warning when OpenBLAS did not recognise this CPU and fell back to old SSE kernels although
 * the CPU has AVX2 and FMA (products then run about 3× slower), with the fix; else undefined.
 */
export function openblasWarning(): string | undefined {
  const c = addon.config();
  if (!c.cpuFeatures?.avx2 || !c.cpuFeatures.fma || !GENERIC_CORES.has(c.openblasCore)) return undefined;
  const suggestion = c.cpuFeatures.avx512f ? 'SkylakeX (or Haswell)' : 'Haswell';
  return `OpenBLAS picked its generic '${c.openblasCore}' kernels although this CPU has AVX2/FMA` +
    `${c.cpuFeatures.avx512f ? '/AVX-512' : ''}; set OPENBLAS_CORETYPE=${suggestion} before starting node for faster products`;
}
