// What `betanmf rank` and `betanmf consensus` share: the fit options a sweep passes to every
// fit (no -k: the sweep sets K), the sweep's own options, and reading X with its weights.
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolveDevice } from '../device';
import type { Matrix } from '../matrix';
import { SOLVERS } from '../options';
import type { SweepFitOptions } from '../rank';
import { beta, int, missingOption, num } from './args';
import { readMatrix } from '../files';
import { checkInput, UsageError } from './io';

export interface SweepFlags {
  beta: number;
  solver: SweepFitOptions['solver'];
  batchSize?: number;
  maxIter?: number;
  tol?: number;
  costEvery?: number;
  init?: SweepFitOptions['init'];
  seed?: number;
  device?: SweepFitOptions['device'];
  dtype?: SweepFitOptions['dtype'];
  missing?: 'nan';
  weights?: string;
  workers?: number;
  plot?: string;
  force?: boolean;
  json?: boolean;
  progress: boolean;
}

/** Adds the options every fit of the sweep gets, and the sweep's seed, workers, weights and outputs. */
export function sweepOptions(cmd: Command): Command {
  return cmd
    .option('-b, --beta <B>', 'β: a number, or frobenius | euclidean (2), kullback-leibler | kl (1), itakura-saito | is (0)', beta(), 2)
    .addOption(new Option('-s, --solver <S>', 'solver of every fit').choices([...SOLVERS]).default('mu_batch'))
    .option('--batch-size <N>', 'rows per mini-batch of the stochastic solvers (default 1024)', int('--batch-size', 1))
    .option('--max-iter <N>', 'epochs per fit (default 50)', int('--max-iter', 0))
    .option('--tol <T>', 'relative cost decrease that stops a fit early; 0 disables (default 1e-4)', num('--tol'))
    .option('--cost-every <N>', 'epochs between cost evaluations (default 10)', int('--cost-every', 1))
    .addOption(new Option('--init <I>', 'initialisation of every fit (default random)').choices(['random', 'nndsvd', 'nndsvda', 'nndsvdar']))
    .option('--seed <N>', 'seed of the sweep (every fit\'s seed derives from it; default random, printed)', int('--seed', 0))
    .addOption(new Option('--device <D>', 'device (default auto)').choices(['auto', 'cpu', 'cuda']))
    .addOption(new Option('--dtype <T>', "computation dtype (default: the input's)").choices(['float32', 'float64']))
    .addOption(missingOption())
    .option('--weights <FILE>', 'entry weights (.npy, N×F like X, ≥ 0; 0 marks a missing entry)')
    .option('--workers <N>', 'fits at once, each in its own process with its share of the cores (default: the cores)', int('--workers', 1))
    .option('-f, --force', 'replace an existing --plot file')
    .option('--json', 'print the result as JSON on stdout')
    .option('--no-progress', 'no progress lines on stderr');
}

/** The fit options (those given; BetaNMF's defaults for the others). */
export function sweepFitOptionsOf(f: SweepFlags): SweepFitOptions {
  const o: SweepFitOptions = { beta: f.beta, solver: f.solver, batchSize: f.batchSize, maxIter: f.maxIter, tol: f.tol, costEvery: f.costEvery,
    init: f.init, device: f.device, dtype: f.dtype, missing: f.missing };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as SweepFitOptions;
}

/** A warning about the fit options as one line on stderr, as the other commands print them. */
export function warnLine(message: string): void {
  process.stderr.write(`betanmf: warning: ${message.replace(/^BetaNMF: /, '')}\n`);
}

/** Checks the inputs before work starts, then reads X and the weights (same shape). */
export async function readSweepInputs(input: string, f: SweepFlags): Promise<{ X: Matrix; weights?: Matrix }> {
  checkInput(input);
  if (f.weights !== undefined) checkInput(f.weights, '--weights');
  if (f.device !== undefined) resolveDevice(f.device, '--device');
  const X = await readMatrix(input);
  if (f.weights === undefined) return { X };
  const weights = await readMatrix(f.weights);
  if (weights.rows !== X.rows || weights.cols !== X.cols) {
    throw new UsageError(`${f.weights}: the weights are ${weights.rows}×${weights.cols}, but X is ${X.rows}×${X.cols} (they must match)`);
  }
  return { X, weights };
}

/** "2-12", "2,4,8" or "2-6,8,10": distinct ranks ≥ 1, ascending. */
export function rankList(name = '--ranks') {
  return (v: string): number[] => {
    const bad = () => new InvalidArgumentError(`${name}: expected ranks such as 2-12 or 2,4,8 (integers ≥ 1), received ${JSON.stringify(v)}`);
    const out = new Set<number>();
    for (const part of v.split(',')) {
      const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
      if (!m) throw bad();
      const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
      if (a < 1 || b < a || b - a > 10000) throw bad();
      for (let k = a; k <= b; k++) out.add(k);
    }
    return [...out].sort((x, y) => x - y);
  };
}
