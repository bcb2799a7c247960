// A data-parallel fit over S contiguous row shards of X (PLANC / MPI-FAUN's 1-D layout, with
// Redis in place of MPI). Three kinds of job, placed by BullMQ as one flow:
//   shard s      reads only its rows of X, owns its rows of H; per epoch it runs the solver's
//                H updates with the published W and sends its W-gradient parts (2·F·K numbers)
//   coordinator  draws the initial factors, sums the parts in shard order, publishes W, keeps
//                the cost history and decides when the fit stops
//   finaliser    (the flow's parent, run once all children completed) writes W.npy, H.npy, history.json
// mu_batch is exactly full-batch MU: W ← W ⊙ (Σ_s neg_s / (Σ_s pos_s + eps))^γ. gsg/gsag: shard 0
// holds the epoch's first batch and supplies its parts (rows are taken in order: no shuffling).
// asg/asag update W after every batch, which cannot be split over shards exactly: each shard
// runs a local asg/asag epoch from the published W over its own rows (its own SAG average),
// and the coordinator averages the shards' W weighted by their rows (local SGD with averaging
// once per epoch). The coordinator's W step is the native solver's (addon.combineShards, over
// core/solver.h): no solver arithmetic here.
//
// Failure: a shard checkpoints its H (and local SAG state) every `checkpointEvery` epochs;
// every W since the oldest checkpoint stays in Redis. A shard job restarted by BullMQ on another
// worker loads its checkpoint and replays the epochs since with the published Ws: each epoch
// is recomputed exactly as the first time (same W, same H, same arithmetic), so the result
// equals the uninterrupted fit. (H-only iterations from the last W would give a different H.)
import * as path from 'node:path';
import { describe, rangeError } from '../errors';
import { mmExponent, NativeFitHandle } from '../fit';
import { randomFactor } from '../init';
import { allocate, Matrix, type DType } from '../matrix';
import { addon, type CombineSpec } from '../native';
import { averagesTargets, resolveOptions, V_FLOOR, type ResolvedOptions } from '../options';
import { historyJson } from '../results';
import { entryError } from '../validate';
import { Random } from '../random';
import type { Exchange } from './exchange';
import { arrayOf, bytesOf } from './exchange';
import type { FitSummary, JobFitOptions, JobProgress } from './jobs';
import type { Storage } from './storage';

/** As BetaNMF: V clipped at the float32 epsilon where β < 2. */

export interface ShardedFitData {
  kind: 'fit-sharded';
  fitId: string;
  input: string;
  out: string;
  options: JobFitOptions & { seed: number };
  shards: number;
  checkpointEvery: number;
}
export interface ShardJobData extends ShardedFitData {
  shard: number;
}

/** Rows [r0, r1) of shard s of S over N rows (contiguous, sizes differing by at most one). */
export function shardRows(s: number, S: number, N: number): [number, number] {
  return [Math.floor((s * N) / S), Math.floor(((s + 1) * N) / S)];
}

/** Checks the options of a sharded fit where it is submitted. */
export function checkShardedOptions(options: JobFitOptions, shards: number): void {
  if (!Number.isInteger(shards) || shards < 1 || shards > 1024) throw rangeError('shards', 'an integer in [1, 1024]', describe(shards));
  const o = resolveOptions(options);
  if (o.init !== 'random') throw rangeError('options.init', "'random' for a sharded fit (NNDSVD needs all of X in one place)", `'${o.init}'`);
  if (o.fixed.length) throw rangeError('options.fixed', 'no fixed factor for a sharded fit', `['${o.fixed.join("', '")}']`);
  if (o.cacheRows) throw rangeError('options.cacheRows', '0 for a sharded fit (each shard holds its rows)', `${o.cacheRows}`);
  if (o.device === 'cuda') throw rangeError('options.device', "'cpu' or 'auto' for a sharded fit (shards run on the CPU)", "'cuda'");
  if (o.solver === 'hals') throw rangeError('options.solver', "a MU solver for a sharded fit (the shards send MU parts, not HALS's XᵀH and HᵀH)", "'hals'");
  // The shards combine unweighted, unpenalised W parts; a penalty or missing entries would need their own terms there.
  for (const k of ['alphaW', 'alphaH'] as const) {
    if (o[k] !== 0) throw rangeError(`options.${k}`, '0 for a sharded fit (penalties are not combined across shards)', `${o[k]}`);
  }
  if (o.missing) throw rangeError('options.missing', "undefined for a sharded fit (missing entries are not combined across shards)", `'${o.missing}'`);
}

