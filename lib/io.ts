// Data in and out: .npy files (numpy's format, version 1–3: header first, then the raw array)
// and CSV. Readers check the header against the file's size before reading any data, then read
// the data once, in bounded chunks, straight into the matrix's final typed array, so memory is
// the matrix plus a few MiB and files above 2 GiB work. Writers are atomic: a temporary file in
// the same folder, renamed over the target when complete.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as csvParse } from 'csv-parse';
import { typeError } from './errors';
import { isMatrix, Matrix, type DType } from './matrix';
import type { FloatArray } from './native';

/** A data file that cannot be read as a matrix: the message names the file and what is wrong. */
export class DataFileError extends Error {
  override name = 'DataFileError';
  readonly code = 'ERR_BETANMF_DATA_FILE';
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.file = file;
  }
}

const MAGIC = '\x93NUMPY';
const littleEndian = os.endianness() === 'LE';
/** Bytes per read: large enough to stream at disk speed, small next to any matrix worth a file. */
const CHUNK = 16 * 2 ** 20;
const ITEM_BYTES: Record<string, number> = { i1: 1, u1: 1, b1: 1, i2: 2, u2: 2, f2: 2, i4: 4, u4: 4, f4: 4, i8: 8, u8: 8, f8: 8 };
const DTYPE_NAMES: Record<string, string> = {
  i1: 'int8', u1: 'uint8', b1: 'bool', i2: 'int16', u2: 'uint16', f2: 'float16', i4: 'int32', u4: 'uint32',
  f4: 'float32', i8: 'int64', u8: 'uint64', f8: 'float64',
};

/** What a .npy header says, checked against the file's size: what a positional read needs. */
export interface NpyLayout {
  rows: number;
  cols: number;
  /** Kind and size without byte order, as in ITEM_BYTES ('f4', 'i8', …). */
  type: string;
  bigEndian: boolean;
  dataOffset: number;
}

function checkPath(name: string, file: unknown): string {
  if (typeof file !== 'string' || file === '') throw typeError(name, 'a file path (a non-empty string)', file);
  return file;
}

// Inputs are opened without blocking and must be regular files: opening a FIFO for reading
// would wait for a writer in a libuv thread, and the process could then never exit.
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** A DataFileError unless `st` is a regular file. */
export function checkRegularFile(file: string, st: fs.Stats): void {
  if (st.isFile()) return;
  throw new DataFileError(file, st.isDirectory() ? 'is a folder; expected a .npy or .csv file'
    : 'is not a regular file (a pipe, socket or device); save the data to a file first');
}

