// The producer side: submit fits and transforms, follow them, list and cancel them.
import { EventEmitter } from 'node:events';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { FlowProducer, type Job, QueueEvents, type JobsOptions } from 'bullmq';
import { CheckedQueue } from './checked';
import type { Redis } from 'ioredis';
import { rangeError, typeError } from '../errors';
import { checkReachable, redisClient, redisOptions, type Connection } from './connection';
import { fitPrefix } from './exchange';
import {
  checkJobOptions, type FitJobData, type FitSummary, type JobFitOptions, type JobProgress, type JobTransformOptions,
  type TransformJobData, type TransformSummary,
} from './jobs';
import { checkShardedOptions, type ShardedFitData, type ShardJobData } from './shards';
import { FileStorage, type Storage } from './storage';
import { cancelChannel, cancelKey, DEFAULT_QUEUE } from './worker';
import { isFitFile } from '../results';

export interface FitQueueOptions {
  connection: Connection;
  /** Queue name (default 'betanmf'); workers must use the same. */
  queue?: string;
  /** Where job paths point, for the checks at submit time (default: the file system, as the workers'). */
  storage?: Storage;
}

export interface SubmitFitOptions {
  /** X as .npy (or .csv for unsharded fits), a path every worker can read. */
  input: string;
  /**
   * Output folder (W.npy, H.npy, history.json), on storage every worker can write: new, or one
   * holding only a fit's files with `overwrite` (checked at submit time, and again by the worker).
   */
  out: string;
  /** Replace the results of an earlier fit at `out` (as `betanmf fit --force`). Default false. */
  overwrite?: boolean;
  /** BetaNMF options (JSON-safe ones); a seed is drawn here when none is given, so retries repeat the fit. */
  options?: JobFitOptions;
  /** Entry weights (N×F .npy, 0 = missing), a path every worker can read (unsharded fits). */
  weights?: string;
  /** The initial W (F×K .npy), a path every worker can read; options.fixedComponents keeps some of its columns (unsharded fits). */
  wInit?: string;
  /** Split X's rows over this many shard jobs (a data-parallel fit; S + 1 worker slots in all). */
  shards?: number;
  /** Sharded fits: epochs between checkpoints of each shard's H (default 10). */
  checkpointEvery?: number;
}

export interface SubmitTransformOptions {
  input: string;
  /** W.npy (F×K) of a fit. */
  w: string;
  /** Where to write H.npy. */
  out: string;
  /** Entry weights (N×F .npy, 0 = missing). */
  weights?: string;
  options?: JobTransformOptions;
}

/** One row of `jobs()`. */
export interface JobInfo {
  id: string;
  /** 'fit', 'transform', 'fit-sharded' (the parent of a sharded fit), 'coordinate', 'shard'. */
  name: string;
  state: string;
  progress: JobProgress | null;
  /** The worker that ran (or runs) it. */
  worker: string | null;
  submitted: number;
  started: number | null;
  finished: number | null;
  failedReason: string | null;
  /** Times a worker started it (1 for a job that ran once; more after takeovers of a dead worker's job). */
  attempts: number;
}

/** The unique token a submitted job carries in its data (see JobHandle). */
function newToken(): string {
  return crypto.randomBytes(12).toString('hex');
}

const STATES = ['active', 'waiting', 'waiting-children', 'prioritized', 'delayed', 'completed', 'failed'] as const;
const JOB_OPTIONS: JobsOptions = { attempts: 1, removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } };

/** A submitted job: its id, progress events, its result, and cancellation. */
export class JobHandle<R = FitSummary | TransformSummary> extends EventEmitter {
  /**
   * `token`: the unique token in the job's data when this handle submitted it. A Redis restarted
   * without persistence hands the same ids out again; the token tells our job from a newer one.
   */
  constructor(readonly id: string, private readonly owner: FitQueue, private readonly token?: string) {
    super();
  }

  /** The summary the job returned (for a fit: what `betanmf fit --json` prints); rejects with the job's one-line error. */
  wait(): Promise<R> {
    return this.owner.waitFor(this.id, this.token) as Promise<R>;
  }

  /** Asks the job to stop (waiting jobs fail when picked up; running ones through their AbortSignal). */
  cancel(): Promise<boolean> {
    return this.owner.cancel(this.id, this.token);
  }

