// The command line's files: inputs checked and read with the library's readers (lib/files.ts),
// output locations checked before any work starts, and outputs written whole or not at all.
// A problem found before work starts is a usage error (exit code 2).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkInput as checkInputFile, checkShape, readMatrix } from '../files';
import type { Matrix } from '../matrix';
import { checkFolderTarget, writableAncestor, writeFolder } from '../persist';
import { cleanups } from './signals';

/** A mistake in the command line (exit code 2); other errors are failures (exit code 1). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Runs a check; whatever it throws becomes a usage error with the same message. */
export function usage<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Checks that an input exists and has a known extension, before any work starts. */
export function checkInput(file: string, option = 'input'): void {
  usage(() => checkInputFile(file, option));
}

/** A matrix file that must be rows×cols (a usage error otherwise; see lib/files.ts checkShape). */
export async function readShaped(file: string, subject: string, rows: number, cols: number, why: string): Promise<Matrix> {
  const m = await readMatrix(file);
  return usage(() => checkShape(m, file, subject, rows, cols, why));
}

/** --weights: an N×F matrix of entry weights (0 = missing) for X. */
export async function readWeights(file: string | undefined, X: Matrix): Promise<Matrix | undefined> {
  return file === undefined ? undefined : readShaped(file, 'the weights are', X.rows, X.cols, "X's shape");
}

/**
 * Checks a file to be written (before any work starts): its extension, that it does not exist
 * (unless `force`), and that its folder exists and is writable.
 */
export function checkOutputFile(file: string, option: string, extensions: string[], force: boolean): void {
  const ext = path.extname(file).toLowerCase();
  if (!extensions.includes(ext)) throw new UsageError(`${option} ${file}: expected a file name ending in ${extensions.join(' or ')}`);
  const dir = path.dirname(path.resolve(file));
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    // new file
  }
  if (st?.isDirectory()) throw new UsageError(`${option} ${file}: is a folder; give a file name`);
  if (st && !force) throw new UsageError(`${option} ${file}: already exists; pass --force to replace it, or choose another name`);
  if (!fs.existsSync(dir)) throw new UsageError(`${option} ${file}: the folder ${dir} does not exist; create it first`);
  usage(() => writableAncestor(dir, `${option} ${file}`));
}

/** Checks an output folder before work starts (new, or holding only `ownFiles` and `force`). */
export function checkOutFolder(dir: string, ownFiles: (name: string) => boolean, force: boolean): void {
  usage(() => checkFolderTarget(dir, { overwrite: force, ownFiles, overwriteHint: '--force' }, `--out ${dir}`));
}

/** Runs `write` into a staging folder renamed to `dir` at the end; an interrupt removes the staging folder. */
export async function writeOutFolder(dir: string, ownFiles: (name: string) => boolean, force: boolean, write: (tmp: string) => Promise<void>) {
  let remove: (() => void) | undefined;
  await writeFolder(dir, { overwrite: force, ownFiles, overwriteHint: '--force' }, write, (staging) => {
    if (remove) cleanups.delete(remove);
    remove = staging ? () => fs.rmSync(staging, { recursive: true, force: true }) : undefined;
    if (remove) cleanups.add(remove);
  });
}

/** A warning as one line on stderr. */
export function warnLine(message: string): void {
  process.stderr.write(`betanmf: warning: ${message.replace(/^BetaNMF: /, '')}\n`);
}
