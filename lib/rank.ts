// Choosing K and trusting a factorisation: cross-validation over held-out entries
// (crossValidate) and multi-start consensus (consensus). Both run many independent seeded fits
// (rank-fit.ts), one after the other or on worker processes (rank-parallel.ts) with the same
// numbers either way, and summarise them with the metrics of rank-metrics.ts.
import { BetaNMF } from './betanmf';
import { describe, rangeError, typeError } from './errors';
import { Matrix, type DType } from './matrix';
import type { FloatArray } from './native';
import { dtypeOfArray, modelOf, type FitOutcome, type FitTask, type SweepData, type SweepFitOptions } from './rank-fit';
import { checkPacBounds, columnCorrelations, copheneticOf, dispersion as dispersionOf, hungarian, pac as pacOf } from './rank-metrics';
import { cores, runFits } from './rank-parallel';
import { freshSeed, Random } from './random';

export { averageLinkage, copheneticCorrelation, dispersion, pac, hungarian, type Linkage } from './rank-metrics';
export type { SweepFitOptions } from './rank-fit';

/** Options shared by crossValidate and consensus, besides the fit options. */
interface SweepOptions {
  /** Seed of the sweep: held-out entries and every fit's seed derive from it. Default: a random one (reported). */
  seed?: number;
  /** Entry weights of X (N×F, ≥ 0; 0 = missing), as for BetaNMF.fit. */
  weights?: Matrix;
  /**
   * Worker processes running fits at once, the cores split between them (each gets
   * ⌊cores / workers⌋ native threads). 1 runs every fit in this process. Default: the number of
   * cores (at most one per fit) on the CPU, 1 with device 'cuda'. Results do not depend on it.
   */
  workers?: number;
  /** Receives warnings about the fit options (as BetaNMF's onWarning; once per sweep). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

export interface CrossValidateOptions extends SweepFitOptions, SweepOptions {
  /** The ranks K to try (distinct integers ≥ 1). */
  ranks: number[];
  /** Repetitions, each with its own held-out entries (the same for every rank). Default 3. */
  reps?: number;
  /** Share of the (weighted, non-missing) entries held out in each repetition, in (0, 1). Default 0.1. */
  testFraction?: number;
  /** Called as each fit ends (in the order they end), with how many are done of how many. */
  onRun?: (run: CrossValidationRun, done: number, total: number) => void;
}

export interface CrossValidationRun {
  k: number;
  rep: number;
  /** β-divergence per entry (per unit of weight) on the training entries. */
  trainLoss: number;
  /** β-divergence per entry on the held-out entries. */
  testLoss: number;
  nIter: number;
  seconds: number;
  /** The fit's seed. */
  seed: number;
}

export interface RankSummary {
  k: number;
  meanTrainLoss: number;
  meanTestLoss: number;
  /** Standard error of the mean held-out loss over the repetitions (sample sd / √reps; 0 for one rep). */
  seTestLoss: number;
}

export interface CrossValidation {
  /** One entry per (k, rep), ranks ascending, reps in order. */
  runs: CrossValidationRun[];
  /** Per rank, ascending. */
  ranks: RankSummary[];
  /** The rank of lowest mean held-out loss. */
  bestK: number;
  /**
   * The one-standard-error rule: the smallest rank whose mean held-out loss is at most bestK's
   * mean plus bestK's standard error (the simplest model the data cannot tell from the best).
   */
  chosenK: number;
  /** The sweep's seed (the given one, or the one drawn). */
  seed: number;
}

export interface ConsensusOptions extends SweepFitOptions, SweepOptions {
  /** The rank K. */
  k: number;
  /** Fits from different seeds. Default 30. */
  runs?: number;
  /** 'rows' (default): consensus over the rows of X by H's largest entry per row; 'columns': over X's columns by W's. */
  over?: 'rows' | 'columns';
  /** PAC counts pairs whose consensus lies in (pacLower, pacUpper]. Defaults 0.1 and 0.9. */
  pacLower?: number;
  pacUpper?: number;
  onRun?: (run: { run: number; seed: number; cost: number; nIter: number; seconds: number }, done: number, total: number) => void;
}

