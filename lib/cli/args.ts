// Parsers for the command line's option values. Each throws commander's InvalidArgumentError
// with "<option>: expected …, received …", which main() prints as one line (exit code 2).
// Also the option sets several commands share (`fit` and `submit fit`, `transform` and
// `submit transform`), so each option is defined, parsed and documented once.
import { Command, InvalidArgumentError, Option } from 'commander';
import { SOLVERS, type BetaNMFOptions } from '../options';
import { UsageError } from './io';

/** β by name, as users write it (scikit-learn's names, short forms, numbers). */
export const BETA_NAMES: Record<string, number> = {
  frobenius: 2, euclidean: 2, 'kullback-leibler': 1, kl: 1, 'itakura-saito': 0, is: 0,
};
const BETA_HELP = `a number or ${Object.keys(BETA_NAMES).join(' | ')}`;

export function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name}: expected an integer ≥ ${min}, received ${v}`);
    return n;
  };
}

export function num(name: string, min = -Infinity, max = Infinity) {
  const expected = min === -Infinity ? 'a number' : max === Infinity ? `a number ≥ ${min}` : `a number in [${min}, ${max}]`;
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name}: expected ${expected}, received ${v}`);
    return n;
  };
}

export function beta(name = '--beta') {
  return (v: string): number => {
    const key = v.trim().toLowerCase().replace(/_/g, '-');
    if (key in BETA_NAMES) return BETA_NAMES[key];
    const n = Number(key);
    if (key === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name}: expected ${BETA_HELP}, received ${JSON.stringify(v)}`);
    return n;
  };
}

/** A comma-separated list of integers ≥ 0 (column indices such as 0,1,2). */
export function intList(name: string) {
  const one = int(name, 0);
  return (v: string): number[] => {
    const items = v.split(',');
    if (items.some((s) => s.trim() === '')) throw new InvalidArgumentError(`${name}: expected comma-separated integers such as 0,1,2, received ${JSON.stringify(v)}`);
    return items.map((s) => one(s.trim()));
  };
}

/** A comma-separated list of β (numbers or names). */
export function betaList(name = '--beta') {
  const one = beta(name);
  return (v: string): number[] => {
    const items = v.split(',');
    if (items.some((s) => s.trim() === '')) throw new InvalidArgumentError(`${name}: expected a comma-separated list of β (${BETA_HELP}), received ${JSON.stringify(v)}`);
    return items.map(one);
  };
}

/** "NxFxK" → [N, F, K]. */
export function shape(name = '--shape') {
  return (v: string): [number, number, number] => {
    const m = /^(\d+)x(\d+)x(\d+)$/i.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name}: expected NxFxK such as 10000x513x50, received ${JSON.stringify(v)}`);
    const dims = [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number];
    if (dims.some((d) => d < 1)) throw new InvalidArgumentError(`${name}: expected positive dimensions, received ${v}`);
    return dims;
  };
}

/** Options other tools spell differently, for "did you mean" when commander finds nothing close. */
export const OPTION_ALIASES: Record<string, string> = {
  '-n': '--components', '--n-components': '--components', '--n_components': '--components', '--ncomponents': '--components',
  '--rank': '--components', '-r': '--components', '--beta-loss': '--beta', '--beta_loss': '--beta', '--loss': '--beta',
  '--random-state': '--seed', '--random_state': '--seed', '--iterations': '--max-iter', '--max_iter': '--max-iter',
  '--epochs': '--max-iter', '--output': '--out', '--batch_size': '--batch-size', '--force-overwrite': '--force',
};

/** Options marked "(required)" in --help, checked by checkRequired after commander has reported unknown options. */
const REQUIRED = new WeakMap<Command, Option[]>();

export function required(cmd: Command, flags: string, description: string, parser?: (v: string) => unknown): Command {
  const o = new Option(flags, `${description} (required)`);
  if (parser) o.argParser(parser);
  REQUIRED.set(cmd, [...(REQUIRED.get(cmd) ?? []), o]);
  return cmd.addOption(o);
}

/**
 * The one-line usage error for the first required option `cmd` was not given, or for a file or
 * folder option given as '' (a preAction hook): an empty path would otherwise name the current
 * folder's parent or fail late, on a temporary name.
 */
export function checkRequired(cmd: Command): void {
  for (const o of REQUIRED.get(cmd) ?? []) {
    if (cmd.getOptionValue(o.attributeName()) === undefined) {
      throw new UsageError(`required option '${o.flags}' not specified (see ${commandPath(cmd)} --help)`);
    }
  }
  for (const o of cmd.options) {
    if (/<(FILE|DIR)>/.test(o.flags) && cmd.getOptionValue(o.attributeName()) === '') {
      throw new UsageError(`${o.long}: expected a ${o.flags.includes('<DIR>') ? 'folder' : 'file'} path, received an empty string`);
    }
  }
}

/** "betanmf submit fit": the words that run `cmd`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** What the model options of `fit` and `submit fit` parse to. */
export interface FitModelFlags {
  components: number;
  beta: number;
  solver: BetaNMFOptions['solver'];
  batchSize?: number;
  sagMemory?: number;
  maxIter?: number;
  tol?: number;
  costEvery?: number;
  maxNoImprovement?: number;
  init?: BetaNMFOptions['init'];
  seed?: number;
  device?: BetaNMFOptions['device'];
  dtype?: BetaNMFOptions['dtype'];
  alphaW?: number;
  alphaH?: number;
  l1Ratio?: number;
  missing?: 'nan';
  accelerate?: boolean;
}

