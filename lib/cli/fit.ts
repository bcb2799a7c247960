// `betanmf fit`: factorise X read from a file; writes W.npy, H.npy and history.json (and an
// optional chart) into a new folder, whole or not at all.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { BetaNMF } from '../betanmf';
import { resolveDevice } from '../device';
import { readMatrix } from '../files';
import { writeNpy } from '../io';
import { isFitFile, writeFitResults, type FitSummary } from '../results';
import { checkFitData, fitDataOptions, fitModelOptions, fitModelOptionsOf, required, type FitDataFlags, type FitModelFlags } from './args';
import { checkChartRenderer, costPoints, PLOT_EXTENSIONS, writePlot } from './chart';
import { checkInput, checkOutFolder, checkOutputFile, readShaped, readWeights, UsageError, warnLine, writeOutFolder } from './io';
import { progress } from './progress';

interface FitFlags extends FitModelFlags, FitDataFlags {
  out: string;
  plot?: string;
  force?: boolean;
  json?: boolean;
  progress: boolean;
}


export function fitCommand(cli: Command): void {
  const fit = cli
    .command('fit')
    .description('factorise a data matrix X (N×F) as H·Wᵀ; writes W.npy (F×K), H.npy (N×K) and history.json into a new folder')
    .argument('<input>', 'X as .npy (float32/float64/integer, C order) or .csv');
  fitModelOptions(fit);
  required(fit, '-o, --out <DIR>', 'output folder (new, or one written by fit with --force)');
  fitDataOptions(fit)
    .option('--plot <FILE>', 'also draw the cost curves (.svg or .png)')
    .option('-f, --force', 'replace earlier outputs (--out folder, --plot file)')
    .option('--json', 'print a one-line JSON summary on stdout')
    .option('--no-progress', 'no progress output on stderr')
    .action(runFit);
}

async function runFit(input: string, f: FitFlags): Promise<void> {
  const out = f.out;
  checkInput(input);
  const plotInside = f.plot !== undefined && path.dirname(path.resolve(f.plot)) === path.resolve(out);
  if (f.plot !== undefined) {
    if (!plotInside) checkOutputFile(f.plot, '--plot', PLOT_EXTENSIONS, !!f.force);
    else if (!PLOT_EXTENSIONS.includes(path.extname(f.plot).toLowerCase())) {
      throw new UsageError(`--plot ${f.plot}: expected a file name ending in ${PLOT_EXTENSIONS.join(' or ')}`);
    }
    checkChartRenderer(f.plot);
  }
  checkOutFolder(out, isFitFile, !!f.force);
  if (f.weights !== undefined) checkInput(f.weights, '--weights');
  if (f.wInit !== undefined) checkInput(f.wInit, '--w-init');
  checkFitData(f);
  if (f.device !== undefined) resolveDevice(f.device, '--device');
  const X = await readMatrix(input);
  const W = f.wInit === undefined ? undefined : await readShaped(f.wInit, 'W is', X.cols, f.components, "F×K: X's columns × --components");
  const weights = await readWeights(f.weights, X);
  const model = new BetaNMF({ ...fitModelOptionsOf(f), ...(W ? { W } : {}),
    ...(f.fixedComponents ? { fixedComponents: f.fixedComponents } : {}), onWarning: warnLine });
  const bar = progress(model.options.maxIter, f.progress);
  let fitted;
  try {
    fitted = await model.fit(X, { weights, onEpoch: ({ epoch, cost, seconds }) => void bar.update(epoch, cost, seconds) });
  } finally {
    bar.stop();
  }
  if (fitted.stopReason === 'noImprovement') {
    warnLine(`stopped after ${fitted.nIter} epochs: ${fitted.options.maxNoImprovement} cost evaluations without a new lowest cost; ` +
      `the factors are the best seen (cost ${fitted.cost.toPrecision(8)})`);
  }
  const { solver, beta, nComponents } = fitted.options;
  const plotTitle = `${path.basename(input)}: K=${nComponents}, β=${beta}, ${solver}`;
  const series = [{ label: `${solver} (β=${beta})`, points: costPoints(fitted.history) }];
  let summary: FitSummary | undefined;
  await writeOutFolder(out, isFitFile, !!f.force, async (tmp) => {
    summary = await writeFitResults({
      matrix: (name, m) => writeNpy(path.join(tmp, name), m),
      text: (name, text) => fs.promises.writeFile(path.join(tmp, name), text),
    }, fitted, input, X);
    if (f.plot && plotInside) writePlot(path.join(tmp, path.basename(f.plot)), series, plotTitle);
  });
  if (f.plot && !plotInside) writePlot(f.plot, series, plotTitle);
  if (f.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else process.stdout.write(fitLines(summary!, X, out, f.plot));
}

/** What `fit` (and `submit fit --wait`) says when done. */
export function fitLines(s: FitSummary, X: { rows: number; cols: number } | undefined, out: string, plot?: string): string {
  return `fitted ${X ? `${X.rows}×${X.cols} ` : ''}with K=${s.components}, β=${s.beta}, ${s.solver}: ` +
    `cost ${s.cost.toPrecision(8)} after ${s.iterations} epochs in ${s.seconds.toFixed(2)}s\n` +
    `wrote ${path.join(out, 'W.npy')}, H.npy, history.json${plot ? ` and ${plot}` : ''}\n`;
}
