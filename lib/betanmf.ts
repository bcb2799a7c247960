// BetaNMF: the original package's mini-batch solvers as a factorisation job — async and
// cancellable, observable, reproducible, savable. The estimator keeps the options, the state and
// the public methods; the data are prepared in prepare.ts, the epochs planned and run in fit.ts,
// the stopping rule is stopping.ts, and each call is a generator of native steps (steps.ts).
import { resolveDevice } from './device';
import { rangeError } from './errors';
import { epochPlan, epochSteps, fitEpochs, hostCost, mmExponent, transformEpochs, transformSolver, type HostRows, type NativeFitHandle } from './fit';
import { factorUse, givenFactor, initialFactor, initialSteps, placeFixedComponents, randomSteps, startingFactors, transformStart } from './init';
import { allocate, hostAs, Matrix } from './matrix';
import { addon } from './native';
import {
  averagesTargets, optionWarnings, resolveOptions, resolveRunOptions, shapeWarnings, warnOnce,
  type BetaNMFOptions, type HistoryEntry, type ResolvedOptions, type RunOptions, type StopReason, type TransformOptions,
} from './options';
import { checkSavedModel, decodeMatrix, encodeMatrix, loadModel, saveModel, savedOptions, type SavedModel, type SaveOptions } from './persist';
import { prepareFit } from './prepare';
import { freshSeed, Random } from './random';
import { ReadHolds } from './holds';
import { AbortError, CallGate, runAsync, runSync, type Steps } from './steps';
import { checkMatrix } from './validate';

export { AbortError, mmExponent };
export type { HistoryEntry, RunOptions, StopReason, TransformOptions } from './options';
export type { SavedModel, SaveOptions } from './persist';

/** What TypeScript knows about a model once fit() has resolved. */
export interface Fitted {
  readonly W: Matrix;
  readonly H: Matrix;
  readonly cost: number;
  readonly reconstructionError: number;
  readonly nIter: number;
  readonly stopReason: StopReason;
}

/**
 * The penalties of the objective at W (F×K) and H (N×K): αH·F·(ρ‖H‖₁ + ½(1−ρ)‖H‖²) +
 * αW·N·(ρ‖W‖₁ + ½(1−ρ)‖W‖²), in double (core/solver.h's penaltyCost).
 */
function penaltyOf(W: Matrix, H: Matrix, o: Pick<ResolvedOptions, 'alphaW' | 'alphaH' | 'l1Ratio'>): number {
  const term = (m: Matrix, alpha: number, rows: number) => {
    if (!(alpha > 0)) return 0;
    let l1 = 0, l2 = 0;
    for (const v of hostAs(m, m.dtype).data) (l1 += Math.abs(v)), (l2 += v * v);
    return alpha * rows * (o.l1Ratio * l1 + 0.5 * (1 - o.l1Ratio) * l2);
  };
  return term(H, o.alphaH, W.rows) + term(W, o.alphaW, H.rows);
}