function resolved(d: ShardedFitData): ResolvedOptions {
  const o = resolveOptions({ ...d.options, shuffle: false, device: 'cpu', onWarning: () => {} });
  if (o.maxNoImprovement !== undefined) {
    throw rangeError('options.maxNoImprovement', 'undefined for a sharded fit (the shards do not keep the best factors)', `${o.maxNoImprovement}`);
  }
  return o;
}

function costEpoch(e: number, o: ResolvedOptions): boolean {
  return e === 0 || e % o.costEvery === 0 || e === o.maxIter;
}

function checkpointDir(d: ShardedFitData): string {
  return path.join(d.out, `.betanmf-${d.fitId}`);
}
function checkpointRef(d: ShardedFitData, s: number, epoch: number): string {
  return path.join(checkpointDir(d), `H${s}-e${epoch}.npy`);
}
function tmpH(d: ShardedFitData): string {
  return path.join(d.out, `.H.npy.${d.fitId}.tmp`);
}

function asDType(m: Matrix, dtype: DType): Matrix {
  if (m.dtype === dtype) return m;
  const a = allocate(dtype, m.rows * m.cols);
  a.set(m.data);
  return new Matrix(a, m.rows, m.cols);
}

interface Meta {
  N: number;
  F: number;
  K: number;
  dtype: DType;
}

async function readMeta(ex: Exchange, signal?: AbortSignal): Promise<Meta> {
  const text = await ex.waitFor(() => ex.get('meta'), signal);
  return JSON.parse(text) as Meta;
}

// ---- coordinator ---------------------------------------------------------------------------------

/** Streams X once: checks it as BetaNMF does and returns mean(X) summed in the same order. */
async function scanX(d: ShardedFitData, storage: Storage, dtype: DType, beta: number): Promise<number> {
  const l = await storage.layout(d.input);
  const chunk = Math.max(1, Math.floor(2 ** 22 / Math.max(1, l.cols)));
  let sum = 0, positive = false;
  for (let r0 = 0; r0 < l.rows; r0 += chunk) {
    const m = asDType(await storage.readRows(d.input, r0, Math.min(l.rows, r0 + chunk)), dtype);
    const x = m.data;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!(v > 0 && v !== Infinity)) {
        if (v !== 0 || beta <= 0) throw entryError('X', v, r0 + Math.floor(i / l.cols), i % l.cols, beta);
      } else positive = true;
      sum += v;
    }
  }
  if (!positive) throw rangeError('X', 'some positive entries', 'all zeros');
  return sum / (l.rows * l.cols);
}

/**
 * Draws W and H as BetaNMF does for init 'random' (one generator: W's entries, then H's in row
 * order), writing each shard's H rows as its epoch-0 checkpoint; publishes W as epoch 0.
 */
async function initialise(d: ShardedFitData, ex: Exchange, storage: Storage, o: ResolvedOptions): Promise<void> {
  if ((await ex.getBuffer('W:0')) !== null) return; // done before this coordinator was restarted
  const l = await storage.layout(d.input);
  const [N, F, K, S] = [l.rows, l.cols, o.nComponents, d.shards];
  if (S > N) throw rangeError('shards', `at most N = ${N} (the rows of X)`, `${S}`);
  const dtype: DType = o.dtype ?? (l.type === 'f4' ? 'float32' : 'float64');
  const meanX = await scanX(d, storage, dtype, o.beta);
  const rng = new Random(o.seed!);
  const W = allocate(dtype, F * K);
  randomFactor(W, meanX, K, rng);
  for (let s = 0; s < S; s++) {
    const [r0, r1] = shardRows(s, S, N);
    const H = allocate(dtype, (r1 - r0) * K);
    randomFactor(H, meanX, K, rng);
    await storage.write(checkpointRef(d, s, 0), new Matrix(H, r1 - r0, K));
  }
  await storage.create(tmpH(d), N, K, dtype);
  await ex.set('meta', JSON.stringify({ N, F, K, dtype } satisfies Meta));
  await ex.set('W:0', bytesOf(W));
}

