// `betanmf demo`: a synthetic spectrogram factorised by three solvers; writes X.npy, the
// mu_batch factors and a chart of the three cost curves.
import * as path from 'node:path';
import type { Command } from 'commander';
import { BetaNMF } from '../betanmf';
import { writeNpy } from '../io';
import { fitSeconds } from '../results';
import { syntheticSpectrogram } from '../synthetic';
import { costPoints, writePlot, type Series } from './chart';
import { checkOutFolder, writeOutFolder } from './io';

const DEMO_FILES = ['X.npy', 'W.npy', 'H.npy', 'cost.svg'];
const isDemoFile = (name: string) => DEMO_FILES.includes(name);

export function demoCommand(cli: Command): void {
  cli
    .command('demo')
    .description('factorise a synthetic spectrogram with three solvers; writes X.npy, W.npy, H.npy and cost.svg')
    .option('-o, --out <DIR>', 'output folder (replaced if it holds an earlier demo)', 'betanmf-demo')
    .action((f: { out: string }) => runDemo(f.out));
}

async function runDemo(out: string): Promise<void> {
  checkOutFolder(out, isDemoFile, true);
  const [N, F, K] = [4000, 257, 12];
  const X = syntheticSpectrogram(N, F, { components: K, seed: 1 });
  process.stdout.write(`betanmf demo: a synthetic ${N}×${F} spectrogram made of ${K} harmonic notes\n`);
  const runs: Series[] = [];
  let best: BetaNMF | undefined;
  for (const solver of ['mu_batch', 'asg_mu', 'gsg_mu'] as const) {
    const model = await new BetaNMF({ nComponents: K, beta: 1, solver, batchSize: 250, maxIter: 40, costEvery: 2, tol: 0, seed: 1 }).fit(X);
    process.stdout.write(`  ${solver.padEnd(8)} KL cost ${model.history[0].cost!.toExponential(3)} → ${model.cost.toExponential(3)} ` +
      `in ${fitSeconds(model.history).toFixed(2)}s (${model.nIter} epochs)\n`);
    runs.push({ label: solver, points: costPoints(model.history) });
    if (solver === 'mu_batch') best = model;
  }
  await writeOutFolder(out, isDemoFile, true, async (tmp) => {
    await writeNpy(path.join(tmp, 'X.npy'), X);
    await writeNpy(path.join(tmp, 'W.npy'), best!.W!);
    await writeNpy(path.join(tmp, 'H.npy'), best!.H!);
    writePlot(path.join(tmp, 'cost.svg'), runs, `demo: ${N}×${F}, K=${K}, β=1 (Kullback-Leibler)`);
  });
  process.stdout.write(`wrote X.npy (the spectrogram), W.npy and H.npy (mu_batch factors) and cost.svg in ${path.resolve(out)}\n`);
}
