// A BullMQ worker that runs betanmf jobs: fits and transforms with the library's BetaNMF, and
// the shard / coordinator / finaliser jobs of a sharded fit.
import * as os from 'node:os';
import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { AbortError } from '../betanmf';
import { errorLine } from '../files';
import { checkReachable, redisClient, redisOptions, type Connection } from './connection';
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

export function cancelKey(queue: string, id: string): string {
  return `betanmf:${queue}:cancel:${id}`;
}
export function cancelChannel(queue: string): string {
  return `betanmf:${queue}:cancel`;
}

type Data = FitJobData | TransformJobData | ShardedFitData | ShardJobData;

/** Starts a worker; resolves once it is connected (rejects with one line when Redis is unreachable). */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { connection, queue = DEFAULT_QUEUE, concurrency = 1, storage = new FileStorage() } = options;
  await checkReachable(connection);
  const name = options.name ?? `${os.hostname()}:${process.pid}`;
  const redis: Redis = redisClient(connection);
  const jobsQueue = new Queue(queue, { connection: redisOptions(connection) as never }); // to reach a parent job
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
    switch (d.kind) {
      case 'fit':
        return runFitJob(d, storage, signal, report(job));
      case 'transform':
        return runTransformJob(d, storage, signal, report(job));
      case 'fit-sharded': {
        if (job.name === 'fit-sharded') return withExchange(d, (ex) => finishShardedFit(d, ex, storage));
        if (job.name === 'coordinate') {
          const parentId = job.parent?.id ?? job.parentKey?.split(':').pop();
          const parent = parentId ? await Job.fromId(jobsQueue, parentId) : undefined;
          const progress = (p: JobProgress) => {
            report(job)(p);
            if (parent) report(parent)(p);
          };
          return withExchange(d, (ex) => runCoordinator(d, ex, storage, signal, progress));
        }
        return withExchange(d, (ex) => runShard(d as ShardJobData, ex, storage, signal));
      }
      default:
        throw new Error(`unknown job kind ${JSON.stringify((d as { kind?: unknown }).kind)}`);
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

  const worker = new Worker<Data>(queue, processor, {
    connection: redisOptions(connection) as never,
    concurrency,
    name,
    lockDuration: options.lockDuration ?? 30000,
    stalledInterval: options.stalledInterval ?? 30000,
    maxStalledCount: options.maxStalledCount ?? 3,
    autorun: true,
  });
  worker.on('error', (err) => process.stderr.write(`betanmf worker: ${errorLine(err)}\n`));
  // `betanmf cancel` (from any machine) reaches the worker running the job through this channel.
  const sub = redisClient(connection);
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