export interface Consensus {
  /** n×n (n = N rows, or F columns with over 'columns'), float64: the share of runs in which two items share their largest component. */
  consensus: Matrix;
  /** Cophenetic correlation of 1 − consensus under average linkage (1 = perfectly stable). */
  cophenetic: number;
  dispersion: number;
  /** Proportion of ambiguous clustering (0 = perfectly stable). */
  pac: number;
  /** The items in the average-linkage dendrogram's order (to draw the consensus as a heatmap). */
  order: Uint32Array;
  /** The fitted model of lowest cost. */
  best: BetaNMF;
  /** Index of the best run. */
  bestRun: number;
  /** Every run's W (F×K), its columns permuted to match best's (Hungarian matching, cost 1 − correlation). */
  aligned: Matrix[];
  /** Per component of best: the mean correlation of its matched column over the other runs (1 = found every time). */
  stability: Float64Array;
  /** Per run: its seed and cost. */
  runs: { seed: number; cost: number; nIter: number; seconds: number }[];
  seed: number;
}

/** A fit's seed from the sweep's seed and the fit's place in it (splitmix-mixed, so neighbours differ). */
function deriveSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const p of parts) h = new Random((h ^ Math.imul(p + 1, 0x9e3779b9)) >>> 0).nextUint32();
  return h;
}

function integer(name: string, v: unknown, min: number, def?: number): number {
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'number') throw typeError(name, `an integer ≥ ${min}`, v);
  if (!Number.isInteger(v) || v < min || v > 2 ** 31 - 1) throw rangeError(name, `an integer ≥ ${min}`, describe(v));
  return v;
}

/** The sweep options split from the fit options, checked; the fit options checked by BetaNMF itself. */
function sweepSetup(X: unknown, o: SweepOptions & SweepFitOptions, sweepKeys: string[], k: number) {
  if (!(X instanceof Matrix)) throw typeError('X', 'a Matrix', X);
  if (typeof o !== 'object' || o === null) throw typeError('options', 'an object', o);
  const fitOptions: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(o)) {
    if (!sweepKeys.includes(key) && !['seed', 'weights', 'workers', 'onWarning'].includes(key)) fitOptions[key] = v;
  }
  for (const key of ['nComponents', 'W', 'H', 'fixed', 'fixedComponents', 'signal', 'onEpoch']) {
    if (key in fitOptions) throw rangeError('options', 'fit options other than nComponents, W, H, fixed, fixedComponents, signal, onEpoch (the sweep sets or cannot share them)', `'${key}'`);
  }
  if (fitOptions.init === 'custom') throw rangeError('init', "'random', 'nndsvd', 'nndsvda' or 'nndsvdar' (a sweep starts each fit itself)", "'custom'");
  // BetaNMF checks the fit options (names, types, ranges) before any fit starts, and warns once
  // about options that do nothing here (the sweep's fits themselves stay quiet).
  if (o.onWarning !== undefined && typeof o.onWarning !== 'function') throw typeError('onWarning', 'a function', o.onWarning);
  const probe = new BetaNMF({ ...fitOptions, nComponents: k, seed: 0, ...(o.onWarning ? { onWarning: o.onWarning } : {}) });
  const dtype: DType = probe.options.dtype ?? X.dtype;
  const device = probe.options.device;
  probe.dispose();
  const seed = o.seed === undefined ? freshSeed() : integer('seed', o.seed, 0);
  if (o.weights !== undefined) {
    if (!(o.weights instanceof Matrix)) throw typeError('weights', 'a Matrix (N×F)', o.weights);
    if (o.weights.rows !== X.rows || o.weights.cols !== X.cols) throw rangeError('weights', `${X.rows}×${X.cols} (the shape of X)`, `${o.weights.rows}×${o.weights.cols}`);
  }
  return { fitOptions: fitOptions as SweepFitOptions, dtype, device, seed };
}