export async function runCoordinator(d: ShardedFitData, ex: Exchange, storage: Storage, signal: AbortSignal | undefined,
  progress: (p: JobProgress) => void): Promise<void> {
  const o = resolved(d);
  const S = d.shards;
  await initialise(d, ex, storage, o);
  const meta = await readMeta(ex, signal);
  const f32 = meta.dtype === 'float32';
  const FK = meta.F * meta.K;
  const solver = o.solver;
  const combine: CombineSpec = {
    F: meta.F, K: meta.K, solver, eps: o.eps, gamma: o.update === 'mm' ? mmExponent(o.beta) : 1,
    forget: solver === 'gsag_mu' ? 1 / (o.sagMemory + 1) : 1, averageTargets: averagesTargets(o), update: o.update,
    rows: Array.from({ length: S }, (_, s) => { const [r0, r1] = shardRows(s, S, meta.N); return r1 - r0; }),
  };
  // Resume after the last epoch this fit's coordinator completed (a restarted coordinator job).
  const done = await ex.get('coord');
  let e = done === null ? 0 : Number(done) + 1;
  let W = arrayOf((await ex.getBuffer(`W:${Math.max(0, e - 1)}`))!, f32);
  // gsag's state (combineShards): the averaged parts (2·F·K), the averaged steps (F·K) and the SAG gain.
  const state = e > 1 && solver === 'gsag_mu' ? arrayOf((await ex.getBuffer(`avg:${e - 1}`))!, false) as Float64Array : new Float64Array(3 * FK + 1);
  const hist = await ex.redis.hgetall(ex.key('history'));
  let previous = Object.values(hist).map((h) => JSON.parse(h) as { epoch: number; cost?: number })
    .filter((h) => h.cost !== undefined && h.epoch < e).sort((a, b) => a.epoch - b.epoch).pop()?.cost ?? NaN;
  let t0 = performance.now() - Number((await ex.get('seconds')) ?? 0) * 1000;
  let lastProgress = 0;
  for (; ; e++) {
    if (e > 0) {
      const have = await ex.getBuffer(`W:${e}`);
      if (have) W = arrayOf(have, f32);
      else {
        const parts = await ex.waitFor(() => ex.allFields(`parts:${e}`, S), signal);
        addon.combineShards(combine, W, parts.map((p) => arrayOf(p, f32)), state);
        if (solver === 'gsag_mu') await ex.set(`avg:${e}`, bytesOf(state));
        if (!W.every(Number.isFinite)) throw new Error(`BetaNMF: the ${solver} solver diverged (W or H overflowed). Try a smaller sagMemory, a larger batchSize, or solver 'mu_batch'.`);
        await ex.set(`W:${e}`, bytesOf(W));
      }
    }
    const seconds = e === 0 ? 0 : (performance.now() - t0) / 1000;
    let stop = e >= o.maxIter;
    let cost: number | undefined;
    if (costEpoch(e, o)) {
      const costs = await ex.waitFor(() => ex.allFields(`cost:${e}`, S), signal);
      cost = 0;
      for (const c of costs) cost += Number(c.toString());
      // The single-process rule: converged when the cost decreased, by less than tol (a rise never is).
      const decrease = previous - cost;
      if (e > 0 && o.tol > 0 && decrease >= 0 && decrease <= o.tol * Math.abs(previous)) stop = true;
      previous = cost;
    }
    await ex.hset('history', e, JSON.stringify(cost === undefined ? { epoch: e, seconds } : { epoch: e, cost, seconds }));
    if (costEpoch(e, o)) await ex.set(`decision:${e}`, stop ? 'stop' : 'continue');
    await ex.redis.multi().set(ex.key('coord'), String(e), 'EX', 7 * 86400).set(ex.key('seconds'), String(seconds), 'EX', 7 * 86400).exec();
    if (e > 0 && (cost !== undefined || performance.now() - lastProgress > 100)) {
      lastProgress = performance.now();
      progress({ epoch: e, maxIter: o.maxIter, cost, seconds });
    }
    if (stop) break;
    if (e === 0) t0 = performance.now(); // seconds count the epochs, as BetaNMF's history does
    await prune(ex, S, e);
  }
  await ex.set('final', String(e));
}

