// Where queued jobs find their matrices: by reference (a path), never inside Redis. `Storage`
// names what a job needs from it, so an object store can stand beside the shared file system.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMatrix, UsageError } from '../cli/io';
import { writeNpy } from '../io';
import { allocate, Matrix, type DType } from '../matrix';

/** The layout of a 2-D .npy file: what a positional read needs. */
export interface NpyLayout {
  rows: number;
  cols: number;
  /** numpy's type code without byte order: 'f4', 'f8', 'i2', 'u1', … */
  code: string;
  /** Bytes of header before the data. */
  offset: number;
}

/** What queue workers read and write. Refs are paths for FileStorage; another store may use keys. */
export interface Storage {
  /** Rows, columns and element type of a stored matrix, without reading its data. */
  layout(ref: string): Promise<NpyLayout>;
  /** The whole matrix (float32 data stays float32; other types become float64). */
  read(ref: string): Promise<Matrix>;
  /** Rows [r0, r1) only. */
  readRows(ref: string, r0: number, r1: number): Promise<Matrix>;
  /** Writes a matrix so that readers see either the old file or the complete new one. */
  write(ref: string, m: Matrix): Promise<void>;
  /** Writes text atomically. */
  writeText(ref: string, text: string): Promise<void>;
  /** A rows×cols matrix of zeros under a temporary ref, to be filled by writeRows and published by publish. */
  create(tmpRef: string, rows: number, cols: number, dtype: DType): Promise<void>;
  /** Writes m's rows at row offset r0 of a matrix made by create. */
  writeRows(tmpRef: string, r0: number, m: Matrix): Promise<void>;
  /** Moves a finished temporary matrix to its final ref in one step. */
  publish(tmpRef: string, ref: string): Promise<void>;
  exists(ref: string): Promise<boolean>;
  remove(ref: string): Promise<void>;
}

const ITEM: Record<string, number> = { i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8, f4: 4, f8: 8 };

/** Parses a .npy header (format versions 1–3, C order, 2-D, little-endian numbers). */
export function npyLayout(file: string, head: Buffer): NpyLayout {
  if (head.length < 10 || head.toString('latin1', 0, 6) !== '\x93NUMPY') throw new UsageError(`${file}: not a .npy file (bad magic bytes)`);
  const major = head[6];
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = lenBytes === 2 ? head.readUInt16LE(8) : head.readUInt32LE(8);
  const offset = 8 + lenBytes + headerLen;
  if (head.length < offset) throw new UsageError(`${file}: unreadable .npy file (truncated header)`);
  const dict = head.toString('latin1', 8 + lenBytes, offset);
  const descr = /'descr':\s*'([<>|=])([a-z]\d+)'/.exec(dict);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(dict);
  if (!descr || !shape) throw new UsageError(`${file}: unreadable .npy file (bad header ${JSON.stringify(dict.trim())})`);
  if (/'fortran_order':\s*True/.test(dict)) throw new UsageError(`${file}: Fortran-order arrays are not supported; save np.ascontiguousarray(X)`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (dims.length !== 2) throw new UsageError(`${file}: expected a 2-D array, found shape (${dims.join(', ')})`);
  const code = descr[2];
  if (!(code in ITEM) || (descr[1] === '>' && ITEM[code] > 1)) throw new UsageError(`${file}: unsupported dtype ${descr[1]}${code} (expected float or integer, little-endian)`);
  return { rows: dims[0], cols: dims[1], code, offset };
}

async function readLayout(file: string, fh: fs.promises.FileHandle): Promise<NpyLayout> {
  const head = Buffer.alloc(4096);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  const layout = npyLayout(file, head.subarray(0, bytesRead));
  const { size } = await fh.stat();
  const need = layout.offset + layout.rows * layout.cols * ITEM[layout.code];
  if (size < need) {
    throw new UsageError(`${file}: truncated: ${layout.rows}×${layout.cols} needs ${need - layout.offset} bytes of data, found ${size - layout.offset}`);
  }
  return layout;
}

async function open(file: string, flags: string): Promise<fs.promises.FileHandle> {
  try {
    return await fs.promises.open(file, flags);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new UsageError(`${file}: no such file`);
    throw new UsageError(`${file}: ${e.code === 'EACCES' ? 'permission denied' : e.message}`);
  }
}

/** Rows [r0, r1) of a 2-D .npy file, read at their offsets (the rest of the file is not read). */
export async function readNpyRows(file: string, r0: number, r1: number): Promise<Matrix> {
  const fh = await open(file, 'r');
  try {
    const l = await readLayout(file, fh);
    if (!(Number.isInteger(r0) && Number.isInteger(r1) && r0 >= 0 && r0 <= r1 && r1 <= l.rows)) {
      throw new RangeError(`rows: expected a range within [0, ${l.rows}], received [${r0}, ${r1})`);
    }
    const item = ITEM[l.code], n = r1 - r0;
    const bytes = Buffer.alloc(n * l.cols * item);
    await fh.read(bytes, 0, bytes.length, l.offset + r0 * l.cols * item);
    return toMatrix(bytes, l.code, n, l.cols);
  } finally {
    await fh.close();
  }
}

function toMatrix(b: Buffer, code: string, rows: number, cols: number): Matrix {
  const count = rows * cols;
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); // aligned copy
  if (code === 'f4') return new Matrix(new Float32Array(ab), rows, cols);
  if (code === 'f8') return new Matrix(new Float64Array(ab), rows, cols);
  const view = new DataView(ab), out = new Float64Array(count), item = ITEM[code];
  const get: (i: number) => number = {
    i1: (i: number) => view.getInt8(i), u1: (i: number) => view.getUint8(i),
    i2: (i: number) => view.getInt16(i * 2, true), u2: (i: number) => view.getUint16(i * 2, true),
    i4: (i: number) => view.getInt32(i * 4, true), u4: (i: number) => view.getUint32(i * 4, true),
    i8: (i: number) => Number(view.getBigInt64(i * 8, true)), u8: (i: number) => Number(view.getBigUint64(i * 8, true)),
  }[code as 'i1'] ?? ((i: number) => view.getFloat64(i * item, true));
  for (let i = 0; i < count; i++) out[i] = get(i);
  return new Matrix(out, rows, cols);
}