/** Adds the model options of a fit (-k required, β, solver, iteration controls, init, seed, device, dtype). */
export function fitModelOptions(cmd: Command, seedHelp = 'seed of initialisation and shuffling'): Command {
  required(cmd, '-k, --components <K>', 'number of components', int('--components', 1));
  return cmd
    .option('-b, --beta <B>', 'β: a number, or frobenius | euclidean (2), kullback-leibler | kl (1), itakura-saito | is (0)', beta(), 2)
    .addOption(new Option('-s, --solver <S>', 'solver').choices([...SOLVERS]).default('mu_batch'))
    .option('--accelerate', "the solver's accelerated form (hals: repeated sweeps, Gillis & Glineur; not the MU solvers yet)")
    .option('--batch-size <N>', 'rows per mini-batch of the stochastic solvers (default 1024)', int('--batch-size', 1))
    .option('--sag-memory <N>', 'SAG memory for asag_mu / gsag_mu (default 0)', int('--sag-memory', 0))
    .option('--max-iter <N>', 'epochs (default 50)', int('--max-iter', 0))
    .option('--tol <T>', 'relative cost decrease that stops early; 0 disables (default 1e-4)', num('--tol', 0))
    .option('--cost-every <N>', 'epochs between cost evaluations (default 10)', int('--cost-every', 1))
    .option('--max-no-improvement <N>', 'stop after N cost evaluations without a new best, keeping the best factors (default off)',
      int('--max-no-improvement', 1))
    .addOption(new Option('--init <I>', 'initialisation (default random)').choices(['random', 'nndsvd', 'nndsvda', 'nndsvdar']))
    .option('--seed <N>', seedHelp, int('--seed', 0))
    .addOption(new Option('--device <D>', 'device (default auto)').choices(['auto', 'cpu', 'cuda']))
    .addOption(new Option('--dtype <T>', "computation dtype (default: the input's)").choices(['float32', 'float64']))
    .option('--alpha-w <A>', "penalty on W (the bases; scikit-learn's alpha_H): adds αW·N·(ρ‖W‖₁ + ½(1−ρ)‖W‖²) (default 0)", num('--alpha-w', 0))
    .option('--alpha-h <A>', "penalty on H (the activations; scikit-learn's alpha_W): adds αH·F·(ρ‖H‖₁ + ½(1−ρ)‖H‖²) (default 0)", num('--alpha-h', 0))
    .option('--l1-ratio <R>', 'ρ, the L1 share of both penalties, in [0, 1] (default 0: L2 only)', num('--l1-ratio', 0, 1))
    .addOption(missingOption());
}

/** Data files of a fit next to X: entry weights, and the bases whose columns --fixed-components keeps. */
export interface FitDataFlags {
  weights?: string;
  wInit?: string;
  fixedComponents?: number[];
}

/** Adds --weights, --w-init and --fixed-components (fit and submit fit). */
export function fitDataOptions(cmd: Command): Command {
  return cmd
    .option('--weights <FILE>', 'entry weights (.npy, N×F like X, finite and ≥ 0; 0 marks a missing entry)')
    .option('--w-init <FILE>', 'bases W (.npy, F×K) whose --fixed-components columns are kept as given (the others start from --init)')
    .option('--fixed-components <LIST>', 'comma-separated columns of --w-init kept exactly as given (e.g. 0,1,2)', intList('--fixed-components'));
}

/** --w-init and --fixed-components come together. */
export function checkFitData(f: FitDataFlags): void {
  if (f.fixedComponents && f.wInit === undefined) throw new UsageError('--fixed-components: needs --w-init W.npy (the bases whose columns stay fixed)');
  if (f.wInit !== undefined && !f.fixedComponents) throw new UsageError('--w-init: needs --fixed-components (the columns of W to keep; the others start from --init)');
}

/** --missing nan: NaN entries of X are missing (weight 0) instead of an error. */
export function missingOption(): Option {
  return new Option('--missing <M>', 'nan: NaN entries of X are missing entries (weight 0) instead of an error').choices(['nan']);
}

/** BetaNMF options from fitModelOptions' flags (options not given are left out, so BetaNMF's defaults apply). */
export function fitModelOptionsOf(f: FitModelFlags) {
  return definedOnly({
    nComponents: f.components, beta: f.beta, solver: f.solver, batchSize: f.batchSize, sagMemory: f.sagMemory, maxIter: f.maxIter,
    tol: f.tol, costEvery: f.costEvery, maxNoImprovement: f.maxNoImprovement, init: f.init, seed: f.seed, device: f.device, dtype: f.dtype,
    alphaW: f.alphaW, alphaH: f.alphaH, l1Ratio: f.l1Ratio, missing: f.missing, accelerate: f.accelerate,
  });
}

/** What the options of `transform` and `submit transform` parse to. */
export interface TransformFlags {
  beta: number;
  maxIter?: number;
  tol?: number;
  seed?: number;
  missing?: 'nan';
  weights?: string;
}

/** Adds the iteration options of a transform (β as used for fitting, epochs, tolerance, seed of the initial H). */
export function transformOptions(cmd: Command): Command {
  return cmd
    .option('-b, --beta <B>', 'β (as used for fitting): a number or a name as for fit', beta(), 2)
    .option('--max-iter <N>', 'iterations (default 50)', int('--max-iter', 0))
    .option('--tol <T>', 'relative cost decrease that stops early (default 1e-4)', num('--tol', 0))
    .option('--seed <N>', 'seed of the initial H', int('--seed', 0))
    .addOption(missingOption())
    .option('--weights <FILE>', 'entry weights (.npy, N×F like the input; 0 marks a missing entry)');
}

export function transformOptionsOf(f: TransformFlags) {
  return definedOnly({ beta: f.beta, maxIter: f.maxIter, tol: f.tol, seed: f.seed, missing: f.missing });
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
