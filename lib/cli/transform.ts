// `betanmf transform`: the activations H of X for fixed bases W (from `betanmf fit`).
import type { Command } from 'commander';
import { readMatrix } from '../files';
import { writeNpy } from '../io';
import { checkBases, fixedBasesModel } from '../results';
import { required, transformOptions, transformOptionsOf, type TransformFlags } from './args';
import { checkInput, checkOutputFile, readWeights, usage } from './io';

interface Flags extends TransformFlags {
  w: string;
  out: string;
  force?: boolean;
}

export function transformCommand(cli: Command): void {
  const transform = cli
    .command('transform')
    .description('activations H of X for fixed bases W')
    .argument('<input>', 'X as .npy or .csv');
  required(transform, '--w <FILE>', 'W.npy (F×K) from `betanmf fit`');
  required(transform, '-o, --out <FILE>', 'where to write H (.npy)');
  transformOptions(transform)
    .option('-f, --force', 'replace an existing --out file')
    .action(runTransform);
}

async function runTransform(input: string, f: Flags): Promise<void> {
  checkInput(input);
  checkInput(f.w, '--w');
  if (f.weights !== undefined) checkInput(f.weights, '--weights');
  checkOutputFile(f.out, '--out', ['.npy'], !!f.force);
  const X = await readMatrix(input);
  const W = await readMatrix(f.w);
  usage(() => checkBases(W, X, f.w));
  const weights = await readWeights(f.weights, X);
  const model = fixedBasesModel(W, X, transformOptionsOf(f), f.w);
  const H = await model.transform(X, { weights });
  await writeNpy(f.out, H);
  process.stdout.write(`wrote ${f.out} (${H.rows}×${H.cols})\n`);
}
