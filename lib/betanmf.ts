// BetaNMF: the original package's mini-batch solvers as a factorisation job — async and
// cancellable, observable, reproducible, savable. The epoch loop is written once, as a
// generator of native steps that a sync or an async driver runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { resolveDevice } from './device';
import { describe, rangeError, typeError } from './errors';
import {
  AbortError, epochSteps, fullBatchRows, mmExponent, NativeFitHandle, runAsync, runSync, SETUP_CHUNK, turn,
  type EpochPlan, type Steps,
} from './fit';
import { nndsvd, randomSteps } from './init';
import { allocate, copyAs, hostAs, Matrix, type DType } from './matrix';
import { addon } from './native';
import { checkMatrix, checkWeights } from './validate';
import { averagesTargets, optionWarnings, resolveOptions, shapeWarnings, type BetaNMFOptions, type EpochInfo, type ResolvedOptions, type Solver } from './options';
import { freshSeed, Random } from './random';
import { decodeMatrix, encodeMatrix, loadModel, saveModel, type SavedModel, type SaveOptions } from './persist';

export { AbortError, mmExponent };

const warned = new Set<string>();
/** The default onWarning: process.emitWarning, once per distinct message in a process. */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.emitWarning(message, { code: 'BETANMF_OPTION' });
}

export type StopReason = 'converged' | 'maxIter' | 'noImprovement' | 'aborted' | 'callback';

/** What TypeScript knows about a model once fit() has resolved. */
export interface Fitted {
  readonly W: Matrix;
  readonly H: Matrix;
  readonly cost: number;
  readonly stopReason: StopReason;
}

/** One row of `model.history`. */
export interface HistoryEntry {
  /** Epoch count at that point (0 = the initial factors). */
  epoch: number;
  /** D(X | H·Wᵀ) when it was evaluated then. */
  cost?: number;
  /** Seconds spent in updates since the fit started (cost evaluations excluded). */
  seconds: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  onEpoch?: (info: EpochInfo) => boolean | void;
  /**
   * Entry weights for X (N×F, finite and ≥ 0; 0 = missing, any dtype or device: converted as X
   * is): the fit minimises Σ m·d(x | v) (plus the penalties), and its cost is that sum.
   */
  weights?: Matrix;
}

export interface TransformOptions extends RunOptions {
  /** Starting H (N×K, copied); default: the constant √(mean(X)/K), as scikit-learn's transform. */
  H?: Matrix;
}

export type { SavedModel, SaveOptions } from './persist';

/** V is clipped at the float32 machine epsilon where β < 2 (as scikit-learn does). */
const V_FLOOR = 2 ** -23;
/** H-only iterations that fit a new chunk's activations before partialFit updates W. */
const PARTIAL_FIT_H_ITERATIONS = 30;

/**
 * Memory this process can still take: the smaller of the kernel's MemAvailable (free memory
 * plus what the page cache can give back) and the room left under a cgroup limit (containers:
 * cgroup v2 memory.max − memory.current, or v1's limit − usage). os.freemem() where /proc is
 * not there (macOS, Windows).
 */