  /** on('progress', (p: JobProgress) => …): after each epoch (throttled for fast epochs). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    this.owner.follow(this as JobHandle<unknown>);
    return super.on(event, listener);
  }
}

export class FitQueue {
  readonly name: string;
  private readonly connection: Connection;
  private readonly storage: Storage;
  private readonly queue: CheckedQueue;
  private events: QueueEvents | undefined;
  private flow: FlowProducer | undefined;
  private redis: Redis | undefined;
  private readonly followed = new Map<string, JobHandle<unknown>>();
  private ready: Promise<void> | undefined;

  constructor(options: FitQueueOptions) {
    if (typeof options !== 'object' || options === null) throw typeError('options', '{ connection, queue }', options);
    this.connection = options.connection;
    this.storage = options.storage ?? new FileStorage();
    this.name = options.queue ?? DEFAULT_QUEUE;
    if (typeof this.name !== 'string' || !/^[\w.-]+$/.test(this.name)) throw typeError('queue', 'a name of letters, digits, _ . -', this.name);
    this.queue = new CheckedQueue(this.name, { connection: redisOptions(this.connection) as never });
    this.queue.on('error', () => {}); // connection errors surface through the calls that need Redis
  }

  /** Rejects with one line when Redis cannot be reached; otherwise sets up the event stream. */
  private init(): Promise<void> {
    return (this.ready ??= (async () => {
      await checkReachable(this.connection);
      this.redis = redisClient(this.connection);
      this.events = new QueueEvents(this.name, { connection: redisOptions(this.connection) as never });
      this.events.on('error', () => {});
      // Each waiting handle listens on the event stream and on the queue's closing: many jobs waited
      // on at once are normal, not a leak (Node warned past 10).
      this.events.setMaxListeners(0);
      this.queue.setMaxListeners(0);
      this.events.on('progress', ({ jobId, data }) => this.followed.get(jobId)?.emit('progress', data as JobProgress));
      await this.events.waitUntilReady();
      await this.queue.waitUntilReady();
    })());
  }

