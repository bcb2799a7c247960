// A model's saved forms. In JSON (toJSON/fromJSON) a factor is its raw little-endian bytes in
// base64 with its dtype and shape: 4/3 of the binary size instead of ~20 characters per value,
// and exact. Version 1 files (factors as arrays of numbers) still load. On disk (save/load) a
// model is a folder: model.json (everything but the factors) next to W.npy and H.npy, written
// aside and renamed into place so a reader never sees half a model.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { rangeError, typeError } from './errors';
import { readNpy, writeNpy, tempNameFor } from './io';
import { Matrix, type DType } from './matrix';
import { resolveOptions, type BetaNMFOptions, type HistoryEntry, type ResolvedOptions } from './options';

/** A factor in JSON: the raw little-endian bytes of its row-major values, base64. */
export interface EncodedMatrix {
  dtype: DType;
  shape: [number, number];
  encoding: 'base64';
  data: string;
}

/** A factor as version 1 wrote it (still read). */
export interface NumberArrayMatrix {
  rows: number;
  cols: number;
  dtype: DType;
  data: number[];
}

/** A factor in a saved folder's model.json: the .npy file next to it. */
export interface FileMatrix {
  file: string;
}

/** The saved form of a model (JSON-safe). */
export interface SavedModel {
  format: 'betanmf-model';
  /** 2 writes factors as EncodedMatrix; 1 (read only) as arrays of numbers. */
  version: 1 | 2;
  options: Omit<ResolvedOptions, 'seed'>;
  seed: number;
  nIter: number;
  history: HistoryEntry[];
  W: EncodedMatrix | NumberArrayMatrix | FileMatrix | null;
  H: EncodedMatrix | NumberArrayMatrix | FileMatrix | null;
}

const littleEndian = os.endianness() === 'LE';

/** The options that re-create a saved model (its factors W and H as loaded). */
export function savedOptions(o: SavedModel, W: Matrix | undefined, H: Matrix | undefined): BetaNMFOptions {
  const { init, fixed, fixedComponents, ...rest } = o.options;
  // Fixed components keep the saved W's columns (they are the given ones, bit for bit).
  const keepFixed = fixedComponents !== undefined && fixedComponents.length > 0;
  return { ...rest, device: rest.device ?? undefined, dtype: rest.dtype ?? undefined, fixed, seed: o.seed,
    ...(keepFixed ? { fixedComponents, W } : {}), missing: rest.missing ?? undefined,
    init: init === 'custom' && !(W && H) && !(keepFixed && W) ? 'random' : init };
}

/**
 * `value` as a saved model, every field checked before anything uses it (a TypeError or
 * RangeError naming `name` and the field): format 'betanmf-model' and version 1 or 2, the options
 * (as BetaNMF checks them), seed, nIter, history, and each factor's form, dtype and shape (K
 * columns as nComponents says; a fitted model has W). decodeMatrix and loadModel check the
 * factors' values.
 */
