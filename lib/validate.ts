// Argument checks, done once at the edge before any native work starts: TypeError for a
// wrong kind of value, RangeError for a wrong shape or value.
import { types } from 'node:util';
import { describe, isDetached, rangeError, typeError } from './errors';
import { Matrix, zeros, type Device, type DType } from './matrix';

/** Whether a value is a Matrix, asked without running a Proxy's traps. */
export function isMatrixValue(value: unknown): value is Matrix {
  return !types.isProxy(value) && value instanceof Matrix;
}

export function checkMatrix(name: string, value: unknown): Matrix {
  if (!isMatrixValue(value)) throw typeError(name, 'a Matrix (see matrix())', value);
  if (value.disposed) throw new Error(`${name}: the matrix was disposed`);
  if (value.device === 'cpu') {
    // The typed array's buffer may have been transferred (detached) or, resizable, shrunk. Asked
    // of the buffer itself: V8 (Node 20) can keep using a detached array's old length in
    // optimised code once the same function has seen arrays over resizable buffers.
    const data = value.data;
    const how = isDetached(data) ? 'was detached (transferred)'
      : data.length !== value.rows * value.cols ? `was resized to ${data.length} elements` : undefined;
    if (how) throw new TypeError(`${name}: expected a usable ${value.rows}×${value.cols} matrix, received one whose buffer ${how}`);
  }
  return value;
}

export function checkBeta(beta: unknown): number {
  if (typeof beta !== 'number') throw typeError('beta', 'a number', beta);
  if (!Number.isFinite(beta)) throw rangeError('beta', 'a finite number', describe(beta));
  return beta;
}

export function checkEps(eps: unknown): number {
  if (typeof eps !== 'number') throw typeError('eps', 'a number', eps);
  if (!Number.isFinite(eps) || eps < 0) throw rangeError('eps', 'a finite number ≥ 0', describe(eps));
  return eps;
}

export function checkDType(name: string, m: Matrix, dtype: DType, source: string): void {
  if (m.dtype !== dtype) throw typeError(name, `dtype ${dtype} (the dtype of ${source}), not mixed dtypes`, m);
}

export function checkShape(name: string, m: Matrix, rows: number, cols: number, why: string): void {
  if (m.rows !== rows || m.cols !== cols) {
    throw rangeError(name, `${rows}×${cols} (${why})`, `${m.rows}×${m.cols}`);
  }
}

/** The factorisation operands X (N×F), W (F×K), H (N×K), checked against each other. */
export interface Factors {
  X: Matrix;
  W: Matrix;
  H: Matrix;
  N: number;
  F: number;
  K: number;
  dtype: DType;
  device: Device;
}

/** Operands of one call must live on one device (an Error otherwise: move them with to()). */
export function checkSameDevice(name: string, m: Matrix, ref: Matrix, refName: string): void {
  if (m.device !== ref.device) {
    throw new Error(`${name}: expected a matrix on ${ref.device} like ${refName}, received one on ${m.device} (move it with .to('${ref.device}'))`);
  }
}

export function checkFactors(X: unknown, W: unknown, H: unknown): Factors {
  const x = checkMatrix('X', X);
  const w = checkMatrix('W', W);
  const h = checkMatrix('H', H);
  checkDType('W', w, x.dtype, 'X');
  checkDType('H', h, x.dtype, 'X');
  checkSameDevice('W', w, x, 'X');
  checkSameDevice('H', h, x, 'X');
  const N = x.rows, F = x.cols, K = h.cols;
  if (h.rows !== N) throw rangeError('H', `${N} rows (N = X.rows)`, `${h.rows}×${h.cols}`);
  checkShape('W', w, F, K, 'F×K with F = X.cols and K = H.cols');
  return { X: x, W: w, H: h, N, F, K, dtype: x.dtype, device: x.device };
}

/**
 * Entry weights for X (N×F): a Matrix of `dtype` on `device` (the kernels: X's), finite and ≥ 0
 * (0 marks a missing entry). Returns it, or undefined when not given. `checkValues` false leaves
 * the values to the native call that takes them (the kernels and the fit object check them where
 * they live: binding/weights.h).
 */
