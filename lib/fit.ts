// The driver of a native fit: one `addon.Fit` per fit, transform or partialFit owns every
// buffer the solver touches (X's working copy, W, H, gradient state, the guard's snapshot,
// scratch); this file schedules its epochs in slices (sync, or async in slices short enough
// for an abort to be seen within tens of milliseconds) and frees it when the call ends.
import { allocate, copyAs, hostAs, Matrix, zeros, type DType } from './matrix';
import { addon, type FitSpec, type FitMatrixName, type NativeFit, type RunSpec } from './native';
import { V_FLOOR, type EpochInfo, type HistoryEntry, type ResolvedOptions, type Solver, type StopReason } from './options';
import type { Random } from './random';
import { SETUP_CHUNK, turn, type Step, type Steps } from './steps';
import { fitConvergence, transformConverged } from './stopping';

// Where the fit-object tests (and older imports) look for it; it lives with the step driver.
export { SETUP_CHUNK } from './steps';

/** MM exponent γ(β) (Févotte & Idier 2011): 1/(2−β) below 1, 1 on [1, 2], 1/(β−1) above 2. */
export function mmExponent(beta: number): number {
  if (beta < 1) return 1 / (2 - beta);
  if (beta > 2) return 1 / (beta - 1);
  return 1;
}

/** Work per native call of an async fit (flops), so an abort is seen within some tens of ms. */
export const FLOPS_PER_CALL = 5e8;
/** Batches per native call of a sync mini-batch fit, so scale drift is caught between calls. */
const MAX_BATCHES_PER_CALL = 32;

/**
 * Rows per batch for full-batch MU (mu_batch, transform, partialFit's H iterations): its result
 * does not depend on the batch size, so it runs in blocks of whole 512-row multiples sized to
 * ~FLOPS_PER_CALL — the same blocks sync and async, so both give the same bits.
 */
export function fullBatchRows(F: number, K: number): number {
  const rows = Math.ceil(FLOPS_PER_CALL / (12 * Math.max(F, 1) * Math.max(K, 1)) / 512) * 512;
  return Math.max(512, rows);
}

/** What the divergence message may suggest: only settings that differ from those in use. */
export type DivergenceContext = Pick<ResolvedOptions, 'update' | 'sagMemory' | 'eps' | 'solver' | 'alphaW' | 'alphaH'>;

export function divergedError(solver: Solver, restored: boolean, epoch: number | undefined, o: DivergenceContext): Error {
  const tries: string[] = [];
  if (o.update === 'heuristic') tries.push("update 'mm' (the default)");
  if (o.sagMemory > 0 && (solver === 'asag_mu' || solver === 'gsag_mu')) tries.push('a smaller sagMemory');
  if (solver !== 'mu_batch') tries.push('a larger batchSize', "solver 'mu_batch'");
  if (o.eps === 0) tries.push('eps > 0 (the default 1e-10: a step of x/0)');
  // A penalty on one factor shrinks it while the other grows to keep H·Wᵀ near X.
  if (o.alphaW > 0 || o.alphaH > 0) tries.push('smaller alphaW / alphaH (a penalty on one factor makes the other grow to compensate)');
  const advice = tries.length > 0 ? ` Try ${tries.join(', ')}.` : ' Check the scale of X and of the penalties (an entry of W or H left the floating-point range).';
  return new Error(`BetaNMF: the ${solver} solver diverged${epoch ? ` in epoch ${epoch}` : ''} (W or H is no longer finite)` +
    (restored ? '; W and H are as before this epoch' : '') + `.${advice}`);
}

/** Whether a solver is full batch: blocks of fullBatchRows, never shuffled, monotone (no snapshot). */
export function isFullBatch(solver: Solver): boolean {
  return solver === 'mu_batch' || solver === 'hals';
}

/** What a transform (W fixed) runs: HALS for a 'hals' model, else full-batch MU. */
export function transformSolver(solver: Solver): Solver {
  return solver === 'hals' ? 'hals' : 'mu_batch';
}

/** A native fit and the facts the driver needs about it. Dispose it when the call ends. */
export class NativeFitHandle {
  /** The addon's Fit object (as Matrix.native is the addon's view of a matrix). */
  readonly native: NativeFit;
  readonly device: 'cpu' | 'cuda';
  readonly dtype: DType;
  readonly N: number;
  readonly F: number;
  readonly K: number;
  private disposed = false;

  constructor(spec: FitSpec, device: 'cpu' | 'cuda') {
    this.native = new addon.Fit({ ...spec, device });
    this.device = device;
    this.dtype = spec.dtype;
    [this.N, this.F, this.K] = [spec.N, spec.F, spec.K];
  }


