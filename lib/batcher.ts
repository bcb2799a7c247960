// Request micro-batching for a fitted model: concurrent transform requests (any row counts) are
// coalesced into one native transform per batch, because a service answering one-row requests
// is limited by the per-call overhead, not by the arithmetic (dynamic batching as in Triton's
// dynamic batcher or TF-Serving: a largest batch, a longest wait, a bounded queue).
//
// A request's H must not depend on its batch-mates. BetaNMF.transform's defaults break that in
// two places, so a batch is not simply model.transform(rows of everyone):
// - the default start is the constant √(mean(X)/K) of the whole call: each request here starts
//   from the constant of its own rows (what model.transform of those rows alone would use);
// - the stop rule (tol) compares the whole call's cost: a batch here runs a fixed number of
//   iterations (maxIter, default the model's maxIter), so with a model fitted with tol 0 a
//   request gets exactly model.transform's iterations.
// What remains is the BLAS: OpenBLAS computes a row with a different micro-kernel depending on
// where it falls in the GEMM's tiles (groups of 12, 8, 4 and the last 1–3 rows), which changes
// the rounding of its sums, not the arithmetic. A request's H is the same bit for bit in every
// batch where its rows fall in the same tiles (a batch of ≤ 3 rows, e.g. a one-row request
// alone, is model.transform of those rows bit for bit), and otherwise within a few float32
// ulps per iteration: measured ≤ 1.2e-5 relative after 50 iterations (docs/serving.md, and
// test/batcher.test.ts checks 1e-4 relative for float32 and 1e-12 for float64).
import { BetaNMF, AbortError } from './betanmf';
import { describe, rangeError, typeError } from './errors';
import { allocate, hostAs, Matrix, type DType } from './matrix';
import { checkMatrix } from './validate';

export interface BatcherOptions {
  /** Most rows in one native call (a larger request runs alone). Default 64. */
  maxBatch?: number;
  /** Longest an idle batcher waits for batch-mates after a request arrives, in ms. Default 1. */
  maxDelayMs?: number;
  /** Most requests waiting (not counting the batch running); more are refused. Default 1024. */
  maxQueue?: number;
  /** MU iterations per request (fixed, see above). Default: the model's maxIter. */
  maxIter?: number;
  /** Called after each batch (metrics): its rows, requests and seconds in the native call. */
  onBatch?: (info: { rows: number; requests: number; seconds: number }) => void;
}

export interface BatcherStats {
  /** Requests accepted (validated and queued) since creation. */
  accepted: number;
  /** Requests answered with their H. */
  completed: number;
  /** Requests refused before queueing: invalid input, a full queue, a closed batcher. */
  refused: number;
  /** Requests refused because the queue was full (also counted in refused). */
  queueFull: number;
  /** Requests aborted by their signal (while queued, or while their batch ran). */
  aborted: number;
  /** Queued requests rejected by close({ cancel: true }). */
  cancelled: number;
  /** Requests whose batch failed in the native call. */
  failed: number;
  /** Native calls made, and the rows they carried. */
  batches: number;
  rows: number;
  /** Requests and rows waiting now, and requests in the batch running now. */
  queued: number;
  queuedRows: number;
  running: number;
}

export interface Batcher {
  /** Activations H (rows×K) of X (rows×F) with the model's W, batched with concurrent requests. */
  transform(X: Matrix, options?: { signal?: AbortSignal }): Promise<Matrix>;
  /**
   * Refuses new requests, then finishes what is queued (default) or, with { cancel: true },
   * rejects the queued requests; resolves when no batch runs any more.
   */
  close(options?: { cancel?: boolean }): Promise<void>;
  stats(): BatcherStats;
}

/** The error of a request refused because maxQueue requests already wait: retry later. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  readonly code = 'BETANMF_QUEUE_FULL';
}

/** The error of a request made after close(), or queued when close({ cancel: true }) ran. */
export class BatcherClosedError extends Error {
  override name = 'BatcherClosedError';
  readonly code = 'BETANMF_BATCHER_CLOSED';
}