/** Drops the Ws no shard can need any more (older than every shard's last checkpoint). */
async function prune(ex: Exchange, S: number, e: number): Promise<void> {
  const ck = await ex.redis.hgetall(ex.key('ckpt'));
  let oldest = e;
  for (let s = 0; s < S; s++) oldest = Math.min(oldest, Number(ck[String(s)] ?? 0));
  const drop: string[] = [];
  for (let k = oldest - 1; k >= 0 && k >= oldest - 64; k--) drop.push(ex.key(`W:${k}`), ex.key(`avg:${k}`), ex.key(`parts:${k}`), ex.key(`cost:${k}`));
  if (drop.length) await ex.redis.del(...drop);
}

// ---- shard ---------------------------------------------------------------------------------------

export async function runShard(d: ShardJobData, ex: Exchange, storage: Storage, signal: AbortSignal | undefined): Promise<void> {
  const o = resolved(d);
  const s = d.shard, S = d.shards;
  const l = await storage.layout(d.input); // a missing or bad input fails here, on every shard
  const meta = await readMeta(ex, signal);
  const [r0, r1] = shardRows(s, S, meta.N);
  const n = r1 - r0, F = meta.F, K = meta.K, f32 = meta.dtype === 'float32';
  if (l.rows !== meta.N || l.cols !== F) throw new Error(`${d.input}: changed during the fit (${l.rows}×${l.cols}, was ${meta.N}×${F})`);
  const X = asDType(await storage.readRows(d.input, r0, r1), meta.dtype);
  const solver = o.solver;
  const local = solver === 'asg_mu' || solver === 'asag_mu';
  const gamma = o.update === 'mm' ? mmExponent(o.beta) : 1;
  const vFloor = o.beta < 2 ? V_FLOOR : 0;
  const forget = solver === 'asag_mu' ? 1 / (o.sagMemory + 1) : 1;
  // Resume from this shard's last checkpoint (epoch 0: the initial H the coordinator drew).
  const c = Number((await ex.redis.hget(ex.key('ckpt'), String(s))) ?? 0);
  const H = asDType(await storage.read(checkpointRef(d, s, c)), meta.dtype);
  const gp = allocate(meta.dtype, F * K), gn = allocate(meta.dtype, F * K);
  // asag under 'mm' also carries its SAG gain's state (core/solver.h): the averaged steps and the gain.
  const targets = solver === 'asag_mu' && averagesTargets(o);
  const step = allocate(meta.dtype, F * K), gain = new Float64Array(1);
  const state = await ex.redis.hgetBuffer(ex.key('ckstate'), String(s));
  if (c > 0 && state && local) {
    const a = arrayOf(state.subarray(0, (targets ? 3 : 2) * F * K * (f32 ? 4 : 8)), f32);
    gp.set(a.subarray(0, F * K));
    gn.set(a.subarray(F * K, 2 * F * K));
    if (targets) {
      step.set(a.subarray(2 * F * K));
      gain.set(arrayOf(state.subarray(a.byteLength), false));
    }
  }
  const getW = (e: number) => ex.waitFor(() => ex.getBuffer(`W:${e}`), signal).then((b) => arrayOf(b, f32));
  // The shard's native fit: its rows of X, its H and the W-gradient state live there.
  const fit = new NativeFitHandle({
    X: X.data, H: H.data, N: n, F, K, dtype: meta.dtype, beta: o.beta, solver, batchSize: o.batchSize, eps: o.eps, gamma,
    forget: local ? forget : 1, vFloor, updateH: true, updateW: true, shuffle: 'none', positive: false,
    averageTargets: targets, // gsg/gsag shards send raw parts; the coordinator averages
    update: o.update, partialData: d.shards > 1, // a shard's own W steps (asg/asag) see only its rows
  }, 'cpu');
  try {
    fit.native.write('gradPos', gp);
    fit.native.write('gradNeg', gn);
    if (targets) {
      fit.native.write('sagStep', step);
      fit.native.sagGain(gain[0]);
    }
    for (let e = c; ; e++) {
      if (costEpoch(e, o)) {
        fit.native.write('W', await getW(e));
        const cost = (await fit.native.cost(true)) as number;
        await ex.hset(`cost:${e}`, s, String(cost));
        if ((await ex.waitFor(() => ex.get(`decision:${e}`), signal)) === 'stop') break;
      }
      if (e > c && e % d.checkpointEvery === 0) await checkpoint(e);
      const W = await getW(e);
      fit.native.write('W', W);
      // One epoch over this shard's rows with W from the coordinator: H updated batch by batch;
      // the W parts summed (mu_batch), of the first batch (gsg/gsag, shard 0), or W stepped locally (asg/asag).
      const starts = local || solver === 'mu_batch' || s === 0;
      await fit.native.run(true, { starts, ends: local });
      if (local) fit.native.read('W', W);
      fit.native.read('gradPos', gp);
      fit.native.read('gradNeg', gn);
      const part = local ? bytesOf(W) : starts ? Buffer.concat([bytesOf(gp), bytesOf(gn)]) : Buffer.alloc(0);
      await ex.hset(`parts:${e + 1}`, s, part);
    }
    fit.native.read('H', H.data);
  } finally {
    fit.dispose();
  }
  await storage.writeRows(tmpH(d), r0, H);
  await ex.hset('done', s, '1');

  async function checkpoint(e: number): Promise<void> {
    const prev = Number((await ex.redis.hget(ex.key('ckpt'), String(s))) ?? 0);
    if (prev >= e) return; // a replaying shard passes checkpoints it already has
    fit.native.read('H', H.data);
    await storage.write(checkpointRef(d, s, e), H);
    if (targets) {
      fit.native.read('sagStep', step);
      gain[0] = fit.native.sagGain();
    }
    const saved = [bytesOf(gp), bytesOf(gn), ...(targets ? [bytesOf(step), bytesOf(gain)] : [])];
    await ex.redis.multi().hset(ex.key('ckstate'), String(s), Buffer.concat(saved))
      .hset(ex.key('ckpt'), String(s), String(e)).exec();
    await storage.remove(checkpointRef(d, s, prev));
  }
}