async function openForReading(file: string): Promise<fsp.FileHandle> {
  const fh = await fsp.open(file, READ_FLAGS);
  try {
    checkRegularFile(file, await fh.stat());
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

function openForReadingSync(file: string): number {
  const fd = fs.openSync(file, READ_FLAGS);
  try {
    checkRegularFile(file, fs.fstatSync(fd));
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

function bytesText(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < units.length - 1);
  return `${n.toPrecision(3)} ${units[i]}`;
}

/** Parses the header text (a Python dict literal) and checks it against the file size. */
function parseNpyHeader(file: string, prefix: Buffer, fileSize: number): NpyLayout | { headerBytes: number } {
  if (prefix.length < 10 || prefix.toString('latin1', 0, 6) !== MAGIC) {
    throw new DataFileError(file, 'not a .npy file (it does not start with the \\x93NUMPY signature numpy writes)');
  }
  const major = prefix[6];
  if (major < 1 || major > 3) throw new DataFileError(file, `.npy format version ${major}.${prefix[7]} is not supported (1.0 to 3.0 are)`);
  const lenBytes = major === 1 ? 2 : 4;
  if (prefix.length < 8 + lenBytes) throw new DataFileError(file, 'truncated inside the .npy header');
  const headerLen = major === 1 ? prefix.readUInt16LE(8) : prefix.readUInt32LE(8);
  const dataOffset = 8 + lenBytes + headerLen;
  if (dataOffset > fileSize) {
    throw new DataFileError(file, `truncated inside the .npy header (the header claims ${headerLen} bytes, the file has ${fileSize} in all)`);
  }
  if (prefix.length < dataOffset) return { headerBytes: dataOffset };
  const header = prefix.toString(major === 3 ? 'utf8' : 'latin1', 8 + lenBytes, dataOffset);

  const bad = (what: string) => new DataFileError(file, `malformed .npy header: ${what} (header: ${JSON.stringify(header.trim().slice(0, 200))})`);
  // numpy evaluates the header as a Python dict literal: it must be one, and a key given twice
  // would take its last value there (a first-match reading here would disagree), so both are refused.
  const text = header.trim();
  if (!text.startsWith('{')) throw bad("it does not start with '{'");
  if (!text.endsWith('}')) throw bad("it does not end with '}'");
  for (const key of ['descr', 'fortran_order', 'shape']) {
    const count = header.match(new RegExp(`['"]${key}['"]\\s*:`, 'g'))?.length ?? 0;
    if (count > 1) throw bad(`'${key}' appears ${count} times`);
  }
  const descr = /['"]descr['"]\s*:\s*(?:'([^']*)'|"([^"]*)"|(\[))/.exec(header);
  if (!descr) throw bad("no 'descr' entry");
  if (descr[3]) throw new DataFileError(file, 'structured (record) arrays are not supported; save a plain numeric 2-D array');
  const dtype = descr[1] ?? descr[2];
  const order = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  if (!order) throw bad("no 'fortran_order' entry (True or False)");
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!shapeMatch) throw bad("no 'shape' tuple");

  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(dtype);
  const type = m ? `${m[2]}${m[3]}` : dtype;
  if (!m || !(type in ITEM_BYTES)) {
    throw new DataFileError(file, `unsupported dtype '${dtype}' (expected float16/32/64, signed or unsigned integers, or bool)`);
  }
  const bigEndian = m[1] === '>' && ITEM_BYTES[type] > 1;

  const parts = shapeMatch[1].split(',').map((s) => s.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 1 && parts[0] === '') parts.pop();
  for (const p of parts) {
    if (!/^\d+L?$/.test(p)) throw bad(`shape entry ${JSON.stringify(p)} is not a nonnegative integer`);
  }
  const shape = parts.map((p) => Number(p.replace(/L$/, '')));
  if (shape.length !== 2) {
    throw new DataFileError(file, `expected a 2-D array (rows × columns), found shape (${shape.join(', ')}${shape.length === 1 ? ',' : ''}); ` +
      'reshape it in numpy, e.g. X.reshape(1, -1) for one row');
  }
  if (order[1] === 'True' && shape[0] > 1 && shape[1] > 1) {
    throw new DataFileError(file, 'Fortran-order (column-major) arrays are not supported; save np.ascontiguousarray(X)');
  }
  const [rows, cols] = shape;
  const dims = `${rows}×${cols} ${DTYPE_NAMES[type]}`;
  const need = rows * cols * ITEM_BYTES[type];
  const have = fileSize - dataOffset;
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || !Number.isSafeInteger(need)) {
    throw new DataFileError(file, `the header's shape ${dims} is too large to be real (the file has ${bytesText(have)} of data)`);
  }
  if (have < need) {
    throw new DataFileError(file, `truncated: a ${dims} array needs ${need} bytes (${bytesText(need)}) of data after the header, the file has ${have}`);
  }
  if (have > need) {
    throw new DataFileError(file, `${have - need} unexpected bytes after the ${dims} array (${need} bytes of data expected after the header, the file has ${have}); ` +
      'was it written by np.save?');
  }
  return { rows, cols, type, bigEndian, dataOffset };
}

/** The typed array a matrix of this file type lands in: float32 stays float32, all else is float64. */
function allocateFor(file: string, layout: NpyLayout): FloatArray {
  const count = layout.rows * layout.cols;
  const Ctor = layout.type === 'f4' ? Float32Array : Float64Array;
  try {
    return new Ctor(count);
  } catch {
    throw new DataFileError(file, `a ${layout.rows}×${layout.cols} ${Ctor === Float32Array ? 'float32' : 'float64'} matrix ` +
      `(${bytesText(count * Ctor.BYTES_PER_ELEMENT)}) cannot be allocated here (${bytesText(os.freemem())} free)`);
  }
}

/** True when the file's items are the target array's items bit for bit (float32 → float32, float64 → float64). */
const direct = (layout: NpyLayout) => layout.type === 'f4' || layout.type === 'f8';

type IntView = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;
const VIEWS: Record<string, new (buffer: ArrayBufferLike, byteOffset: number, length: number) => IntView> = {
  i1: Int8Array, u1: Uint8Array, b1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array, i8: BigInt64Array, u8: BigUint64Array,
};

function halfToNumber(h: number): number {
  const e = (h >> 10) & 0x1f, f = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Converts `bytes` (whole items of the file's type) into out[at…]. */
function convert(layout: NpyLayout, bytes: Buffer, out: FloatArray, at: number): void {
  const size = ITEM_BYTES[layout.type];
  const n = bytes.length / size;
  const le = !layout.bigEndian;
  if (le && littleEndian && bytes.byteOffset % size === 0 && layout.type in VIEWS) {
    // The common case: a typed view of the chunk, converted by the engine (BigInts one by one).
    const view = new VIEWS[layout.type](bytes.buffer, bytes.byteOffset, n);
    if (view instanceof BigInt64Array || view instanceof BigUint64Array) {
      for (let i = 0; i < n; i++) out[at + i] = Number(view[i]);
    } else {
      out.set(view, at);
    }
    return;
  }
  switch (layout.type) {
    case 'i1': for (let i = 0; i < n; i++) out[at + i] = bytes.readInt8(i); break;
    case 'u1': case 'b1': for (let i = 0; i < n; i++) out[at + i] = bytes[i]; break;
    case 'i2': for (let i = 0; i < n; i++) out[at + i] = le ? bytes.readInt16LE(2 * i) : bytes.readInt16BE(2 * i); break;
    case 'u2': for (let i = 0; i < n; i++) out[at + i] = le ? bytes.readUInt16LE(2 * i) : bytes.readUInt16BE(2 * i); break;
    case 'f2': for (let i = 0; i < n; i++) out[at + i] = halfToNumber(le ? bytes.readUInt16LE(2 * i) : bytes.readUInt16BE(2 * i)); break;
    case 'i4': for (let i = 0; i < n; i++) out[at + i] = le ? bytes.readInt32LE(4 * i) : bytes.readInt32BE(4 * i); break;
    case 'u4': for (let i = 0; i < n; i++) out[at + i] = le ? bytes.readUInt32LE(4 * i) : bytes.readUInt32BE(4 * i); break;
    case 'i8': for (let i = 0; i < n; i++) out[at + i] = Number(le ? bytes.readBigInt64LE(8 * i) : bytes.readBigInt64BE(8 * i)); break;
    case 'u8': for (let i = 0; i < n; i++) out[at + i] = Number(le ? bytes.readBigUInt64LE(8 * i) : bytes.readBigUInt64BE(8 * i)); break;
    default: throw new Error(`unreachable: dtype ${layout.type}`);
  }
}

/** Big-endian floats read in place: swap their bytes. */
function swapInPlace(layout: NpyLayout, out: FloatArray, from: number, to: number): void {
  const b = Buffer.from(out.buffer, out.byteOffset + from * out.BYTES_PER_ELEMENT, (to - from) * out.BYTES_PER_ELEMENT);
  if (layout.type === 'f4') b.swap32();
  else b.swap64();
}

/** The plan of reads: [file position, item index, item count] per chunk. */
function* chunks(layout: NpyLayout): Generator<[number, number, number]> {
  const size = ITEM_BYTES[layout.type];
  const per = Math.max(1, Math.floor(CHUNK / size));
  const count = layout.rows * layout.cols;
  for (let i = 0; i < count; i += per) yield [layout.dataOffset + i * size, i, Math.min(per, count - i)];
}

function shortRead(file: string): DataFileError {
  return new DataFileError(file, 'the file became shorter while it was read (is another program writing it?)');
}

/** Reads buf.length bytes at pos (fewer only at the end of the file); returns how many were read. */
async function readAt(fh: fsp.FileHandle, buf: Uint8Array, pos: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, pos + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** The layout of an open .npy file: its header, parsed and checked against the file's size. */
async function layoutOf(file: string, fh: fsp.FileHandle): Promise<NpyLayout> {
  const size = (await fh.stat()).size;
  let prefix = Buffer.alloc(Math.min(size, 4096));
  await readAt(fh, prefix, 0);
  const layout = parseNpyHeader(file, prefix, size);
  if (!('headerBytes' in layout)) return layout;
  prefix = Buffer.alloc(layout.headerBytes);
  await readAt(fh, prefix, 0);
  return parseNpyHeader(file, prefix, size) as NpyLayout;
}

/** Reads a 2-D .npy file (C order; float16/32/64, integer or bool) into a Matrix: float32 stays float32, the rest becomes float64. */
export async function readNpy(file: string): Promise<Matrix> {
  checkPath('file', file);
  const fh = await openForReading(file);
  try {
    const l = await layoutOf(file, fh);
    const out = allocateFor(file, l);
    const scratch = direct(l) ? undefined : Buffer.alloc(Math.min(CHUNK, l.rows * l.cols * ITEM_BYTES[l.type]));
    for (const [pos, at, n] of chunks(l)) {
      const bytes = n * ITEM_BYTES[l.type];
      const target = scratch ? scratch.subarray(0, bytes) : new Uint8Array(out.buffer, out.byteOffset + at * out.BYTES_PER_ELEMENT, bytes);
      if ((await readAt(fh, target, pos)) !== bytes) throw shortRead(file);
      if (scratch) convert(l, target as Buffer, out, at);
      else if (l.bigEndian) swapInPlace(l, out, at, at + n);
    }
    return new Matrix(out, l.rows, l.cols);
  } finally {
    await fh.close();
  }
}

/** The rows, columns, element type and data offset of a 2-D .npy file, from its header alone (checked against the file's size). */
export async function readNpyLayout(file: string): Promise<NpyLayout> {
  checkPath('file', file);
  const fh = await openForReading(file);
  try {
    return await layoutOf(file, fh);
  } finally {
    await fh.close();
  }
}

/**
 * Rows [r0, r1) of a 2-D .npy file, read at their offsets (the rest of the data is not read), as
 * readNpy would give them: float32 stays float32, the rest becomes float64.
 */
export async function readNpyRows(file: string, r0: number, r1: number): Promise<Matrix> {
  checkPath('file', file);
  const fh = await openForReading(file);
  try {
    const l = await layoutOf(file, fh);
    if (!(Number.isInteger(r0) && Number.isInteger(r1) && r0 >= 0 && r0 <= r1 && r1 <= l.rows)) {
      throw new RangeError(`rows: expected a range within [0, ${l.rows}] of ${file}, received [${r0}, ${r1})`);
    }
    const part: NpyLayout = { ...l, rows: r1 - r0, dataOffset: l.dataOffset + r0 * l.cols * ITEM_BYTES[l.type] };
    const out = allocateFor(file, part);
    const bytes = part.rows * part.cols * ITEM_BYTES[l.type];
    const target = direct(l) ? new Uint8Array(out.buffer, out.byteOffset, bytes) : Buffer.alloc(bytes);
    if ((await readAt(fh, target, part.dataOffset)) !== bytes) throw shortRead(file);
    if (!direct(l)) convert(part, target as Buffer, out, 0);
    else if (l.bigEndian) swapInPlace(part, out, 0, out.length);
    return new Matrix(out, part.rows, part.cols);
  } finally {
    await fh.close();
  }
}

/**
 * Creates a .npy file of rows×cols zeros (sparse where the file system allows), to be filled by
 * writeNpyRows — for example by several processes, each writing its own rows. Write it under a
 * temporary name and rename it when complete, as writeNpy does.
 */
export async function createNpy(file: string, rows: number, cols: number, dtype: DType): Promise<void> {
  checkPath('file', file);
  const header = npyHeaderFor(rows, cols, dtype);
  const fh = await fsp.open(file, 'w');
  try {
    await fh.write(header, 0, header.length, 0);
    await fh.truncate(header.length + rows * cols * (dtype === 'float32' ? 4 : 8));
  } finally {
    await fh.close();
  }
}

/** Writes m's rows at row r0 of a .npy file (little-endian float32 or float64 of m's dtype and width), durably. */
export async function writeNpyRows(file: string, r0: number, matrix: Matrix): Promise<void> {
  checkPath('file', file);
  const m = checkMatrix(matrix);
  const fh = await fsp.open(file, 'r+');
  try {
    const l = await layoutOf(file, fh);
    const want = m.dtype === 'float32' ? 'f4' : 'f8';
    if (l.type !== want || l.bigEndian || l.cols !== m.cols || !(Number.isInteger(r0) && r0 >= 0 && r0 + m.rows <= l.rows)) {
      throw new RangeError(`${file}: expected rows of its ${l.rows}×${l.cols} ${DTYPE_NAMES[l.type]} array, received ${m.rows}×${m.cols} ${m.dtype} at row ${r0}`);
    }
    const bytes = bytesOf(m);
    await fh.write(bytes, 0, bytes.length, l.dataOffset + r0 * l.cols * ITEM_BYTES[l.type]);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** readNpy, synchronously (for scripts). */
export function readNpySync(file: string): Matrix {
  checkPath('file', file);
  const fd = openForReadingSync(file);
  try {
    const size = fs.fstatSync(fd).size;
    const readAt = (buf: Uint8Array, pos: number) => {
      let done = 0;
      while (done < buf.length) {
        const n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    };
    let prefix = Buffer.alloc(Math.min(size, 4096));
    readAt(prefix, 0);
    let layout = parseNpyHeader(file, prefix, size);
    if ('headerBytes' in layout) {
      prefix = Buffer.alloc(layout.headerBytes);
      readAt(prefix, 0);
      layout = parseNpyHeader(file, prefix, size) as NpyLayout;
    }
    const l = layout;
    const out = allocateFor(file, l);
    const scratch = direct(l) ? undefined : Buffer.alloc(Math.min(CHUNK, l.rows * l.cols * ITEM_BYTES[l.type]));
    for (const [pos, at, n] of chunks(l)) {
      const bytes = n * ITEM_BYTES[l.type];
      const target = scratch ? scratch.subarray(0, bytes) : new Uint8Array(out.buffer, out.byteOffset + at * out.BYTES_PER_ELEMENT, bytes);
      if (readAt(target, pos) !== bytes) throw shortRead(file);
      if (scratch) convert(l, target as Buffer, out, at);
      else if (l.bigEndian) swapInPlace(l, out, at, at + n);
    }
    return new Matrix(out, l.rows, l.cols);
  } finally {
    fs.closeSync(fd);
  }
}

/** The .npy header numpy writes: version 1.0, padded with spaces so the data starts at a multiple of 64. */
function npyHeader(m: Matrix): Buffer {
  return npyHeaderFor(m.rows, m.cols, m.dtype);
}

function npyHeaderFor(rows: number, cols: number, dtype: DType): Buffer {
  const dict = `{'descr': '<${dtype === 'float32' ? 'f4' : 'f8'}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = Buffer.alloc(total, 0x20);
  header.write(MAGIC, 0, 'latin1');
  header[6] = 1;
  header[7] = 0;
  header.writeUInt16LE(total - 10, 8);
  header.write(dict, 10, 'latin1');
  header[total - 1] = 0x0a;
  return header;
}

function checkMatrix(m: unknown): Matrix {
  if (!isMatrix(m)) throw typeError('matrix', 'a Matrix', m);
  return m;
}

/** The matrix's values as little-endian bytes (a view of its data on the CPU; a copy from a device). */
function bytesOf(m: Matrix): Uint8Array {
  const data = m.device === 'cpu' ? m.data : m.toTypedArray();
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndian) return bytes;
  const copy = Buffer.from(bytes);
  return data.BYTES_PER_ELEMENT === 4 ? copy.swap32() : copy.swap64();
}

/** A temporary name next to `file`, so the final rename stays on one file system. */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.tmp`);
}

/** Writes a Matrix as a .npy file numpy reads (`np.load`), atomically: readers see the old file or the whole new one. */
export async function writeNpy(file: string, matrix: Matrix): Promise<void> {
  checkPath('file', file);
  const m = checkMatrix(matrix);
  const tmp = tempNameFor(file);
  const fh = await fsp.open(tmp, 'wx');
  try {
    await fh.write(npyHeader(m));
    const bytes = bytesOf(m);
    for (let at = 0; at < bytes.length; at += CHUNK * 4) await fh.write(bytes.subarray(at, Math.min(bytes.length, at + CHUNK * 4)));
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, file);
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** writeNpy, synchronously (for scripts). */
export function writeNpySync(file: string, matrix: Matrix): void {
  checkPath('file', file);
  const m = checkMatrix(matrix);
  const tmp = tempNameFor(file);
  const fd = fs.openSync(tmp, 'wx');
  try {
    fs.writeSync(fd, npyHeader(m));
    const bytes = bytesOf(m);
    for (let at = 0; at < bytes.length; at += CHUNK * 4) fs.writeSync(fd, bytes, at, Math.min(CHUNK * 4, bytes.length - at));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export interface CsvOptions {
  /** 'float32' or 'float64' (default). */
  dtype?: 'float32' | 'float64';
}

/**
 * Reads a CSV of numbers (one row per line; a first row that is not numeric is taken as a
 * header and skipped; lines starting with # are comments; `nan` is NaN) into a Matrix, streamed:
 * memory is the matrix plus one record.
 */
export async function readCsv(file: string, options: CsvOptions = {}): Promise<Matrix> {
  checkPath('file', file);
  const dtype = options.dtype ?? 'float64';
  if (dtype !== 'float32' && dtype !== 'float64') throw typeError('options.dtype', "'float32' or 'float64'", dtype);
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const fh = await openForReading(file);
  const fileSize = (await fh.stat()).size;
  let data: FloatArray = new Ctor(0);
  let rows = 0, cols = -1, line = 0, dataStart = 0;
  const source = fh.createReadStream(); // closes fh when it ends or is destroyed
  const parser = source.pipe(csvParse({ skip_empty_lines: true, trim: true, comment: '#', relax_column_count: true, info: true }));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number } }>) {
      line = info.lines;
      if (cols < 0 && rows === 0 && record.some((c) => c !== '' && Number.isNaN(Number(c)) && c.toLowerCase() !== 'nan')) {
        cols = record.length; // a header row: it gives the width, its values are skipped
        dataStart = info.bytes;
        continue;
      }
      if (cols < 0) cols = record.length;
      if (record.length !== cols) throw new DataFileError(file, `line ${line} has ${record.length} values, expected ${cols} (as in the first row)`);
      if (rows === 0) {
        // Room for as many rows as the file holds if they are as long as the first (grown if not).
        const rowBytes = Math.max(1, info.bytes - dataStart);
        data = new Ctor(cols * Math.max(1, Math.ceil((fileSize - dataStart) / rowBytes)));
      } else if ((rows + 1) * cols > data.length) {
        const grown = new Ctor(Math.max(Math.ceil(1.5 * data.length), (rows + 1) * cols));
        grown.set(data);
        data = grown;
      }
      for (let j = 0; j < cols; j++) {
        const c = record[j];
        const v = c === '' ? NaN : Number(c);
        if (Number.isNaN(v) && c.toLowerCase() !== 'nan') throw new DataFileError(file, `line ${line}, column ${j + 1}: not a number: ${JSON.stringify(c.slice(0, 40))}`);
        data[rows * cols + j] = v;
      }
      rows++;
    }
  } catch (err) {
    parser.destroy();
    source.destroy();
    if (err instanceof DataFileError || (err as NodeJS.ErrnoException).syscall) throw err;
    throw new DataFileError(file, `unreadable CSV near line ${line + 1} (${(err as Error).message})`);
  }
  if (rows === 0) throw new DataFileError(file, 'no data rows');
  return new Matrix(data.length === rows * cols ? data : data.slice(0, rows * cols), rows, cols);
}
