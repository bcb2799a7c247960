// `betanmf worker`: runs queued fits and transforms; stops gracefully on SIGTERM / SIGINT.
import type { Command } from 'commander';
import { int } from './args';
import { queueModule, queueOption, redisOption, type Where } from './queue';
import { takeSignals } from './signals';

interface Flags extends Where {
  concurrency: number;
  lockDuration: number;
  stalledInterval: number;
}

export function workerCommand(cli: Command): void {
  cli
    .command('worker')
    .description('run queued fits and transforms (stops gracefully on SIGTERM / SIGINT)')
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--concurrency <N>', 'jobs at once (a fit with S shards needs S + 1 slots over all workers)', int('--concurrency', 1), 1)
    .option('--lock-duration <MS>', 'a job whose worker is silent this long is taken over by another', int('--lock-duration', 100), 30000)
    .option('--stalled-interval <MS>', 'how often to look for such jobs', int('--stalled-interval', 100), 30000)
    .action(runWorker);
}

async function runWorker(f: Flags): Promise<void> {
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
}