export function checkSavedModel(name: string, value: unknown): SavedModel {
  const o = value as SavedModel | null;
  if (typeof o !== 'object' || o === null || o.format !== 'betanmf-model' || (o.version !== 1 && o.version !== 2)) {
    throw typeError(name, "a saved model (format 'betanmf-model', version 1 or 2)", value);
  }
  if (typeof o.options !== 'object' || o.options === null || Array.isArray(o.options)) throw typeError(`${name}: options`, 'an object', o.options);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed >= 2 ** 32) throw typeError(`${name}: seed`, 'an integer in [0, 2³²)', o.seed);
  if (!Number.isSafeInteger(o.nIter) || o.nIter < 0) throw typeError(`${name}: nIter`, 'an integer ≥ 0', o.nIter);
  if (!Array.isArray(o.history)) throw typeError(`${name}: history`, 'an array of { epoch, cost?, seconds }', o.history);
  o.history.forEach((h, i) => {
    const at = `${name}: history[${i}]`;
    if (typeof h !== 'object' || h === null) throw typeError(at, '{ epoch, cost?, seconds }', h);
    if (!Number.isSafeInteger(h.epoch) || h.epoch < 0 || h.epoch > o.nIter) throw typeError(`${at}.epoch`, `an integer in [0, nIter = ${o.nIter}]`, h.epoch);
    if (h.cost !== undefined && !Number.isFinite(h.cost)) throw typeError(`${at}.cost`, 'a finite number (or absent)', h.cost);
    if (!Number.isFinite(h.seconds) || h.seconds < 0) throw typeError(`${at}.seconds`, 'a finite number ≥ 0', h.seconds);
  });
  const K = o.options.nComponents;
  if (!Number.isSafeInteger(K) || K < 1) throw typeError(`${name}: options.nComponents`, 'an integer ≥ 1', K);
  for (const f of ['W', 'H'] as const) {
    const shape = savedShape(`${name}: ${f}`, o.version, o[f]);
    if (shape && shape[1] !== K) throw rangeError(`${name}: ${f}`, `${K} columns (options.nComponents)`, `${shape[0]}×${shape[1]}`);
  }
  if (o.nIter > 0 && !o.W) throw rangeError(`${name}: W`, `the fitted bases (nIter is ${o.nIter})`, 'null');
  // The options as BetaNMF will check them, with stand-ins for the factors (their values are checked apart).
  const stand = (f: 'W' | 'H') => (o[f] ? new Matrix(new Float64Array(K).fill(1), 1, K) : undefined);
  try {
    resolveOptions(savedOptions(o, stand('W'), stand('H')));
  } catch (err) {
    const e = err as Error;
    throw new (e instanceof TypeError ? TypeError : RangeError)(`${name}: options.${e.message}`);
  }
  return o;
}

/** The shape a saved factor's form declares (undefined for null, or a file whose header says it), checked. */
function savedShape(name: string, version: 1 | 2, m: unknown): [number, number] | undefined {
  if (m === null || m === undefined) return undefined;
  if (typeof m !== 'object' || Array.isArray(m)) throw typeError(name, 'a saved matrix { dtype, shape, encoding, data }, { file } or null', m);
  if ('file' in m) {
    const file = (m as FileMatrix).file;
    if (typeof file !== 'string' || file === '' || path.basename(file) !== file) throw typeError(`${name}.file`, 'a file name in the folder', file);
    return undefined;
  }
  const o = m as Partial<EncodedMatrix & NumberArrayMatrix>;
  if (o.dtype !== 'float32' && o.dtype !== 'float64') throw typeError(`${name}.dtype`, "'float32' or 'float64'", o.dtype);
  const dims: unknown[] = version === 1 || Array.isArray(o.data) ? [o.rows, o.cols] : Array.isArray(o.shape) && o.shape.length === 2 ? o.shape : [];
  if (dims.length !== 2 || !dims.every((d) => Number.isSafeInteger(d) && (d as number) >= 1)) {
    throw typeError(`${name}.${version === 1 || Array.isArray(o.data) ? 'rows/cols' : 'shape'}`, 'two integers ≥ 1', version === 1 ? [o.rows, o.cols] : o.shape);
  }
  return dims as [number, number];
}

/** A factor's values are finite and ≥ 0 (as a fit leaves them); a RangeError naming the first other one. */
export function checkFactorValues(name: string, m: Matrix): Matrix {
  const a = m.toTypedArray();
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!(v >= 0 && v !== Infinity)) {
      throw rangeError(name, 'finite values ≥ 0', `${Number.isNaN(v) ? 'NaN' : v} at row ${Math.floor(i / m.cols)}, column ${i % m.cols}`);
    }
  }
  return m;
}

export function encodeMatrix(m: Matrix): EncodedMatrix {
  const data = m.toTypedArray();
  let bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!littleEndian) bytes = data.BYTES_PER_ELEMENT === 4 ? Buffer.from(bytes).swap32() : Buffer.from(bytes).swap64();
  return { dtype: m.dtype, shape: [m.rows, m.cols], encoding: 'base64', data: bytes.toString('base64') };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A factor from any JSON form (the folder form is resolved by loadModel before this), its values checked. */