export function checkWeights(name: string, value: unknown, N: number, F: number, dtype: DType | undefined, device: Device | undefined,
  checkValues = true): Matrix | undefined {
  if (value === undefined) return undefined;
  const m = checkMatrix(name, value);
  if (dtype !== undefined) checkDType(name, m, dtype, 'X');
  checkShape(name, m, N, F, 'N×F, the shape of X');
  if (device !== undefined && m.device !== device) {
    throw new Error(`${name}: expected a matrix on ${device} like X, received one on ${m.device} (move it with .to('${device}'))`);
  }
  if (!checkValues) return m;
  const d = m.device === 'cpu' ? m.data : m.toTypedArray();
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v >= 0 && v !== Infinity) continue;
    throw rangeError(name, 'finite weights ≥ 0 (0 marks a missing entry)', `${describe(v)} at row ${Math.floor(i / F)}, column ${i % F}`);
  }
  return m;
}

export function checkOptions(options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw typeError('options', 'an object such as { out }', options);
  }
  return options as Record<string, unknown>;
}

/** An optional output matrix: the given one after checks, or a new one of zeros on `device`. */
export function outputMatrix(name: string, value: unknown, rows: number, cols: number, dtype: DType, why: string,
  device: Device = 'cpu'): Matrix {
  if (value === undefined) return zeros(rows, cols, dtype, device);
  const m = checkMatrix(name, value);
  checkDType(name, m, dtype, 'the inputs');
  checkShape(name, m, rows, cols, why);
  if (m.device !== device) throw new Error(`${name}: expected a matrix on ${device} like the inputs, received one on ${m.device}`);
  return m;
}

/** An options.out that must be an object of named output matrices, e.g. { pos, neg }. */
export function outputGroup(value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || types.isProxy(value) || value instanceof Matrix || Array.isArray(value)) {
    throw typeError('options.out', `an object with optional ${keys.join(', ')} matrices`, value);
  }
  return value as Record<string, unknown>;
}

/** Whether two matrices share memory (device matrices: whether they are the same one). */
export function sharesMemory(a: Matrix, b: Matrix): boolean {
  if (a.device !== 'cpu' || b.device !== 'cpu') return a === b;
  if (a.data.buffer !== b.data.buffer) return false;
  const a0 = a.data.byteOffset, a1 = a0 + a.data.byteLength;
  const b0 = b.data.byteOffset, b1 = b0 + b.data.byteLength;
  return a0 < b1 && b0 < a1 && a.data.byteLength > 0 && b.data.byteLength > 0;
}

/** Outputs written by one call must not share memory (one would overwrite the other). */
export function checkDisjointOutputs(outputs: Record<string, Matrix>): void {
  const entries = Object.entries(outputs);
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      if (sharesMemory(entries[i][1], entries[j][1])) {
        throw rangeError(entries[j][0], `memory separate from ${entries[i][0]}`, 'an overlapping matrix');
      }
    }
  }
}

/**
 * The error for entry v of X (or of a factor) at (row, col): not a finite nonnegative number, or
 * a 0 where β ≤ 0 makes the divergence infinite. One message wherever X is checked.
 */
export function entryError(name: string, v: number, row: number, col: number, beta?: number): RangeError {
  const where = `at row ${row}, column ${col}`;
  if (v !== 0 || beta === undefined || beta > 0) return rangeError(name, 'finite nonnegative entries', `${describe(v)} ${where}`);
  return rangeError(name, `positive entries for beta = ${beta} (with β ≤ 0 the divergence is infinite where ` +
    'x = 0: add a small constant to X, give such entries weight 0, or use β > 0)', `0 ${where}`);
}

/**
 * Checks that a factor or data matrix (on the CPU) holds finite nonnegative numbers, in entries
 * [start, end); with `beta` ≤ 0 also that none is 0.
 */
export function checkNonnegative(name: string, m: Matrix, beta?: number, start = 0, end = m.data.length): void {
  const d = m.data;
  for (let i = start; i < end; i++) {
    const v = d[i];
    if (v > 0 && v !== Infinity) continue;
    if (v !== 0 || (beta !== undefined && beta <= 0)) throw entryError(name, v, Math.floor(i / m.cols), i % m.cols, beta);
  }
}
