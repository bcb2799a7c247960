// Dense row-major matrices over Float32Array / Float64Array. CPU matrices wrap the caller's
// typed array without copying it.
import { describe, rangeError, typeError } from './errors';
import type { FloatArray } from './native';

export type DType = 'float32' | 'float64';
export type Device = 'cpu';

export interface MatrixOptions {
  /** Element type for `number[][]` data (default 'float64'); a typed array keeps its own. */
  dtype?: DType;
}

const MAX_DIM = 2 ** 31 - 1;

export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float32Array ? 'float32' : 'float64';
}

export function allocate(dtype: DType, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
}

export function checkDim(name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(name, 'a nonnegative integer', value);
  if (!Number.isInteger(value) || value < 0 || value > MAX_DIM) {
    throw rangeError(name, `an integer in [0, ${MAX_DIM}]`, describe(value));
  }
  return value;
}

export class Matrix {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** Element type, that of `data`. */
  readonly dtype: DType;
  /** Where the data lives. */
  readonly device: Device = 'cpu';
  private store: FloatArray | undefined;

  /**
   * Wraps `data` (row-major, length rows·cols) without copying it.
   * @throws TypeError when data is not a Float32Array or Float64Array.
   * @throws RangeError when a dimension is not a nonnegative integer or data.length ≠ rows·cols.
   */
  constructor(data: FloatArray, rows: number, cols: number) {
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      throw typeError('data', 'a Float32Array or Float64Array', data);
    }
    this.rows = checkDim('rows', rows);
    this.cols = checkDim('cols', cols);
    if (data.length !== rows * cols) {
      throw rangeError('data', `length rows·cols = ${rows}·${cols} = ${rows * cols}`, `length ${data.length}`);
    }
    this.store = data;
    this.dtype = dtypeOf(data);
  }

  /** The row-major elements (entry (i, j) is data[i·cols + j]); shared, not copied. */
  get data(): FloatArray {
    if (!this.store) throw new Error(`${this.toString()}: the matrix was disposed`);
    return this.store;
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.store === undefined;
  }

  /**
   * Lets go of the data (device memory, for device matrices); any later use is an Error.
   * A CPU matrix only drops its reference to the typed array, which stays the caller's.
   */
  dispose(): void {
    this.store = undefined;
  }

  /** [rows, cols]. */
  get shape(): [number, number] {
    return [this.rows, this.cols];
  }

  /** The entries as nested arrays of numbers (a copy). */
  toArray(): number[][] {
    const out: number[][] = new Array(this.rows);
    for (let i = 0; i < this.rows; i++) out[i] = Array.from(this.data.subarray(i * this.cols, (i + 1) * this.cols));
    return out;
  }

  /** An independent copy. */
  clone(): Matrix {
    return new Matrix(this.data.slice(), this.rows, this.cols);
  }

  toString(): string {
    return `Matrix(${this.rows}×${this.cols}, ${this.dtype}, ${this.device}${this.store ? '' : ', disposed'})`;
  }
}

/** A rows×cols matrix of zeros. */
export function zeros(rows: number, cols: number, dtype: DType = 'float64'): Matrix {
  checkDim('rows', rows);
  checkDim('cols', cols);
  checkDType(dtype);
  return new Matrix(allocate(dtype, rows * cols), rows, cols);
}

function checkDType(dtype: unknown): DType {
  if (dtype !== 'float32' && dtype !== 'float64') throw typeError('dtype', "'float32' or 'float64'", dtype);
  return dtype;
}

function fromNested(data: unknown[], rows: number | undefined, cols: number | undefined, dtype: DType): Matrix {
  const r = data.length;
  if (rows !== undefined && checkDim('rows', rows) !== r) {
    throw rangeError('rows', `${r} (the number of rows in data)`, `${rows}`);
  }
  const first = data[0];
  if (r > 0 && !Array.isArray(first)) throw typeError('data[0]', 'an array of numbers', first);
  const c = r > 0 ? (first as unknown[]).length : (cols === undefined ? 0 : checkDim('cols', cols));
  if (cols !== undefined && checkDim('cols', cols) !== c) {
    throw rangeError('cols', `${c} (the length of data[0])`, `${cols}`);
  }
  const out = allocate(dtype, r * c);
  for (let i = 0; i < r; i++) {
    const row = data[i];
    if (!Array.isArray(row)) throw typeError(`data[${i}]`, 'an array of numbers', row);
    if (row.length !== c) throw rangeError(`data[${i}]`, `length ${c} (as data[0])`, `length ${row.length}`);
    for (let j = 0; j < c; j++) {
      const v = row[j];
      if (typeof v !== 'number') throw typeError(`data[${i}][${j}]`, 'a number', v);
      out[i * c + j] = v;
    }
  }
  return new Matrix(out, r, c);
}

/**
 * Makes a Matrix.
 * - `matrix(typedArray, rows, cols?)` wraps a Float32Array / Float64Array (row-major, not copied);
 *   `cols` defaults to length / rows.
 * - `matrix(number[][], rows?, cols?, { dtype })` copies nested arrays (dtype 'float64' by default).
 */
export function matrix(data: FloatArray | number[][], rows?: number, cols?: number, options?: MatrixOptions): Matrix;
export function matrix(data: number[][], options: MatrixOptions): Matrix;
export function matrix(
  data: FloatArray | number[][],
  rowsOrOptions?: number | MatrixOptions,
  cols?: number,
  options: MatrixOptions = {},
): Matrix {
  let rows: number | undefined;
  if (typeof rowsOrOptions === 'object' && rowsOrOptions !== null) options = rowsOrOptions;
  else rows = rowsOrOptions;
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);

  if (data instanceof Float32Array || data instanceof Float64Array) {
    if (options.dtype !== undefined && checkDType(options.dtype) !== dtypeOf(data)) {
      throw typeError('options.dtype', `'${dtypeOf(data)}' (the type of data) or undefined`, options.dtype);
    }
    if (rows === undefined) throw typeError('rows', 'a nonnegative integer when data is a typed array', rows);
    checkDim('rows', rows);
    let c = cols;
    if (c === undefined) {
      if (rows === 0 || data.length % rows !== 0) {
        throw rangeError('rows', `a divisor of data.length = ${data.length} when cols is omitted`, `${rows}`);
      }
      c = data.length / rows;
    }
    return new Matrix(data, rows, c);
  }
  if (Array.isArray(data)) return fromNested(data, rows, cols, checkDType(options.dtype ?? 'float64'));
  throw typeError('data', 'a Float32Array, Float64Array or number[][]', data);
}

export function isMatrix(value: unknown): value is Matrix {
  return value instanceof Matrix;
}

