// `betanmf rank`: cross-validation of K over held-out entries (crossValidate), printed as a table
// with the chosen K, optionally plotted; one progress line per fit on stderr.
import * as path from 'node:path';
import { Command } from 'commander';
import { crossValidate } from '../rank';
import { num, int } from './args';
import { checkOutputFile } from './io';
import { rankChartSvg, writeChart } from './rank-charts';
import { rankList, readSweepInputs, sweepFitOptionsOf, sweepOptions, warnLine, type SweepFlags } from './sweep';
import { checkChartRenderer, PLOT_EXTENSIONS } from './chart';

interface RankFlags extends SweepFlags {
  ranks: number[];
  reps: number;
  testFraction: number;
}

async function runRank(input: string, f: RankFlags): Promise<void> {
  if (f.plot !== undefined) {
    checkOutputFile(f.plot, '--plot', PLOT_EXTENSIONS, !!f.force);
    checkChartRenderer(f.plot);
  }
  const { X, weights } = await readSweepInputs(input, f);
  const cv = await crossValidate(X, {
    ...sweepFitOptionsOf(f), ranks: f.ranks, reps: f.reps, testFraction: f.testFraction, seed: f.seed, weights, workers: f.workers, onWarning: warnLine,
    onRun: f.progress
      ? (r, done, total) => process.stderr.write(`fit ${done}/${total}: K=${r.k} rep ${r.rep}  train ${r.trainLoss.toPrecision(6)}  ` +
        `held out ${r.testLoss.toPrecision(6)}  ${r.nIter} epochs  ${r.seconds.toFixed(2)}s\n`)
      : undefined,
  });
  const title = `${path.basename(input)}: ${X.rows}×${X.cols}, β=${f.beta}, ${f.reps} reps of ${f.testFraction * 100}% held out`;
  if (f.plot !== undefined) writeChart(f.plot, rankChartSvg(cv.ranks, cv.bestK, cv.chosenK, title));
  if (f.json) {
    process.stdout.write(JSON.stringify(cv) + '\n');
    return;
  }
  const lines = [title, '   K  train loss   held-out loss ± SE', ...cv.ranks.map((r) =>
    `${String(r.k).padStart(4)}  ${r.meanTrainLoss.toPrecision(6).padStart(10)}   ${r.meanTestLoss.toPrecision(6)} ± ${r.seTestLoss.toPrecision(2)}` +
    `${r.k === cv.chosenK ? '  ← chosen' : ''}${r.k === cv.bestK ? '  (lowest)' : ''}`),
  `chosen K = ${cv.chosenK}: the smallest K whose mean held-out loss is within one standard error of the lowest (K = ${cv.bestK})`,
  `seed ${cv.seed}${f.plot ? `; wrote ${f.plot}` : ''}`];
  process.stdout.write(lines.join('\n') + '\n');
}

/** Adds the `rank` command to the program (as a subcommand made by cli.command, so it inherits the program's settings). */
export function rankCommand(cli: Command): void {
  const cmd = cli
    .command('rank')
    .description('choose K by cross-validation: fit each rank with a share of the entries held out, compare held-out losses')
    .argument('<input>', 'X as .npy or .csv')
    .requiredOption('--ranks <LIST>', 'ranks to try, e.g. 2-12 or 2,4,8', rankList())
    .option('--reps <N>', 'repetitions, each with its own held-out entries', int('--reps', 1), 3)
    .option('--test-fraction <F>', 'share of the entries held out in each repetition, in (0, 1)', num('--test-fraction', 0, 1), 0.1)
    .option('--plot <FILE>', 'draw training and held-out loss against K (.svg or .png)');
  sweepOptions(cmd).action((input: string, f: RankFlags) => runRank(input, f));
}
