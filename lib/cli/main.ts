// The `betanmf` command line: fit, transform, bench, inspect, plot, demo. Every error is one
// line "betanmf: …" on stderr (exit code 2 for a wrong command line, 1 for a failure), output
// locations are checked before any work starts, and outputs appear whole or not at all.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { BetaNMF, type HistoryEntry } from '../betanmf';
import { devices, openblasWarning, resolveDevice } from '../device';
import { writeNpy } from '../io';
import type { Matrix } from '../matrix';
import { addon, packageRoot } from '../native';
import { checkFolderTarget, writeFolder } from '../persist';
import { syntheticSpectrogram } from '../synthetic';
import { betaList, checkFitData, checkRequired, fitDataOptions, fitModelOptions, fitModelOptionsOf, int, OPTION_ALIASES, required, shape, transformOptions,
  transformOptionsOf, type FitDataFlags, type FitModelFlags, type TransformFlags } from './args';
import { bench } from './bench';
import { kernelLine, kernelReport } from './inspect';
import { checkInput, checkOutputFile, fsErrorText, readMatrix, UsageError } from './io';
import { labelRuns, PLOT_EXTENSIONS, readHistory, writePlot, type Series } from './plot';
import { registerQueueCommands } from './queue';
import { registerRankCommand } from './rank';
import { registerConsensusCommand } from './consensus';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require(path.join(packageRoot, 'package.json')) as { version: string };

/** Work to undo if the process is interrupted: a progress bar to stop, a staging folder to remove. */
const cleanups = new Set<() => void>();

type Signal = 'SIGINT' | 'SIGTERM';
/** A command that stops gracefully by itself (`worker`) takes the signals over from onSignal. */
let signalsTakenBy: ((signal: Signal) => void) | undefined;

function onSignal(signal: Signal): void {
  if (signalsTakenBy) {
    signalsTakenBy(signal);
    return;
  }
  for (const c of cleanups) {
    try {
      c();
    } catch {
      // best effort: the process is ending
    }
  }
  process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}betanmf: interrupted (${signal}); no output was written\n`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

interface FitFlags extends FitModelFlags, FitDataFlags {
  out?: string;
  plot?: string;
  force?: boolean;
  json?: boolean;
  progress: boolean;
}

/** Progress on stderr: a bar on a terminal (cursor restored on stop or interrupt), plain lines otherwise. */
function progress(maxIter: number, enabled: boolean) {
  if (!enabled) return { update: () => {}, stop: () => {} };
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      format: 'epoch {value}/{total} [{bar}] cost {cost} | {seconds}s',
      stream: process.stderr,
      hideCursor: true,
    });
    bar.start(maxIter, 0, { cost: '…', seconds: '0.00' });
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
      cleanups.delete(stop);
    };
    cleanups.add(stop);
    return {
      update: (epoch: number, cost: number | undefined, seconds: number) =>
        bar.update(epoch, { seconds: seconds.toFixed(2), ...(cost === undefined ? {} : { cost: cost.toPrecision(6) }) }),
      stop,
    };
  }
  return {
    update: (epoch: number, cost: number | undefined, seconds: number) => {
      if (cost !== undefined) process.stderr.write(`epoch ${epoch}/${maxIter}  cost ${cost.toPrecision(8)}  ${seconds.toFixed(2)}s\n`);
    },
    stop: () => {},
  };
}

/** The fit's one duration: seconds in updates (cost evaluations excluded), as in history.json and progress. */
const fitSeconds = (history: HistoryEntry[]) => history[history.length - 1]?.seconds ?? 0;

const FIT_FILES = ['W.npy', 'H.npy', 'history.json'];
const isFitFile = (name: string) => FIT_FILES.includes(name) || PLOT_EXTENSIONS.includes(path.extname(name).toLowerCase());

/** Checks an output folder before work starts; problems are usage errors. */
function checkOutFolder(dir: string, ownFiles: (name: string) => boolean, force: boolean): void {
  try {
    checkFolderTarget(dir, { overwrite: force, ownFiles, overwriteHint: '--force' }, `--out ${dir}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Runs `write` into a staging folder renamed to `dir` at the end; an interrupt removes the staging folder. */