/** H-only iterations that fit a new chunk's activations before partialFit updates W. */
const PARTIAL_FIT_H_ITERATIONS = 30;

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
  // fit, partialFit, dispose and save go through the gate: freeing or saving factors that a running
  // fit is about to put back would lose or mix them. Transforms only read the model and never wait.
  private readonly gate = new CallGate('BetaNMF: a fit, partialFit or save of this model is still running; ' +
    'await it (or abort it through its signal) first');
  /** W snapshots that running transforms read; a replaced one is freed after the last. */
  private readonly holds = new ReadHolds();
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

  /**
   * scikit-learn's reconstruction_err_: √(2·D), D the (weighted) divergence of the data term alone
   * — `cost` less the penalties (the Frobenius norm of X − H·Wᵀ at β = 2). `cost` stays the
   * objective the fit minimises, penalties included.
   */
  get reconstructionError(): number | undefined {
    const c = this.cost;
    if (c === undefined) return undefined;
    const o = this.options;
    const penalty = (o.alphaW > 0 || o.alphaH > 0) && this.W && this.H ? penaltyOf(this.W, this.H, o) : 0;
    return Math.sqrt(2 * Math.max(c - penalty, 0));
  }

  /** F, the number of features (columns of X, rows of W) the model was fitted on. */
  get nFeaturesIn(): number | undefined {
    return this.W?.rows;
  }

  /** Fits W and H to X (N×F) off the event loop; resolves to the model (W, H and cost then present). */
  async fit(X: Matrix, options: RunOptions = {}): Promise<this & Fitted> {
    const run = resolveRunOptions(options, this.runDefaults);
    return this.gate.runAsync(() => runAsync(this.fitSteps(X, run, true), run.signal, 'BetaNMF.fit')) as Promise<this & Fitted>;
  }

  /** fit, blocking the thread until done. */
  fitSync(X: Matrix, options: RunOptions = {}): this & Fitted {
    const run = resolveRunOptions(options, this.runDefaults);
    return this.gate.runSync(() => runSync(this.fitSteps(X, run, false), run.signal, 'BetaNMF.fit')) as this & Fitted;
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
  // Any number of transforms may run at once, also while a fit or partialFit runs: each uses the
  // W the model had when it was called (a fit replaces W whole when it ends, never in place).
  async transform(X: Matrix, options: TransformOptions = {}): Promise<Matrix> {
    const run = resolveRunOptions(options, this.runDefaults);
    return this.holds.during(this.transformW(), (W) => runAsync(this.transformSteps(W, X, options.H, run, true), run.signal, 'BetaNMF.transform'));
  }

  transformSync(X: Matrix, options: TransformOptions = {}): Matrix {
    const run = resolveRunOptions(options, this.runDefaults);
    return this.holds.duringSync(this.transformW(), (W) => runSync(this.transformSteps(W, X, options.H, run, false), run.signal, 'BetaNMF.transform'));
  }

  /**
   * Learns from one more chunk of rows: fits the chunk's activations with W fixed, then runs
   * one epoch of the solver over the chunk (W updated as the solver does). H becomes the chunk's.
   */
  async partialFit(X: Matrix, options: RunOptions = {}): Promise<this> {
    const run = resolveRunOptions(options, this.runDefaults);
    return this.gate.runAsync(() => runAsync(this.partialFitSteps(X, run, true), run.signal, 'BetaNMF.partialFit'));
  }

  partialFitSync(X: Matrix, options: RunOptions = {}): this {
    const run = resolveRunOptions(options, this.runDefaults);
    return this.gate.runSync(() => runSync(this.partialFitSteps(X, run, false), run.signal, 'BetaNMF.partialFit'));
  }

  /**
   * Frees the model's factors and solver state now (device memory on CUDA, instead of when the
   * collector gets to them). The options and history stay; fitting again works.
   * `using model = new BetaNMF(…)` calls it at the end of the scope. Refused (an Error) while a
   * fit, partialFit or save of the model runs: abort it and await it first. Transforms running
   * meanwhile finish with the W they started with (freed after the last one).
   */
  dispose(): void {
    this.gate.runSync(() => {
      for (const m of [this.W, this.H, this.gradPos, this.gradNeg, this.sag?.step]) if (m) this.holds.release(m);
      this.W = this.H = this.gradPos = this.gradNeg = this.sag = undefined;
    });
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * A JSON-safe snapshot: options, seed, history and the factors (base64 of their little-endian
   * bytes). Refused (an Error) while a fit, partialFit or save runs: its factors are
   * the fit's until it ends.
   */
  toJSON(): SavedModel {
    return this.gate.runSync(() => this.snapshot());
  }

  private snapshot(): SavedModel {
    const { seed: _seed, ...options } = this.options;
    return { format: 'betanmf-model', version: 2, options, seed: this.seed, nIter: this.nIter, history: this.history.map((h) => ({ ...h })),
      W: this.W ? encodeMatrix(this.W) : null, H: this.H ? encodeMatrix(this.H) : null };
  }

  /** A model from toJSON() output (or its JSON text); reads version 1 (factors as number arrays) too. */
  static fromJSON(json: SavedModel | string): BetaNMF {
    const o = checkSavedModel('json', typeof json === 'string' ? JSON.parse(json) : json);
    return BetaNMF.restore(o, decodeMatrix('json.W', o.W), decodeMatrix('json.H', o.H));
  }

  /** Writes the model as a folder: model.json, W.npy and H.npy (numpy reads them), all at once. */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    // Refused while a call runs; holds the gate while it writes, so no fit changes the factors meanwhile.
    await this.gate.runAsync(() => saveModel(path, this.snapshot(), this.W, this.H, options));
  }

  /** A model from a folder written by save(). */
  static async load(path: string): Promise<BetaNMF> {
    const { json, W, H } = await loadModel(path);
    return BetaNMF.restore(json, W, H);
  }

  private static restore(o: SavedModel, W: Matrix | undefined, H: Matrix | undefined): BetaNMF {
    const model = new BetaNMF(savedOptions(o, W, H));
    model.W = W;
    model.H = H;
    model.nIter = o.nIter;
    model.history = o.history.map((h) => ({ ...h }));
    return model;
  }

  // ---- the calls, as generators of native steps --------------------------------------------

  private *fitSteps(X: Matrix, run: RunOptions, async: boolean): Steps<this> {
    const o = this.options;
    const device = resolveDevice(o.device);
    const update = { H: !o.fixed.includes('H'), W: !o.fixed.includes('W') };
    const cached = device !== 'cpu' && o.cacheRows > 0 && o.cacheRows < X.rows;
    const data = yield* prepareFit(o, { X, weights: run.weights, device, rows: cached ? 'host' : 'all', solver: o.solver, update, async });
    const { fit } = data;
    const [N, F, K] = [data.X.rows, data.X.cols, o.nComponents];
    const nndsvdImpossible = o.init.startsWith('nndsvd') && K > Math.min(N, F); // a RangeError below, not a warning
    if (!nndsvdImpossible) for (const w of shapeWarnings(o, N, F)) this.warn(`BetaNMF: ${w}`);
    // With cacheRows, X and H stay on the host; the native fit owns W and the gradient state.
    let host: HostRows | undefined;
    let started = false;
    try {
      this.rng = new Random(this.seed);
      const start = yield* startingFactors(o, this.initial, this.rng, data, fit.dtype, this.warn);
      fit.write('W', start.W);
      if (data.host) host = { ...data.host, H: start.H };
      else fit.write('H', start.H);
      started = true;
      this.history = [];
      this.nIter = 0;
      const stop = yield* fitEpochs({ fit, host, options: o, rng: this.rng, update, async, history: this.history, onEpoch: run.onEpoch,
        epochDone: (epoch) => void (this.nIter = epoch) });
      this.stopReason = stop;
      this.lastCost = this.history[this.history.length - 1].cost;
    } catch (err) {
      if (err instanceof AbortError) this.stopReason = 'aborted';
      throw err;
    } finally {
      // The factors as they are now (consistent after every slice, so also after an abort or
      // a divergence, which has restored the epoch's start), then the native memory goes.
      try {
        if (started) {
          this.replaceState(fit.read('W'), host ? host.H : fit.read('H'), fit.read('gradPos'), fit.read('gradNeg'));
          // After an abort or an error the cost of the factors kept is evaluated too.
          if (this.stopReason === 'aborted' || this.lastCost === undefined) this.lastCost = this.syncCost(fit, host);
        }
      } finally {
        data.dispose();
      }
    }
    return this;
  }

  /** W0: the model's W when the transform was called (held by `holds` until it ends). */
  private *transformSteps(W0: Matrix, X: Matrix, Hstart: Matrix | undefined, run: RunOptions, async: boolean): Steps<Matrix> {
    const o = this.options;
    checkMatrix('X', X);
    if (X.cols !== W0.rows) throw rangeError('X', `${W0.rows} columns (F, the rows of W)`, `${X.rows}×${X.cols}`);
    const device = W0 === this.initial.W ? resolveDevice(o.device) : W0.device;
    const data = yield* prepareFit(o, { X, weights: run.weights, device, rows: 'all', solver: transformSolver(o.solver), update: { W: false, H: true },
      dtype: W0.dtype, K: W0.cols, async });
    const { fit } = data;
    const [N, K] = [data.X.rows, W0.cols];
    try {
      fit.write('W', W0);
      fit.write('H', transformStart(Hstart, N, K, fit.dtype, data.mean));
      yield* transformEpochs(fit, o, this.rng, run.onEpoch, async);
      return fit.read('H');
    } finally {
      data.dispose();
    }
  }

  private *partialFitSteps(X: Matrix, run: RunOptions, async: boolean): Steps<this> {
    const o = this.options;
    if (o.solver === 'hals') throw rangeError('solver', "a MU solver for partialFit ('hals' is full batch: use fit)", "'hals'");
    checkMatrix('X', X);
    if (this.W && this.W.rows !== X.cols) throw rangeError('X', `${this.W.rows} columns (F, as in earlier chunks)`, `${X.rows}×${X.cols}`);
    const device = this.W?.device ?? resolveDevice(o.device);
    const data = yield* prepareFit(o, { X, weights: run.weights, device, rows: 'all', solver: o.solver, update: { W: !o.fixed.includes('W'), H: true },
      dtype: this.W?.dtype, async, partialData: true });
    const { fit } = data;
    const [N, F, K] = [data.X.rows, data.X.cols, o.nComponents];
    const targets = averagesTargets(o);
    try {
      // The first chunk's starting W stays local: until the chunk completes, transforms see no W.
      let W = this.W;
      if (!W) {
        const start = initialFactor('W', givenFactor(o, this.initial, 'W'), F, K, fit.dtype, factorUse(o, 'W', this.warn));
        if (!start.given) yield* initialSteps(o, this.rng, data, start.m, undefined);
        if (!start.given) placeFixedComponents(start.m, this.initial.W, o.fixedComponents, this.warn);
        W = start.m;
        this.history = [];
        this.nIter = 0;
        this.partialSeconds = 0;
        this.gradPos = this.gradNeg = undefined;
        this.sag?.step.dispose();
        this.sag = undefined;
      }
      fit.write('W', W);
      if (this.gradPos && this.gradNeg && this.gradPos.rows === F && this.gradPos.device === device) {
        fit.write('gradPos', this.gradPos);
        fit.write('gradNeg', this.gradNeg);
        if (this.sag && targets) {
          fit.write('sagStep', this.sag.step);
          fit.native.sagGain(this.sag.gain);
        }
      }
      const H = new Matrix(allocate(fit.dtype, N * K), N, K);
      yield* randomSteps(H.data, data.mean, K, this.rng);
      fit.write('H', H);
      const t0 = performance.now();
      const hOnly = epochPlan(o, this.rng, 'mu_batch', N, F, { H: true, W: false }, false);
      for (let it = 0; it < PARTIAL_FIT_H_ITERATIONS; it++) yield* epochSteps(fit, hOnly, async);
      yield* epochSteps(fit, epochPlan(o, this.rng, o.solver, N, F, { H: !o.fixed.includes('H'), W: !o.fixed.includes('W') }, true), async);
      this.partialSeconds += (performance.now() - t0) / 1000;
      this.nIter += 1;
      const cost = (yield fit.cost()) as number;
      this.history.push({ epoch: this.nIter, cost, seconds: this.partialSeconds });
      this.replaceState(fit.read('W'), fit.read('H'), fit.read('gradPos'), fit.read('gradNeg'));
      if (targets) {
        this.sag?.step.dispose();
        this.sag = { step: fit.read('sagStep'), gain: fit.native.sagGain() };
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
    for (const m of old) if (m && m.device !== 'cpu' && ![W, H, gradPos, gradNeg].includes(m)) this.holds.release(m);
  }

  /** The W a transform uses: the model's, else the given one. */
  private transformW(): Matrix {
    const W = this.W ?? this.initial.W;
    if (!W) throw new Error('BetaNMF.transform: the model has no W yet: fit it first, or give W');
    return W;
  }

  /** The cost of the fit's factors now, computed on this thread (after an abort or an error). */
  private syncCost(fit: NativeFitHandle, host: HostRows | undefined): number | undefined {
    try {
      return (host ? hostCost(fit, host, this.options).run(false) : fit.native.cost(false)) as number;
    } catch {
      return undefined; // the fit's memory is unusable (X detached): no cost, the error says why
    }
  }
}
