// `betanmf consensus`: many fits of one K from different seeds (consensus), and how stable their
// clustering is (cophenetic correlation, dispersion, PAC, per-component stability); the
// consensus matrix as a heatmap on request; one progress line per fit on stderr.
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { consensus } from '../rank';
import { int, num } from './args';
import { checkOutputFile } from './io';
import { checkChartRenderer, PLOT_EXTENSIONS } from './chart';
import { consensusHeatmapSvg, writeChart } from './rank-charts';
import { readSweepInputs, sweepFitOptionsOf, sweepOptions, warnLine, type SweepFlags } from './sweep';

interface ConsensusFlags extends SweepFlags {
  components: number;
  runs: number;
  over: 'rows' | 'columns';
  pacLower: number;
  pacUpper: number;
}

async function runConsensus(input: string, f: ConsensusFlags): Promise<void> {
  if (f.plot !== undefined) {
    checkOutputFile(f.plot, '--plot', PLOT_EXTENSIONS, !!f.force);
    checkChartRenderer(f.plot);
  }
  const { X, weights } = await readSweepInputs(input, f);
  const c = await consensus(X, {
    ...sweepFitOptionsOf(f), k: f.components, runs: f.runs, over: f.over, pacLower: f.pacLower, pacUpper: f.pacUpper, seed: f.seed, weights,
    workers: f.workers, onWarning: warnLine,
    onRun: f.progress
      ? (r, done, total) => process.stderr.write(`fit ${done}/${total}: run ${r.run}  cost ${r.cost.toPrecision(8)}  ${r.nIter} epochs  ${r.seconds.toFixed(2)}s\n`)
      : undefined,
  });
  c.best.dispose();
  const title = `${path.basename(input)}: consensus of ${f.runs} fits, K=${f.components}, β=${f.beta} (${f.over})`;
  if (f.plot !== undefined) writeChart(f.plot, consensusHeatmapSvg(c.consensus, c.order, title));
  const summary = {
    k: f.components, runs: f.runs, over: f.over, cophenetic: c.cophenetic, dispersion: c.dispersion, pac: c.pac, pacBounds: [f.pacLower, f.pacUpper],
    stability: [...c.stability], bestRun: c.bestRun, bestCost: c.runs[c.bestRun].cost, seed: c.seed, fits: c.runs,
  };
  if (f.json) {
    process.stdout.write(JSON.stringify(summary) + '\n');
    return;
  }
  process.stdout.write([
    title,
    `cophenetic correlation ${c.cophenetic.toFixed(4)}  (1 = the same clustering every run)`,
    `dispersion             ${c.dispersion.toFixed(4)}  (1 = every pair always or never together)`,
    `PAC (${f.pacLower}, ${f.pacUpper}]        ${c.pac.toFixed(4)}  (share of ambiguous pairs; 0 = none)`,
    `stability per component (mean correlation of the matched column of W over the other runs):`,
    `  ${[...c.stability].map((s) => s.toFixed(3)).join(' ')}`,
    `best run ${c.bestRun} (cost ${c.runs[c.bestRun].cost.toPrecision(8)}); seed ${c.seed}${f.plot ? `; wrote ${f.plot}` : ''}`,
  ].join('\n') + '\n');
}

/** Adds the `consensus` command to the program (as a subcommand made by cli.command, so it inherits the program's settings). */
export function consensusCommand(cli: Command): void {
  const cmd = cli
    .command('consensus')
    .description('fit one K from many seeds; report how stable the clustering of the rows is (cophenetic, dispersion, PAC)')
    .argument('<input>', 'X as .npy or .csv')
    .requiredOption('-k, --components <K>', 'number of components', int('--components', 1))
    .option('--runs <N>', 'fits from different seeds', int('--runs', 1), 30)
    .addOption(new Option('--over <WHAT>', "cluster X's rows (by H) or columns (by W)").choices(['rows', 'columns']).default('rows'))
    .option('--pac-lower <P>', 'PAC counts pairs with consensus in (lower, upper]', num('--pac-lower', 0, 1), 0.1)
    .option('--pac-upper <P>', 'upper bound of PAC\'s interval', num('--pac-upper', 0, 1), 0.9)
    .option('--plot <FILE>', 'draw the consensus matrix in dendrogram order (.svg or .png)');
  sweepOptions(cmd).action((input: string, f: ConsensusFlags) => runConsensus(input, f));
}
