// Matrices that running readers (a model's transforms) still use. A model replaces its W whole
// when a fit ends; a replaced or disposed matrix that a transform still reads is freed when the
// last such reader ends, never under it.
import type { Matrix } from './matrix';

export class ReadHolds {
  private readonly readers = new Map<Matrix, number>();
  private readonly retired = new Set<Matrix>();

  /** Runs `read(m)` with `m` held; `m` is freed afterwards if it was released meanwhile. */
  async during<R>(m: Matrix, read: (m: Matrix) => Promise<R>): Promise<R> {
    this.hold(m);
    try {
      return await read(m);
    } finally {
      this.drop(m);
    }
  }

  duringSync<R>(m: Matrix, read: (m: Matrix) => R): R {
    this.hold(m);
    try {
      return read(m);
    } finally {
      this.drop(m);
    }
  }

  /** Frees `m` now, or, if a reader holds it, when the last one ends. */
  release(m: Matrix): void {
    if (this.readers.has(m)) this.retired.add(m);
    else m.dispose();
  }

  private hold(m: Matrix): void {
    this.readers.set(m, (this.readers.get(m) ?? 0) + 1);
  }

  private drop(m: Matrix): void {
    const n = (this.readers.get(m) ?? 1) - 1;
    if (n > 0) return void this.readers.set(m, n);
    this.readers.delete(m);
    if (this.retired.delete(m)) m.dispose();
  }
}
