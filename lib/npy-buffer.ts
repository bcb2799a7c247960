// .npy in memory (HTTP bodies): 2-D little-endian float32 / float64 in C order, the forms a
// client sends for a matrix. Files go through io.ts, which reads every dtype in chunks.
import { rangeError } from './errors';
import { Matrix, type DType } from './matrix';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const DESCR: Record<string, DType> = { '<f4': 'float32', '<f8': 'float64' };

/** A Matrix from .npy bytes (copied: the body's buffer may be pooled); RangeError naming `name` otherwise. */
export function parseNpy(name: string, bytes: Buffer): Matrix {
  const bad = (what: string) => rangeError(name, 'a 2-D float32 or float64 little-endian .npy in C order', what);
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw bad('bytes without the .npy magic');
  const major = bytes[6];
  if (major < 1 || major > 3) throw bad(`.npy version ${major}`);
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = 8 + lenBytes + headerLen;
  if (start > bytes.length) throw bad('a header past the end of the body');
  const header = bytes.subarray(8 + lenBytes, start).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shape === undefined) throw bad('an unreadable header');
  const dtype = DESCR[descr];
  if (!dtype) throw bad(`dtype '${descr}'`);
  if (fortran === 'True') throw bad('Fortran order');
  const dims = shape.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (dims.length !== 2 || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`shape (${shape})`);
  const [rows, cols] = dims;
  const size = dtype === 'float32' ? 4 : 8;
  if (bytes.length - start !== rows * cols * size) throw bad(`${bytes.length - start} data bytes for shape (${rows}, ${cols})`);
  const copy = new Uint8Array(rows * cols * size);
  copy.set(bytes.subarray(start));
  const data = dtype === 'float32' ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
  return new Matrix(data, rows, cols);
}

/** The .npy bytes (version 1.0) of a host matrix. */
export function formatNpy(m: Matrix): Buffer {
  const descr = m.dtype === 'float32' ? '<f4' : '<f8';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${m.rows}, ${m.cols}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n'; // data starts on a 64-byte boundary
  const head = Buffer.alloc(10);
  MAGIC.copy(head);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = m.data;
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
