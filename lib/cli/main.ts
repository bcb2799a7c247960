// The `betanmf` command line: one file per command (fit, transform, plot, demo, rank, consensus, bench, inspect,
// serve, and the queue's worker, submit, jobs, cancel); this file wires them into one program. Every
// error is one line "betanmf: …" on stderr (exit code 2 for a wrong command line, 1 for a
// failure), output locations are checked before any work starts, and outputs appear whole or
// not at all.
import { Command } from 'commander';
import { errorLine } from '../files';
import { checkRequired, OPTION_ALIASES } from './args';
import { benchCommand } from './bench';
import { cancelCommand } from './cancel';
import { demoCommand } from './demo';
import { fitCommand } from './fit';
import { inspectCommand, packageVersion } from './inspect';
import { UsageError } from './io';
import { jobsCommand } from './jobs';
import { plotCommand } from './plot';
import { rankCommand } from './rank';
import { consensusCommand } from './consensus';
import { serveCommand } from './serve';
import { handleSignals } from './signals';
import { submitCommand } from './submit';
import { transformCommand } from './transform';
import { workerCommand } from './worker';

export function program(): Command {
  const cli = new Command('betanmf')
    .description('β-divergence NMF with mini-batch multiplicative updates (native OpenBLAS core)')
    .version(packageVersion())
    .option('--debug', 'print stack traces on errors')
    .exitOverride()
    .configureOutput({ outputError: () => {} }) // main() prints commander's errors as one line
    .showSuggestionAfterError(true)
    .hook('preAction', (_root, cmd) => checkRequired(cmd));
  for (const command of [fitCommand, transformCommand, benchCommand, inspectCommand, plotCommand, demoCommand, rankCommand, consensusCommand,
    serveCommand, workerCommand, submitCommand, jobsCommand, cancelCommand]) {
    command(cli);
  }
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
  const stopHandling = handleSignals();
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
    else process.stderr.write(`betanmf: ${errorLine(e)}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  } finally {
    stopHandling();
  }
}
