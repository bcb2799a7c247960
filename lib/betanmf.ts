// BetaNMF: the original package's mini-batch solvers as a factorisation job — async and
// cancellable, observable, reproducible, savable. The epoch loop is written once, as a
// generator of native steps that a sync or an async driver runs.
import * as os from 'node:os';
import { resolveDevice } from './device';
import { describe, rangeError, typeError } from './errors';
import { mean, nndsvd, randomFactor } from './init';
import { allocate, Matrix, zeros, type DType } from './matrix';
import { addon } from './native';
import { checkMatrix } from './validate';
import { resolveOptions, type BetaNMFOptions, type EpochInfo, type ResolvedOptions, type Solver } from './options';
import { freshSeed, Random } from './random';
import { decodeMatrix, encodeMatrix, loadModel, saveModel, type SavedModel, type SaveOptions } from './persist';

/** Rejection of an aborted fit, transform or partialFit (W and H keep their last consistent values). */
export class AbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
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
}

export interface TransformOptions extends RunOptions {
  /** Starting H (N×K, copied); default: random as for fit. */
  H?: Matrix;
}

export type { SavedModel, SaveOptions } from './persist';

const SOLVER_ID: Record<Solver, number> = { mu_batch: 0, asg_mu: 1, gsg_mu: 2, asag_mu: 3, gsag_mu: 4 };
/** V is clipped at the float32 machine epsilon where β < 2 (as scikit-learn does). */
const V_FLOOR = 2 ** -23;
/** Work per native call of an async fit (flops), so an abort is seen within some tens of ms. */
const FLOPS_PER_CALL = 5e8;
/** H-only iterations that fit a new chunk's activations before partialFit updates W. */
const PARTIAL_FIT_H_ITERATIONS = 30;

/** Batches per native call of a sync fit, so scale drift is caught between calls. */
const MAX_BATCHES_PER_CALL = 32;

/**
 * Refuses, before allocating anything, a model whose factors and solver buffers (about
 * K·(2N + 6F) values: W, H, the W-gradient sums and an epoch's snapshot) exceed this machine's memory.
 */
function checkMemory(N: number, F: number, K: number, dtype: DType): void {
  const bytes = (dtype === 'float32' ? 4 : 8) * K * (2 * N + 6 * F);
  const total = os.totalmem();
  if (bytes > total) {
    const gib = (x: number) => (x / 2 ** 30).toFixed(1);
    throw rangeError('nComponents', 'a model that fits in memory (W, H and the solver buffers hold about K·(2N + 6F) values)',
      `${K}, which needs ${gib(bytes)} GiB of this machine's ${gib(total)} GiB`);
  }
}

function diverged(solver: Solver, restored: boolean): Error {
  return new Error(`BetaNMF: the ${solver} solver diverged (W or H overflowed)` +
    (restored ? '; W and H are as before this epoch' : '') + ". Try a smaller sagMemory, a larger batchSize, or solver 'mu_batch'.");
}

/** One native call: run(false) returns its value, run(true) a Promise of it. */
interface Step {
  run(async: boolean): unknown;
}
type Steps<R> = Generator<Step, R, unknown>;

function runSync<R>(steps: Steps<R>, signal: AbortSignal | undefined, what: string): R {
  let r = steps.next();
  while (!r.done) {
    throwIfAborted(signal, what);
    r = steps.next(r.value.run(false));
  }
  return r.value;
}