// ---- finaliser -----------------------------------------------------------------------------------

export async function finishShardedFit(d: ShardedFitData, ex: Exchange, storage: Storage): Promise<FitSummary> {
  const o = resolved(d);
  const meta = JSON.parse((await ex.get('meta'))!) as Meta;
  const final = Number(await ex.get('final'));
  const W = new Matrix(arrayOf((await ex.getBuffer(`W:${final}`))!, meta.dtype === 'float32'), meta.F, meta.K);
  const history = Object.values(await ex.redis.hgetall(ex.key('history')))
    .map((h) => JSON.parse(h) as { epoch: number; cost?: number; seconds: number })
    .filter((h) => h.epoch <= final).sort((a, b) => a.epoch - b.epoch);
  const last = history[history.length - 1];
  const summary: FitSummary = {
    components: meta.K, beta: o.beta, solver: o.solver, device: 'cpu', dtype: meta.dtype, iterations: final, cost: last.cost!, stopReason: final < o.maxIter ? 'converged' : 'maxIter',
    seconds: last.seconds,
  };
  await storage.write(path.join(d.out, 'W.npy'), W);
  if (await storage.exists(tmpH(d))) await storage.publish(tmpH(d), path.join(d.out, 'H.npy'));
  const { seed, ...options } = o;
  await storage.writeText(path.join(d.out, 'history.json'), historyJson(summary, { input: d.input, N: meta.N, F: meta.F, seed: seed ?? d.options.seed, shards: d.shards, options, history }));
  await storage.remove(checkpointDir(d));
  await ex.clear();
  return summary;
}
