// `betanmf submit fit | submit transform`: queue a fit or a transform for the workers, and
// optionally wait for its result.
import type { Command } from 'commander';
import type { JobFitOptions } from '../queue/jobs';
import { checkFitData, fitDataOptions, fitModelOptions, fitModelOptionsOf, int, required, transformOptions, transformOptionsOf, type FitDataFlags,
  type FitModelFlags, type TransformFlags } from './args';
import { fitLines } from './fit';
import { checkOutFolder } from './io';
import { isFitFile } from '../results';
import { queueOption, redisOption, showProgress, withQueue, type Where } from './queue';

interface FitFlags extends Where, FitModelFlags, FitDataFlags {
  out: string;
  force?: boolean;
  shards?: number;
  checkpointEvery?: number;
  wait?: boolean;
  json?: boolean;
  progress: boolean;
}

interface TransformJobFlags extends Where, TransformFlags {
  w: string;
  out: string;
  wait?: boolean;
  json?: boolean;
}

export function submitCommand(cli: Command): void {
  const submit = cli.command('submit').description('queue a fit or a transform for the workers');
  const submitFit = submit
    .command('fit')
    .description('queue a fit of X (N×F): the worker writes W.npy, H.npy and history.json into --out')
    .argument('<input>', 'X as .npy (a path every worker can read)');
  fitModelOptions(submitFit, 'seed of initialisation and shuffling (default: drawn now, so retries repeat the fit)');
  required(submitFit, '-o, --out <DIR>', 'output folder (a path every worker can write)');
  fitDataOptions(submitFit)
    .option('--shards <S>', 'data-parallel fit over S row shards (S + 1 worker slots)', int('--shards', 1))
    .option('-f, --force', 'replace the results of an earlier fit in --out (as fit --force)')
    .option('--checkpoint-every <N>', 'sharded fits: epochs between checkpoints of each shard (default 10)', int('--checkpoint-every', 1))
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--wait', 'wait for the result, with progress on stderr')
    .option('--json', 'print the result (or the job id) as one JSON line')
    .option('--no-progress', 'with --wait: no progress on stderr')
    .action(submitFitJob);

  const submitTransform = submit
    .command('transform')
    .description('queue the activations H of X for fixed bases W')
    .argument('<input>', 'X as .npy (a path every worker can read)');
  required(submitTransform, '--w <FILE>', 'W.npy (F×K) from a fit');
  required(submitTransform, '-o, --out <FILE>', 'where the worker writes H.npy');
  transformOptions(submitTransform)
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--wait', 'wait for the result')
    .option('--json', 'print the result (or the job id) as one JSON line')
    .action(submitTransformJob);
}

async function submitFitJob(input: string, f: FitFlags): Promise<void> {
  checkFitData(f);
  checkOutFolder(f.out, isFitFile, !!f.force); // the rules of `fit`, before anything is queued
  const options: JobFitOptions = { ...fitModelOptionsOf(f), ...(f.fixedComponents ? { fixedComponents: f.fixedComponents } : {}) };
  await withQueue(f, async (q) => {
    const job = await q.submitFit({ input, out: f.out, overwrite: !!f.force, options, shards: f.shards, checkpointEvery: f.checkpointEvery,
      ...(f.weights ? { weights: f.weights } : {}), ...(f.wInit ? { wInit: f.wInit } : {}) });
    if (!f.wait) {
      process.stdout.write(f.json ? JSON.stringify({ id: job.id }) + '\n' : `${job.id}\n`);
      return;
    }
    if (f.progress) job.on('progress', showProgress(job.id));
    const s = await job.wait();
    process.stdout.write(f.json ? JSON.stringify(s) + '\n' : `${job.id}: ${fitLines(s, undefined, f.out)}`);
  });
}

async function submitTransformJob(input: string, f: TransformJobFlags): Promise<void> {
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
}
