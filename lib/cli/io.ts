// The command line's files: inputs read with the library's readers (lib/io.ts), output
// locations checked before any work starts, and file-system errors said in words.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCsv, readNpy } from '../io';
import type { Matrix } from '../matrix';
import { writableAncestor } from '../persist';

/** A mistake in the command line (exit code 2); other errors are failures (exit code 1). */
export class UsageError extends Error {
  override name = 'UsageError';
}

const INPUT_EXTENSIONS = ['.npy', '.csv', '.txt'];

/** Checks that an input exists and has a known extension, before any work starts. */
export function checkInput(file: string, option = 'input'): void {
  const ext = path.extname(file).toLowerCase();
  if (!INPUT_EXTENSIONS.includes(ext)) throw new UsageError(`${option} ${file}: expected a .npy or .csv file`);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new UsageError(`${file}: no such file`);
  }
  if (st.isDirectory()) throw new UsageError(`${file}: is a folder; expected a .npy or .csv file`);
}

export async function readMatrix(file: string): Promise<Matrix> {
  checkInput(file);
  return path.extname(file).toLowerCase() === '.npy' ? readNpy(file) : readCsv(file);
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
  try {
    writableAncestor(dir, `${option} ${file}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const FS_WORDS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied; choose a location you can write to, or fix its permissions',
  EPERM: 'operation not permitted; choose another location',
  EISDIR: 'is a folder where a file was expected',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'already exists; choose another name or pass --force',
  ENOSPC: 'no space left on the device; free some space or write elsewhere',
  EDQUOT: 'disk quota exceeded; free some space or write elsewhere',
  EROFS: 'read-only file system; write elsewhere',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
};

/** A file-system error in words, with its path; undefined when `err` is not one. */
export function fsErrorText(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e.code !== 'string' || !(e.code in FS_WORDS)) return undefined;
  const where = e.path ? `${e.path}: ` : '';
  return `${where}${FS_WORDS[e.code]}${e.syscall ? ` (${e.syscall})` : ''}`;
}