interface Request {
  X: Matrix; // host, validated
  mean: number; // of its own rows: its constant start is √(mean/K)
  resolve(H: Matrix): void;
  reject(err: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
}

function positiveInteger(name: string, v: unknown, def: number, min = 1): number {
  if (v === undefined) return def;
  if (typeof v !== 'number') throw typeError(name, `an integer ≥ ${min}`, v);
  if (!Number.isInteger(v) || v < min || v > 2 ** 31 - 1) throw rangeError(name, `an integer ≥ ${min}`, describe(v));
  return v;
}

/**
 * Checks one request as model.transform checks X, with the same messages, so that a bad request
 * is refused alone before it is queued: width F, finite nonnegative entries (positive for β ≤ 0),
 * not all zeros. Returns its host copy's mean (NaN entries are missing with missing: 'nan').
 */
function checkRequest(X: Matrix, F: number, beta: number, missingNaN: boolean): number {
  if (X.cols !== F) throw rangeError('X', `${F} columns (F, the rows of W)`, `${X.rows}×${X.cols}`);
  if (X.rows < 1) throw rangeError('X', 'at least 1 row and 1 column', `${X.rows}×${X.cols}`);
  const d = X.data;
  let sum = 0, counted = 0, bad = -1, allZero = true;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v > 0 && v !== Infinity) {
      sum += v;
      counted++;
      allZero = false;
      continue;
    }
    if (v === 0) {
      counted++;
      if (beta <= 0 && bad < 0) bad = i;
      continue;
    }
    allZero = false;
    if (Number.isNaN(v) && missingNaN) continue;
    if (bad < 0) bad = i;
  }
  if (allZero) throw rangeError('X', 'some positive entries', 'all zeros');
  if (bad >= 0) {
    const v = d[bad], where = `at row ${Math.floor(bad / F)}, column ${bad % F}`;
    if (v !== 0) throw rangeError('X', 'finite nonnegative entries', `${describe(v)} ${where}`);
    throw rangeError('X', `positive entries for beta = ${beta} (with β ≤ 0 the divergence is infinite where ` +
      'x = 0: add a small constant to X, give such entries weight 0, or use β > 0)', `0 ${where}`);
  }
  if (!(sum > 0)) throw rangeError('X', 'some positive entries where the weights are positive', 'none');
  return sum / counted;
}

/**
 * A batcher for `model` (fitted: it has W). Each batch uses the model's W at the time the batch
 * starts, so a fit or partialFit of the model meanwhile is seen whole or not at all. The batcher
 * runs one native call at a time on its own transform object, so it never contends with the
 * model's own calls.
 */
