// `betanmf jobs`: the jobs in the queue with their state, progress, worker and timings.
import type { Command } from 'commander';
import { queueOption, redisOption, withQueue, type Where } from './queue';

export function jobsCommand(cli: Command): void {
  cli
    .command('jobs')
    .description('jobs in the queue: state, progress, worker, timings')
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--json', 'as JSON (one array)')
    .action(listJobs);
}

async function listJobs(f: Where & { json?: boolean }): Promise<void> {
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
}

function time(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
