// Independent fits of a sweep at once: worker processes (child_process.fork, structured-clone
// messages), each with its share of the cores as its native thread count, take fits from one
// list until it is empty. Each fit's numbers come from runFit (rank-fit.ts) with its own seed,
// and the native core gives the same result whatever its thread count, so a parallel sweep is
// bit for bit the sequential one; results are kept in task order, whatever order they finish in.
import { fork, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFit, type FitOutcome, type FitTask, type SweepData } from './rank-fit';

export type ParentMessage = { type: 'setup'; data: SweepData } | { type: 'run'; index: number; task: FitTask };
export type ChildMessage = { type: 'done'; index: number; outcome: FitOutcome } | { type: 'error'; index: number; name: string; message: string };

/** Cores this process may use. */
export function cores(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/**
 * Runs `tasks` on `workers` processes (in this process, one after the other, when workers ≤ 1)
 * and resolves to their outcomes in task order; `onDone` hears of each as it ends.
 */
export async function runFits(data: SweepData, tasks: FitTask[], workers: number,
  onDone: (index: number, outcome: FitOutcome) => void = () => {}): Promise<FitOutcome[]> {
  const out: FitOutcome[] = new Array(tasks.length);
  const n = Math.min(workers, tasks.length);
  if (n <= 1) {
    for (let i = 0; i < tasks.length; i++) {
      out[i] = await runFit(data, tasks[i]);
      onDone(i, out[i]);
    }
    return out;
  }
  const threads = Math.max(1, Math.floor(cores() / n));
  const children: ChildProcess[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0, finished = 0, failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        reject(err);
      };
      const give = (child: ChildProcess) => {
        if (next < tasks.length) child.send({ type: 'run', index: next, task: tasks[next++] } satisfies ParentMessage);
      };
      for (let w = 0; w < n; w++) {
        const child = spawnWorker(threads);
        children.push(child);
        child.on('message', (m: ChildMessage) => {
          if (m.type === 'error') {
            const err = m.name === 'RangeError' ? new RangeError(m.message) : m.name === 'TypeError' ? new TypeError(m.message) : new Error(m.message);
            fail(err);
            return;
          }
          out[m.index] = m.outcome;
          onDone(m.index, m.outcome);
          if (++finished === tasks.length) resolve();
          else give(child);
        });
        child.on('error', fail);
        child.on('exit', (code, signal) => {
          if (finished < tasks.length) fail(new Error(`betanmf: a worker process of the sweep ended (${signal ?? `exit code ${code}`}) before its fits were done`));
        });
        child.send({ type: 'setup', data } satisfies ParentMessage);
        give(child);
      }
    });
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
  }
  return out;
}

/** A worker process running rank-worker (its .ts source under tsx, else the compiled .js). */
function spawnWorker(threads: number): ChildProcess {
  const ext = path.extname(__filename);
  const execArgv = [...process.execArgv];
  if (ext === '.ts' && !execArgv.some((a) => a.includes('tsx'))) execArgv.push('--import', 'tsx');
  return fork(path.join(__dirname, `rank-worker${ext}`), [], {
    env: { ...process.env, BETANMF_NUM_THREADS: String(threads) },
    execArgv,
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/** The worker side: holds the sweep's data and runs fits one at a time as asked. */
export function serveFits(): void {
  let data: SweepData | undefined;
  let queue = Promise.resolve();
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'setup') {
      data = m.data;
      return;
    }
    queue = queue.then(async () => {
      try {
        const outcome = await runFit(data!, m.task);
        process.send!({ type: 'done', index: m.index, outcome } satisfies ChildMessage);
      } catch (err) {
        const e = err as Error;
        process.send!({ type: 'error', index: m.index, name: e?.name ?? 'Error', message: String(e?.message ?? e) } satisfies ChildMessage);
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
}