export function createBatcher(model: BetaNMF, options: BatcherOptions = {}): Batcher {
  if (!(model instanceof BetaNMF)) throw typeError('model', 'a BetaNMF', model);
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
  if (!model.W) throw new Error('createBatcher: the model has no W yet: fit it first');
  const maxBatch = positiveInteger('maxBatch', options.maxBatch, 64);
  const maxQueue = positiveInteger('maxQueue', options.maxQueue, 1024);
  const maxIter = positiveInteger('maxIter', options.maxIter, model.options.maxIter, 0);
  const maxDelayMs = options.maxDelayMs ?? 1;
  if (typeof maxDelayMs !== 'number') throw typeError('maxDelayMs', 'a number ≥ 0', maxDelayMs);
  if (!(maxDelayMs >= 0 && maxDelayMs <= 60_000)) throw rangeError('maxDelayMs', 'a number in [0, 60000]', describe(maxDelayMs));
  const onBatch = options.onBatch;
  if (onBatch !== undefined && typeof onBatch !== 'function') throw typeError('onBatch', 'a function', onBatch);
  const o = model.options;
  const missingNaN = o.missing === 'nan';

  const queue: Request[] = [];
  let queuedRows = 0, running = 0, closed = false, timer: NodeJS.Timeout | undefined;
  const counts = { accepted: 0, completed: 0, refused: 0, queueFull: 0, aborted: 0, cancelled: 0, failed: 0, batches: 0, rows: 0 };
  let idle: Promise<void> = Promise.resolve(), markIdle = () => {};

  // One transform object per W: tol 0 and a fixed maxIter (see the top of the file).
  let transformer: { W: Matrix; model: BetaNMF } | undefined;
  const transformerFor = (W: Matrix): BetaNMF => {
    if (transformer?.W !== W) {
      const m = new BetaNMF({
        nComponents: W.cols, beta: o.beta, eps: o.eps, update: o.update, alphaH: o.alphaH, l1Ratio: o.l1Ratio, missing: o.missing,
        device: o.device, dtype: o.dtype, tol: 0, maxIter, W, init: 'custom', fixed: ['W'], onWarning: () => {},
      });
      transformer = { W, model: m };
    }
    return transformer.model;
  };

  const settle = (r: Request) => {
    r.settled = true;
    if (r.onAbort) r.signal!.removeEventListener('abort', r.onAbort);
  };

  const schedule = () => {
    if (running > 0 || queue.length === 0) return;
    if (queuedRows >= maxBatch || closed || maxDelayMs === 0) {
      runBatch();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        runBatch();
      }, maxDelayMs);
    }
  };

  const runBatch = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (running > 0 || queue.length === 0) return;
    // Requests in order of arrival while they fit; the first one always (a large one runs alone).
    const batch: Request[] = [];
    let rows = 0;
    while (queue.length > 0 && (batch.length === 0 || rows + queue[0].X.rows <= maxBatch)) {
      const r = queue.shift()!;
      rows += r.X.rows;
      batch.push(r);
    }
    queuedRows -= rows;
    running = batch.length;
    void runNative(batch, rows).finally(() => {
      running = 0;
      // Requests that came while the batch ran have waited already: the next batch starts now.
      if (queue.length > 0) runBatch();
      else markIdle();
    });
  };

  const runNative = async (batch: Request[], rows: number) => {
    const W = model.W;
    const F = batch[0].X.cols;
    try {
      if (!W) throw new Error('BetaNMF.transform: the model has no W yet: fit it first, or give W');
      const K = W.cols, dtype: DType = o.dtype ?? W.dtype;
      const X = new Matrix(allocate(dtype, rows * F), rows, F);
      const H0 = new Matrix(allocate(dtype, rows * K), rows, K);
      let at = 0;
      for (const r of batch) {
        X.data.set(r.X.data, at * F);
        H0.data.fill(Math.sqrt(r.mean / K), at * K, (at + r.X.rows) * K);
        at += r.X.rows;
      }
      const t0 = performance.now();
      const H = await transformerFor(W).transform(X, { H: H0 });
      counts.batches++;
      counts.rows += rows;
      const info = { rows, requests: batch.length, seconds: (performance.now() - t0) / 1000 };
      // A throwing hook is the caller's bug, not the requests' failure: it surfaces as uncaught.
      if (onBatch) {
        try {
          onBatch(info);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
      at = 0;
      for (const r of batch) {
        const n = r.X.rows;
        if (!r.settled) {
          settle(r);
          counts.completed++;
          r.resolve(new Matrix(H.data.slice(at * K, (at + n) * K), n, K));
        }
        at += n;
      }
    } catch (err) {
      for (const r of batch) {
        if (r.settled) continue;
        settle(r);
        counts.failed++;
        r.reject(err);
      }
    }
  };

  /** A request's checks before it is queued; throws what the caller gets. */
  const admit = (Xin: Matrix, opts: { signal?: AbortSignal }) => {
    if (typeof opts !== 'object' || opts === null) throw typeError('options', 'an object', opts);
    const signal = opts.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('signal', 'an AbortSignal', signal);
    if (closed) throw new BatcherClosedError('createBatcher: the batcher is closed');
    checkMatrix('X', Xin);
    const W = model.W;
    if (!W) throw new Error('BetaNMF.transform: the model has no W yet: fit it first, or give W');
    // A host copy in the batch's dtype: the caller may reuse its array as soon as this returns.
    const dtype: DType = o.dtype ?? W.dtype;
    const host = hostAs(Xin, dtype);
    const X = host === Xin ? Xin.clone() : host;
    const mean = checkRequest(X, W.rows, o.beta, missingNaN);
    if (signal?.aborted) throw new AbortError('BetaNMF.transform: aborted');
    if (queue.length >= maxQueue) {
      counts.queueFull++;
      throw new QueueFullError(`createBatcher: the queue is full (maxQueue = ${maxQueue} requests waiting): retry later`);
    }
    return { X, mean, signal };
  };

  return {
    transform(Xin: Matrix, opts: { signal?: AbortSignal } = {}): Promise<Matrix> {
      let X: Matrix, mean: number, signal: AbortSignal | undefined;
      try {
        ({ X, mean, signal } = admit(Xin, opts));
      } catch (err) {
        if (err instanceof AbortError) counts.aborted++;
        else counts.refused++;
        return Promise.reject(err);
      }
      return new Promise<Matrix>((resolve, reject) => {
        const r: Request = { X, mean, resolve, reject, signal, settled: false };
        if (signal) {
          // Queued: it leaves the queue. In a running batch: it is answered now, the batch goes on.
          r.onAbort = () => {
            if (r.settled) return;
            const i = queue.indexOf(r);
            if (i >= 0) {
              queue.splice(i, 1);
              queuedRows -= r.X.rows;
            }
            settle(r);
            counts.aborted++;
            reject(new AbortError('BetaNMF.transform: aborted'));
          };
          signal.addEventListener('abort', r.onAbort, { once: true });
        }
        if (running === 0 && queue.length === 0) idle = new Promise((done) => (markIdle = done));
        queue.push(r);
        queuedRows += X.rows;
        counts.accepted++;
        schedule();
      });
    },

    async close(opts: { cancel?: boolean } = {}): Promise<void> {
      if (typeof opts !== 'object' || opts === null) throw typeError('options', 'an object', opts);
      closed = true;
      if (opts.cancel) {
        for (const r of queue.splice(0)) {
          settle(r);
          counts.cancelled++;
          r.reject(new BatcherClosedError('createBatcher: the batcher was closed before this request ran'));
        }
        queuedRows = 0;
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (running === 0) markIdle();
      }
      schedule();
      if (running > 0 || queue.length > 0) await idle;
    },

    stats(): BatcherStats {
      return { ...counts, queued: queue.length, queuedRows, running };
    },
  };
}