export function decodeMatrix(name: string, m: unknown): Matrix | undefined {
  if (m === null || m === undefined) return undefined;
  if (typeof m !== 'object') throw typeError(name, 'a saved matrix { dtype, shape, encoding, data }', m);
  const o = m as Partial<EncodedMatrix & NumberArrayMatrix>;
  if (o.dtype !== 'float32' && o.dtype !== 'float64') throw typeError(`${name}.dtype`, "'float32' or 'float64'", o.dtype);
  const Ctor = o.dtype === 'float32' ? Float32Array : Float64Array;
  if (Array.isArray(o.data)) {
    const [rows, cols] = [o.rows as number, o.cols as number];
    if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 1 || cols < 1) throw typeError(`${name}.rows/cols`, 'two integers ≥ 1', [rows, cols]);
    if (o.data.length !== rows * cols) throw rangeError(`${name}.data`, `${rows}×${cols} = ${rows * cols} numbers`, `${o.data.length}`);
    const bad = o.data.findIndex((v) => typeof v !== 'number');
    if (bad >= 0) throw typeError(`${name}.data[${bad}]`, 'a number', o.data[bad]);
    return checkFactorValues(name, new Matrix(Ctor.from(o.data as number[]), rows, cols));
  }
  if (o.encoding !== 'base64' || typeof o.data !== 'string') {
    throw typeError(`${name}`, "{ encoding: 'base64', data: string } or { data: number[] }", m);
  }
  if (!Array.isArray(o.shape) || o.shape.length !== 2 || !o.shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw typeError(`${name}.shape`, '[rows, cols] (integers ≥ 1)', o.shape);
  }
  const [rows, cols] = o.shape;
  // Buffer.from skips characters outside the alphabet: junk must not decode to some bytes.
  const text: string = o.data;
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw typeError(`${name}.data`, 'base64 text (A–Z, a–z, 0–9, +, /, = padding)', text);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== rows * cols * Ctor.BYTES_PER_ELEMENT) {
    throw rangeError(`${name}.data`, `${rows}×${cols}·${Ctor.BYTES_PER_ELEMENT} = ${rows * cols * Ctor.BYTES_PER_ELEMENT} bytes (base64)`, `${bytes.length} bytes`);
  }
  const out = new Ctor(rows * cols);
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  bytes.copy(view);
  if (!littleEndian) {
    if (Ctor === Float32Array) view.swap32();
    else view.swap64();
  }
  return checkFactorValues(name, new Matrix(out, rows, cols));
}

/** What a folder written by a model's save() holds. */
export const MODEL_FILES = ['model.json', 'W.npy', 'H.npy'];

export interface WriteFolderOptions {
  /** Replace an existing folder (only one that holds nothing but `ownFiles`). Default false. */
  overwrite?: boolean;
  /** Names the writer produces; an existing folder with anything else is never replaced. */
  ownFiles: string[] | ((name: string) => boolean);
  /** For messages: how the caller names the option that allows overwriting. */
  overwriteHint?: string;
}

/**
 * Checks that `dir` can be written as a whole (before any work starts): it does not exist (its
 * parent is, or can be, a writable folder), or it is a folder holding only `ownFiles` and
 * overwriting is allowed. Throws an Error saying what to do otherwise.
 */
export function checkFolderTarget(dir: string, options: WriteFolderOptions, name = dir): void {
  const hint = options.overwriteHint ?? '{ overwrite: true }';
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    // does not exist: check the nearest existing ancestor
  }
  if (st) {
    if (!st.isDirectory()) throw new Error(`${name}: exists and is not a folder; choose a folder path`);
    const entries = fs.readdirSync(dir);
    if (entries.length > 0) {
      const own = options.ownFiles;
      const foreign = entries.filter((e) => !(typeof own === 'function' ? own(e) : own.includes(e)));
      if (foreign.length) {
        throw new Error(`${name}: the folder exists and holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); choose a new folder`);
      }
      if (!options.overwrite) throw new Error(`${name}: already exists; pass ${hint} to replace it, or choose a new folder`);
    }
    writableAncestor(path.dirname(path.resolve(dir)), name);
    return;
  }
  writableAncestor(path.dirname(path.resolve(dir)), name);
}

