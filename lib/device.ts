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