function workerCount(v: unknown, device: string | undefined, fits: number): number {
  if (v !== undefined) return integer('workers', v, 1);
  return device === 'cuda' ? 1 : Math.min(cores(), fits);
}

/**
 * X and the weights in the fits' dtype on the CPU; with missing 'nan', NaN entries become 0 with
 * weight 0 (so evaluation never reads a NaN) and `missing` is dropped from the fit options.
 */
function sweepData(X: Matrix, weights: Matrix | undefined, dtype: DType, fitOptions: SweepFitOptions): SweepData {
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const x: FloatArray = new Ctor(X.toTypedArray());
  let w: FloatArray | undefined = weights ? new Ctor(weights.toTypedArray()) : undefined;
  const { missing, ...options } = fitOptions;
  if (missing === 'nan') {
    for (let i = 0; i < x.length; i++) {
      if (!Number.isNaN(x[i])) continue;
      w ??= new Ctor(x.length).fill(1);
      x[i] = 0;
      w[i] = 0;
    }
  }
  return { X: x, rows: X.rows, cols: X.cols, weights: w, heldOut: [], options };
}

/**
 * The held-out entries of one repetition: round(testFraction × eligible) entries drawn without
 * replacement among those of positive weight, sorted.
 */
function drawHeldOut(d: SweepData, testFraction: number, rng: Random): Uint32Array {
  const total = d.X.length;
  let eligible: Uint32Array;
  if (d.weights) {
    const idx: number[] = [];
    for (let i = 0; i < total; i++) if (d.weights[i] > 0) idx.push(i);
    eligible = Uint32Array.from(idx);
  } else {
    eligible = new Uint32Array(total);
    for (let i = 0; i < total; i++) eligible[i] = i;
  }
  const count = Math.round(testFraction * eligible.length);
  if (count < 1 || count >= eligible.length) {
    throw rangeError('testFraction', `a share that holds out at least one and not all of the ${eligible.length} entries of positive weight`,
      `${testFraction} (${count} entries)`);
  }
  // Partial Fisher–Yates: the first `count` places get a uniform sample.
  for (let i = 0; i < count; i++) {
    const j = i + rng.below(eligible.length - i);
    const t = eligible[i];
    eligible[i] = eligible[j];
    eligible[j] = t;
  }
  return eligible.slice(0, count).sort();
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * Cross-validation of the rank: for each repetition, holds out a random `testFraction` of the
 * entries (weight 0 in training; the same entries for every rank), fits each rank, and measures
 * the β-divergence per entry on the training and on the held-out entries. bestK is the rank of
 * lowest mean held-out loss; chosenK applies the one-standard-error rule to it (see CrossValidation).
 */
export async function crossValidate(X: Matrix, options: CrossValidateOptions): Promise<CrossValidation> {
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object with ranks', options);
  const ranks = checkRanks(options.ranks);
  const reps = integer('reps', options.reps, 1, 3);
  const testFraction = options.testFraction ?? 0.1;
  if (typeof testFraction !== 'number') throw typeError('testFraction', 'a number in (0, 1)', testFraction);
  if (!(testFraction > 0 && testFraction < 1)) throw rangeError('testFraction', 'a number in (0, 1)', describe(testFraction));
  if (options.onRun !== undefined && typeof options.onRun !== 'function') throw typeError('onRun', 'a function', options.onRun);
  const { fitOptions, dtype, device, seed } = sweepSetup(X, options, ['ranks', 'reps', 'testFraction', 'onRun'], ranks[0]);
  const data = sweepData(X, options.weights, dtype, fitOptions);
  for (let rep = 0; rep < reps; rep++) data.heldOut.push(drawHeldOut(data, testFraction, new Random(deriveSeed(seed, 0, rep))));
  const tasks: FitTask[] = [];
  for (const k of ranks) for (let rep = 0; rep < reps; rep++) tasks.push({ k, rep, seed: deriveSeed(seed, 1, rep, k) });
  const toRun = (t: FitTask, o: FitOutcome): CrossValidationRun =>
    ({ k: t.k, rep: t.rep!, trainLoss: o.trainLoss, testLoss: o.testLoss, nIter: o.nIter, seconds: o.seconds, seed: t.seed });
  let done = 0;
  const outcomes = await runFits(data, tasks, workerCount(options.workers, device, tasks.length),
    (i, o) => options.onRun?.(toRun(tasks[i], o), ++done, tasks.length));
  const runs = tasks.map((t, i) => toRun(t, outcomes[i]));
  return { runs, ...chooseRank(runs), seed };
}

function checkRanks(ranks: unknown): number[] {
  if (!Array.isArray(ranks) || ranks.length === 0) throw typeError('ranks', 'a non-empty array of integers ≥ 1', ranks);
  const out = ranks.map((k, i) => integer(`ranks[${i}]`, k, 1));
  if (new Set(out).size !== out.length) throw rangeError('ranks', 'distinct ranks', `[${out.join(', ')}]`);
  return out.sort((a, b) => a - b);
}

/**
 * Per-rank means and standard errors, bestK and chosenK (one-standard-error rule) from the runs
 * of a cross-validation. Exported so that a sweep assembled elsewhere (e.g. from queued jobs)
 * chooses by the same rule.
 */
export function chooseRank(runs: Pick<CrossValidationRun, 'k' | 'trainLoss' | 'testLoss'>[]): { ranks: RankSummary[]; bestK: number; chosenK: number } {
  const ks = [...new Set(runs.map((r) => r.k))].sort((a, b) => a - b);
  const ranks = ks.map((k) => {
    const mine = runs.filter((r) => r.k === k);
    const test = mine.map((r) => r.testLoss);
    const m = mean(test);
    const sd = test.length > 1 ? Math.sqrt(test.reduce((s, t) => s + (t - m) ** 2, 0) / (test.length - 1)) : 0;
    return { k, meanTrainLoss: mean(mine.map((r) => r.trainLoss)), meanTestLoss: m, seTestLoss: sd / Math.sqrt(test.length) };
  });
  // NaN (a fit that diverged) never wins.
  const best = ranks.reduce((b, r) => (r.meanTestLoss < b.meanTestLoss || Number.isNaN(b.meanTestLoss) ? r : b));
  const chosen = ranks.find((r) => r.meanTestLoss <= best.meanTestLoss + best.seTestLoss) ?? best;
  return { ranks, bestK: best.k, chosenK: chosen.k };
}

/** Each item's component of largest value (ties: the first), for the rows of an n×K factor. */
function labels(F: FloatArray, n: number, K: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (F[i * K + k] > F[i * K + best]) best = k;
    out[i] = best;
  }
  return out;
}

