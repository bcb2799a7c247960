// Matrices named by file (.npy or .csv, by extension), as the command line and queue jobs take
// them: checked before any work starts, read with lib/io.ts's readers, and file-system errors
// said in words. Errors are the library's (RangeError, DataFileError); the CLI decides which
// of them are usage errors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkRegularFile, DataFileError, readCsv, readNpy } from './io';
import type { Matrix } from './matrix';

const INPUT_EXTENSIONS = ['.npy', '.csv', '.txt'];

/**
 * Checks that an input exists and has a known extension, before any work starts. `option`
 * names it in the message ("--weights w.bin: expected …").
 */
export function checkInput(file: string, option = 'input'): void {
  const ext = path.extname(file).toLowerCase();
  if (!INPUT_EXTENSIONS.includes(ext)) throw new RangeError(`${option} ${file}: expected a .npy or .csv file`);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new DataFileError(file, 'no such file');
  }
  checkRegularFile(file, st);
}

/** The matrix in a .npy or .csv file (by its extension). */
export async function readMatrix(file: string): Promise<Matrix> {
  checkInput(file);
  return path.extname(file).toLowerCase() === '.npy' ? readNpy(file) : readCsv(file);
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

/** An error's first line, as the CLI prints it and a job fails with (file-system errors in words, with their path). */
export function errorLine(err: unknown): string {
  const e = err as Error;
  return (fsErrorText(e) ?? String(e?.message ?? err)).split('\n')[0];
}

/**
 * `m`, read from `file`, when it is rows×cols; otherwise a RangeError
 * "<file>: <subject> R×C, expected rows×cols (<why>)", e.g. subject "the weights are", why "X's shape".
 */
export function checkShape(m: Matrix, file: string, subject: string, rows: number, cols: number, why: string): Matrix {
  if (m.rows !== rows || m.cols !== cols) throw new RangeError(`${file}: ${subject} ${m.rows}×${m.cols}, expected ${rows}×${cols} (${why})`);
  return m;
}
