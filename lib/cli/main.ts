// The `betanmf` command line: fit, transform, bench, inspect, plot, demo.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { BetaNMF, type HistoryEntry } from '../betanmf';
import { devices, openblasWarning } from '../device';
import { addon, packageRoot } from '../native';
import { resolveBeta, SOLVERS, type BetaNMFOptions } from '../options';
import { syntheticSpectrogram } from '../synthetic';
import { bench, parseShape } from './bench';
import { readMatrix, UsageError, writeNpy } from './io';
import { readHistory, writePlot } from './plot';
import { registerQueueCommands } from './queue';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require(path.join(packageRoot, 'package.json')) as { version: string };

function int(name: string, min = 0) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name}: expected an integer ≥ ${min}, received ${v}`);
    return n;
  };
}
function num(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name}: expected a number, received ${v}`);
    return n;
  };
}
function betaArg(v: string): number {
  const asNumber = Number(v);
  try {
    return resolveBeta(v.trim() !== '' && Number.isFinite(asNumber) ? asNumber : v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

interface FitFlags {
  components: number;
  beta: number;
  solver: BetaNMFOptions['solver'];
  batchSize?: number;
  sagMemory?: number;
  maxIter?: number;
  tol?: number;
  costEvery?: number;
  init?: BetaNMFOptions['init'];
  seed?: number;
  device?: BetaNMFOptions['device'];
  dtype?: BetaNMFOptions['dtype'];
  out: string;
  plot?: string;
  json?: boolean;
  progress: boolean;
}

/** Progress on stderr: a bar on a terminal, plain lines otherwise. */
function progress(maxIter: number, enabled: boolean) {
  if (!enabled) return { update: () => {}, stop: () => {} };
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      format: 'epoch {value}/{total} [{bar}] cost {cost} | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
    });
    bar.start(maxIter, 0, { cost: '…' });
    return {
      update: (epoch: number, cost?: number) => bar.update(epoch, cost === undefined ? {} : { cost: cost.toPrecision(6) }),
      stop: () => bar.stop(),
    };
  }
  return {
    update: (epoch: number, cost?: number, seconds?: number) => {
      if (cost !== undefined) process.stderr.write(`epoch ${epoch}/${maxIter}  cost ${cost.toPrecision(8)}  ${seconds!.toFixed(2)}s\n`);
    },
    stop: () => {},
  };
}