async function writeOutFolder(dir: string, ownFiles: (name: string) => boolean, force: boolean, write: (tmp: string) => Promise<void>) {
  let remove: (() => void) | undefined;
  await writeFolder(dir, { overwrite: force, ownFiles, overwriteHint: '--force' }, write, (staging) => {
    if (remove) cleanups.delete(remove);
    remove = staging ? () => fs.rmSync(staging, { recursive: true, force: true }) : undefined;
    if (remove) cleanups.add(remove);
  });
}

async function fitCommand(input: string, f: FitFlags): Promise<void> {
  const out = f.out!;
  checkInput(input);
  const plotInside = f.plot !== undefined && path.dirname(path.resolve(f.plot)) === path.resolve(out);
  if (f.plot !== undefined) {
    if (!plotInside) checkOutputFile(f.plot, '--plot', PLOT_EXTENSIONS, !!f.force);
    else if (!PLOT_EXTENSIONS.includes(path.extname(f.plot).toLowerCase())) {
      throw new UsageError(`--plot ${f.plot}: expected a file name ending in ${PLOT_EXTENSIONS.join(' or ')}`);
    }
  }
  checkOutFolder(out, isFitFile, !!f.force);
  if (f.weights !== undefined) checkInput(f.weights, '--weights');
  if (f.wInit !== undefined) checkInput(f.wInit, '--w-init');
  checkFitData(f);
  if (f.device !== undefined) resolveDevice(f.device, '--device');
  const X = await readMatrix(input);
  const W = f.wInit === undefined ? undefined : await readMatrix(f.wInit);
  if (W && (W.rows !== X.cols || W.cols !== f.components)) {
    throw new UsageError(`${f.wInit}: W is ${W.rows}×${W.cols}, expected ${X.cols}×${f.components} (F×K: X's columns × --components)`);
  }
  const weights = await readWeights(f.weights, X);
  const model = new BetaNMF({ ...fitModelOptionsOf(f), ...(W ? { W } : {}),
    ...(f.fixedComponents ? { fixedComponents: f.fixedComponents } : {}), onWarning: warnLine });
  const bar = progress(model.options.maxIter, f.progress);
  try {
    await model.fit(X, { weights, onEpoch: ({ epoch, cost, seconds }) => void bar.update(epoch, cost, seconds) });
  } finally {
    bar.stop();
  }
  const seconds = fitSeconds(model.history);
  const summary = {
    components: model.options.nComponents, beta: model.options.beta, solver: model.options.solver, device: model.W!.device,
    dtype: model.W!.dtype, iterations: model.nIter, cost: model.cost!, seconds, stopReason: model.stopReason!,
  };
  if (model.stopReason === 'noImprovement') {
    warnLine(`stopped after ${model.nIter} epochs: ${model.options.maxNoImprovement} cost evaluations without a new lowest cost; ` +
      `the factors are the best seen (cost ${summary.cost.toPrecision(8)})`);
  }
  const plotTitle = `${path.basename(input)}: K=${summary.components}, β=${summary.beta}, ${summary.solver}`;
  const series = [{ label: `${summary.solver} (β=${summary.beta})`, points: costPoints(model.history) }];
  await writeOutFolder(out, isFitFile, !!f.force, async (tmp) => {
    await writeNpy(path.join(tmp, 'W.npy'), model.W!);
    await writeNpy(path.join(tmp, 'H.npy'), model.H!);
    fs.writeFileSync(path.join(tmp, 'history.json'), JSON.stringify({ ...summary, input: path.resolve(input),
      N: X.rows, F: X.cols, seed: model.seed, options: model.options, history: model.history }, null, 1) + '\n');
    if (f.plot && plotInside) writePlot(path.join(tmp, path.basename(f.plot)), series, plotTitle);
  });
  if (f.plot && !plotInside) writePlot(f.plot, series, plotTitle);
  if (f.json) {
    process.stdout.write(JSON.stringify(summary) + '\n');
  } else {
    process.stdout.write(`fitted ${X.rows}×${X.cols} with K=${summary.components}, β=${summary.beta}, ${summary.solver}: ` +
      `cost ${summary.cost.toPrecision(8)} after ${summary.iterations} epochs in ${seconds.toFixed(2)}s\n` +
      `wrote ${path.join(out, 'W.npy')}, H.npy, history.json${f.plot ? ` and ${f.plot}` : ''}\n`);
  }
}

