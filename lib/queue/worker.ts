// A BullMQ worker that runs betanmf jobs: fits and transforms with the library's BetaNMF, and
// the shard / coordinator / finaliser jobs of a sharded fit.
import * as os from 'node:os';
import { Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { AbortError } from '../betanmf';
import { errorLine } from '../files';
import { checkReachable, oneLineErrors, redisClient, redisOptions, type Connection } from './connection';
import { CheckedQueue, CheckedWorker, type InvalidJobData } from './checked';
import { Exchange } from './exchange';
import { runFitJob, runTransformJob, type FitJobData, type JobProgress, type TransformJobData } from './jobs';
import { finishShardedFit, runCoordinator, runShard, type ShardedFitData, type ShardJobData } from './shards';
import { FileStorage, type Storage } from './storage';

export const DEFAULT_QUEUE = 'betanmf';

export interface WorkerOptions {
  connection: Connection;
  /** Queue name (default 'betanmf'). */
  queue?: string;
  /** Jobs run at once by this worker (default 1). A sharded fit with S shards needs S + 1 slots across all workers. */
  concurrency?: number;
  /** Where job paths point (default: the file system). */
  storage?: Storage;
  /** How this worker shows in `jobs` (default host:pid). */
  name?: string;
  /** BullMQ lock: a job whose worker stops renewing it for this long is taken over (ms, default 30000). */
  lockDuration?: number;
  /** How often workers look for such stalled jobs (ms, default 30000). */
  stalledInterval?: number;
  /** Takeovers of one job before it fails (default 3). */
  maxStalledCount?: number;
}

export interface RunningWorker {
  /** This worker's name (as `jobs` shows it). */
  readonly name: string;
  /** Stops taking jobs, lets the running ones finish, and disconnects. */
  close(): Promise<void>;
}

/**
 * Checks what a worker needs of a job's data before running it: a job that cannot run (written
 * by another tool, damaged) fails once with the reason instead of failing deep inside.
 */
export function checkJobData(d: unknown): asserts d is Data {
  const bad = (why: string) => new Error(`job data: ${why}`);
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw bad('expected an object');
  const o = d as Record<string, unknown>;
  if (o.kind === 'invalid') return;
  if (!['fit', 'transform', 'fit-sharded'].includes(o.kind as string)) throw bad(`unknown job kind ${JSON.stringify(o.kind)}`);
  for (const k of ['input', 'out', ...(o.kind === 'transform' ? ['w'] : [])]) {
    if (typeof o[k] !== 'string' || o[k] === '') throw bad(`${k}: expected a path, received ${JSON.stringify(o[k])}`);
  }
  if (typeof o.options !== 'object' || o.options === null || Array.isArray(o.options)) throw bad('options: expected an object');
  if (o.kind !== 'fit-sharded') return;
  const S = o.shards;
  if (typeof o.fitId !== 'string' || !o.fitId) throw bad(`fitId: expected a string, received ${JSON.stringify(o.fitId)}`);
  if (!Number.isInteger(S) || (S as number) < 1) throw bad(`shards: expected an integer ≥ 1, received ${JSON.stringify(S)}`);
  if (!Number.isInteger(o.checkpointEvery) || (o.checkpointEvery as number) < 1) throw bad(`checkpointEvery: expected an integer ≥ 1, received ${JSON.stringify(o.checkpointEvery)}`);
}

/** A shard job's index names one of its fit's shards (checked inside the fit's exchange, so the whole fit stops with the reason). */
function checkShardIndex(d: ShardJobData): void {
  if (!(Number.isInteger(d.shard) && d.shard >= 0 && d.shard < d.shards)) {
    throw new Error(`job data: shard: expected an integer in [0, ${d.shards}) (the fit has ${d.shards} shards), received ${JSON.stringify(d.shard)}`);
  }
}

export function cancelKey(queue: string, id: string): string {
  return `betanmf:${queue}:cancel:${id}`;
}
export function cancelChannel(queue: string): string {
  return `betanmf:${queue}:cancel`;
}

type Data = FitJobData | TransformJobData | ShardedFitData | ShardJobData | InvalidJobData;

/** Starts a worker; resolves once it is connected (rejects with one line when Redis is unreachable). */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { connection, queue = DEFAULT_QUEUE, concurrency = 1, storage = new FileStorage() } = options;
  await checkReachable(connection);
  const name = options.name ?? `${os.hostname()}:${process.pid}`;
  // Connection trouble (a restarted Redis) as one-line warnings, whichever client meets it.
  const warn = oneLineErrors((line) => process.stderr.write(`betanmf worker: warning: ${line}\n`));
  const redis: Redis = redisClient(connection, warn);
  const jobsQueue = new CheckedQueue(queue, { connection: redisOptions(connection) as never }); // to reach a parent job
  jobsQueue.on('error', warn);
  const processor = async (job: Job<Data>, _token?: string, signal?: AbortSignal) => {
    try {
      if (await redis.exists(cancelKey(queue, job.id!))) throw new Error('cancelled');
      return await run(job, signal);
    } catch (err) {
      const message = err instanceof AbortError || signal?.aborted ? 'cancelled' : errorLine(err);
      // A job's failure is deterministic (bad input, bad options, cancelled): no retries.
      throw new UnrecoverableError(message);
    }
  };
  const report = (job: Job) => (p: JobProgress) => void job.updateProgress(p as unknown as object).catch(() => {});

  async function run(job: Job<Data>, signal?: AbortSignal): Promise<unknown> {
    const d = job.data;
    checkJobData(d);
    switch (d.kind) {
      case 'fit':
        return runFitJob(d, storage, signal, report(job), (job.attemptsStarted ?? job.attemptsMade) > 1);
      case 'transform':
        return runTransformJob(d, storage, signal, report(job));
      case 'fit-sharded': {
        if (job.name === 'fit-sharded') return withExchange(d, (ex) => finishShardedFit(d, ex, storage));
        if (job.name === 'coordinate') {
          const parentId = job.parent?.id ?? job.parentKey?.split(':').pop();
          const parent = parentId ? await jobsQueue.getJob(parentId) : undefined;
          const progress = (p: JobProgress) => {
            report(job)(p);
            if (parent) report(parent)(p);
          };
          return withExchange(d, (ex) => runCoordinator(d, ex, storage, signal, progress));
        }
        return withExchange(d, (ex) => {
          checkShardIndex(d as ShardJobData);
          return runShard(d as ShardJobData, ex, storage, signal);
        });
      }
      case 'invalid':
        throw new Error(d.reason);
    }
  }

  async function withExchange<R>(d: ShardedFitData, fn: (ex: Exchange) => Promise<R>): Promise<R> {
    const ex = await new Exchange(connection, queue, d.fitId).start();
    try {
      return await fn(ex);
    } catch (err) {
      // Every other job of this fit stops waiting for this one, with this reason.
      if (!(err instanceof AbortError)) await ex.abort(errorLine(err)).catch(() => {});
      throw err;
    } finally {
      await ex.close();
    }
  }

  const worker = new CheckedWorker<Data>(queue, processor, {
    connection: redisOptions(connection) as never,
    concurrency,
    name,
    lockDuration: options.lockDuration ?? 30000,
    stalledInterval: options.stalledInterval ?? 30000,
    maxStalledCount: options.maxStalledCount ?? 3,
    autorun: true,
  });
  worker.on('error', (err) => ((err as NodeJS.ErrnoException).code ? warn(err) : process.stderr.write(`betanmf worker: ${errorLine(err)}\n`)));
  // `betanmf cancel` (from any machine) reaches the worker running the job through this channel.
  const sub = redisClient(connection, warn);
  sub.on('message', (_channel, id: string) => void worker.cancelJob(id, 'cancelled'));
  await sub.subscribe(cancelChannel(queue));
  await worker.waitUntilReady();
  let closing: Promise<void> | undefined;
  return {
    name,
    close: () => (closing ??= (async () => {
      await worker.close();
      sub.disconnect();
      await jobsQueue.close();
      redis.disconnect();
    })()),
  };
}
