// Dense row-major matrices: on the CPU over a Float32Array / Float64Array (the caller's array,
// wrapped without a copy), or in CUDA device memory (owned, freed by dispose() or, as a safety
// net, when garbage-collected).
import { types } from 'node:util';
import { resolveDevice, type DeviceRequest } from './device';
import { describe, rangeError, typeError } from './errors';
import { addon, type DeviceHandle, type FloatArray } from './native';

export type DType = 'float32' | 'float64';
export type Device = 'cpu' | 'cuda';

export interface MatrixOptions {
  /** Element type for `number[][]` data (default 'float64'); a typed array keeps its own. */
  dtype?: DType;
  /** Where the matrix lives: 'cpu' (default: the data is wrapped), 'cuda' or 'auto' (copied to the GPU when there is one). */
  device?: DeviceRequest;
}

const MAX_DIM = 2 ** 31 - 1;
/** The largest matrix asked for by shape: 2^53 − 1 bytes (rows·cols·element size exact in a double). */
const MAX_BYTES = Number.MAX_SAFE_INTEGER;

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

/**
 * The bytes of a rows×cols matrix of `dtype`, checked before anything is allocated: a RangeError
 * naming the shape when they exceed 2^53 − 1 (where rows·cols·size would no longer be exact).
 */
export function checkBytes(rows: number, cols: number, dtype: DType): number {
  const bytes = rows * cols * (dtype === 'float32' ? 4 : 8);
  if (bytes > MAX_BYTES) {
    throw rangeError('shape', 'at most 2^53 − 1 bytes', `${rows}×${cols} ${dtype} (${bytes.toExponential(3)} bytes)`);
  }
  return bytes;
}

/** A new zeroed rows×cols matrix on `device`; a RangeError naming the shape when it cannot be had. */
function allocateMatrix(rows: number, cols: number, dtype: DType, device: Device): Matrix {
  checkBytes(rows, cols, dtype);
  if (device === 'cuda') return new Matrix(addon.deviceAlloc(dtype === 'float32', rows * cols), rows, cols, dtype);
  let data: FloatArray;
  try {
    data = allocate(dtype, rows * cols);
  } catch (err) {
    // V8's own RangeError ("Invalid typed array length", "Array buffer allocation failed").
    if (!(err instanceof RangeError)) throw err;
    throw rangeError('shape', 'a matrix this process can allocate', `${rows}×${cols} ${dtype} (${err.message})`);
  }
  return new Matrix(data, rows, cols);
}

// A Proxy of a typed array passes instanceof but not the typed array's own methods (V8 then
// says "incompatible receiver"): it is refused as not being a typed array.
function isFloatArray(v: unknown): v is FloatArray {
  return !types.isProxy(v) && (v instanceof Float32Array || v instanceof Float64Array);
}

export class Matrix {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** Element type. */
  readonly dtype: DType;
  /** Where the data lives. */
  readonly device: Device;
  private store: FloatArray | undefined;
  private handle: DeviceHandle | undefined;

  /**
   * Wraps `data` (row-major, length rows·cols) without copying it.
   * @throws TypeError when data is not a Float32Array or Float64Array.
   * @throws RangeError when a dimension is not a nonnegative integer or data.length ≠ rows·cols.
   */
  constructor(data: FloatArray, rows: number, cols: number);
  /** @internal A matrix over device memory. */
  constructor(data: DeviceHandle, rows: number, cols: number, dtype: DType);
  constructor(data: FloatArray | DeviceHandle, rows: number, cols: number, dtype?: DType) {
    this.rows = checkDim('rows', rows);
    this.cols = checkDim('cols', cols);
    if (isFloatArray(data)) {
      if (data.length !== rows * cols) {
        throw rangeError('data', `length rows·cols = ${rows}·${cols} = ${rows * cols}`, `length ${data.length}`);
      }
      this.store = data;
      this.dtype = dtypeOf(data);
      this.device = 'cpu';
    } else if (dtype !== undefined && typeof data === 'object' && data !== null && !ArrayBuffer.isView(data)) {
      this.handle = data;
      this.dtype = dtype;
      this.device = 'cuda';
    } else {
      throw typeError('data', 'a Float32Array or Float64Array', data);
    }
  }

  /** The row-major elements of a CPU matrix (entry (i, j) is data[i·cols + j]); shared, not copied. */
  get data(): FloatArray {
    if (this.disposed) throw new Error(`${this.toString()}: the matrix was disposed`);
    if (!this.store) throw new Error(`${this.toString()}: the data is in device memory; read it with toArray(), toTypedArray() or await read()`);
    return this.store;
  }