/** --weights: an N×F matrix of entry weights (0 = missing) for X. */
async function readWeights(file: string | undefined, X: Matrix): Promise<Matrix | undefined> {
  if (file === undefined) return undefined;
  const M = await readMatrix(file);
  if (M.rows !== X.rows || M.cols !== X.cols) throw new UsageError(`${file}: the weights are ${M.rows}×${M.cols}, but X is ${X.rows}×${X.cols} (they must match)`);
  return M;
}

/** A warning as one line on stderr. */
function warnLine(message: string): void {
  process.stderr.write(`betanmf: warning: ${message.replace(/^BetaNMF: /, '')}\n`);
}

function costPoints(history: HistoryEntry[]): Series['points'] {
  return history.filter((h) => h.cost !== undefined).map((h) => ({ epoch: h.epoch, seconds: h.seconds, cost: h.cost! }));
}

function inspect(json: boolean): void {
  const c = addon.config();
  const env = Object.fromEntries(
    ['BETANMF_DEVICE', 'BETANMF_NUM_THREADS', 'BETANMF_CUBLAS', 'BETANMF_CPU_ISA', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'OPENBLAS_NUM_THREADS']
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
    kernels: kernelReport(),
    environment: env,
    warnings: [openblasWarning()].filter((w): w is string => w !== undefined),
  };
  info.warnings.push(...info.kernels.warnings);
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
    kernelLine(info.kernels),
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
    .exitOverride()
    .configureOutput({ outputError: () => {} }) // main() prints commander's errors as one line
    .showSuggestionAfterError(true)
    .hook('preAction', (_root, cmd) => checkRequired(cmd));

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
    .action((input: string, flags: FitFlags) => fitCommand(input, flags));

  const transform = cli
    .command('transform')
    .description('activations H of X for fixed bases W')
    .argument('<input>', 'X as .npy or .csv');
  required(transform, '--w <FILE>', 'W.npy (F×K) from `betanmf fit`');
  required(transform, '-o, --out <FILE>', 'where to write H (.npy)');
  transformOptions(transform)
    .option('-f, --force', 'replace an existing --out file')
    .action(async (input: string, f: TransformFlags & { w: string; out: string; weights?: string; force?: boolean }) => {
      checkInput(input);
      checkInput(f.w, '--w');
      if (f.weights !== undefined) checkInput(f.weights, '--weights');
      checkOutputFile(f.out, '--out', ['.npy'], !!f.force);
      const X = await readMatrix(input);
      const W = await readMatrix(f.w);
      if (W.rows !== X.cols) throw new UsageError(`${f.w}: W is ${W.rows}×${W.cols}, but X has ${X.cols} columns (W must be F×K)`);
      const weights = await readWeights(f.weights, X);
      const model = new BetaNMF({ ...transformOptionsOf(f), nComponents: W.cols, init: 'custom', W, fixed: ['W'] });
      const H = await model.transform(X, { weights });
      await writeNpy(f.out, H);
      process.stdout.write(`wrote ${f.out} (${H.rows}×${H.cols})\n`);
    });

  cli
    .command('bench')
    .description('time one full MU iteration (H then W) per β next to the GEMM-only floor')
    .addOption(new Option('--shape <NxFxK>', 'problem shape').argParser(shape()).default([10000, 513, 50], '10000x513x50'))
    .addOption(new Option('--beta <LIST>', 'comma-separated β values (numbers or names)').argParser(betaList()).default([0, 0.5, 1, 1.5, 2], '0,0.5,1,1.5,2'))
    .addOption(new Option('--dtype <T>', 'dtype').choices(['float32', 'float64']).default('float32'))
    .addOption(new Option('--device <D>', 'device (default auto)').choices(['auto', 'cpu', 'cuda']))
    .option('--iters <N>', 'timed iterations per β (median reported)', int('--iters', 1), 10)
    .option('--json', 'print { results: [...] } as JSON')
    .action((f: { shape: [number, number, number]; beta: number[]; dtype: 'float32' | 'float64'; device?: string; iters: number; json?: boolean }) => {
      const results = bench(f.shape, f.beta, f.dtype, f.device, f.iters);
      const kernels = kernelReport();
      if (f.json) {
        process.stdout.write(JSON.stringify({ results, kernels }) + '\n');
        return;
      }
      const [N, F, K] = f.shape;
      const warning = openblasWarning();
      if (warning) process.stderr.write(`warning: ${warning}\n`);
      for (const w of kernels.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(kernelLine(kernels) + '\n');
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
      writePlot(f.out, labelRuns(files.map(readHistory)), f.title);
      process.stdout.write(`wrote ${f.out}\n`);
    });

  cli
    .command('demo')
    .description('factorise a synthetic spectrogram with three solvers; writes X.npy, W.npy, H.npy and cost.svg')
    .option('-o, --out <DIR>', 'output folder (replaced if it holds an earlier demo)', 'betanmf-demo')
    .action(async (f: { out: string }) => {
      const DEMO_FILES = ['X.npy', 'W.npy', 'H.npy', 'cost.svg'];
      checkOutFolder(f.out, (n) => DEMO_FILES.includes(n), true);
      const [N, F, K] = [4000, 257, 12];
      const X = syntheticSpectrogram(N, F, { components: K, seed: 1 });
      process.stdout.write(`betanmf demo: a synthetic ${N}×${F} spectrogram made of ${K} harmonic notes\n`);
      const runs: Series[] = [];
      let best: BetaNMF | undefined;
      for (const solver of ['mu_batch', 'asg_mu', 'gsg_mu'] as const) {
        const model = await new BetaNMF({ nComponents: K, beta: 1, solver, batchSize: 250, maxIter: 40, costEvery: 2, tol: 0, seed: 1 }).fit(X);
        process.stdout.write(`  ${solver.padEnd(8)} KL cost ${model.history[0].cost!.toExponential(3)} → ${model.cost!.toExponential(3)} ` +
          `in ${fitSeconds(model.history).toFixed(2)}s (${model.nIter} epochs)\n`);
        runs.push({ label: solver, points: costPoints(model.history) });
        if (solver === 'mu_batch') best = model;
      }
      await writeOutFolder(f.out, (n) => DEMO_FILES.includes(n), true, async (tmp) => {
        await writeNpy(path.join(tmp, 'X.npy'), X);
        await writeNpy(path.join(tmp, 'W.npy'), best!.W!);
        await writeNpy(path.join(tmp, 'H.npy'), best!.H!);
        writePlot(path.join(tmp, 'cost.svg'), runs, `demo: ${N}×${F}, K=${K}, β=1 (Kullback-Leibler)`);
      });
      process.stdout.write(`wrote X.npy (the spectrogram), W.npy and H.npy (mu_batch factors) and cost.svg in ${path.resolve(f.out)}\n`);
    });

  registerRankCommand(cli);
  registerConsensusCommand(cli);
  registerQueueCommands(cli, (handler) => {
    signalsTakenBy = handler;
  });
  return cli;
}

/** commander's error as our one line: its own words, ours where we gave them, a suggestion when we know one. */
function commanderMessage(e: Error & { code: string }): string {
  let msg = e.message.replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  const invalid = /^option '([^']+)' argument '(.*)' is invalid\. (.*)$/.exec(msg);
  if (invalid) {
    const [, flags, arg, detail] = invalid;
    const name = /--[\w-]+/.exec(flags)?.[0] ?? flags;
    // Our parsers already say "<option>: expected …, received …"; commander's choices do not.
    msg = detail.startsWith('--') ? detail
      : `${name}: expected ${detail.replace(/^Allowed choices are /, 'one of ').replace(/\.$/, '')}, received ${JSON.stringify(arg)}`;
  }
  if (e.code === 'commander.unknownOption' && !/did you mean/i.test(msg)) {
    const flag = /'([^'=]+)/.exec(msg)?.[1];
    if (flag && OPTION_ALIASES[flag]) msg += ` (Did you mean ${OPTION_ALIASES[flag]}?)`;
  }
  if (e.code === 'commander.unknownOption' || e.code === 'commander.excessArguments' || e.code === 'commander.missingArgument') {
    msg += ' (see --help)';
  }
  return msg;
}

export async function main(argv: string[]): Promise<void> {
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const cli = program();
  try {
    await cli.parseAsync(argv);
  } catch (err) {
    const e = err as Error & { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      if (e.exitCode === 0) {
        process.exitCode = 0; // --help or --version
        return;
      }
      process.stderr.write(`betanmf: ${commanderMessage(e as Error & { code: string })}\n`);
      process.exitCode = 2;
      return;
    }
    if (cli.opts().debug) console.error(e?.stack ?? e);
    else process.stderr.write(`betanmf: ${(fsErrorText(e) ?? String(e?.message ?? e)).split('\n')[0]}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