async function fitCommand(input: string, f: FitFlags): Promise<void> {
  const X = readMatrix(input);
  const model = new BetaNMF({
    nComponents: f.components, beta: f.beta, solver: f.solver, batchSize: f.batchSize, sagMemory: f.sagMemory,
    maxIter: f.maxIter, tol: f.tol, costEvery: f.costEvery, init: f.init, seed: f.seed, device: f.device, dtype: f.dtype,
  });
  const bar = progress(model.options.maxIter, f.progress);
  const t0 = performance.now();
  try {
    await model.fit(X, { onEpoch: ({ epoch, cost, seconds }) => void bar.update(epoch, cost, seconds) });
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  fs.mkdirSync(f.out, { recursive: true });
  writeNpy(path.join(f.out, 'W.npy'), model.W!);
  writeNpy(path.join(f.out, 'H.npy'), model.H!);
  const summary = {
    components: model.options.nComponents, beta: model.options.beta, solver: model.options.solver, device: model.W!.device,
    dtype: model.W!.dtype, iterations: model.nIter, cost: model.cost!, seconds,
  };
  fs.writeFileSync(path.join(f.out, 'history.json'), JSON.stringify({ ...summary, input: path.resolve(input),
    N: X.rows, F: X.cols, seed: model.seed, options: model.options, history: model.history }, null, 1));
  if (f.plot) writePlot(f.plot, [historySeries(model.history, model.options.solver)], `${path.basename(input)}: β=${model.options.beta}`);
  if (f.json) {
    process.stdout.write(JSON.stringify(summary) + '\n');
  } else {
    process.stdout.write(`fitted ${X.rows}×${X.cols} with K=${summary.components}, β=${summary.beta}, ${summary.solver}: ` +
      `cost ${summary.cost.toPrecision(8)} after ${summary.iterations} epochs in ${seconds.toFixed(2)}s\n` +
      `wrote ${path.join(f.out, 'W.npy')}, H.npy, history.json${f.plot ? ` and ${f.plot}` : ''}\n`);
  }
}

function historySeries(history: HistoryEntry[], label: string) {
  return { label, points: history.filter((h) => h.cost !== undefined).map((h) => ({ epoch: h.epoch, seconds: h.seconds, cost: h.cost! })) };
}

function inspect(json: boolean): void {
  const c = addon.config();
  const env = Object.fromEntries(
    ['BETANMF_DEVICE', 'BETANMF_NUM_THREADS', 'BETANMF_CUBLAS', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'OPENBLAS_NUM_THREADS']
      .filter((k) => process.env[k] !== undefined)
      .map((k) => [k, process.env[k]!]),
  );
  const info = {
    version: pkg.version,
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    cudaCompiled: c.cudaCompiled,
    devices: devices(),
    openblas: { config: c.openblasConfig, core: c.openblasCore, threadsPerCall: c.openblasThreads },
    threads: c.numThreads,
    cores: os.availableParallelism(),
    cpuFeatures: c.cpuFeatures,
    environment: env,
    warnings: [openblasWarning()].filter((w): w is string => w !== undefined),
  };
  if (json) {
    process.stdout.write(JSON.stringify(info, null, 1) + '\n');
    return;
  }
  const lines = [
    `betanmf ${info.version} (node ${info.node}, ${info.platform})`,
    `CUDA compiled in: ${info.cudaCompiled ? 'yes' : 'no'}`,
    'devices:',
    ...info.devices.map((d) => `  ${d.kind.padEnd(5)} ${d.available ? 'available' : 'unavailable'}${d.name ? `  ${d.name}` : ''}` +
      `${d.threads ? `, ${d.threads} threads` : ''}${d.reason ? `  (${d.reason})` : ''}`),
    `OpenBLAS: ${info.openblas.config}; kernel ${info.openblas.core}; ${info.openblas.threadsPerCall} thread inside each of our ${info.threads} threads`,
    `environment: ${Object.keys(env).length ? Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') : '(no overrides)'}`,
    ...info.warnings.map((w) => `warning: ${w}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export function program(): Command {
  const cli = new Command('betanmf')
    .description('β-divergence NMF with mini-batch multiplicative updates (native OpenBLAS core)')
    .version(pkg.version)
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)');

  cli
    .command('fit')
    .description('factorise a data matrix X (N×F) as H·Wᵀ; writes W.npy (F×K), H.npy (N×K) and history.json')
    .argument('<input>', 'X as .npy (float32/float64/integer, C order) or .csv')
    .requiredOption('-k, --components <K>', 'number of components', int('--components', 1))
    .option('-b, --beta <B>', "β, or 'frobenius' | 'kullback-leibler' | 'itakura-saito'", betaArg, 2)
    .addOption(new Option('-s, --solver <S>', 'solver').choices([...SOLVERS]).default('mu_batch'))
    .option('--batch-size <N>', 'rows per mini-batch (default 100)', int('--batch-size', 1))
    .option('--sag-memory <N>', 'SAG memory for asag_mu / gsag_mu (default 0)', int('--sag-memory', 0))
    .option('--max-iter <N>', 'epochs (default 50)', int('--max-iter', 0))
    .option('--tol <T>', 'relative cost decrease that stops early; 0 disables (default 1e-4)', num('--tol'))
    .option('--cost-every <N>', 'epochs between cost evaluations (default 10)', int('--cost-every', 1))
    .addOption(new Option('--init <I>', 'initialisation (default random)').choices(['random', 'nndsvd', 'nndsvda']))
    .option('--seed <N>', 'seed of initialisation and shuffling', int('--seed', 0))
    .addOption(new Option('--device <D>', 'device (default auto)').choices(['auto', 'cpu', 'cuda']))
    .addOption(new Option('--dtype <T>', "computation dtype (default: the input's)").choices(['float32', 'float64']))
    .requiredOption('-o, --out <DIR>', 'output folder')
    .option('--plot <FILE>', 'also draw the cost curves (.svg or .png)')
    .option('--json', 'print a one-line JSON summary on stdout')
    .option('--no-progress', 'no progress output on stderr')
    .action((input: string, flags: FitFlags) => fitCommand(input, flags));

  cli
    .command('transform')
    .description('activations H of X for fixed bases W')
    .argument('<input>', 'X as .npy or .csv')
    .requiredOption('--w <FILE>', 'W.npy (F×K) from `betanmf fit`')
    .requiredOption('-o, --out <FILE>', 'where to write H.npy')
    .option('-b, --beta <B>', 'β (as used for fitting)', betaArg, 2)
    .option('--max-iter <N>', 'iterations (default 50)', int('--max-iter', 0))
    .option('--tol <T>', 'relative cost decrease that stops early (default 1e-4)', num('--tol'))
    .option('--seed <N>', 'seed of the initial H', int('--seed', 0))
    .action(async (input: string, f: { w: string; out: string; beta: number; maxIter?: number; tol?: number; seed?: number }) => {
      const X = readMatrix(input);
      const W = readMatrix(f.w);
      if (W.rows !== X.cols) throw new UsageError(`${f.w}: W is ${W.rows}×${W.cols}, but X has ${X.cols} columns (W must be F×K)`);
      const model = new BetaNMF({ nComponents: W.cols, beta: f.beta, init: 'custom', W, fixed: ['W'], maxIter: f.maxIter, tol: f.tol, seed: f.seed });
      const H = await model.transform(X);
      writeNpy(f.out, H);
      process.stdout.write(`wrote ${f.out} (${H.rows}×${H.cols})\n`);
    });

  cli
    .command('bench')
    .description('time one full MU iteration (H then W) per β next to the GEMM-only floor')
    .option('--shape <NxFxK>', 'problem shape', '10000x513x50')
    .option('--beta <LIST>', 'comma-separated β values', '0,0.5,1,1.5,2')
    .addOption(new Option('--dtype <T>', 'dtype').choices(['float32', 'float64']).default('float32'))
    .addOption(new Option('--device <D>', 'device (default auto)').choices(['auto', 'cpu', 'cuda']))
    .option('--iters <N>', 'timed iterations per β (median reported)', int('--iters', 1), 10)
    .option('--json', 'print { results: [...] } as JSON')
    .action((f: { shape: string; beta: string; dtype: 'float32' | 'float64'; device?: string; iters: number; json?: boolean }) => {
      const shape = parseShape(f.shape);
      const betas = f.beta.split(',').map((b) => betaArg(b));
      const results = bench(shape, betas, f.dtype, f.device, f.iters);
      if (f.json) {
        process.stdout.write(JSON.stringify({ results }) + '\n');
        return;
      }
      const [N, F, K] = shape;
      const warning = openblasWarning();
      if (warning) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write(`N=${N} F=${F} K=${K} ${f.dtype} on ${results[0]?.device}, median of ${f.iters} iterations\n`);
      process.stdout.write('   β   ms/iter  floor ms  ratio\n');
      for (const r of results) {
        process.stdout.write(`${String(r.beta).padStart(4)} ${r.msPerIter.toFixed(2).padStart(9)} ${r.floorMs.toFixed(2).padStart(9)}  ${(r.msPerIter / r.floorMs).toFixed(2)}\n`);
      }
    });

  cli
    .command('inspect')
    .description('version, CUDA support, devices, OpenBLAS configuration, threads, environment overrides')
    .option('--json', 'as JSON')
    .action((f: { json?: boolean }) => inspect(!!f.json));

  cli
    .command('plot')
    .description('cost against time and epoch (log scale) for one or more history.json files')
    .argument('<history...>', 'history.json files written by `betanmf fit`')
    .requiredOption('-o, --out <FILE>', 'chart to write (.svg or .png)')
    .option('--title <T>', 'chart title', 'β-NMF cost')
    .action((files: string[], f: { out: string; title: string }) => {
      writePlot(f.out, files.map(readHistory), f.title);
      process.stdout.write(`wrote ${f.out}\n`);
    });

  cli
    .command('demo')
    .description('factorise a synthetic spectrogram and plot the cost')
    .option('-o, --out <DIR>', 'output folder', path.join(os.tmpdir(), 'betanmf-demo'))
    .action(async (f: { out: string }) => {
      const [N, F, K] = [4000, 257, 12];
      const X = syntheticSpectrogram(N, F, { components: K, seed: 1 });
      process.stdout.write(`betanmf demo: a synthetic ${N}×${F} spectrogram made of ${K} harmonic notes\n`);
      fs.mkdirSync(f.out, { recursive: true });
      const runs = [];
      for (const solver of ['mu_batch', 'asg_mu', 'gsg_mu'] as const) {
        const model = await new BetaNMF({ nComponents: K, beta: 1, solver, batchSize: 250, maxIter: 40, costEvery: 2, tol: 0, seed: 1 }).fit(X);
        process.stdout.write(`  ${solver.padEnd(8)} KL cost ${model.history[0].cost!.toExponential(3)} → ${model.cost!.toExponential(3)} ` +
          `in ${model.history[model.history.length - 1].seconds.toFixed(2)}s (${model.nIter} epochs)\n`);
        runs.push(historySeries(model.history, solver));
        if (solver === 'mu_batch') {
          writeNpy(path.join(f.out, 'W.npy'), model.W!);
          writeNpy(path.join(f.out, 'H.npy'), model.H!);
        }
      }
      const plot = path.join(f.out, 'cost.svg');
      writePlot(plot, runs, `demo: ${N}×${F}, K=${K}, β=1 (Kullback-Leibler)`);
      process.stdout.write(`wrote ${plot} and the mu_batch factors W.npy, H.npy in ${f.out}\n`);
    });

  registerQueueCommands(cli);
  return cli;
}

export async function main(argv: string[]): Promise<void> {
  const cli = program();
  cli.exitOverride();
  try {
    await cli.parseAsync(argv);
  } catch (err) {
    const e = err as Error & { code?: string; exitCode?: number };
    if (e.code?.startsWith('commander.')) {
      // commander printed its own message (help, version or a usage error).
      process.exitCode = e.exitCode ?? 1;
      return;
    }
    if (cli.opts().debug) console.error(e.stack ?? e);
    else console.error(`betanmf: ${e.message.split('\n')[0]}`);
    process.exitCode = 1;
  }
}
