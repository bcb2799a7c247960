// The producer side: submit fits and transforms, follow them, list and cancel them.
import { EventEmitter } from 'node:events';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { FlowProducer, Job, Queue, QueueEvents, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { rangeError, typeError } from '../errors';
import { checkReachable, redisClient, redisOptions, type Connection } from './connection';
import { fitPrefix } from './exchange';
import {
  checkJobOptions, type FitJobData, type FitSummary, type JobFitOptions, type JobProgress, type JobTransformOptions,
  type TransformJobData, type TransformSummary,
} from './jobs';
import { checkShardedOptions, type ShardedFitData, type ShardJobData } from './shards';
import { cancelChannel, cancelKey, DEFAULT_QUEUE } from './worker';

export interface FitQueueOptions {
  connection: Connection;
  /** Queue name (default 'betanmf'); workers must use the same. */
  queue?: string;
}

export interface SubmitFitOptions {
  /** X as .npy (or .csv for unsharded fits), a path every worker can read. */
  input: string;
  /** Output folder (W.npy, H.npy, history.json), on storage every worker can write. */
  out: string;
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

const STATES = ['active', 'waiting', 'waiting-children', 'prioritized', 'delayed', 'completed', 'failed'] as const;
const JOB_OPTIONS: JobsOptions = { attempts: 1, removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } };

/** A submitted job: its id, progress events, its result, and cancellation. */
export class JobHandle<R = FitSummary | TransformSummary> extends EventEmitter {
  constructor(readonly id: string, private readonly owner: FitQueue) {
    super();
  }

  /** The summary the job returned (for a fit: what `betanmf fit --json` prints); rejects with the job's one-line error. */
  wait(): Promise<R> {
    return this.owner.waitFor(this.id) as Promise<R>;
  }

  /** Asks the job to stop (waiting jobs fail when picked up; running ones through their AbortSignal). */
  cancel(): Promise<boolean> {
    return this.owner.cancel(this.id);
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
  private readonly queue: Queue;
  private events: QueueEvents | undefined;
  private flow: FlowProducer | undefined;
  private redis: Redis | undefined;
  private readonly followed = new Map<string, JobHandle<unknown>>();
  private ready: Promise<void> | undefined;

  constructor(options: FitQueueOptions) {
    if (typeof options !== 'object' || options === null) throw typeError('options', '{ connection, queue }', options);
    this.connection = options.connection;
    this.name = options.queue ?? DEFAULT_QUEUE;
    if (typeof this.name !== 'string' || !/^[\w.-]+$/.test(this.name)) throw typeError('queue', 'a name of letters, digits, _ . -', this.name);
    this.queue = new Queue(this.name, { connection: redisOptions(this.connection) as never });
    this.queue.on('error', () => {}); // connection errors surface through the calls that need Redis
  }

  /** Rejects with one line when Redis cannot be reached; otherwise sets up the event stream. */
  private init(): Promise<void> {
    return (this.ready ??= (async () => {
      await checkReachable(this.connection);
      this.redis = redisClient(this.connection);
      this.events = new QueueEvents(this.name, { connection: redisOptions(this.connection) as never });
      this.events.on('error', () => {});
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
    await this.init();
    if (o.shards === undefined) {
      const data: FitJobData = { kind: 'fit', input, out, options: seeded, ...files };
      const job = await this.queue.add('fit', data, JOB_OPTIONS);
      return this.handle(job.id!);
    }
    checkShardedOptions(seeded, o.shards);
    for (const k of ['weights', 'wInit'] as const) {
      if (o[k] !== undefined) throw rangeError(k, 'undefined for a sharded fit (the shards combine unweighted parts from a random start)', `'${o[k]}'`);
    }
    const checkpointEvery = o.checkpointEvery ?? 10;
    if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1) throw typeError('checkpointEvery', 'an integer ≥ 1', checkpointEvery);
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
      options: { ...options, seed: options.seed ?? crypto.randomInt(2 ** 32) },
    };
    await this.init();
    const job = await this.queue.add('transform', data, JOB_OPTIONS);
    return this.handle(job.id!);
  }

  /** A handle on a job submitted earlier (by id). */
  handle<R = FitSummary | TransformSummary>(id: string): JobHandle<R> {
    return new JobHandle<R>(id, this);
  }

  /** @internal */
  follow(h: JobHandle<unknown>): void {
    this.followed.set(h.id, h);
  }

  /** @internal */
  async waitFor(id: string): Promise<unknown> {
    await this.init();
    const job = await Job.fromId(this.queue, id);
    if (!job) throw new Error(`no job ${id} in queue ${this.name}`);
    try {
      return await job.waitUntilFinished(this.events!);
    } catch (err) {
      // A sharded fit fails through a child: its own reason was recorded for the whole fit.
      const reason = job.name === 'fit-sharded' ? await this.redis!.get(fitPrefix(this.name, id) + 'abort') : null;
      throw new Error(reason ?? (err as Error).message.split('\n')[0]);
    } finally {
      this.followed.delete(id);
    }
  }

  /** Asks job `id` to stop; false when it had already finished. */
  async cancel(id: string): Promise<boolean> {
    await this.init();
    const job = await Job.fromId(this.queue, id);
    if (!job) throw new Error(`no job ${id} in queue ${this.name}`);
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

  /** Jobs in the queue (newest first within each state): state, progress, worker, timings. */
  async jobs(): Promise<JobInfo[]> {
    await this.init();
    const out: JobInfo[] = [];
    for (const state of STATES) {
      for (const j of await this.queue.getJobs([state], 0, 199)) {
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
