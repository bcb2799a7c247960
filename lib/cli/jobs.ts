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
    .option('--all', `every job (default: the newest ${SHOWN} of each state)`)
    .action(listJobs);
}

const SHOWN = 200;

async function listJobs(f: Where & { json?: boolean; all?: boolean }): Promise<void> {
  const [list, counts] = await withQueue(f, async (q) => [await q.jobs({ perState: f.all ? Infinity : SHOWN }), await q.jobCounts()] as const);
  // Say what is left out rather than cap silently.
  for (const [state, n] of Object.entries(counts)) {
    const shown = list.filter((j) => j.state === state).length;
    if (n > shown) process.stderr.write(`betanmf: showing the newest ${shown} of ${n} ${state} jobs; --all lists every job\n`);
  }
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