  async submitFit(o: SubmitFitOptions): Promise<JobHandle<FitSummary>> {
    if (typeof o !== 'object' || o === null) throw typeError('options', '{ input, out, options }', o);
    if (typeof o.input !== 'string' || !o.input) throw typeError('input', 'a path', o.input);
    if (typeof o.out !== 'string' || !o.out) throw typeError('out', 'a path', o.out);
    for (const k of ['weights', 'wInit'] as const) if (o[k] !== undefined && (typeof o[k] !== 'string' || !o[k])) throw typeError(k, 'a path', o[k]);
    const options = { ...(o.options ?? {}) };
    checkJobOptions('fit', options, o.wInit !== undefined);
    const seeded = { ...options, seed: options.seed ?? crypto.randomInt(2 ** 32) };
    const [input, out] = [path.resolve(o.input), path.resolve(o.out)];
    const files = { ...(o.weights ? { weights: path.resolve(o.weights) } : {}), ...(o.wInit ? { wInit: path.resolve(o.wInit) } : {}) };
    if (o.shards !== undefined) {
      checkShardedOptions(seeded, o.shards);
      for (const k of ['weights', 'wInit'] as const) {
        if (o[k] !== undefined) throw rangeError(k, 'undefined for a sharded fit (the shards combine unweighted parts from a random start)', `'${o[k]}'`);
      }
    }
    const checkpointEvery = o.checkpointEvery ?? 10;
    if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1) throw typeError('checkpointEvery', 'an integer ≥ 1', checkpointEvery);
    // The output folder, by the rules of `betanmf fit`, before anything is queued.
    await this.storage.checkFolder(out, !!o.overwrite, isFitFile);
    await this.init();
    if (o.shards === undefined) {
      const data: FitJobData = { kind: 'fit', input, out, options: seeded, ...files, ...(o.overwrite ? { overwrite: true } : {}), token: newToken() };
      const job = await this.queue.add('fit', data, JOB_OPTIONS);
      return new JobHandle(job.id!, this, data.token);
    }
    const fitId = `fit-${crypto.randomBytes(6).toString('hex')}`;
    const data: ShardedFitData = { kind: 'fit-sharded', fitId, input, out, options: seeded, shards: o.shards, checkpointEvery };
    const child = { ...JOB_OPTIONS, failParentOnFailure: true };
    this.flow ??= new FlowProducer({ connection: redisOptions(this.connection) as never });
    await this.flow.add({
      name: 'fit-sharded', queueName: this.name, data, opts: { ...JOB_OPTIONS, jobId: fitId },
      children: [
        { name: 'coordinate', queueName: this.name, data, opts: { ...child, jobId: `${fitId}-coord` } },
        ...Array.from({ length: o.shards }, (_, s) => ({
          name: 'shard', queueName: this.name, data: { ...data, shard: s } satisfies ShardJobData,
          opts: { ...child, jobId: `${fitId}-shard-${s}` },
        })),
      ],
    });
    return this.handle(fitId);
  }

  async submitTransform(o: SubmitTransformOptions): Promise<JobHandle<TransformSummary>> {
    if (typeof o !== 'object' || o === null) throw typeError('options', '{ input, w, out, options }', o);
    for (const k of ['input', 'w', 'out'] as const) if (typeof o[k] !== 'string' || !o[k]) throw typeError(k, 'a path', o[k]);
    if (o.weights !== undefined && (typeof o.weights !== 'string' || !o.weights)) throw typeError('weights', 'a path', o.weights);
    const options = { ...(o.options ?? {}) };
    checkJobOptions('transform', options);
    const data: TransformJobData = {
      kind: 'transform', input: path.resolve(o.input), w: path.resolve(o.w), out: path.resolve(o.out),
      ...(o.weights ? { weights: path.resolve(o.weights) } : {}),
      options: { ...options, seed: options.seed ?? crypto.randomInt(2 ** 32) }, token: newToken(),
    };
    await this.init();
    const job = await this.queue.add('transform', data, JOB_OPTIONS);
    return new JobHandle(job.id!, this, data.token);
  }

  /** A handle on a job submitted earlier (by id). */
  handle<R = FitSummary | TransformSummary>(id: string): JobHandle<R> {
    return new JobHandle<R>(id, this);
  }

  /** @internal */
  follow(h: JobHandle<unknown>): void {
    this.followed.set(h.id, h);
  }

  /** Job `id`, checked to be the one submitted with `token` (when given). */
  private async ownJob(id: string, token: string | undefined): Promise<Job> {
    const job = await this.queue.getJob(id);
    if (!job) throw new Error(`no job ${id} in queue ${this.name}${token ? ' (was Redis restarted without persistence? submit it again)' : ''}`);
    // Data that could not be read (kind 'invalid') has no token to compare: its failure is reported as it is.
    const data = job.data as { token?: unknown; kind?: unknown } | undefined;
    if (token !== undefined && data?.kind !== 'invalid' && data?.token !== token) {
      throw new Error(`job ${id} in queue ${this.name} is no longer the job submitted: its id now names another job ` +
        '(Redis lost its data: restarted without persistence?); submit it again');
    }
    return job;
  }

  /** @internal */
  async waitFor(id: string, token?: string): Promise<unknown> {
    await this.init();
    const job = await this.ownJob(id, token);
    try {
      let result: unknown;
      try {
        result = await job.waitUntilFinished(this.events!);
      } catch (err) {
        await this.ownJob(id, token); // the failure reported may be another job's of the same id
        // A sharded fit fails through a child: its own reason was recorded for the whole fit.
        const reason = job.name === 'fit-sharded' ? await this.redis!.get(fitPrefix(this.name, id) + 'abort') : null;
        throw new Error(reason ?? (err as Error).message.split('\n')[0]);
      }
      await this.ownJob(id, token); // so may the result
      return result;
    } finally {
      this.followed.delete(id);
    }
  }

  /** Asks job `id` to stop; false when it had already finished. `token`: see JobHandle. */
  async cancel(id: string, token?: string): Promise<boolean> {
    await this.init();
    const job = await this.ownJob(id, token);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return false;
    const r = this.redis!;
    const m = r.multi().set(cancelKey(this.name, id), '1', 'EX', 7 * 86400);
    if (job.name === 'fit-sharded') {
      m.set(fitPrefix(this.name, id) + 'abort', 'cancelled', 'EX', 7 * 86400, 'NX').publish(fitPrefix(this.name, id) + 'events', 'abort');
    }
    await m.publish(cancelChannel(this.name), id).exec();
    return true;
  }

  /**
   * Jobs in the queue (newest first within each state): state, progress, worker, timings; at most
   * `perState` of each state (default 200; Infinity for all, read in pages). jobCounts() says how many there are.
   */
  async jobs(options: { perState?: number } = {}): Promise<JobInfo[]> {
    const perState = options.perState ?? 200;
    if (!(perState >= 0) || (perState !== Infinity && !Number.isInteger(perState))) throw typeError('perState', 'an integer ≥ 0 or Infinity', perState);
    await this.init();
    const out: JobInfo[] = [];
    const PAGE = 500;
    for (const state of STATES) {
      const found = [];
      for (let start = 0; start < perState; start += PAGE) {
        const page = await this.queue.getJobs([state], start, Math.min(perState, start + PAGE) - 1);
        found.push(...page);
        if (page.length < Math.min(PAGE, perState - start)) break;
      }
      for (const j of found) {
        if (!j) continue;
        out.push({
          id: j.id!, name: j.name, state, progress: typeof j.progress === 'object' ? (j.progress as unknown as JobProgress) : null,
          worker: j.processedBy ?? null, submitted: j.timestamp, started: j.processedOn ?? null, finished: j.finishedOn ?? null,
          failedReason: j.failedReason || null, attempts: j.attemptsStarted ?? j.attemptsMade,
        });
      }
    }
    return out;
  }

  /** How many jobs the queue holds in each state jobs() lists. */
  async jobCounts(): Promise<Record<(typeof STATES)[number], number>> {
    await this.init();
    return (await this.queue.getJobCounts(...STATES)) as Record<(typeof STATES)[number], number>;
  }

  /** Removes the queue and all its jobs from Redis (tests, teardown). */
  async obliterate(): Promise<void> {
    await this.init();
    await this.queue.obliterate({ force: true });
    let cursor = '0';
    do {
      const [next, keys] = await this.redis!.scan(cursor, 'MATCH', `betanmf:${this.name}:*`, 'COUNT', 1000);
      if (keys.length) await this.redis!.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.events?.close(), this.flow?.close()]);
    this.redis?.disconnect();
  }
}
