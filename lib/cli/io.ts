// Reading data matrices (.npy in C order, float or integer; .csv) and writing .npy files that
// numpy reads back.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { NpyArray, TypedArray } from 'npyjs' with { 'resolution-mode': 'import' };
import { Matrix } from '../matrix';

// npyjs ships a CommonJS build, but its type declarations describe only the ESM entry.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const npy = require('npyjs') as { parse(buf: ArrayBuffer): NpyArray; dump(a: TypedArray, shape: number[]): ArrayBuffer };

/** An error meant for the user: printed as one line, without a stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const NPY_BYTES: Record<string, number> = { i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8, f2: 2, f4: 4, f8: 8 };

export function readMatrix(file: string): Matrix {
  if (!fs.existsSync(file)) throw new UsageError(`${file}: no such file`);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') return readNpy(file);
  if (ext === '.csv' || ext === '.txt') return readCsv(file);
  throw new UsageError(`${file}: expected a .npy or .csv file`);
}

function readNpy(file: string): Matrix {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new UsageError(`${file}: not a .npy file (bad magic bytes)`);
  let arr;
  try {
    arr = npy.parse(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  } catch (err) {
    throw new UsageError(`${file}: unreadable .npy file (${(err as Error).message})`);
  }
  const { shape, dtype, fortranOrder } = arr;
  if (shape.length !== 2) throw new UsageError(`${file}: expected a 2-D array, found shape (${shape.join(', ')})`);
  if (fortranOrder) throw new UsageError(`${file}: Fortran-order arrays are not supported; save np.ascontiguousarray(X)`);
  if (!(dtype in NPY_BYTES)) throw new UsageError(`${file}: unsupported dtype ${dtype} (expected float or integer)`);
  const [rows, cols] = shape;
  const count = rows * cols;
  const data = arr.data as unknown as ArrayLike<number | bigint>;
  if (data.length !== count) {
    throw new UsageError(`${file}: truncated: ${rows}×${cols} needs ${count * NPY_BYTES[dtype]} bytes of data, found ${data.length * NPY_BYTES[dtype]}`);
  }
  if (dtype === 'f4') return new Matrix(Float32Array.from(data as Float32Array), rows, cols);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = Number(data[i]);
  return new Matrix(out, rows, cols);
}

function readCsv(file: string): Matrix {
  let records: string[][];
  try {
    records = parseCsv(fs.readFileSync(file, 'utf8'), { skip_empty_lines: true, trim: true, comment: '#', relax_column_count: true }) as string[][];
  } catch (err) {
    throw new UsageError(`${file}: unreadable CSV (${(err as Error).message})`);
  }
  if (records.length > 0 && records[0].some((c) => c !== '' && Number.isNaN(Number(c)))) records = records.slice(1); // a header
  if (records.length === 0) throw new UsageError(`${file}: no data rows`);
  const cols = records[0].length;
  const out = new Float64Array(records.length * cols);
  records.forEach((r, i) => {
    if (r.length !== cols) throw new UsageError(`${file}: row ${i + 1} has ${r.length} values, expected ${cols}`);
    r.forEach((c, j) => {
      const v = c === '' ? NaN : Number(c);
      if (Number.isNaN(v) && c.toLowerCase() !== 'nan') throw new UsageError(`${file}: row ${i + 1}, column ${j + 1}: not a number: ${JSON.stringify(c)}`);
      out[i * cols + j] = v;
    });
  });
  return new Matrix(out, records.length, cols);
}

export function writeNpy(file: string, m: Matrix): void {
  const bytes = npy.dump(m.data, [m.rows, m.cols]);
  fs.writeFileSync(file, Buffer.from(bytes));
}
