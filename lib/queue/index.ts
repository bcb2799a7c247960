/**
 * betanmf/queue: fits and transforms as BullMQ jobs on Redis, run by workers on any number of
 * machines, and data-parallel fits over row shards. Matrices travel by path (.npy on storage
 * every worker sees), never inside Redis. The library core does not import this module.
 * BullMQ and ioredis are optional packages of betanmf: without them, loading this module fails
 * with one line naming what to install (before anything tries to load them).
 */
import { requirePackages } from '../optional';

requirePackages('betanmf/queue', 'bullmq', 'ioredis');

export { FitQueue, JobHandle, type FitQueueOptions, type JobInfo, type SubmitFitOptions, type SubmitTransformOptions } from './fit-queue';
export { startWorker, DEFAULT_QUEUE, type RunningWorker, type WorkerOptions } from './worker';
export { FileStorage, type NpyLayout, type Storage } from './storage';
export { readNpyLayout, readNpyRows } from '../io';
export { checkReachable, defaultRedisUrl, type Connection } from './connection';
export { shardRows } from './shards';
export type { FitSummary, TransformSummary, JobProgress, JobFitOptions, JobTransformOptions } from './jobs';
