// What the queue commands (worker, submit, jobs, cancel) share: where the queue is (--redis,
// --queue) and the queue module, loaded only when one of them runs: BullMQ and ioredis are
// optional packages, and the other commands never load them.
import { Option } from 'commander';
import { requirePackages } from '../optional';
import type { FitQueue } from '../queue/fit-queue';
import type { JobProgress } from '../queue/jobs';

const DEFAULT_QUEUE = 'betanmf';

export interface Where {
  redis?: string;
  queue: string;
}

/** The queue module (betanmf/queue); one line naming what to install when BullMQ or ioredis is missing. */
export async function queueModule(): Promise<typeof import('../queue/index.js')> {
  requirePackages('the queue (betanmf worker, submit, jobs, cancel)', 'bullmq', 'ioredis');
  return import('../queue/index.js');
}

export function redisOption(): Option {
  return new Option('--redis <URL>', 'Redis (default: $REDIS_URL, else redis://127.0.0.1:6379)');
}
export function queueOption(): Option {
  return new Option('--queue <NAME>', 'queue name').default(DEFAULT_QUEUE);
}

export async function withQueue<R>(w: Where, fn: (q: FitQueue) => Promise<R>): Promise<R> {
  const { FitQueue, defaultRedisUrl } = await queueModule();
  const q = new FitQueue({ connection: defaultRedisUrl(w.redis), queue: w.queue });
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

/** Progress lines on stderr while waiting for a job. */
export function showProgress(id: string) {
  return (p: JobProgress) => {
    const cost = p.cost === undefined ? '' : `  cost ${p.cost.toPrecision(8)}`;
    process.stderr.write(`${id}: epoch ${p.epoch}/${p.maxIter}${cost}  ${p.seconds.toFixed(2)}s\n`);
  };
}
