// `betanmf worker | submit fit | submit transform | jobs | cancel`: the queue (betanmf/queue) from the command line.
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolveBeta, SOLVERS } from '../options';
import type { FitQueue } from '../queue/fit-queue';
import type { FitSummary, JobFitOptions, JobProgress, TransformSummary } from '../queue/jobs';

// The queue modules (BullMQ, ioredis) load only when a queue command runs, so they cost the other commands nothing.
const DEFAULT_QUEUE = 'betanmf';
const queueModule = () => import('../queue/index.js');
function defaultRedisUrl(url?: string): string {
  return url || process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

function int(name: string, min = 0) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name}: expected an integer ≥ ${min}, received ${v}`);
    return n;
  };
}
function num(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name}: expected a number, received ${v}`);
    return n;
  };
}
function betaArg(v: string): number {
  const asNumber = Number(v);
  try {
    return resolveBeta(v.trim() !== '' && Number.isFinite(asNumber) ? asNumber : v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

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
  const { FitQueue } = await queueModule();
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

/** Adds the queue commands to the `betanmf` program. */
export function registerQueueCommands(cli: Command): void {
  cli
    .command('worker')
    .description('run queued fits and transforms (stops gracefully on SIGTERM / SIGINT)')
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--concurrency <N>', 'jobs at once (a fit with S shards needs S + 1 slots over all workers)', int('--concurrency', 1), 1)
    .option('--lock-duration <MS>', 'a job whose worker is silent this long is taken over by another', int('--lock-duration', 100), 30000)
    .option('--stalled-interval <MS>', 'how often to look for such jobs', int('--stalled-interval', 100), 30000)
    .action(async (f: Where & { concurrency: number; lockDuration: number; stalledInterval: number }) => {
      const redis = defaultRedisUrl(f.redis);
      const { startWorker } = await queueModule();
      const w = await startWorker({ connection: redis, queue: f.queue, concurrency: f.concurrency, lockDuration: f.lockDuration,
        stalledInterval: f.stalledInterval });
      process.stderr.write(`betanmf worker ${w.name}: queue ${f.queue} on ${redis}, concurrency ${f.concurrency}\n`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          process.stderr.write(`betanmf worker ${w.name}: ${sig}: finishing the running jobs\n`);
          void w.close().then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });

  const submit = cli.command('submit').description('queue a fit or a transform for the workers');
  submit
    .command('fit')
    .description('queue a fit of X (N×F): the worker writes W.npy, H.npy and history.json into --out')
    .argument('<input>', 'X as .npy (a path every worker can read)')
    .requiredOption('-k, --components <K>', 'number of components', int('--components', 1))
    .option('-b, --beta <B>', "β, or 'frobenius' | 'kullback-leibler' | 'itakura-saito'", betaArg, 2)
    .addOption(new Option('-s, --solver <S>', 'solver').choices([...SOLVERS]).default('mu_batch'))
    .option('--batch-size <N>', 'rows per mini-batch (default 100)', int('--batch-size', 1))
    .option('--sag-memory <N>', 'SAG memory for asag_mu / gsag_mu (default 0)', int('--sag-memory', 0))
    .option('--max-iter <N>', 'epochs (default 50)', int('--max-iter', 0))
    .option('--tol <T>', 'relative cost decrease that stops early; 0 disables (default 1e-4)', num('--tol'))
    .option('--cost-every <N>', 'epochs between cost evaluations (default 10)', int('--cost-every', 1))
    .addOption(new Option('--init <I>', 'initialisation (default random)').choices(['random', 'nndsvd', 'nndsvda']))
    .option('--seed <N>', 'seed of initialisation and shuffling (default: drawn now, so retries repeat the fit)', int('--seed', 0))
    .addOption(new Option('--device <D>', 'device (default auto)').choices(['auto', 'cpu', 'cuda']))
    .addOption(new Option('--dtype <T>', "computation dtype (default: the input's)").choices(['float32', 'float64']))
    .requiredOption('-o, --out <DIR>', 'output folder (a path every worker can write)')
    .option('--shards <S>', 'data-parallel fit over S row shards (S + 1 worker slots)', int('--shards', 1))
    .option('--checkpoint-every <N>', 'sharded fits: epochs between checkpoints of each shard (default 10)', int('--checkpoint-every', 1))
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--wait', 'wait for the result, with progress on stderr')
    .option('--json', 'print the result (or the job id) as one JSON line')
    .option('--no-progress', 'with --wait: no progress on stderr')
    .action(async (input: string, f: Where & {
      components: number; beta: number; solver: JobFitOptions['solver']; batchSize?: number; sagMemory?: number; maxIter?: number;
      tol?: number; costEvery?: number; init?: JobFitOptions['init']; seed?: number; device?: JobFitOptions['device'];
      dtype?: JobFitOptions['dtype']; out: string; shards?: number; checkpointEvery?: number; wait?: boolean; json?: boolean; progress: boolean;
    }) => {
      const options = Object.fromEntries(Object.entries({
        nComponents: f.components, beta: f.beta, solver: f.solver, batchSize: f.batchSize, sagMemory: f.sagMemory, maxIter: f.maxIter,
        tol: f.tol, costEvery: f.costEvery, init: f.init, seed: f.seed, device: f.device, dtype: f.dtype,
      }).filter(([, v]) => v !== undefined)) as JobFitOptions;
      await withQueue(f, async (q) => {
        const job = await q.submitFit({ input, out: f.out, options, shards: f.shards, checkpointEvery: f.checkpointEvery });
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

  submit
    .command('transform')
    .description('queue the activations H of Y for fixed bases W')
    .argument('<input>', 'Y as .npy (a path every worker can read)')
    .requiredOption('--w <FILE>', 'W.npy (F×K) from a fit')
    .requiredOption('-o, --out <FILE>', 'where the worker writes H.npy')
    .option('-b, --beta <B>', 'β (as used for fitting)', betaArg, 2)
    .option('--max-iter <N>', 'iterations (default 50)', int('--max-iter', 0))
    .option('--tol <T>', 'relative cost decrease that stops early (default 1e-4)', num('--tol'))
    .option('--seed <N>', 'seed of the initial H', int('--seed', 0))
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--wait', 'wait for the result')
    .option('--json', 'print the result (or the job id) as one JSON line')
    .action(async (input: string, f: Where & { w: string; out: string; beta: number; maxIter?: number; tol?: number; seed?: number;
      wait?: boolean; json?: boolean }) => {
      const options = Object.fromEntries(Object.entries({ beta: f.beta, maxIter: f.maxIter, tol: f.tol, seed: f.seed })
        .filter(([, v]) => v !== undefined));
      await withQueue(f, async (q) => {
        const job = await q.submitTransform({ input, w: f.w, out: f.out, options });
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
