// What fits and transforms of matrices named by file produce, for `betanmf fit` / `transform`
// and the queue's jobs alike: a fit's W.npy, H.npy and history.json (the summary, where the data
// came from, the options and the cost per evaluated epoch), written in one place so both write
// the same files; the summary is what `fit --json` prints and a fit job's wait() resolves to.
import * as path from 'node:path';
import { BetaNMF, type Fitted, type HistoryEntry } from './betanmf';
import type { Matrix } from './matrix';
import type { BetaNMFOptions } from './options';

/** What `betanmf fit --json` prints and a fit job returns. */
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

/** What a fit writes into its folder; a chart (.svg, .png) that `fit --plot` put beside them counts as its own too. */
export const FIT_FILES = ['W.npy', 'H.npy', 'history.json'];
export const isFitFile = (name: string): boolean => FIT_FILES.includes(name) || ['.svg', '.png'].includes(path.extname(name).toLowerCase());

/** The parts of a fitted model the results hold. */
export type FittedModel = Pick<BetaNMF, 'options' | 'seed' | 'history' | 'nIter'> & Pick<Fitted, 'W' | 'H' | 'cost' | 'stopReason'>;

/** The fit's one duration: seconds in updates (cost evaluations excluded), as in history.json and progress. */
export function fitSeconds(history: readonly HistoryEntry[]): number {
  return history[history.length - 1]?.seconds ?? 0;
}

export function fitSummary(model: FittedModel): FitSummary {
  const o = model.options;
  return {
    components: o.nComponents, beta: o.beta, solver: o.solver, device: model.W.device, dtype: model.W.dtype,
    iterations: model.nIter, cost: model.cost, seconds: fitSeconds(model.history), stopReason: model.stopReason,
  };
}

/** Where the fitted data came from and how the fit ran, beside the summary in history.json. */
export interface FitRecord {
  /** The input file (stored as an absolute path). */
  input: string;
  N: number;
  F: number;
  seed: number;
  /** Row shards of a data-parallel fit. */
  shards?: number;
  options: object;
  history: readonly HistoryEntry[];
}

/** The text of history.json. */
export function historyJson(summary: FitSummary, r: FitRecord): string {
  return JSON.stringify({ ...summary, input: path.resolve(r.input), N: r.N, F: r.F, seed: r.seed,
    ...(r.shards === undefined ? {} : { shards: r.shards }), options: r.options, history: r.history }, null, 1) + '\n';
}

/** Where a fit's files go (a staging folder, a job's storage); each write is whole or absent. */
export interface ResultWriter {
  matrix(name: string, m: Matrix): Promise<void>;
  text(name: string, text: string): Promise<void>;
}

/** Writes W.npy, H.npy and history.json of a model fitted to `X` (read from `input`); returns the summary. */
export async function writeFitResults(to: ResultWriter, model: FittedModel, input: string, X: { rows: number; cols: number }): Promise<FitSummary> {
  const summary = fitSummary(model);
  await to.matrix('W.npy', model.W);
  await to.matrix('H.npy', model.H);
  await to.text('history.json', historyJson(summary, { input, N: X.rows, F: X.cols, seed: model.seed, options: model.options, history: model.history }));
  return summary;
}

/**
 * The model that computes activations of X for the fixed bases W read from `wFile` (`betanmf
 * transform` and a transform job); a RangeError when W does not have X's columns.
 */
export function fixedBasesModel(W: Matrix, X: Matrix, options: BetaNMFOptions, wFile: string): BetaNMF {
  checkBases(W, X, wFile);
  return new BetaNMF({ ...options, nComponents: W.cols, init: 'custom', W, fixed: ['W'] });
}

/** W (read from `wFile`) has X's columns as rows; a RangeError otherwise. */
export function checkBases(W: Matrix, X: Matrix, wFile: string): void {
  if (W.rows !== X.cols) throw new RangeError(`${wFile}: W is ${W.rows}×${W.cols}, but X has ${X.cols} columns (W must be F×K)`);
}
