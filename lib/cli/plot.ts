// `betanmf plot`: cost curves of one or more history.json files in one chart (.svg or .png).
import type { Command } from 'commander';
import { required } from './args';
import { checkChartRenderer, labelRuns, PLOT_EXTENSIONS, readHistory, writePlot } from './chart';
import { checkOutputFile } from './io';

export function plotCommand(cli: Command): void {
  const plot = cli
    .command('plot')
    .description('cost against time and epoch (log scale) for one or more history.json files; curves are labelled by folder')
    .argument('<history...>', 'history.json files written by `betanmf fit`');
  required(plot, '-o, --out <FILE>', 'chart to write (.svg or .png)');
  plot
    .option('--title <T>', 'chart title', 'β-NMF cost')
    .option('-f, --force', 'replace an existing --out file')
    .action((files: string[], f: { out: string; title: string; force?: boolean }) => {
      checkOutputFile(f.out, '--out', PLOT_EXTENSIONS, !!f.force);
      checkChartRenderer(f.out);
      writePlot(f.out, labelRuns(files.map(readHistory)), f.title);
      process.stdout.write(`wrote ${f.out}\n`);
    });
}
