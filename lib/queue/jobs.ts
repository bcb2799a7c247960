// What a queued job is (its data in Redis: paths and options, never matrices) and how a worker
// runs the unsharded ones with the library's BetaNMF.
import * as path from 'node:path';
import { AbortError, BetaNMF } from '../betanmf';
import { resolveOptions, type BetaNMFOptions, type EpochInfo } from '../options';
import { rangeError } from '../errors';
import { Matrix } from '../matrix';
import { checkShape } from '../files';
import { fixedBasesModel, isFitFile, writeFitResults, type FitSummary } from '../results';
import type { Storage } from './storage';

export type { FitSummary };

/** Fit options a job can carry: BetaNMF's, less those that are not data (factors, callbacks). */
export type JobFitOptions = Omit<BetaNMFOptions, 'W' | 'H' | 'signal' | 'onEpoch'>;
/** Transform options: β and the iteration controls (as `betanmf transform`). */
export type JobTransformOptions = Pick<BetaNMFOptions, 'beta' | 'maxIter' | 'tol' | 'seed' | 'device' | 'dtype' | 'missing'>;

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
  /** Entry weights (.npy path), and the initial W (.npy path; options.fixedComponents keeps some of its columns). */
  weights?: string;
  wInit?: string;
  options: JobFitOptions & { seed: number };
  /** Replace an existing results folder at `out` (one holding only a fit's files). */
  overwrite?: boolean;
  /** Unique per submission: tells this job from another given the same id by a Redis that lost its data. */
  token?: string;
}

export interface TransformJobData {
  kind: 'transform';
  input: string;
  w: string;
  out: string;
  weights?: string;
  options: JobTransformOptions & { seed: number };
  token?: string;
}

const FIT_KEYS = new Set(['nComponents', 'beta', 'solver', 'batchSize', 'sagMemory', 'maxIter', 'tol', 'costEvery', 'shuffle', 'seed',
  'init', 'fixed', 'eps', 'update', 'device', 'dtype', 'cacheRows', 'alphaW', 'alphaH', 'l1Ratio', 'missing', 'fixedComponents']);
const TRANSFORM_KEYS = new Set(['beta', 'maxIter', 'tol', 'seed', 'device', 'dtype', 'missing']);

/**
 * Checks job options where they are submitted (the same TypeError / RangeError as BetaNMF).
 * `withW`: the job names an initial W file (read by the worker), which fixedComponents needs.
 */
export function checkJobOptions(kind: 'fit' | 'transform', options: unknown, withW = false): void {
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
  const o = options as BetaNMFOptions;
  // The W file is read by the worker; a placeholder of the right width stands in for it here.
  const K = Number.isInteger(o.nComponents) && o.nComponents! > 0 ? o.nComponents! : 50;
  resolveOptions(withW ? { ...o, W: new Matrix(new Float32Array(K), 1, K) } : o);
}

type Progress = (p: JobProgress) => void;

/**
 * Runs a fit job; its W.npy, H.npy and history.json appear together in `out` (written into a
 * staging folder beside it and renamed), never beside another fit's files. `retried`: an earlier
 * attempt of this job may have written `out` already, and the deterministic rerun replaces it.
 */
export async function runFitJob(data: FitJobData, storage: Storage, signal: AbortSignal | undefined, progress: Progress, retried = false): Promise<FitSummary> {
  const overwrite = !!data.overwrite || retried;
  await storage.checkFolder(data.out, overwrite, isFitFile); // before the work, as at submit time
  const X = await storage.read(data.input);
  const weights = data.weights ? checkShape(await storage.read(data.weights), data.weights, 'the weights are', X.rows, X.cols, "X's shape") : undefined;
  const K = data.options.nComponents ?? 50;
  const W = data.wInit ? checkShape(await storage.read(data.wInit), data.wInit, 'W is', X.cols, K, "F×K: X's columns × nComponents") : undefined;
  const model = new BetaNMF({ ...data.options, ...(W ? { W } : {}) });
  const maxIter = model.options.maxIter;
  const fitted = await model.fit(X, { signal, weights, onEpoch: (e: EpochInfo) => progress({ epoch: e.epoch, maxIter, cost: e.cost, seconds: e.seconds }) });
  let summary: FitSummary | undefined;
  await storage.writeFolder(data.out, overwrite, isFitFile, async (staging) => {
    summary = await writeFitResults({
      matrix: (name, m) => storage.write(path.join(staging, name), m),
      text: (name, text) => storage.writeText(path.join(staging, name), text),
    }, fitted, data.input, X);
  });
  return summary!;
}

export async function runTransformJob(data: TransformJobData, storage: Storage, signal: AbortSignal | undefined,
  progress: Progress): Promise<TransformSummary> {
  const X = await storage.read(data.input);
  const W = await storage.read(data.w);
  const model = fixedBasesModel(W, X, data.options, data.w);
  const weights = data.weights ? checkShape(await storage.read(data.weights), data.weights, 'the weights are', X.rows, X.cols, "X's shape") : undefined;
  const maxIter = model.options.maxIter;
  const t0 = performance.now();
  const H = await model.transform(X, { signal, weights, onEpoch: (e) => progress({ epoch: e.epoch, maxIter, seconds: (performance.now() - t0) / 1000 }) });
  await storage.write(data.out, H);
  return { rows: H.rows, components: H.cols, beta: model.options.beta, seconds: (performance.now() - t0) / 1000, out: data.out };
}

export { AbortError };
