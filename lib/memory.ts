// How much memory this process can still take, from the OS (Linux /proc and cgroup files), and
// the check that refuses a fit whose buffers would not fit in it before anything is allocated.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { rangeError } from './errors';
import type { DType } from './matrix';

/**
 * Memory this process can still take: the smaller of the kernel's MemAvailable (free memory
 * plus what the page cache can give back) and the room left under a cgroup limit (containers:
 * cgroup v2 memory.max − memory.current, or v1's limit − usage). os.freemem() where /proc is
 * not there (macOS, Windows).
 */
export function availableMemory(): { bytes: number; where: string } {
  const read = (file: string): string | undefined => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  let bytes = os.freemem(), where = 'free memory';
  const info = read('/proc/meminfo')?.match(/^MemAvailable:\s+(\d+) kB/m);
  if (info) [bytes, where] = [Number(info[1]) * 1024, 'available memory'];
  const limits: Array<[string, string]> = [['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current'],
    ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.usage_in_bytes']];
  for (const [limitFile, usageFile] of limits) {
    const limit = Number(read(limitFile)?.trim()), usage = Number(read(usageFile)?.trim());
    // 'max' (no limit) and v1's "unlimited" (a number near 2^63) leave the machine's figure.
    if (Number.isFinite(limit) && Number.isFinite(usage) && limit < 2 ** 60 && limit - usage < bytes) {
      [bytes, where] = [Math.max(0, limit - usage), 'room under the cgroup memory limit'];
      break;
    }
  }
  return { bytes, where };
}

/** The sizes a fit's buffers follow from. */
export interface FitSize {
  N: number;
  F: number;
  K: number;
  dtype: DType;
  batchSize: number;
  beta: number;
  /** The fit keeps a working copy of X (CPU fits). */
  copiesX: boolean;
  /** The fit keeps a copy of the weights. */
  weighted: boolean;
}

/**
 * Refuses, before allocating anything, a model whose buffers exceed the memory this process can
 * still take (availableMemory): X's working copy (N·F values on the CPU), the weights' copy (N·F),
 * W, H, the W-gradient state and the guard's snapshot (about K·(2N + 6F) values), one batch's
 * scratch (rows of X and H, the H parts), the β=2 K×K Gram matrix and the kernels' per-thread blocks.
 */
export function checkMemory({ N, F, K, dtype, batchSize, beta, copiesX, weighted }: FitSize): void {
  const batch = Math.min(Math.max(1, batchSize), N);
  const threads = Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  const values = K * (2 * N + 6 * F) + (copiesX ? N * F : 0) + (weighted ? N * F : 0) + batch * (F + 3 * K) + (beta === 2 ? K * K : 0) +
    threads * 2 * Math.max(2 ** 16, 16 * F); // a kernel's two blocks per thread: ~256 KiB, or 16 rows of X
  const bytes = (dtype === 'float32' ? 4 : 8) * values;
  const avail = availableMemory();
  if (bytes > avail.bytes) {
    const gib = (x: number) => (x / 2 ** 30).toFixed(1);
    throw rangeError('nComponents', 'a model that fits in memory (X\'s working copy, W, H and the solver buffers)',
      `${K}, which needs ${gib(bytes)} GiB of this machine's ${gib(avail.bytes)} GiB of ${avail.where}`);
  }
}