function availableMemory(): { bytes: number; where: string } {
  const read = (file: string): string | undefined => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  let bytes = os.freemem(), where = 'free memory';
  const info = read('/proc/meminfo')?.match(/^MemAvailable:\s+(\d+) kB/m);
  if (info) [bytes, where] = [Number(info[1]) * 1024, 'available memory'];
  const limits: Array<[string, string]> = [['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current'],
    ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.usage_in_bytes']];
  for (const [limitFile, usageFile] of limits) {
    const limit = Number(read(limitFile)?.trim()), usage = Number(read(usageFile)?.trim());
    // 'max' (no limit) and v1's "unlimited" (a number near 2^63) leave the machine's figure.
    if (Number.isFinite(limit) && Number.isFinite(usage) && limit < 2 ** 60 && limit - usage < bytes) {
      [bytes, where] = [Math.max(0, limit - usage), 'room under the cgroup memory limit'];
      break;
    }
  }
  return { bytes, where };
}

/**
 * Refuses, before allocating anything, a model whose buffers exceed the memory this process can
 * still take (availableMemory): X's working copy (N·F values on the CPU), the weights' copy (N·F), W, H, the W-gradient
 * state and the guard's snapshot (about K·(2N + 6F) values), one batch's scratch (rows of X and
 * H, the H parts), the β=2 K×K Gram matrix and the kernels' per-thread blocks.
 */
function checkMemory(N: number, F: number, K: number, dtype: DType, copiesX: boolean, batchSize: number, beta: number, weighted = false): void {
  const batch = Math.min(Math.max(1, batchSize), N);
  const threads = Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  const values = K * (2 * N + 6 * F) + (copiesX ? N * F : 0) + (weighted ? N * F : 0) + batch * (F + 3 * K) + (beta === 2 ? K * K : 0) +
    threads * 2 * Math.max(2 ** 16, 16 * F); // a kernel's two blocks per thread: ~256 KiB, or 16 rows of X
  const bytes = (dtype === 'float32' ? 4 : 8) * values;
  const avail = availableMemory();
  if (bytes > avail.bytes) {
    const gib = (x: number) => (x / 2 ** 30).toFixed(1);
    throw rangeError('nComponents', 'a model that fits in memory (X\'s working copy, W, H and the solver buffers)',
      `${K}, which needs ${gib(bytes)} GiB of this machine's ${gib(avail.bytes)} GiB of ${avail.where}`);
  }
}

/**
 * missing: 'nan': X's NaN entries become missing ones — 0 in a copy of X (in the fit's dtype) and
 * weight 0 in a copy of the weights (ones where none were given). X without NaN is returned as is.
 */
function markMissing(X: Matrix, M: Matrix | undefined, dtype: DType): { X: Matrix; M: Matrix | undefined } {
  const Xh = hostAs(X, dtype);
  let i = Xh.data.findIndex((v) => Number.isNaN(v));
  if (i < 0) return { X, M };
  const Xc = Xh === X ? copyAs(X, dtype) : Xh;
  const Mc = M ? copyAs(M, dtype) : new Matrix(allocate(dtype, X.rows * X.cols).fill(1), X.rows, X.cols);
  for (const x = Xc.data, m = Mc.data; i < x.length; i++) {
    if (Number.isNaN(x[i])) x[i] = m[i] = 0;
  }
  return { X: Xc, M: Mc };
}

/**
 * Σ m·x / Σ m, in steps: with weights, the scale of a random start (and of transform's constant
 * one) comes from the entries that count — missing ones may hold anything, NaN's 0 included.
 */
function* weightedMean(X: Matrix, M: Matrix): Steps<number> {
  let sx = 0, sm = 0;
  for (let i0 = 0; i0 < X.data.length; i0 += SETUP_CHUNK) {
    for (let i = i0, end = Math.min(X.data.length, i0 + SETUP_CHUNK); i < end; i++) {
      sx += M.data[i] * X.data[i];
      sm += M.data[i];
    }
    yield turn;
  }
  return sm > 0 ? sx / sm : 0;
}

/** Checks that a factor or data matrix holds finite nonnegative numbers (entries [start, end)). */
function checkNonnegative(name: string, m: Matrix, beta?: number, start = 0, end = m.data.length): void {
  const d = m.data;
  for (let i = start; i < end; i++) {
    const v = d[i];
    if (v > 0 && v !== Infinity) continue;
    const where = `at row ${Math.floor(i / m.cols)}, column ${i % m.cols}`;
    if (v !== 0) throw rangeError(name, 'finite nonnegative entries', `${describe(v)} ${where}`);
    if (beta !== undefined && beta <= 0) {
      throw rangeError(name, `positive entries for beta = ${beta} (with β ≤ 0 the divergence is infinite where ` +
        'x = 0: add a small constant to X, or use β > 0)', `0 ${where}`);
    }
  }
}

export class BetaNMF {
  /** The options in force, defaults filled in. */
  readonly options: Readonly<ResolvedOptions>;
  /** The seed of initialisation and shuffling (the given one, or the random one drawn). */
  readonly seed: number;
  /** Bases, F×K (after fit, or given). */
  W: Matrix | undefined;
  /** Activations, N×K, of the data last fitted (for partialFit: of the last chunk). */
  H: Matrix | undefined;
  /** Cost and time per epoch of the last fit (accumulated across partialFit calls). */
  history: HistoryEntry[] = [];
  /** Epochs run by the last fit (or partialFit calls so far). */
  nIter = 0;
  /**
   * Why the last fit ended: 'converged' (the cost decreased by less than tol), 'maxIter',
   * 'noImprovement' (maxNoImprovement evaluations without a new lowest cost: the factors are
   * the best seen), 'callback' (onEpoch returned false) or 'aborted' (the signal).
   */
  stopReason: StopReason | undefined;
  private lastCost: number | undefined;

  private readonly runDefaults: RunOptions;
  private readonly initial: { W?: Matrix; H?: Matrix };
  private rng: Random;
  // The W-gradient sums / SAG averages (F×K), where the model computes.
  private gradPos: Matrix | undefined;
  private gradNeg: Matrix | undefined;
  /** partialFit's SAG gain state under 'mm' (core/solver.h), carried from chunk to chunk with gradPos/gradNeg. */
  private sag: { step: Matrix; gain: number } | undefined;
  private busy = false;
  private partialSeconds = 0;
  private readonly warn: (message: string) => void;

  constructor(options: BetaNMFOptions = {}) {
    this.options = Object.freeze(resolveOptions(options));
    this.seed = this.options.seed ?? freshSeed();
    this.rng = new Random(this.seed);
    this.runDefaults = { signal: options.signal, onEpoch: options.onEpoch };
    this.initial = { W: options.W, H: options.H };
    this.warn = options.onWarning ?? warnOnce;
    resolveDevice(this.options.device);
    for (const w of optionWarnings(this.options, options)) this.warn(`BetaNMF: ${w}`);
  }

  /** D(X | H·Wᵀ) of the model's factors, evaluated at the end of every fit (aborted ones too) and partialFit. */
  get cost(): number | undefined {
    if (this.lastCost !== undefined) return this.lastCost;
    for (let i = this.history.length - 1; i >= 0; i--) if (this.history[i].cost !== undefined) return this.history[i].cost;
    return undefined;
  }

  /** scikit-learn's reconstruction_err_: √(2·cost) (the Frobenius norm of X − H·Wᵀ at β = 2). */
  get reconstructionError(): number | undefined {
    const c = this.cost;
    return c === undefined ? undefined : Math.sqrt(2 * Math.max(c, 0));
  }

  /** F, the number of features (columns of X, rows of W) the model was fitted on. */
  get nFeaturesIn(): number | undefined {
    return this.W?.rows;
  }

  /** Fits W and H to X (N×F) off the event loop; resolves to the model (W, H and cost then present). */
  async fit(X: Matrix, options: RunOptions = {}): Promise<this & Fitted> {
    const run = this.runOptions(options);
    return this.exclusive(() => runAsync(this.fitSteps(X, run, true), run.signal, 'BetaNMF.fit')) as Promise<this & Fitted>;
  }

  /** fit, blocking the thread until done. */
  fitSync(X: Matrix, options: RunOptions = {}): this & Fitted {
    const run = this.runOptions(options);
    return this.exclusiveSync(() => runSync(this.fitSteps(X, run, false), run.signal, 'BetaNMF.fit')) as this & Fitted;
  }

  /** fit, then the activations H (N×K) of X (scikit-learn's fit_transform). */
  async fitTransform(X: Matrix, options: RunOptions = {}): Promise<Matrix> {
    return (await this.fit(X, options)).H;
  }

  fitTransformSync(X: Matrix, options: RunOptions = {}): Matrix {
    return this.fitSync(X, options).H;
  }

  /**
   * H·Wᵀ (N×F) for activations H (N×K): the model's approximation of the data (scikit-learn's
   * inverse_transform), also the way to fill in missing entries. On the CPU, in W's dtype.
   */
  inverseTransform(H: Matrix): Matrix {
    checkMatrix('H', H);
    if (!this.W) throw new Error('BetaNMF.inverseTransform: the model has no W yet: fit it first');
    const W = hostAs(this.W, this.W.dtype);
    if (H.cols !== W.cols) throw rangeError('H', `${W.cols} columns (K, the columns of W)`, `${H.rows}×${H.cols}`);
    const Hh = hostAs(H, W.dtype);
    const out = new Matrix(allocate(W.dtype, H.rows * W.rows), H.rows, W.rows);
    addon.gemm(false, Hh.data, W.data, out.data, H.rows, W.rows, W.cols, false, true, 1, 0);
    return out;
  }

  /** Activations H (N×K) of X with W fixed; the model is not changed. */
  async transform(X: Matrix, options: TransformOptions = {}): Promise<Matrix> {
    const run = this.runOptions(options);
    return this.exclusive(() => runAsync(this.transformSteps(X, options.H, run, true), run.signal, 'BetaNMF.transform'));
  }

  transformSync(X: Matrix, options: TransformOptions = {}): Matrix {
    const run = this.runOptions(options);
    return this.exclusiveSync(() => runSync(this.transformSteps(X, options.H, run, false), run.signal, 'BetaNMF.transform'));
  }

  /**
   * Learns from one more chunk of rows: fits the chunk's activations with W fixed, then runs
   * one epoch of the solver over the chunk (W updated as the solver does). H becomes the chunk's.
   */
  async partialFit(X: Matrix, options: RunOptions = {}): Promise<this> {
    const run = this.runOptions(options);
    return this.exclusive(() => runAsync(this.partialFitSteps(X, run, true), run.signal, 'BetaNMF.partialFit'));
  }

  partialFitSync(X: Matrix, options: RunOptions = {}): this {
    const run = this.runOptions(options);
    return this.exclusiveSync(() => runSync(this.partialFitSteps(X, run, false), run.signal, 'BetaNMF.partialFit'));
  }

  /**
   * Frees the model's factors and solver state now (device memory on CUDA, instead of when the
   * collector gets to them). The options and history stay; fitting again works.
   * `using model = new BetaNMF(…)` calls it at the end of the scope.
   */
  dispose(): void {
    for (const m of [this.W, this.H, this.gradPos, this.gradNeg, this.sag?.step]) m?.dispose();
    this.W = this.H = this.gradPos = this.gradNeg = this.sag = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A JSON-safe snapshot: options, seed, history and the factors (base64 of their little-endian bytes). */
  toJSON(): SavedModel {
    const { seed: _seed, ...options } = this.options;
    return { format: 'betanmf-model', version: 2, options, seed: this.seed, nIter: this.nIter, history: this.history.map((h) => ({ ...h })),
      W: this.W ? encodeMatrix(this.W) : null, H: this.H ? encodeMatrix(this.H) : null };
  }

  /** A model from toJSON() output (or its JSON text); reads version 1 (factors as number arrays) too. */
  static fromJSON(json: SavedModel | string): BetaNMF {
    const o = typeof json === 'string' ? (JSON.parse(json) as SavedModel) : json;
    if (typeof o !== 'object' || o === null || o.format !== 'betanmf-model' || (o.version !== 1 && o.version !== 2)) {
      throw typeError('json', "a saved model (format 'betanmf-model', version 1 or 2)", o);
    }
    return BetaNMF.restore(o, decodeMatrix('json.W', o.W), decodeMatrix('json.H', o.H));
  }

  /** Writes the model as a folder: model.json, W.npy and H.npy (numpy reads them), all at once. */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    await saveModel(path, this.toJSON(), this.W, this.H, options);
  }

  /** A model from a folder written by save(). */
  static async load(path: string): Promise<BetaNMF> {
    const { json, W, H } = await loadModel(path);
    if (typeof json !== 'object' || json === null || json.format !== 'betanmf-model' || (json.version !== 1 && json.version !== 2)) {
      throw typeError(`${path}/model.json`, "a saved model (format 'betanmf-model', version 1 or 2)", json);
    }
    return BetaNMF.restore(json, W, H);
  }

  private static restore(o: SavedModel, W: Matrix | undefined, H: Matrix | undefined): BetaNMF {
    const { init, fixed, fixedComponents, ...rest } = o.options;
    // Fixed components keep the saved W's columns (they are the given ones, bit for bit).
    const keepFixed = fixedComponents !== undefined && fixedComponents.length > 0;
    const model = new BetaNMF({ ...rest, device: rest.device ?? undefined, dtype: rest.dtype ?? undefined, fixed, seed: o.seed,
      ...(keepFixed ? { fixedComponents, W } : {}), missing: rest.missing ?? undefined,
      init: init === 'custom' && !(W && H) && !(keepFixed && W) ? 'random' : init });
    model.W = W;
    model.H = H;
    model.nIter = o.nIter;
    model.history = o.history.map((h) => ({ ...h }));
    return model;
  }

  // ---- the solver loop -----------------------------------------------------------------------

  private *fitSteps(Xin: Matrix, run: RunOptions, async: boolean): Steps<this> {
    const o = this.options;
    const device = resolveDevice(o.device);
    const cached = device !== 'cpu' && o.cacheRows > 0 && o.cacheRows < Xin.rows;
    const data = yield* this.openFit(Xin, device, async, cached ? 'cache' : 'all', o.solver, !o.fixed.includes('W'), !o.fixed.includes('H'),
      undefined, undefined, run.weights);
    const { h, X } = data;
    const [N, F, K] = [X.rows, X.cols, o.nComponents];
    const nndsvdImpossible = o.init.startsWith('nndsvd') && K > Math.min(N, F); // a RangeError below, not a warning
    if (!nndsvdImpossible) for (const w of shapeWarnings(o, N, F)) this.warn(`BetaNMF: ${w}`);
    // With cacheRows, X and H stay on the host; the native fit owns W and the gradient state.
    let Hhost: Matrix | undefined;
    let started = false;
    try {
      this.rng = new Random(this.seed);
      const W0 = this.initialFactor('W', F, K, h.dtype), H0 = this.initialFactor('H', N, K, h.dtype);
      for (const [which, f] of [['W', W0], ['H', H0]] as const) {
        const used = f.given || (which === 'W' && o.fixedComponents.length > 0);
        if (this.initial[which] && !used) {
          this.warn(`BetaNMF: the given ${which} is not used by fit with init '${o.init}' (give init: 'custom', fixed: ['${which}']` +
            `${which === 'W' ? ' or fixedComponents' : ''} to start from it)`);
        }
      }
      if (!W0.given || !H0.given) yield* this.initialise(data, W0.given ? undefined : W0.m, H0.given ? undefined : H0.m);
      if (!W0.given) this.placeFixedComponents(W0.m);
      h.write('W', W0.m);
      if (cached) Hhost = H0.m;
      else h.write('H', H0.m);
      started = true;
      this.history = [];
      this.nIter = 0;
      const update = { H: !o.fixed.includes('H'), W: !o.fixed.includes('W') };
      const costOf = () => (cached ? this.hostCost(X, h, Hhost!, data.M) : h.cost());
      let seconds = 0;
      let previous = (yield costOf()) as number;
      this.history.push({ epoch: 0, cost: previous, seconds: 0 });
      // The lowest cost so far and its factors (kept aside natively), for maxNoImprovement.
      let best = previous, sinceBest = 0;
      const keepBest = o.maxNoImprovement !== undefined && !cached;
      if (keepBest) h.fit.saveBest();
      let stop: StopReason = 'maxIter';
      for (let epoch = 1; epoch <= o.maxIter; epoch++) {
        const t0 = performance.now();
        if (cached) yield* this.cachedEpochSteps(X, Hhost!, h, update, async, epoch, data.M);
        else yield* epochSteps(h, { ...this.plan(o.solver, N, update, true), epoch }, async);
        seconds += (performance.now() - t0) / 1000;
        this.nIter = epoch;
        const evaluate = epoch % o.costEvery === 0 || epoch === o.maxIter;
        const cost = evaluate ? ((yield costOf()) as number) : undefined;
        this.history.push(cost === undefined ? { epoch, seconds } : { epoch, cost, seconds });
        if (run.onEpoch?.({ epoch, cost, seconds }) === false) {
          stop = 'callback';
          break;
        }
        if (cost === undefined) continue;
        if (cost < best) {
          best = cost;
          sinceBest = 0;
          if (keepBest) h.fit.saveBest();
        } else if (++sinceBest >= (o.maxNoImprovement ?? Infinity)) {
          stop = 'noImprovement';
          break;
        }
        // Converged: decreased, by less than tol (relative). A rise is never convergence.
        const decrease = previous - cost;
        if (o.tol > 0 && decrease >= 0 && decrease <= o.tol * Math.abs(previous)) {
          stop = 'converged';
          break;
        }
        previous = cost;
      }
      if (stop === 'noImprovement' && keepBest && h.fit.restoreBest()) {
        this.history.push({ epoch: this.nIter, cost: best, seconds });
      }
      const last = this.history[this.history.length - 1];
      if (last.cost === undefined) last.cost = (yield costOf()) as number;
      this.stopReason = stop;
      this.lastCost = last.cost;
    } catch (err) {
      if (err instanceof AbortError) this.stopReason = 'aborted';
      throw err;
    } finally {
      // The factors as they are now (consistent after every slice, so also after an abort or
      // a divergence, which has restored the epoch's start), then the native memory goes.
      try {
        if (started) {
          this.replaceState(h.read('W'), cached ? Hhost : h.read('H'), h.read('gradPos'), h.read('gradNeg'));
          // After an abort or an error the cost of the factors kept is evaluated too.
          if (this.stopReason === 'aborted' || this.lastCost === undefined) this.lastCost = this.syncCost(h, X, Hhost, data.M);
        }
      } finally {
        data.dispose();
      }
    }
    return this;
  }

  private *transformSteps(Xin: Matrix, Hstart: Matrix | undefined, run: RunOptions, async: boolean): Steps<Matrix> {
    const o = this.options;
    if (!this.W && !this.initial.W) throw new Error('BetaNMF.transform: the model has no W yet: fit it first, or give W');
    const W0 = (this.W ?? this.initial.W)!;
    checkMatrix('X', Xin);
    if (Xin.cols !== W0.rows) throw rangeError('X', `${W0.rows} columns (F, the rows of W)`, `${Xin.rows}×${Xin.cols}`);
    const device = this.W?.device ?? resolveDevice(o.device);
    const data = yield* this.openFit(Xin, device, async, 'all', 'mu_batch', false, true, o.dtype ?? W0.dtype, W0.cols, run.weights);
    const { h, X } = data;
    const [N, K] = [X.rows, W0.cols];
    let H: Matrix | undefined;
    try {
      h.write('W', W0);
      let Hhost: Matrix;
      if (Hstart !== undefined) {
        checkMatrix('options.H', Hstart);
        if (Hstart.rows !== N || Hstart.cols !== K) throw rangeError('options.H', `${N}×${K} (N×K)`, `${Hstart.rows}×${Hstart.cols}`);
        Hhost = copyAs(Hstart, h.dtype);
        checkNonnegative('options.H', Hhost);
      } else {
        // A constant start √(mean(X)/K), as scikit-learn's transform: no zeros for MU to keep,
        // the scale of the data, and the same H whatever the seed or how W was initialised.
        Hhost = new Matrix(allocate(h.dtype, N * K).fill(Math.sqrt(data.mean / K)), N, K);
      }
      h.write('H', Hhost);
      const plan = this.plan('mu_batch', N, { H: true, W: false }, false);
      let previous = (yield h.cost()) as number;
      for (let it = 1; it <= o.maxIter; it++) {
        yield* epochSteps(h, plan, async);
        if (run.onEpoch?.({ epoch: it, seconds: 0 }) === false) break;
        if (o.tol > 0 && it % o.costEvery === 0) {
          const cost = (yield h.cost()) as number;
          if (!(previous - cost > o.tol * Math.abs(previous))) break;
          previous = cost;
        }
      }
      H = h.read('H');
    } finally {
      data.dispose();
    }
    return H;
  }

  private *partialFitSteps(Xin: Matrix, run: RunOptions, async: boolean): Steps<this> {
    const o = this.options;
    checkMatrix('X', Xin);
    if (this.W && this.W.rows !== Xin.cols) throw rangeError('X', `${this.W.rows} columns (F, as in earlier chunks)`, `${Xin.rows}×${Xin.cols}`);
    const device = this.W?.device ?? resolveDevice(o.device);
    const data = yield* this.openFit(Xin, device, async, 'all', o.solver, !o.fixed.includes('W'), true, o.dtype ?? this.W?.dtype, undefined, run.weights);
    const { h, X } = data;
    const [N, F, K] = [X.rows, X.cols, o.nComponents];
    const targets = averagesTargets(o);
    try {
      if (!this.W) {
        const W = this.initialFactor('W', F, K, h.dtype);
        if (!W.given) yield* this.initialise(data, W.m, undefined);
        if (!W.given) this.placeFixedComponents(W.m);
        this.W = W.m.to(device);
        this.history = [];
        this.nIter = 0;
        this.partialSeconds = 0;
        this.gradPos = this.gradNeg = undefined;
        this.sag?.step.dispose();
        this.sag = undefined;
      }
      h.write('W', this.W);
      if (this.gradPos && this.gradNeg && this.gradPos.rows === F && this.gradPos.device === device) {
        h.write('gradPos', this.gradPos);
        h.write('gradNeg', this.gradNeg);
        if (this.sag && targets) {
          h.write('sagStep', this.sag.step);
          h.fit.sagGain(this.sag.gain);
        }
      }
      const Hhost = new Matrix(allocate(h.dtype, N * K), N, K);
      yield* randomSteps(Hhost.data, data.mean, K, this.rng);
      h.write('H', Hhost);
      const t0 = performance.now();
      const hOnly = this.plan('mu_batch', N, { H: true, W: false }, false);
      for (let it = 0; it < PARTIAL_FIT_H_ITERATIONS; it++) yield* epochSteps(h, hOnly, async);
      yield* epochSteps(h, this.plan(o.solver, N, { H: !o.fixed.includes('H'), W: !o.fixed.includes('W') }, true), async);
      this.partialSeconds += (performance.now() - t0) / 1000;
      this.nIter += 1;
      const cost = (yield h.cost()) as number;
      this.history.push({ epoch: this.nIter, cost, seconds: this.partialSeconds });
      this.replaceState(h.read('W'), h.read('H'), h.read('gradPos'), h.read('gradNeg'));
      if (targets) {
        this.sag?.step.dispose();
        this.sag = { step: h.read('sagStep'), gain: h.fit.sagGain() };
      }
      run.onEpoch?.({ epoch: this.nIter, cost, seconds: this.partialSeconds });
    } finally {
      data.dispose();
    }
    return this;
  }

  /**
   * The model's factors and gradient state after a call. Device memory of what they replace is
   * freed now (a refit in a loop holds no GPU memory for the collector); CPU matrices are left
   * to their holders.
   */
  private replaceState(W: Matrix, H: Matrix | undefined, gradPos: Matrix, gradNeg: Matrix): void {
    const old = [this.W, this.H, this.gradPos, this.gradNeg];
    [this.W, this.H, this.gradPos, this.gradNeg] = [W, H, gradPos, gradNeg];
    for (const m of old) if (m && m.device !== 'cpu' && ![W, H, gradPos, gradNeg].includes(m)) m.dispose();
  }

  /** How one epoch of `solver` runs: batches, their order this epoch, the SAG weight, the guard. */
  private plan(solver: Solver, N: number, update: { H: boolean; W: boolean }, guard: boolean): EpochPlan {
    const o = this.options;
    const fullBatch = solver === 'mu_batch';
    const batchSize = fullBatch ? fullBatchRows(this.F, o.nComponents) : o.batchSize;
    const sag = solver === 'asag_mu' || solver === 'gsag_mu';
    // Full-batch MU does not depend on the order of its batches: it is never shuffled.
    let order: Uint32Array | null = null;
    if (!fullBatch && o.shuffle === 'batches') order = this.rng.permutation(Math.ceil(N / batchSize));
    else if (!fullBatch && o.shuffle === 'rows') order = this.rng.permutation(N);
    return { solver, batchSize, order, updateH: update.H, updateW: update.W, forget: sag ? 1 / (o.sagMemory + 1) : 1, guard: guard && update.H && update.W };
  }

  /**
   * One epoch with at most cacheRows rows of X (and H) resident on the device: the rows, in
   * this epoch's order, are cut into caches of whole batches; each cache's X and H rows travel
   * there, its batches run, and its H rows travel back. W and the gradient state stay put.
   */
  private *cachedEpochSteps(X: Matrix, H: Matrix, h: NativeFitHandle, update: { H: boolean; W: boolean }, async: boolean,
    epoch: number, M: Matrix | undefined): Steps<void> {
    const o = this.options;
    const [N, F, K] = [X.rows, X.cols, H.cols];
    const order = o.shuffle === 'none' ? null : this.rng.permutation(N);
    const perCache = Math.max(o.batchSize, Math.floor(o.cacheRows / o.batchSize) * o.batchSize);
    for (let c0 = 0; c0 < N; c0 += perCache) {
      const c1 = Math.min(N, c0 + perCache), n = c1 - c0;
      const Xc = new Matrix(allocate(X.dtype, n * F), n, F), Hc = new Matrix(allocate(H.dtype, n * K), n, K);
      const Mc = M ? new Matrix(allocate(M.dtype, n * F), n, F) : undefined; // the weights travel with X's rows
      for (let i = 0; i < n; i++) {
        const r = order ? order[c0 + i] : c0 + i;
        Xc.data.set(X.data.subarray(r * F, (r + 1) * F), i * F);
        Hc.data.set(H.data.subarray(r * K, (r + 1) * K), i * K);
        Mc?.data.set(M!.data.subarray(r * F, (r + 1) * F), i * F);
      }
      const Xg = Xc.to(h.device), Hg = Hc.to(h.device), Mg = Mc?.to(h.device);
      try {
        const plan = { ...this.plan(o.solver, n, update, false), order: null, epoch, cache: { X: Xg, H: Hg, weights: Mg, starts: c0 === 0, ends: c1 === N } };
        yield* epochSteps(h, plan, async);
        const back = Hg.toTypedArray();
        for (let i = 0; i < n; i++) {
          const r = order ? order[c0 + i] : c0 + i;
          H.data.set(back.subarray(i * K, (i + 1) * K), r * K);
        }
      } finally {
        if (Xg !== Xc) [Xg, Hg].forEach((m) => m.dispose());
        if (Mg !== Mc) Mg?.dispose();
      }
    }
  }

  /** The cost of the fit's factors now, computed on this thread (after an abort or an error). */
  private syncCost(h: NativeFitHandle, X: Matrix, Hhost: Matrix | undefined, M: Matrix | undefined): number | undefined {
    try {
      return (Hhost ? this.hostCost(X, h, Hhost, M).run(false) : h.fit.cost(false)) as number;
    } catch {
      return undefined; // the fit's memory is unusable (X detached): no cost, the error says why
    }
  }

  /** The objective (weighted D(X | H·Wᵀ) plus penalties) on the host, for a fit whose X and H stay there (cacheRows). */
  private hostCost(X: Matrix, h: NativeFitHandle, H: Matrix, M: Matrix | undefined) {
    const o = this.options;
    const vFloor = o.beta < 2 ? V_FLOOR : 0;
    return {
      run: (a: boolean) => {
        const W = h.read('W');
        const Wh = hostAs(W, W.dtype);
        if (W !== Wh) W.dispose();
        return addon.betaDivergence(a, X.native, Wh.native, H.native, X.rows, X.cols, Wh.cols, o.beta, vFloor, M?.native ?? null,
          o.alphaW, o.alphaH, o.l1Ratio);
      },
    };
  }

  // ---- data and initialisation ---------------------------------------------------------------

  /** F of the data being fitted (set by openFit). */
  private F = 0;

  /**
   * Checks X and opens the native fit that owns its working copy. A host X is copied there in
   * the fit's dtype and checked in the same native pass — by an async call in chunks, with the
   * event loop running in between (a synchronous call reads X in place instead when it can: no
   * JS runs while it computes, and the fit checks before every call that X's memory is
   * unchanged). A device X is checked on the device and used where it is. With cacheRows
   * ('cache'), X stays on the host and the fit owns W and the gradient state only.
   */
  private *openFit(Xin: Matrix, device: 'cpu' | 'cuda', async: boolean, rows: 'all' | 'cache', solver: Solver, updateW: boolean, updateH: boolean,
    dtypeHint?: DType, K = this.options.nComponents, weightsIn?: Matrix): Steps<{ h: NativeFitHandle; X: Matrix; mean: number; M?: Matrix; dispose(): void }> {
    const o = this.options;
    const name = 'X';
    checkMatrix(name, Xin);
    if (Xin.rows < 1 || Xin.cols < 1) throw rangeError(name, 'at least 1 row and 1 column', `${Xin.rows}×${Xin.cols}`);
    const dtype = o.dtype ?? dtypeHint ?? Xin.dtype;
    const [N, F] = [Xin.rows, Xin.cols];
    this.F = F;
    // The native fit checks the weights' values as it copies them; a cache of rows takes them unchecked.
    let M = checkWeights('options.weights', weightsIn, N, F, undefined, undefined, rows === 'cache');
    if (o.missing === 'nan') ({ X: Xin, M } = markMissing(Xin, M, dtype));
    checkMemory(N, F, K, dtype, device === 'cpu', o.batchSize, o.beta, M !== undefined);
    // With weights, an entry of weight 0 is missing: β ≤ 0 needs X positive only where weighted.
    const positive = o.beta <= 0;
    const spec = {
      N: rows === 'cache' ? 0 : N, F, K, dtype, beta: o.beta, solver, batchSize: o.batchSize, eps: o.eps,
      gamma: o.update === 'mm' ? mmExponent(o.beta) : 1, forget: 1, vFloor: o.beta < 2 ? V_FLOOR : 0, updateH, updateW,
      shuffle: o.shuffle, positive: positive && !M, averageTargets: averagesTargets(o),
      alphaW: o.alphaW, alphaH: o.alphaH, l1Ratio: o.l1Ratio, fixedComponents: updateW && K === o.nComponents ? o.fixedComponents : [],
    };
    const zeroError = (i: number) => rangeError(name, `positive entries for beta = ${o.beta} (with β ≤ 0 the divergence is infinite where ` +
      'x = 0: add a small constant to X, give such entries weight 0, or use β > 0)', `0 at row ${Math.floor(i / F)}, column ${i % F}`);
    // Zeros of X where the weight is positive (β ≤ 0 with weights).
    const checkWeightedZeros = (Xh: Matrix) => {
      if (!positive || !M) return;
      const x = Xh.data, m = hostAs(M, M.dtype).data;
      for (let i = 0; i < x.length; i++) if (x[i] === 0 && m[i] > 0) throw zeroError(i);
    };
    if (rows === 'cache') {
      // X stays on the host: checked there, in steps (async) as a copy would be.
      const Xh = hostAs(Xin, dtype);
      let sum = 0;
      for (let i0 = 0; i0 < N * F; i0 += SETUP_CHUNK) {
        if (Xh.data.length !== N * F) throw new Error('X: its memory was detached or transferred during the fit');
        const end = Math.min(N * F, i0 + SETUP_CHUNK);
        checkNonnegative(name, Xh, M ? undefined : o.beta, i0, end);
        for (let i = i0; i < end; i++) sum += Xh.data[i];
        yield turn;
      }
      if (!(sum > 0)) throw rangeError(name, 'some positive entries', 'all zeros');
      checkWeightedZeros(Xh);
      const Mh = M ? hostAs(M, dtype) : undefined;
      const mean = Mh ? yield* weightedMean(Xh, Mh) : sum / (N * F);
      if (!(mean > 0)) throw rangeError(name, 'some positive entries where the weights are positive', 'none');
      const empty = new Matrix(allocate(dtype, 0), 0, F).to(device);
      const h = new NativeFitHandle({ ...spec, X: empty.native }, device);
      empty.dispose();
      return { h, X: Xh, mean, M: Mh, dispose: () => h.dispose() };
    }
    // A device X of another dtype, or for a CPU fit, comes to the host first (a device X of the
    // fit's dtype on its device is read where it is).
    const X = Xin.device === 'cpu' || (Xin.device === device && Xin.dtype === dtype) ? Xin : copyAs(Xin, dtype);
    const loadX = async && X.device === 'cpu';
    // The fit copies the weights in its dtype, from its device or from the host (uploaded once).
    const Mn = !M ? undefined : M.device === device && (device === 'cpu' || M.dtype === dtype) ? M : hostAs(M, M.dtype);
    const h = new NativeFitHandle({ ...spec, X: X.native, borrowX: !async, loadX, ...(Mn ? { weights: Mn.native } : {}) }, device);
    let mean: number;
    try {
      if (loadX) yield* h.load();
      const scan = h.fit.dataScan();
      if (scan.allZero) throw rangeError(name, 'some positive entries', 'all zeros');
      if (scan.index !== undefined) {
        const i = scan.index, v = X.device === 'cpu' && i < X.data.length ? X.data[i] : scan.value!;
        const where = `at row ${Math.floor(i / F)}, column ${i % F}`;
        if (v !== 0 || !positive) throw rangeError(name, 'finite nonnegative entries', `${describe(v)} ${where}`);
        throw zeroError(i);
      }
      if (M) {
        const Xh = hostAs(X, dtype);
        checkWeightedZeros(Xh);
        mean = yield* weightedMean(Xh, hostAs(M, M.dtype));
        if (!(mean > 0)) throw rangeError(name, 'some positive entries where the weights are positive', 'none');
      } else {
        mean = scan.sum / (N * F);
      }
    } catch (err) {
      h.dispose();
      throw err;
    }
    return { h, X, mean, dispose: () => h.dispose() };
  }

  /** fixedComponents with an init other than 'custom': the given W's fixed columns over the initialised ones. */
  private placeFixedComponents(W: Matrix): void {
    const fixed = this.options.fixedComponents, given = this.initial.W;
    if (fixed.length === 0 || !given) return;
    if (given.rows !== W.rows || given.cols !== W.cols) throw rangeError('W', `${W.rows}×${W.cols} (F×K)`, `${given.rows}×${given.cols}`);
    const g = copyAs(given, W.dtype);
    checkNonnegative('W', g);
    for (let f = 0; f < W.rows; f++) for (const k of fixed) W.data[f * W.cols + k] = g.data[f * W.cols + k];
  }

  /** A factor given in the options (checked, copied) or a new one to initialise. */
  private initialFactor(which: 'W' | 'H', rows: number, K: number, dtype: DType): { m: Matrix; given: boolean } {
    const given = this.options.init === 'custom' || this.options.fixed.includes(which) ? this.initial[which] : undefined;
    if (given) {
      const what = which === 'W' ? 'F×K' : 'N×K';
      if (given.rows !== rows || given.cols !== K) throw rangeError(which, `${rows}×${K} (${what})`, `${given.rows}×${given.cols}`);
      const m = copyAs(given, dtype);
      checkNonnegative(which, m);
      return { m, given: true };
    }
    return { m: new Matrix(allocate(dtype, rows * K), rows, K), given: false };
  }

  private *initialise(data: { X: Matrix; mean: number }, W: Matrix | undefined, H: Matrix | undefined): Steps<void> {
    const o = this.options;
    const K = o.nComponents;
    const X = data.X;
    if (o.init === 'nndsvd' || o.init === 'nndsvda' || o.init === 'nndsvdar') {
      if (K > Math.min(X.rows, X.cols)) {
        throw rangeError('nComponents', `at most min(N, F) = ${Math.min(X.rows, X.cols)} with init '${o.init}'`, `${K}`);
      }
      const dtype = (W ?? H)!.dtype;
      const w = W?.data ?? allocate(dtype, X.cols * K), h = H?.data ?? allocate(dtype, X.rows * K);
      yield* nndsvd(hostAs(X, X.dtype).data, X.rows, X.cols, K, w, h, o.init === 'nndsvda' ? 'a' : 'ar', this.rng, dtype === 'float32');
      return;
    }
    if (W) yield* randomSteps(W.data, data.mean, K, this.rng);
    if (H) yield* randomSteps(H.data, data.mean, K, this.rng);
  }

  private runOptions(o: RunOptions): RunOptions {
    if (typeof o !== 'object' || o === null) throw typeError('options', 'an object', o);
    const signal = o.signal ?? this.runDefaults.signal;
    const onEpoch = o.onEpoch ?? this.runDefaults.onEpoch;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('signal', 'an AbortSignal', signal);
    if (onEpoch !== undefined && typeof onEpoch !== 'function') throw typeError('onEpoch', 'a function', onEpoch);
    return { signal, onEpoch, weights: o.weights };
  }

  private async exclusive<R>(fn: () => Promise<R>): Promise<R> {
    this.claim();
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }

  private exclusiveSync<R>(fn: () => R): R {
    this.claim();
    try {
      return fn();
    } finally {
      this.busy = false;
    }
  }

  private claim(): void {
    if (this.busy) throw new Error('BetaNMF: another fit, transform or partialFit of this model is still running');
    this.busy = true;
  }
}