/**
 * Multi-start consensus (Brunet et al. 2004): `runs` fits of rank k from different seeds; the
 * consensus matrix counts how often two rows of X (or columns, with over 'columns') share their
 * largest component, and its cophenetic correlation, dispersion and PAC say how stable that
 * clustering is. Also the best model, every run's W aligned to it, and per-component stability.
 */
export async function consensus(X: Matrix, options: ConsensusOptions): Promise<Consensus> {
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object with k', options);
  const k = integer('k', options.k, 1);
  const nRuns = integer('runs', options.runs, 1, 30);
  const over = options.over ?? 'rows';
  if (over !== 'rows' && over !== 'columns') throw typeError('over', "'rows' | 'columns'", over);
  const pacLower = options.pacLower ?? 0.1, pacUpper = options.pacUpper ?? 0.9;
  checkPacBounds(pacLower, pacUpper);
  if (options.onRun !== undefined && typeof options.onRun !== 'function') throw typeError('onRun', 'a function', options.onRun);
  const { fitOptions, dtype, device, seed } = sweepSetup(X, options, ['k', 'runs', 'over', 'pacLower', 'pacUpper', 'onRun'], k);
  checkConsensusSize(over === 'rows' ? X.rows : X.cols, over);
  const data = sweepData(X, options.weights, dtype, fitOptions);
  const tasks: FitTask[] = Array.from({ length: nRuns }, (_, i) => ({ k, seed: deriveSeed(seed, 2, i), keepModel: true }));
  let done = 0;
  const outcomes = await runFits(data, tasks, workerCount(options.workers, device, tasks.length), (i, o) =>
    options.onRun?.({ run: i, seed: tasks[i].seed, cost: o.cost, nIter: o.nIter, seconds: o.seconds }, ++done, tasks.length));
  const models = outcomes.map((o) => modelOf(data, o.model!));
  try {
    return summarise(models, outcomes, tasks, over, pacLower, pacUpper, seed, dtypeOfArray(data.X));
  } catch (err) {
    for (const m of models) m.dispose();
    throw err;
  }
}

