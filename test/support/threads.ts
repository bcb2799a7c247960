// Runs fn with the native kernels on n threads, then puts the earlier count back.
import * as b from '../../lib';

export function withThreads<R>(n: number, fn: () => R): R {
  const before = b.nativeConfig().numThreads;
  b.setNumThreads(n);
  try {
    return fn();
  } finally {
    b.setNumThreads(before);
  }
}
