// `betanmf worker | submit fit | submit transform | jobs | cancel`: the queue (betanmf/queue) from the command line.
import * as path from 'node:path';
import { Command, Option } from 'commander';
import type { FitQueue } from '../queue/fit-queue';
import type { FitSummary, JobFitOptions, JobProgress, TransformSummary } from '../queue/jobs';
import { checkFitData, fitDataOptions, fitModelOptions, fitModelOptionsOf, int, required, transformOptions, transformOptionsOf, type FitDataFlags, type FitModelFlags,
  type TransformFlags } from './args';

// The queue modules (BullMQ, ioredis) load only when a queue command runs, so they cost the other commands nothing.
const DEFAULT_QUEUE = 'betanmf';
const queueModule = () => import('../queue/index.js');

interface Where {
  redis?: string;
  queue: string;
}

function redisOption() {
  return new Option('--redis <URL>', 'Redis (default: $REDIS_URL, else redis://127.0.0.1:6379)');
}
function queueOption() {
  return new Option('--queue <NAME>', 'queue name').default(DEFAULT_QUEUE);
}

/** Progress lines on stderr while waiting for a job. */
function showProgress(id: string) {
  return (p: JobProgress) => {
    const cost = p.cost === undefined ? '' : `  cost ${p.cost.toPrecision(8)}`;
    process.stderr.write(`${id}: epoch ${p.epoch}/${p.maxIter}${cost}  ${p.seconds.toFixed(2)}s\n`);
  };
}