/**
 * The consensus matrix is n×n float64 and its linkage needs about three more n²/2 vectors:
 * 16384 items take 2 GiB for C alone. Checked before the fits start (a RangeError naming X).
 */
const MAX_CONSENSUS_ITEMS = 16384;

function checkConsensusSize(n: number, over: 'rows' | 'columns'): void {
  if (n > MAX_CONSENSUS_ITEMS) {
    throw rangeError('X', `at most ${MAX_CONSENSUS_ITEMS} ${over} for a consensus over ${over} (an n×n matrix and its linkage; ` +
      `${over === 'rows' ? "use over: 'columns', or " : ''}consensus over a subsample)`, `${n} ${over}`);
  }
}

function summarise(models: BetaNMF[], outcomes: FitOutcome[], tasks: FitTask[], over: 'rows' | 'columns', pacLower: number, pacUpper: number,
  seed: number, dtype: DType): Consensus {
  const K = tasks[0].k;
  const factor = (m: BetaNMF) => (over === 'rows' ? m.H! : m.W!).to('cpu');
  const n = factor(models[0]).rows;
  checkConsensusSize(n, over);
  const C = new Float64Array(n * n);
  for (const m of models) {
    const lab = labels(factor(m).data, n, K);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) if (lab[i] === lab[j]) C[i * n + j] += 1;
    }
  }
  for (let i = 0; i < C.length; i++) C[i] /= models.length;
  const consensusMatrix = new Matrix(C, n, n);
  const { correlation, linkage } = copheneticOf(consensusMatrix);
  let bestRun = 0;
  outcomes.forEach((o, i) => {
    if (o.cost < outcomes[bestRun].cost) bestRun = i;
  });
  const bestW = models[bestRun].W!.to('cpu');
  const F = bestW.rows;
  const stability = new Float64Array(K);
  const aligned = models.map((m, r) => {
    const W = m.W!.to('cpu');
    const corr = columnCorrelations(bestW.data, W.data, F, K);
    const cost = corr.map((c) => 1 - c);
    const col = hungarian(cost, K);
    const out = dtype === 'float32' ? new Float32Array(F * K) : new Float64Array(F * K);
    for (let c = 0; c < K; c++) {
      for (let f = 0; f < F; f++) out[f * K + c] = W.data[f * K + col[c]];
      if (r !== bestRun) stability[c] += corr[c * K + col[c]];
    }
    return new Matrix(out, F, K);
  });
  for (let c = 0; c < K; c++) stability[c] = models.length > 1 ? stability[c] / (models.length - 1) : 1;
  for (let r = 0; r < models.length; r++) if (r !== bestRun) models[r].dispose();
  return {
    consensus: consensusMatrix,
    cophenetic: correlation,
    dispersion: dispersionOf(consensusMatrix),
    pac: pacOf(consensusMatrix, pacLower, pacUpper),
    order: linkage.order,
    best: models[bestRun],
    bestRun,
    aligned,
    stability,
    runs: outcomes.map((o, i) => ({ seed: tasks[i].seed, cost: o.cost, nIter: o.nIter, seconds: o.seconds })),
    seed,
  };
}
