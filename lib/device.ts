// Device choice: 'auto' takes CUDA when this build has it and a device and cuBLAS load,
// otherwise the CPU; 'cuda' where there is none is an Error saying why.
import { typeError } from './errors';
import { addon } from './native';

export type DeviceRequest = 'auto' | 'cpu' | 'cuda';

export interface DeviceInfo {
  kind: 'cpu' | 'cuda';
  available: boolean;
  /** Why the device cannot be used, when it cannot. */
  reason?: string;
  name?: string;
  /** CPU: threads the kernels use. */
  threads?: number;
  /** CUDA: device memory, compute capability, versions, the cuBLAS library opened. */
  memoryBytes?: number;
  computeCapability?: string;
  driverVersion?: number;
  runtimeVersion?: number;
  cublas?: string;
}

/** The devices this process could compute on, CPU first. */
export function devices(): DeviceInfo[] {
  const c = addon.config();
  const { compiled: _compiled, ...cuda } = addon.cudaInfo();
  return [{ kind: 'cpu', available: true, name: `OpenBLAS (${c.openblasCore})`, threads: c.numThreads }, { kind: 'cuda', ...cuda }];
}

/**
 * The device a computation runs on: the request, else BETANMF_DEVICE, else `fallback`
 * ('auto': CUDA when available, otherwise the CPU).
 */
export function resolveDevice(requested: unknown, name = 'device', fallback: DeviceRequest = 'auto'): 'cpu' | 'cuda' {
  const fromEnv = process.env.BETANMF_DEVICE;
  const value = requested ?? (fromEnv && fromEnv.length ? fromEnv : fallback);
  const source = requested === undefined && fromEnv ? 'BETANMF_DEVICE' : name;
  if (value !== 'auto' && value !== 'cpu' && value !== 'cuda') {
    throw typeError(source, "'auto', 'cpu' or 'cuda'", value);
  }
  if (value === 'cpu') return 'cpu';
  const cuda = addon.cudaInfo();
  if (cuda.available) return 'cuda';
  if (value === 'cuda') throw new Error(`${source}: CUDA was requested but is not available (${cuda.reason})`);
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