async function runAsync<R>(steps: Steps<R>, signal: AbortSignal | undefined, what: string): Promise<R> {
  let r = steps.next();
  while (!r.done) {
    throwIfAborted(signal, what);
    r = steps.next(await r.value.run(true));
  }
  return r.value;
}

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`, { cause: signal.reason });
}

/** MM exponent γ(β) (Févotte & Idier 2011): 1/(2−β) below 1, 1 on [1, 2], 1/(β−1) above 2. */
export function mmExponent(beta: number): number {
  if (beta < 1) return 1 / (2 - beta);
  if (beta > 2) return 1 / (beta - 1);
  return 1;
}

/** A copy of m on the CPU in `dtype`. */
function copyAs(m: Matrix, dtype: DType): Matrix {
  const data = allocate(dtype, m.rows * m.cols);
  data.set(m.toTypedArray());
  return new Matrix(data, m.rows, m.cols);
}

/** m on the CPU in `dtype` (m itself when it already is). */
function hostAs(m: Matrix, dtype: DType): Matrix {
  return m.dtype === dtype && m.device === 'cpu' ? m : copyAs(m, dtype);
}

/** Checks that a factor or data matrix holds finite nonnegative numbers. */
function checkNonnegative(name: string, m: Matrix, beta?: number): void {
  const d = m.data;
  for (let i = 0; i < d.length; i++) {
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

  private readonly runDefaults: RunOptions;
  private readonly initial: { W?: Matrix; H?: Matrix };
  private rng: Random;
  // The W-gradient sums / SAG averages (F×K), where the model computes.
  private gradPos: Matrix | undefined;
  private gradNeg: Matrix | undefined;
  private busy = false;
  private partialSeconds = 0;

  constructor(options: BetaNMFOptions = {}) {
    this.options = Object.freeze(resolveOptions(options));
    this.seed = this.options.seed ?? freshSeed();
    this.rng = new Random(this.seed);
    this.runDefaults = { signal: options.signal, onEpoch: options.onEpoch };
    this.initial = { W: options.W, H: options.H };
    resolveDevice(this.options.device);
  }

  /** D(X | H·Wᵀ) of the last evaluation (the last history entry with a cost). */
  get cost(): number | undefined {
    for (let i = this.history.length - 1; i >= 0; i--) if (this.history[i].cost !== undefined) return this.history[i].cost;
    return undefined;
  }

  /** Fits W and H to X (N×F) off the event loop; resolves to the model. */
  async fit(X: Matrix, options: RunOptions = {}): Promise<this> {
    const run = this.runOptions(options);
    return this.exclusive(() => runAsync(this.fitSteps(X, run, true), run.signal, 'BetaNMF.fit'));
  }

  /** fit, blocking the thread until done. */
  fitSync(X: Matrix, options: RunOptions = {}): this {
    const run = this.runOptions(options);
    return this.exclusiveSync(() => runSync(this.fitSteps(X, run, false), run.signal, 'BetaNMF.fit'));
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
    const { init, fixed, ...rest } = o.options;
    const model = new BetaNMF({ ...rest, device: rest.device ?? undefined, dtype: rest.dtype ?? undefined, fixed, seed: o.seed,
      init: init === 'custom' && !(W && H) ? 'random' : init });
    model.W = W;
    model.H = H;
    model.nIter = o.nIter;
    model.history = o.history.map((h) => ({ ...h }));
    return model;
  }

  // ---- the solver loop -----------------------------------------------------------------------

  private *fitSteps(Xin: Matrix, run: RunOptions, async: boolean): Steps<this> {
    const o = this.options;
    const X = this.prepareData(Xin, 'X');
    const dtype = X.dtype;
    const [N, F, K] = [X.rows, X.cols, o.nComponents];
    checkMemory(N, F, K, dtype);
    this.rng = new Random(this.seed);
    const W0 = this.initialFactor('W', F, K, dtype);
    const H0 = this.initialFactor('H', N, K, dtype);
    if (!W0.given || !H0.given) this.initialise(X, W0.given ? undefined : W0.m, H0.given ? undefined : H0.m);
    // Everything the epochs touch lives on the device from here on (one upload of X, W, H),
    // unless cacheRows bounds the rows of X (and H) resident there at once.
    const device = resolveDevice(o.device);
    const cached = o.cacheRows > 0 && o.cacheRows < N;
    const Xd = cached ? X : X.to(device), W = W0.m.to(device), H = cached ? H0.m : H0.m.to(device);
    this.W = W;
    this.H = H;
    this.gradPos = zeros(F, K, dtype, device);
    this.gradNeg = zeros(F, K, dtype, device);
    this.history = [];
    this.nIter = 0;
    const update = { H: !o.fixed.includes('H'), W: !o.fixed.includes('W') };
    let seconds = 0;
    const costOf = () => this.costStep(Xd, cached ? W.to('cpu') : W, H);
    let previous = (yield costOf()) as number;
    this.history.push({ epoch: 0, cost: previous, seconds: 0 });
    for (let epoch = 1; epoch <= o.maxIter; epoch++) {
      const t0 = performance.now();
      const order = o.shuffle ? this.rng.permutation(N) : null;
      if (cached) yield* this.cachedEpochSteps(X, W, H, order, update, async);
      else yield* this.epochSteps(Xd, W, H, o.solver, o.batchSize, order, update, async);
      seconds += (performance.now() - t0) / 1000;
      this.nIter = epoch;
      const evaluate = epoch % o.costEvery === 0 || epoch === o.maxIter;
      const cost = evaluate ? ((yield costOf()) as number) : undefined;
      this.history.push(cost === undefined ? { epoch, seconds } : { epoch, cost, seconds });
      if (run.onEpoch?.({ epoch, cost, seconds }) === false) break;
      if (cost !== undefined) {
        if (o.tol > 0 && !(previous - cost > o.tol * Math.abs(previous))) break;
        previous = cost;
      }
    }
    const last = this.history[this.history.length - 1];
    if (last.cost === undefined) last.cost = (yield costOf()) as number;
    return this;
  }

  private *transformSteps(Xin: Matrix, Hstart: Matrix | undefined, run: RunOptions, async: boolean): Steps<Matrix> {
    const o = this.options;
    if (!this.W && !this.initial.W) throw new Error('BetaNMF.transform: the model has no W yet: fit it first, or give W');
    const W0 = (this.W ?? this.initial.W)!;
    const X = this.prepareData(Xin, 'X', W0.dtype);
    if (X.cols !== W0.rows) throw rangeError('X', `${W0.rows} columns (F, the rows of W)`, `${X.rows}×${X.cols}`);
    const device = this.W?.device ?? resolveDevice(o.device);
    const W = W0.dtype === X.dtype ? W0.to(device) : hostAs(W0, X.dtype).to(device);
    const Xd = X.to(device);
    const [N, K] = [X.rows, W.cols];
    let Hhost: Matrix;
    if (Hstart !== undefined) {
      checkMatrix('options.H', Hstart);
      if (Hstart.rows !== N || Hstart.cols !== K) throw rangeError('options.H', `${N}×${K} (N×K)`, `${Hstart.rows}×${Hstart.cols}`);
      Hhost = copyAs(Hstart, X.dtype);
      checkNonnegative('options.H', Hhost);
    } else {
      Hhost = new Matrix(allocate(X.dtype, N * K), N, K);
      randomFactor(Hhost.data, mean(X.data), K, new Random(this.seed ^ 0x5bd1e995));
    }
    const H = Hhost.to(device);
    const state = zeros(W.rows, K, X.dtype, device);
    let previous = (yield this.costStep(Xd, W, H)) as number;
    for (let it = 1; it <= o.maxIter; it++) {
      yield* this.epochSteps(Xd, W, H, 'mu_batch', Math.max(N, 1), null, { H: true, W: false }, async, state);
      if (run.onEpoch?.({ epoch: it, seconds: 0 }) === false) break;
      if (o.tol > 0 && it % o.costEvery === 0) {
        const cost = (yield this.costStep(Xd, W, H)) as number;
        if (!(previous - cost > o.tol * Math.abs(previous))) break;
        previous = cost;
      }
    }
    return H;
  }

  private *partialFitSteps(Xin: Matrix, run: RunOptions, async: boolean): Steps<this> {
    const o = this.options;
    const X = this.prepareData(Xin, 'X', this.W?.dtype);
    const [N, F, K] = [X.rows, X.cols, o.nComponents];
    checkMemory(N, F, K, X.dtype);
    if (this.W && this.W.rows !== F) throw rangeError('X', `${this.W.rows} columns (F, as in earlier chunks)`, `${N}×${F}`);
    if (!this.W) {
      const W = this.initialFactor('W', F, K, X.dtype);
      if (!W.given) this.initialise(X, W.m, undefined);
      this.W = W.m.to(resolveDevice(o.device));
      this.history = [];
      this.nIter = 0;
      this.partialSeconds = 0;
    }
    const W = this.W;
    const device = W.device;
    if (!this.gradPos || this.gradPos.rows !== F || this.gradPos.device !== device) {
      this.gradPos = zeros(F, K, W.dtype, device);
      this.gradNeg = zeros(F, K, W.dtype, device);
    }
    const Hhost = new Matrix(allocate(X.dtype, N * K), N, K);
    randomFactor(Hhost.data, mean(X.data), K, this.rng);
    const H = Hhost.to(device), Xd = X.to(device);
    const t0 = performance.now();
    const all = Math.max(N, 1);
    for (let it = 0; it < PARTIAL_FIT_H_ITERATIONS; it++) {
      yield* this.epochSteps(Xd, W, H, 'mu_batch', all, null, { H: true, W: false }, async);
    }
    const order = o.shuffle ? this.rng.permutation(N) : null;
    yield* this.epochSteps(Xd, W, H, o.solver, o.batchSize, order, { H: !o.fixed.includes('H'), W: !o.fixed.includes('W') }, async);
    this.partialSeconds += (performance.now() - t0) / 1000;
    this.H = H;
    this.nIter += 1;
    const cost = (yield this.costStep(Xd, W, H)) as number;
    this.history.push({ epoch: this.nIter, cost, seconds: this.partialSeconds });
    run.onEpoch?.({ epoch: this.nIter, cost, seconds: this.partialSeconds });
    return this;
  }

  /**
   * One epoch with at most cacheRows rows of X (and H) resident where the model computes: the
   * shuffled rows are cut into caches of whole batches; each cache's X and H rows travel there,
   * its batches run, and its H rows travel back. W and the gradient state stay put.
   */
  private *cachedEpochSteps(X: Matrix, W: Matrix, H: Matrix, order: Uint32Array | null, update: { H: boolean; W: boolean },
    async: boolean): Steps<void> {
    const o = this.options;
    const [N, F, K] = [X.rows, X.cols, W.cols];
    const perCache = Math.max(o.batchSize, Math.floor(o.cacheRows / o.batchSize) * o.batchSize);
    for (let c0 = 0; c0 < N; c0 += perCache) {
      const c1 = Math.min(N, c0 + perCache), n = c1 - c0;
      const Xc = new Matrix(allocate(X.dtype, n * F), n, F), Hc = new Matrix(allocate(H.dtype, n * K), n, K);
      for (let i = 0; i < n; i++) {
        const r = order ? order[c0 + i] : c0 + i;
        Xc.data.set(X.data.subarray(r * F, (r + 1) * F), i * F);
        Hc.data.set(H.data.subarray(r * K, (r + 1) * K), i * K);
      }
      const Xg = Xc.to(W.device), Hg = Hc.to(W.device);
      yield* this.epochSteps(Xg, W, Hg, o.solver, o.batchSize, null, update, async, undefined, { starts: c0 === 0, ends: c1 === N });
      const back = Hg.toTypedArray();
      for (let i = 0; i < n; i++) {
        const r = order ? order[c0 + i] : c0 + i;
        H.data.set(back.subarray(i * K, (i + 1) * K), r * K);
      }
      if (Xg !== Xc) [Xg, Hg].forEach((m) => m.dispose());
    }
  }

  /**
   * The native calls of one epoch: all batches at once (sync), or slices of ~FLOPS_PER_CALL
   * (async). `span` says whether X's first batch opens the epoch and its last closes it (not
   * so for the caches of cachedEpochSteps).
   */
  private *epochSteps(X: Matrix, W: Matrix, H: Matrix, solver: Solver, batchSize: number, order: Uint32Array | null,
    update: { H: boolean; W: boolean }, async: boolean, state?: Matrix, span = { starts: true, ends: true }): Steps<void> {
    const o = this.options;
    const [N, F, K] = [X.rows, X.cols, W.cols];
    const nBatches = Math.ceil(N / batchSize);
    const perBatch = 12 * batchSize * F * K + 1;
    const slice = async ? Math.max(1, Math.floor(FLOPS_PER_CALL / perBatch)) : MAX_BATCHES_PER_CALL;
    const sag = solver === 'asag_mu' || solver === 'gsag_mu';
    const forget = sag ? 1 / (o.sagMemory + 1) : 1;
    const gamma = o.update === 'mm' ? mmExponent(o.beta) : 1;
    const vFloor = o.beta < 2 ? V_FLOOR : 0;
    const gp = state ?? this.gradPos!, gn = state ?? this.gradNeg!;
    // After every call, the scale guard (native rebalance: see core/solver.h); on the CPU the
    // factors at the start of the epoch are kept too, and restored if the solver diverges in it.
    // (Not for a cache of rows: H's other rows would not be rescaled with it; W is checked instead.)
    const guard = span.starts && span.ends && update.H && update.W;
    const saved = guard && W.device === 'cpu' ? [W.data.slice(), H.data.slice(), gp.data.slice(), gn.data.slice()] : undefined;
    for (let b0 = 0; b0 < nBatches; b0 += slice) {
      const b1 = Math.min(nBatches, b0 + slice);
      yield {
        run: (a) => addon.epoch(a, X.native, W.native, H.native, N, F, K, o.beta, SOLVER_ID[solver], batchSize, b0, b1, order,
          o.eps, gamma, forget, vFloor, update.H, update.W, gp.native, gn.native, span.starts, span.ends),
      };
      if (!guard) continue;
      const finite = (yield { run: (a) => addon.rebalance(a, W.native, H.native, gp.native, gn.native, N, F, K) }) as boolean;
      if (!finite) {
        if (saved) [W.data, H.data, gp.data, gn.data].forEach((d, i) => d.set(saved[i]));
        throw diverged(solver, saved !== undefined);
      }
    }
    if (!guard && span.ends && update.W && !W.toTypedArray().every(Number.isFinite)) throw diverged(solver, false);
  }

  private costStep(X: Matrix, W: Matrix, H: Matrix): Step {
    const vFloor = this.options.beta < 2 ? V_FLOOR : 0;
    return { run: (a) => addon.betaDivergence(a, X.native, W.native, H.native, X.rows, X.cols, W.cols, this.options.beta, vFloor) };
  }

  // ---- data and initialisation ---------------------------------------------------------------

  private prepareData(X: Matrix, name: string, dtypeHint?: DType): Matrix {
    checkMatrix(name, X);
    if (X.rows < 1 || X.cols < 1) throw rangeError(name, 'at least 1 row and 1 column', `${X.rows}×${X.cols}`);
    const dtype = this.options.dtype ?? dtypeHint ?? X.dtype;
    const Xh = hostAs(X, dtype); // checked (and initialised from) on the CPU
    checkNonnegative(name, Xh, this.options.beta);
    if (!Xh.data.some((v) => v > 0)) throw rangeError(name, 'some positive entries', 'all zeros');
    return Xh;
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

  private initialise(X: Matrix, W: Matrix | undefined, H: Matrix | undefined): void {
    const o = this.options;
    const K = o.nComponents;
    if (o.init === 'nndsvd' || o.init === 'nndsvda') {
      if (K > Math.min(X.rows, X.cols)) {
        throw rangeError('nComponents', `at most min(N, F) = ${Math.min(X.rows, X.cols)} with init '${o.init}'`, `${K}`);
      }
      const w = W?.data ?? allocate(X.dtype, X.cols * K), h = H?.data ?? allocate(X.dtype, X.rows * K);
      nndsvd(X.data, X.rows, X.cols, K, w, h, o.init === 'nndsvda', this.rng);
      return;
    }
    const m = mean(X.data);
    if (W) randomFactor(W.data, m, K, this.rng);
    if (H) randomFactor(H.data, m, K, this.rng);
  }

  private runOptions(o: RunOptions): RunOptions {
    if (typeof o !== 'object' || o === null) throw typeError('options', 'an object', o);
    const signal = o.signal ?? this.runDefaults.signal;
    const onEpoch = o.onEpoch ?? this.runDefaults.onEpoch;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('signal', 'an AbortSignal', signal);
    if (onEpoch !== undefined && typeof onEpoch !== 'function') throw typeError('onEpoch', 'a function', onEpoch);
    return { signal, onEpoch };
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