  run(spec: RunSpec): Step {
    return { run: (a) => this.native.run(a, spec) };
  }

  cost(): Step {
    return { run: (a) => this.native.cost(a) };
  }

  /**
   * The steps that copy a host X (loadX) into the fit in chunks of SETUP_CHUNK entries, the event
   * loop running in between (each chunk checks first that X's memory is still there).
   */
  *load(): Steps<void> {
    const total = this.N * this.F;
    for (let i = 0; i < total; i += SETUP_CHUNK) {
      this.native.load(Math.min(total, i + SETUP_CHUNK));
      yield turn;
    }
  }

  /** A new Matrix (where the fit lives) holding a copy of W, H or a gradient part. */
  read(name: FitMatrixName): Matrix {
    const rows = name === 'H' ? this.N : this.F;
    const m = this.device === 'cpu' ? new Matrix(allocate(this.dtype, rows * this.K), rows, this.K) : zeros(rows, this.K, this.dtype, 'cuda');
    this.native.read(name, m.native);
    return m;
  }

  /** Copies m (any device or dtype) into the fit; temporaries made on the way are freed now. */
  write(name: FitMatrixName, m: Matrix): void {
    if (m.device === this.device && m.dtype === this.dtype) return this.native.write(name, m.native);
    const there = (m.dtype === this.dtype ? m : copyAs(m, this.dtype)).to(this.device);
    try {
      this.native.write(name, there.native);
    } finally {
      if (there !== m) there.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.native.dispose();
  }
}

/** What epochPlan needs from the options. */
type PlanOptions = Pick<ResolvedOptions, 'batchSize' | 'shuffle' | 'sagMemory' | 'nComponents' | 'update' | 'eps' | 'solver' | 'alphaW' | 'alphaH'>;

/**
 * How one epoch of `solver` over N rows of F features runs: batches, their order this epoch
 * (drawn from rng), the SAG weight, the guard.
 */
export function epochPlan(o: PlanOptions, rng: Random, solver: Solver, N: number, F: number, update: { H: boolean; W: boolean },
  guard: boolean): EpochPlan {
  const fullBatch = isFullBatch(solver);
  const batchSize = fullBatch ? fullBatchRows(F, o.nComponents) : o.batchSize;
  const sag = solver === 'asag_mu' || solver === 'gsag_mu';
  // Full-batch MU does not depend on the order of its batches: it is never shuffled.
  let order: Uint32Array | null = null;
  if (!fullBatch && o.shuffle === 'batches') order = rng.permutation(Math.ceil(N / batchSize));
  else if (!fullBatch && o.shuffle === 'rows') order = rng.permutation(N);
  return { solver, batchSize, order, updateH: update.H, updateW: update.W, forget: sag ? 1 / (o.sagMemory + 1) : 1, guard: guard && update.H && update.W,
    context: { update: o.update, sagMemory: o.sagMemory, eps: o.eps, solver, alphaW: o.alphaW, alphaH: o.alphaH } };
}

export interface EpochPlan {
  solver: Solver;
  batchSize: number;
  order: Uint32Array | null;
  updateH: boolean;
  updateW: boolean;
  forget: number;
  /**
   * Run the scale guard after every slice, and (stochastic solvers) keep the epoch's start to
   * restore if it diverges. Full-batch MU under 'mm' only ever decreases the cost, so it skips
   * the snapshot (a copy of H per epoch: 10–20% of an epoch at β = 2).
   */
  guard: boolean;
  /** A cache of rows standing in for X and H, and whether it opens / closes the epoch. */
  cache?: { X: Matrix; H: Matrix; weights?: Matrix; starts: boolean; ends: boolean };
  /** The epoch this is, and the options in force (for the divergence message). */
  epoch?: number;
  context: DivergenceContext;
}

/**
 * The native calls of one epoch: slices of batches (all of a full-batch epoch at once when
 * sync). Returns normally, or throws the divergence Error after restoring the epoch's start.
 */
export function* epochSteps(fit: NativeFitHandle, plan: EpochPlan, async: boolean): Steps<void> {
  const rows = plan.cache ? plan.cache.X.rows : fit.N;
  const nBatches = Math.ceil(rows / plan.batchSize);
  const fullBatch = isFullBatch(plan.solver);
  const perBatch = 12 * plan.batchSize * fit.F * fit.K + 1;
  const slice = async ? Math.max(1, Math.floor(FLOPS_PER_CALL / perBatch)) : fullBatch ? nBatches : MAX_BATCHES_PER_CALL;
  for (let b0 = 0; b0 < nBatches; b0 += slice) {
    const b1 = Math.min(nBatches, b0 + slice);
    const spec: RunSpec = {
      first: b0, end: b1, order: plan.order, solver: plan.solver, batchSize: plan.batchSize, updateH: plan.updateH,
      updateW: plan.updateW, forget: plan.forget, snapshot: plan.guard && b0 === 0 && !fullBatch,
      // The guard (a pass over all of H) after every MAX_BATCHES_PER_CALL batches and at the end of
      // the epoch, however the epoch is sliced: where a sync fit's calls end, so both rebalance alike.
      guard: plan.guard && (b1 === nBatches || Math.floor(b1 / MAX_BATCHES_PER_CALL) > Math.floor(b0 / MAX_BATCHES_PER_CALL)),
    };
    if (plan.cache) {
      Object.assign(spec, { X: plan.cache.X.native, H: plan.cache.H.native, starts: plan.cache.starts, ends: plan.cache.ends });
      if (plan.cache.weights) spec.weights = plan.cache.weights.native;
    }
    const finite = (yield fit.run(spec)) as boolean;
    if (!finite) {
      const restored = plan.guard && !fullBatch && fit.native.restore();
      throw divergedError(plan.solver, restored, plan.epoch, plan.context);
    }
  }
}

/**
 * One full MU iteration (H, then W, as mu_batch runs it) on a native fit over copies of X, W
 * and H: what `betanmf bench`, the GPU self-test and the memcheck workload time and exercise.
 */
export function openIteration(X: Matrix, W: Matrix, H: Matrix, beta: number): { iteration(): void; dispose(): void } {
  const [N, F, K] = [X.rows, X.cols, W.cols];
  const fit = new NativeFitHandle({
    X: X.native, W: W.native, H: H.native, N, F, K, dtype: X.dtype, beta, solver: 'mu_batch', batchSize: fullBatchRows(F, K),
    eps: 1e-10, gamma: mmExponent(beta), forget: 1, vFloor: beta < 2 ? V_FLOOR : 0, updateH: true, updateW: true,
    shuffle: 'none', positive: false,
  }, X.device);
  return { iteration: () => void fit.native.run(false, {}), dispose: () => fit.dispose() };
}

/** A fit whose X and H stay on the host (cacheRows): the rows and where they go. */
export interface HostRows {
  X: Matrix;
  H: Matrix;
  weights?: Matrix;
}

/**
 * One epoch with at most cacheRows rows of X (and H) resident on the device: the rows, in
 * this epoch's order, are cut into caches of whole batches; each cache's X and H rows travel
 * there, its batches run, and its H rows travel back. W and the gradient state stay put.
 */
export function* cachedEpochSteps(fit: NativeFitHandle, rows: HostRows, o: PlanOptions & Pick<ResolvedOptions, 'cacheRows'>,
  rng: Random, update: { H: boolean; W: boolean }, async: boolean, epoch: number): Steps<void> {
  const { X, H, weights } = rows;
  const [N, F, K] = [X.rows, X.cols, H.cols];
  const order = o.shuffle === 'none' ? null : rng.permutation(N);
  const perCache = Math.max(o.batchSize, Math.floor(o.cacheRows / o.batchSize) * o.batchSize);
  for (let c0 = 0; c0 < N; c0 += perCache) {
    const c1 = Math.min(N, c0 + perCache), n = c1 - c0;
    const Xc = new Matrix(allocate(X.dtype, n * F), n, F), Hc = new Matrix(allocate(H.dtype, n * K), n, K);
    const weightsC = weights ? new Matrix(allocate(weights.dtype, n * F), n, F) : undefined; // the weights travel with X's rows
    for (let i = 0; i < n; i++) {
      const r = order ? order[c0 + i] : c0 + i;
      Xc.data.set(X.data.subarray(r * F, (r + 1) * F), i * F);
      Hc.data.set(H.data.subarray(r * K, (r + 1) * K), i * K);
      weightsC?.data.set(weights!.data.subarray(r * F, (r + 1) * F), i * F);
    }
    const Xg = Xc.to(fit.device), Hg = Hc.to(fit.device), weightsG = weightsC?.to(fit.device);
    try {
      const plan = { ...epochPlan(o, rng, o.solver, n, F, update, false), order: null, epoch,
        cache: { X: Xg, H: Hg, weights: weightsG, starts: c0 === 0, ends: c1 === N } };
      yield* epochSteps(fit, plan, async);
      const back = Hg.toTypedArray();
      for (let i = 0; i < n; i++) {
        const r = order ? order[c0 + i] : c0 + i;
        H.data.set(back.subarray(i * K, (i + 1) * K), r * K);
      }
    } finally {
      if (Xg !== Xc) [Xg, Hg].forEach((m) => m.dispose());
      if (weightsG !== weightsC) weightsG?.dispose();
    }
  }
}

/** The objective (weighted D(X | H·Wᵀ) plus penalties) on the host, for a fit whose X and H stay there (cacheRows). */
export function hostCost(fit: NativeFitHandle, rows: HostRows, o: Pick<ResolvedOptions, 'beta' | 'alphaW' | 'alphaH' | 'l1Ratio'>): Step {
  const { X, H, weights } = rows;
  return {
    run: (a: boolean) => {
      const W = fit.read('W');
      const Wh = hostAs(W, W.dtype);
      if (W !== Wh) W.dispose();
      return addon.betaDivergence(a, X.native, Wh.native, H.native, X.rows, X.cols, Wh.cols, o.beta, o.beta < 2 ? V_FLOOR : 0,
        weights?.native ?? null, o.alphaW, o.alphaH, o.l1Ratio);
    },
  };
}

/** A fit's epochs: the native fit (its factors in place), the options and what to report to. */
export interface FitEpochs {
  fit: NativeFitHandle;
  /** Set for a fit whose X and H stay on the host (cacheRows). */
  host?: HostRows;
  options: ResolvedOptions;
  rng: Random;
  update: { H: boolean; W: boolean };
  async: boolean;
  /** Receives the initial cost (epoch 0), then one entry per epoch; the last one has a cost. */
  history: HistoryEntry[];
  onEpoch?: (info: EpochInfo) => boolean | void;
  /** Called as each epoch's updates are done (before its cost is evaluated). */
  epochDone(epoch: number): void;
}

/**
 * Runs epochs until the stopping rule (stopping.ts), maxIter or onEpoch ends the fit, evaluating
 * the cost every costEvery epochs and at the end. With maxNoImprovement (factors resident) the
 * lowest cost's factors are kept aside natively and restored when it stops for that reason.
 */
export function* fitEpochs(e: FitEpochs): Steps<StopReason> {
  const { fit, host, options: o, history } = e;
  const [N, F] = [fit.N, fit.F];
  const costOf = () => (host ? hostCost(fit, host, o) : fit.cost());
  let seconds = 0, epochs = 0;
  const first = (yield costOf()) as number;
  history.push({ epoch: 0, cost: first, seconds: 0 });
  const convergence = { previous: first, best: first, sinceBest: 0 };
  const keepBest = o.maxNoImprovement !== undefined && !host;
  if (keepBest) fit.native.saveBest();
  let stop: StopReason = 'maxIter';
  for (let epoch = 1; epoch <= o.maxIter; epoch++) {
    const t0 = performance.now();
    if (host) yield* cachedEpochSteps(fit, host, o, e.rng, e.update, e.async, epoch);
    else yield* epochSteps(fit, { ...epochPlan(o, e.rng, o.solver, N, F, e.update, true), epoch }, e.async);
    seconds += (performance.now() - t0) / 1000;
    e.epochDone((epochs = epoch));
    const cost = epoch % o.costEvery === 0 || epoch === o.maxIter ? ((yield costOf()) as number) : undefined;
    history.push(cost === undefined ? { epoch, seconds } : { epoch, cost, seconds });
    if (e.onEpoch?.({ epoch, cost, seconds }) === false) {
      stop = 'callback';
      break;
    }
    if (cost === undefined) continue;
    const verdict = fitConvergence(convergence, cost, o);
    if (verdict.improved && keepBest) fit.native.saveBest();
    if (verdict.stop) {
      stop = verdict.stop;
      break;
    }
  }
  if (stop === 'noImprovement' && keepBest && fit.native.restoreBest()) history.push({ epoch: epochs, cost: convergence.best, seconds });
  const last = history[history.length - 1];
  if (last.cost === undefined) last.cost = (yield costOf()) as number;
  return stop;
}

/**
 * A transform's iterations: full-batch MU (or HALS for a 'hals' model) on H with W fixed, until maxIter, onEpoch returning
 * false, or (every costEvery, with tol > 0) the cost no longer decreasing by more than tol.
 */
export function* transformEpochs(fit: NativeFitHandle, o: ResolvedOptions, rng: Random, onEpoch: ((info: EpochInfo) => boolean | void) | undefined,
  async: boolean): Steps<void> {
  const plan = epochPlan(o, rng, transformSolver(o.solver), fit.N, fit.F, { H: true, W: false }, false);
  let previous = (yield fit.cost()) as number;
  for (let it = 1; it <= o.maxIter; it++) {
    yield* epochSteps(fit, plan, async);
    if (onEpoch?.({ epoch: it, seconds: 0 }) === false) break;
    if (o.tol > 0 && it % o.costEvery === 0) {
      const cost = (yield fit.cost()) as number;
      if (transformConverged(previous, cost, o.tol)) break;
      previous = cost;
    }
  }
}