/** The nearest existing ancestor of `dir` must be a folder we may write in. */
export function writableAncestor(dir: string, name: string): void {
  let p = dir;
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch {
      // keep going up
    }
    if (st) {
      if (!st.isDirectory()) throw new Error(`${name}: ${p} is a file, not a folder`);
      try {
        fs.accessSync(p, fs.constants.W_OK | fs.constants.X_OK);
      } catch {
        throw new Error(`${name}: no permission to write in ${p}; choose a location you can write to`);
      }
      // Permission bits do not tell everything (root, /proc, a read-only mount): create and
      // remove a file there, so a fit never runs only to fail on its outputs.
      const probe = tempNameFor(path.join(p, 'probe'));
      try {
        fs.closeSync(fs.openSync(probe, 'wx'));
      } catch (err) {
        throw new Error(`${name}: cannot create files in ${p} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose a location you can write to`);
      }
      fs.rmSync(probe, { force: true });
      return;
    }
    const up = path.dirname(p);
    if (up === p) return;
    p = up;
  }
}

/**
 * Writes a folder all at once: `write` fills a fresh sibling folder, which is then renamed to
 * `dir` (an existing `dir` is moved aside first and removed after). Readers see the old folder,
 * briefly none, or the new one — never a mixture.
 */
export async function writeFolder(dir: string, options: WriteFolderOptions, write: (staging: string) => Promise<void>,
  onStaging?: (staging: string | undefined) => void): Promise<void> {
  checkFolderTarget(dir, options);
  await fsp.mkdir(path.dirname(path.resolve(dir)), { recursive: true });
  const staging = tempNameFor(path.resolve(dir));
  await fsp.mkdir(staging);
  onStaging?.(staging);
  try {
    await write(staging);
    // Checked again: something may have appeared while we wrote.
    checkFolderTarget(dir, options);
    // The swap is synchronous: no signal handler or other callback runs between the two renames.
    let aside: string | undefined;
    if (fs.existsSync(dir)) {
      aside = tempNameFor(path.resolve(dir)) + '-old';
      fs.renameSync(dir, aside);
    }
    try {
      fs.renameSync(staging, dir);
    } catch (err) {
      if (aside) fs.renameSync(aside, dir);
      throw err;
    }
    if (aside) fs.rmSync(aside, { recursive: true, force: true });
  } catch (err) {
    await fsp.rm(staging, { recursive: true, force: true });
    throw err;
  } finally {
    onStaging?.(undefined);
  }
}

export interface SaveOptions {
  /** Replace an existing model folder at the path. Default false. */
  overwrite?: boolean;
}

/** Writes model.json, W.npy and H.npy into the folder `dir` (see writeFolder). */
export async function saveModel(dir: string, json: SavedModel, W: Matrix | undefined, H: Matrix | undefined, options: SaveOptions = {}): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw typeError('path', 'a folder path (a non-empty string)', dir);
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
  await writeFolder(dir, { overwrite: !!options.overwrite, ownFiles: MODEL_FILES }, async (tmp) => {
    if (W) await writeNpy(path.join(tmp, 'W.npy'), W);
    if (H) await writeNpy(path.join(tmp, 'H.npy'), H);
    const meta: SavedModel = { ...json, W: W ? { file: 'W.npy' } : null, H: H ? { file: 'H.npy' } : null };
    await fsp.writeFile(path.join(tmp, 'model.json'), JSON.stringify(meta, null, 1) + '\n');
  });
}

/** Reads a folder written by saveModel: its model.json with the factors loaded. */
export async function loadModel(dir: string): Promise<{ json: SavedModel; W?: Matrix; H?: Matrix }> {
  if (typeof dir !== 'string' || dir === '') throw typeError('path', 'a folder path (a non-empty string)', dir);
  const file = path.join(dir, 'model.json');
  let json: SavedModel;
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8')) as SavedModel;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${dir}: not a saved model (no model.json; save() writes one)`);
    if (err instanceof SyntaxError) throw new Error(`${file}: not valid JSON (${err.message})`);
    throw err;
  }
  checkSavedModel(file, json);
  const K = json.options.nComponents;
  const factor = async (name: 'W' | 'H') => {
    const m = json[name];
    if (m && typeof m === 'object' && 'file' in m) {
      const npy = path.join(dir, m.file);
      const read = await readNpy(npy);
      if (read.cols !== K) throw rangeError(npy, `${name} with ${K} columns (options.nComponents in ${file})`, `${read.rows}×${read.cols}`);
      return checkFactorValues(npy, read);
    }
    return decodeMatrix(`${file}: ${name}`, m);
  };
  const [W, H] = [await factor('W'), await factor('H')];
  return { json, W, H };
}