  /** @internal What the native code is given: the typed array, or the device handle. */
  get native(): FloatArray | DeviceHandle {
    if (this.disposed) throw new Error(`${this.toString()}: the matrix was disposed`);
    return (this.store ?? this.handle)!;
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.store === undefined && this.handle === undefined;
  }

  /**
   * Lets go of the data: device memory is freed now (work already started on it finishes
   * first); a CPU matrix only drops its reference to the typed array, which stays the caller's.
   * Any later use is an Error.
   */
  dispose(): void {
    if (this.handle) addon.deviceFree(this.handle);
    this.store = undefined;
    this.handle = undefined;
  }

  /** dispose(), for `using m = X.to('cuda')`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** [rows, cols]. */
  get shape(): [number, number] {
    return [this.rows, this.cols];
  }

  /** The entries as a new typed array (downloaded from the device, for a CUDA matrix). */
  toTypedArray(): FloatArray {
    if (this.store) return this.store.slice();
    const out = allocate(this.dtype, this.rows * this.cols);
    addon.deviceDownload(false, this.native as DeviceHandle, out);
    return out;
  }

  /** As toTypedArray(), without blocking the event loop while a device copy runs. */
  async read(): Promise<FloatArray> {
    if (this.device === 'cpu') return this.toTypedArray();
    const out = allocate(this.dtype, this.rows * this.cols);
    await addon.deviceDownload(true, this.native as DeviceHandle, out);
    return out;
  }

  /** The entries as nested arrays of numbers (a copy). */
  toArray(): number[][] {
    const flat = this.toTypedArray();
    const out: number[][] = new Array(this.rows);
    for (let i = 0; i < this.rows; i++) out[i] = Array.from(flat.subarray(i * this.cols, (i + 1) * this.cols));
    return out;
  }

  /** This matrix on `device` ('cpu', 'cuda' or 'auto'): itself when already there, else a copy. */
  to(device: DeviceRequest): Matrix {
    const target = resolveDevice(device, 'device');
    if (target === this.device) {
      this.native; // a disposed matrix is an Error here too
      return this;
    }
    if (target === 'cpu') return new Matrix(this.toTypedArray(), this.rows, this.cols);
    const m = allocateMatrix(this.rows, this.cols, this.dtype, 'cuda');
    try {
      addon.deviceUpload(false, m.native as DeviceHandle, this.data);
    } catch (err) {
      m.dispose();
      throw err;
    }
    return m;
  }

  /** An independent copy on the same device. */
  clone(): Matrix {
    if (this.device === 'cpu') return new Matrix(this.data.slice(), this.rows, this.cols);
    return new Matrix(this.toTypedArray(), this.rows, this.cols).to('cuda');
  }

  toString(): string {
    return `Matrix(${this.rows}×${this.cols}, ${this.dtype}, ${this.device}${this.disposed ? ', disposed' : ''})`;
  }
}

/** A copy of m on the CPU in `dtype`. */
export function copyAs(m: Matrix, dtype: DType): Matrix {
  const data = allocate(dtype, m.rows * m.cols);
  data.set(m.toTypedArray());
  return new Matrix(data, m.rows, m.cols);
}

/** m on the CPU in `dtype` (m itself when it already is). */
export function hostAs(m: Matrix, dtype: DType): Matrix {
  return m.dtype === dtype && m.device === 'cpu' ? m : copyAs(m, dtype);
}

/** A rows×cols matrix of zeros, on the CPU unless `device` says otherwise. */
export function zeros(rows: number, cols: number, dtype: DType = 'float64', device: DeviceRequest = 'cpu'): Matrix {
  checkDim('rows', rows);
  checkDim('cols', cols);
  checkDType(dtype);
  return allocateMatrix(rows, cols, dtype, resolveDevice(device, 'device'));
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
 * - `{ device: 'cuda' }` (or 'auto') copies the data to the GPU; the default 'cpu' wraps it.
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

  const m = hostMatrix(data, rows, cols, options);
  return options.device === undefined || options.device === 'cpu' ? m : m.to(options.device);
}

function hostMatrix(data: FloatArray | number[][], rows: number | undefined, cols: number | undefined, options: MatrixOptions): Matrix {
  if (isFloatArray(data)) {
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
  let nested = false;
  try {
    nested = Array.isArray(data);
  } catch {
    // a revoked Proxy: described below
  }
  if (nested) return fromNested(data, rows, cols, checkDType(options.dtype ?? 'float64'));
  throw typeError('data', `a Float32Array, Float64Array or number[][]${types.isProxy(data) ? ' (not a Proxy of one)' : ''}`, data);
}

export function isMatrix(value: unknown): value is Matrix {
  return !types.isProxy(value) && value instanceof Matrix;
}