/** A .npy header for a C-order 2-D array, padded to 64 bytes as numpy writes it. */
export function npyHeader(rows: number, cols: number, dtype: DType): Buffer {
  const dict = `{'descr': '<${dtype === 'float32' ? 'f4' : 'f8'}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const len = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10;
  const head = Buffer.alloc(10 + len, 0x20);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(len, 8);
  head.write(dict, 10, 'latin1');
  head[10 + len - 1] = 0x0a;
  return head;
}

/** A temporary name next to `file` (same folder, so rename is atomic). */
export function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`);
}

/** Matrices as .npy files on a file system every worker sees (local disk, NFS, a cluster FS). */
export class FileStorage implements Storage {
  async layout(ref: string): Promise<NpyLayout> {
    const fh = await open(ref, 'r');
    try {
      return await readLayout(ref, fh);
    } finally {
      await fh.close();
    }
  }

  async read(ref: string): Promise<Matrix> {
    return readMatrix(ref);
  }

  readRows(ref: string, r0: number, r1: number): Promise<Matrix> {
    return readNpyRows(ref, r0, r1);
  }

  async write(ref: string, m: Matrix): Promise<void> {
    await fs.promises.mkdir(path.dirname(ref), { recursive: true });
    await writeNpy(ref, m); // atomic: a temporary file in the same folder, then renamed
  }

  async writeText(ref: string, text: string): Promise<void> {
    await fs.promises.mkdir(path.dirname(ref), { recursive: true });
    const tmp = tempName(ref);
    await fs.promises.writeFile(tmp, text);
    await fs.promises.rename(tmp, ref);
  }

  async create(tmpRef: string, rows: number, cols: number, dtype: DType): Promise<void> {
    await fs.promises.mkdir(path.dirname(tmpRef), { recursive: true });
    const head = npyHeader(rows, cols, dtype);
    const fh = await fs.promises.open(tmpRef, 'w');
    try {
      await fh.write(head, 0, head.length, 0);
      await fh.truncate(head.length + rows * cols * (dtype === 'float32' ? 4 : 8));
    } finally {
      await fh.close();
    }
  }

  async writeRows(tmpRef: string, r0: number, m: Matrix): Promise<void> {
    const fh = await open(tmpRef, 'r+');
    try {
      const l = await readLayout(tmpRef, fh);
      const want = m.dtype === 'float32' ? 'f4' : 'f8';
      if (l.code !== want || l.cols !== m.cols || r0 + m.rows > l.rows) {
        throw new RangeError(`${tmpRef}: expected rows of a ${l.rows}×${l.cols} ${l.code} matrix, received ${m.rows}×${m.cols} ${want} at row ${r0}`);
      }
      const d = m.toTypedArray();
      const bytes = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      await fh.write(bytes, 0, bytes.length, l.offset + r0 * m.cols * d.BYTES_PER_ELEMENT);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async publish(tmpRef: string, ref: string): Promise<void> {
    await fs.promises.rename(tmpRef, ref);
  }

  async exists(ref: string): Promise<boolean> {
    return fs.existsSync(ref);
  }

  async remove(ref: string): Promise<void> {
    await fs.promises.rm(ref, { force: true, recursive: true });
  }
}

/** An empty matrix of `dtype` (rows×cols zeros). */
export function emptyMatrix(rows: number, cols: number, dtype: DType): Matrix {
  return new Matrix(allocate(dtype, rows * cols), rows, cols);
}
