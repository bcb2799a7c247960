// What a queued job is (its data in Redis: paths and options, never matrices) and how a worker
// runs the unsharded ones with the library's BetaNMF.
import * as path from 'node:path';
import { AbortError, BetaNMF } from '../betanmf';
import { resolveOptions, type BetaNMFOptions, type EpochInfo } from '../options';
import { rangeError } from '../errors';
import { fsErrorText } from '../cli/io';
import type { Storage } from './storage';

/** Fit options a job can carry: BetaNMF's, less those that are not data (factors, callbacks). */
export type JobFitOptions = Omit<BetaNMFOptions, 'W' | 'H' | 'signal' | 'onEpoch'>;
/** Transform options: β and the iteration controls (as `betanmf transform`). */
export type JobTransformOptions = Pick<BetaNMFOptions, 'beta' | 'maxIter' | 'tol' | 'seed' | 'device' | 'dtype' | 'missing'>;

/** What `wait()` of a fit resolves to: the summary `betanmf fit --json` prints. */
export interface FitSummary {
  components: number;
  beta: number;
  solver: string;
  device: string;
  dtype: string;
  iterations: number;
  cost: number;
  seconds: number;
  /** Why the fit ended (BetaNMF's stopReason). */
  stopReason: string;
}

/** What `wait()` of a transform resolves to. */
export interface TransformSummary {
  rows: number;
  components: number;
  beta: number;
  seconds: number;
  out: string;
}

/** Progress a job reports after each epoch (`on('progress')`, `betanmf jobs`). */
export interface JobProgress {
  epoch: number;
  maxIter: number;
  cost?: number;
  seconds: number;
}

export interface FitJobData {
  kind: 'fit';
  input: string;
  out: string;
  options: JobFitOptions & { seed: number };
}

export interface TransformJobData {
  kind: 'transform';
  input: string;
  w: string;
  out: string;
  options: JobTransformOptions & { seed: number };
}

const FIT_KEYS = new Set(['nComponents', 'beta', 'solver', 'batchSize', 'sagMemory', 'maxIter', 'tol', 'costEvery', 'shuffle', 'seed',
  'init', 'fixed', 'eps', 'update', 'device', 'dtype', 'cacheRows', 'alphaW', 'alphaH', 'l1Ratio', 'missing']);
const TRANSFORM_KEYS = new Set(['beta', 'maxIter', 'tol', 'seed', 'device', 'dtype', 'missing']);

/** Checks job options where they are submitted (the same TypeError / RangeError as BetaNMF). */
export function checkJobOptions(kind: 'fit' | 'transform', options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`options: expected an object, received ${options === null ? 'null' : typeof options}`);
  }
  const known = kind === 'fit' ? FIT_KEYS : TRANSFORM_KEYS;
  for (const k of Object.keys(options)) {
    if (!known.has(k)) throw rangeError('options', `only options a ${kind} job can carry (${[...known].join(', ')})`, `'${k}'`);
  }
  if (kind === 'fit' && (options as { init?: string }).init === 'custom') {
    throw rangeError('options.init', "'random', 'nndsvd' or 'nndsvda' for a queued fit", "'custom'");
  }
  resolveOptions(options as BetaNMFOptions);
}

/** An error's first line, as the CLI prints it (without the `betanmf: ` prefix; file-system errors in words, with their path). */
export function oneLine(err: unknown): string {
  const e = err as Error;
  return (fsErrorText(e) ?? String(e?.message ?? err)).split('\n')[0];
}

type Progress = (p: JobProgress) => void;

export async function runFitJob(data: FitJobData, storage: Storage, signal: AbortSignal | undefined, progress: Progress): Promise<FitSummary> {
  const X = await storage.read(data.input);
  const model = new BetaNMF(data.options);
  const maxIter = model.options.maxIter;
  await model.fit(X, { signal, onEpoch: (e: EpochInfo) => progress({ epoch: e.epoch, maxIter, cost: e.cost, seconds: e.seconds }) });
  // The fit's one duration, as `betanmf fit` reports it: seconds in updates, as in progress and history.json.
  const seconds = model.history[model.history.length - 1]?.seconds ?? 0;
  const summary: FitSummary = {
    components: model.options.nComponents, beta: model.options.beta, solver: model.options.solver, device: model.W!.device,
    dtype: model.W!.dtype, iterations: model.nIter, cost: model.cost!, seconds, stopReason: model.stopReason!,
  };
  // Each output appears whole or not at all (temporary name + rename), so a retried job never leaves a mixture.
  await storage.write(path.join(data.out, 'W.npy'), model.W!);
  await storage.write(path.join(data.out, 'H.npy'), model.H!);
  await storage.writeText(path.join(data.out, 'history.json'), JSON.stringify({ ...summary, input: path.resolve(data.input),
    N: X.rows, F: X.cols, seed: model.seed, options: model.options, history: model.history }, null, 1));
  return summary;
}

export async function runTransformJob(data: TransformJobData, storage: Storage, signal: AbortSignal | undefined,
  progress: Progress): Promise<TransformSummary> {
  const X = await storage.read(data.input);
  const W = await storage.read(data.w);
  if (W.rows !== X.cols) throw new Error(`${data.w}: W is ${W.rows}×${W.cols}, but X has ${X.cols} columns (W must be F×K)`);
  const model = new BetaNMF({ ...data.options, nComponents: W.cols, init: 'custom', W, fixed: ['W'] });
  const maxIter = model.options.maxIter;
  const t0 = performance.now();
  const H = await model.transform(X, { signal, onEpoch: (e) => progress({ epoch: e.epoch, maxIter, seconds: (performance.now() - t0) / 1000 }) });
  await storage.write(data.out, H);
  return { rows: H.rows, components: H.cols, beta: model.options.beta, seconds: (performance.now() - t0) / 1000, out: data.out };
}

export { AbortError };