async function withQueue<R>(w: Where, fn: (q: FitQueue) => Promise<R>): Promise<R> {
  const { FitQueue, defaultRedisUrl } = await queueModule();
  const q = new FitQueue({ connection: defaultRedisUrl(w.redis), queue: w.queue });
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

function time(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

type Signal = 'SIGINT' | 'SIGTERM';

/**
 * Adds the queue commands to the `betanmf` program. `takeSignals` hands SIGINT / SIGTERM to the
 * worker, which stops gracefully instead of exiting at once as the other commands do.
 */
export function registerQueueCommands(cli: Command, takeSignals: (handler: (signal: Signal) => void) => void): void {
  cli
    .command('worker')
    .description('run queued fits and transforms (stops gracefully on SIGTERM / SIGINT)')
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--concurrency <N>', 'jobs at once (a fit with S shards needs S + 1 slots over all workers)', int('--concurrency', 1), 1)
    .option('--lock-duration <MS>', 'a job whose worker is silent this long is taken over by another', int('--lock-duration', 100), 30000)
    .option('--stalled-interval <MS>', 'how often to look for such jobs', int('--stalled-interval', 100), 30000)
    .action(async (f: Where & { concurrency: number; lockDuration: number; stalledInterval: number }) => {
      const { startWorker, defaultRedisUrl } = await queueModule();
      const redis = defaultRedisUrl(f.redis);
      const w = await startWorker({ connection: redis, queue: f.queue, concurrency: f.concurrency, lockDuration: f.lockDuration,
        stalledInterval: f.stalledInterval });
      process.stderr.write(`betanmf worker ${w.name}: queue ${f.queue} on ${redis}, concurrency ${f.concurrency}\n`);
      // The first signal: take no new jobs, finish the running ones, exit 0. A second: exit now
      // (130 / 143); the running jobs are then taken over by another worker (stalled-job recovery).
      await new Promise<void>((resolve, reject) => {
        let stopping = false;
        takeSignals((sig) => {
          if (stopping) {
            process.stderr.write(`betanmf worker ${w.name}: ${sig} again: exiting now; another worker will take over the running jobs\n`);
            process.exit(sig === 'SIGINT' ? 130 : 143);
          }
          stopping = true;
          process.stderr.write(`betanmf worker ${w.name}: ${sig}: finishing the running jobs (${sig} again to exit now)\n`);
          w.close().then(resolve, reject);
        });
      });
    });

  const submit = cli.command('submit').description('queue a fit or a transform for the workers');
  const submitFit = submit
    .command('fit')
    .description('queue a fit of X (N×F): the worker writes W.npy, H.npy and history.json into --out')
    .argument('<input>', 'X as .npy (a path every worker can read)');
  fitModelOptions(submitFit, 'seed of initialisation and shuffling (default: drawn now, so retries repeat the fit)');
  required(submitFit, '-o, --out <DIR>', 'output folder (a path every worker can write)');
  fitDataOptions(submitFit)
    .option('--shards <S>', 'data-parallel fit over S row shards (S + 1 worker slots)', int('--shards', 1))
    .option('--checkpoint-every <N>', 'sharded fits: epochs between checkpoints of each shard (default 10)', int('--checkpoint-every', 1))
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--wait', 'wait for the result, with progress on stderr')
    .option('--json', 'print the result (or the job id) as one JSON line')
    .option('--no-progress', 'with --wait: no progress on stderr')
    .action(async (input: string, f: Where & FitModelFlags & FitDataFlags & {
      out: string; shards?: number; checkpointEvery?: number; wait?: boolean; json?: boolean; progress: boolean;
    }) => {
      checkFitData(f);
      const options: JobFitOptions = { ...fitModelOptionsOf(f), ...(f.fixedComponents ? { fixedComponents: f.fixedComponents } : {}) };
      await withQueue(f, async (q) => {
        const job = await q.submitFit({ input, out: f.out, options, shards: f.shards, checkpointEvery: f.checkpointEvery,
          ...(f.weights ? { weights: f.weights } : {}), ...(f.wInit ? { wInit: f.wInit } : {}) });
        if (!f.wait) {
          process.stdout.write(f.json ? JSON.stringify({ id: job.id }) + '\n' : `${job.id}\n`);
          return;
        }
        if (f.progress) job.on('progress', showProgress(job.id));
        const s = await job.wait();
        if (f.json) process.stdout.write(JSON.stringify(s) + '\n');
        else printFit(job.id, s, f.out);
      });
    });

  const submitTransform = submit
    .command('transform')
    .description('queue the activations H of Y for fixed bases W')
    .argument('<input>', 'Y as .npy (a path every worker can read)');
  required(submitTransform, '--w <FILE>', 'W.npy (F×K) from a fit');
  required(submitTransform, '-o, --out <FILE>', 'where the worker writes H.npy');
  transformOptions(submitTransform)
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--wait', 'wait for the result')
    .option('--json', 'print the result (or the job id) as one JSON line')
    .action(async (input: string, f: Where & TransformFlags & { w: string; out: string; wait?: boolean; json?: boolean }) => {
      const options = transformOptionsOf(f);
      await withQueue(f, async (q) => {
        const job = await q.submitTransform({ input, w: f.w, out: f.out, options, ...(f.weights ? { weights: f.weights } : {}) });
        if (!f.wait) {
          process.stdout.write(f.json ? JSON.stringify({ id: job.id }) + '\n' : `${job.id}\n`);
          return;
        }
        const s = await job.wait();
        if (f.json) process.stdout.write(JSON.stringify(s) + '\n');
        else process.stdout.write(`${job.id}: wrote ${s.out} (${s.rows}×${s.components}) in ${s.seconds.toFixed(2)}s\n`);
      });
    });

  cli
    .command('jobs')
    .description('jobs in the queue: state, progress, worker, timings')
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--json', 'as JSON (one array)')
    .action(async (f: Where & { json?: boolean }) => {
      const list = await withQueue(f, (q) => q.jobs());
      if (f.json) {
        process.stdout.write(JSON.stringify(list) + '\n');
        return;
      }
      if (list.length === 0) {
        process.stdout.write(`no jobs in queue ${f.queue}\n`);
        return;
      }
      const rows = list.map((j) => [j.id, j.name, j.state, j.progress ? `${j.progress.epoch}/${j.progress.maxIter}` : '-',
        j.worker ?? '-', time(j.submitted), time(j.started), time(j.finished), j.failedReason ?? '']);
      const head = ['ID', 'KIND', 'STATE', 'EPOCH', 'WORKER', 'SUBMITTED', 'STARTED', 'FINISHED', 'ERROR'];
      const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const r of [head, ...rows]) process.stdout.write(r.map((c, i) => c.padEnd(width[i])).join('  ').trimEnd() + '\n');
    });

  cli
    .command('cancel')
    .description('cancel a queued or running job')
    .argument('<id>', 'job id (as `submit` printed it)')
    .addOption(redisOption())
    .addOption(queueOption())
    .action(async (id: string, f: Where) => {
      const asked = await withQueue(f, (q) => q.cancel(id));
      process.stdout.write(asked ? `cancelling ${id}\n` : `${id} had already finished\n`);
    });
}

function printFit(id: string, s: FitSummary | TransformSummary, out: string): void {
  const f = s as FitSummary;
  process.stdout.write(`${id}: fitted with K=${f.components}, β=${f.beta}, ${f.solver}: cost ${f.cost.toPrecision(8)} after ` +
    `${f.iterations} epochs in ${f.seconds.toFixed(2)}s\nwrote ${path.join(out, 'W.npy')}, H.npy, history.json\n`);
}
