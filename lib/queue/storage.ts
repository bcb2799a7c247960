// Where queued jobs find their matrices: by reference (a path), never inside Redis. `Storage`
// names what a job needs from it, so an object store can stand beside the shared file system.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkInput, readMatrix } from '../files';
import { createNpy, readNpyLayout, readNpyRows, tempNameFor, writeNpy, writeNpyRows, type NpyLayout } from '../io';
import { allocate, Matrix, type DType } from '../matrix';
import { checkFolderTarget, writeFolder } from '../persist';

export type { NpyLayout };

/** What queue workers read and write. Refs are paths for FileStorage; another store may use keys. */
export interface Storage {
  /** Rows, columns and element type of a stored matrix, without reading its data. */
  layout(ref: string): Promise<NpyLayout>;
  /** The whole matrix (float32 data stays float32; other types become float64). */
  read(ref: string): Promise<Matrix>;
  /** Rows [r0, r1) only. */
  readRows(ref: string, r0: number, r1: number): Promise<Matrix>;
  /** Writes a matrix so that readers see either the old file or the complete new one. */
  write(ref: string, m: Matrix): Promise<void>;
  /** Writes text atomically. */
  writeText(ref: string, text: string): Promise<void>;
  /** A rows×cols matrix of zeros under a temporary ref, to be filled by writeRows and published by publish. */
  create(tmpRef: string, rows: number, cols: number, dtype: DType): Promise<void>;
  /** Writes m's rows at row offset r0 of a matrix made by create. */
  writeRows(tmpRef: string, r0: number, m: Matrix): Promise<void>;
  /** Moves a finished temporary matrix to its final ref in one step. */
  publish(tmpRef: string, ref: string): Promise<void>;
  /**
   * Checks that the folder `ref` can be written whole by writeFolder: new, or (with `overwrite`)
   * holding nothing but files `own` accepts. Throws an Error saying what to do otherwise.
   */
  checkFolder(ref: string, overwrite: boolean, own: (name: string) => boolean): Promise<void>;
  /**
   * Writes the folder `ref` whole: `fill` writes into a fresh staging folder (its ref given),
   * which then replaces `ref` (checked as by checkFolder) — readers see the old folder or the new one.
   */
  writeFolder(ref: string, overwrite: boolean, own: (name: string) => boolean, fill: (staging: string) => Promise<void>): Promise<void>;
  exists(ref: string): Promise<boolean>;
  remove(ref: string): Promise<void>;
}

/**
 * Matrices as .npy files on a file system every worker sees (local disk, NFS, a cluster FS).
 * Inputs are checked and read as `betanmf fit` reads them, so a job fails with the line the CLI prints.
 */
export class FileStorage implements Storage {
  async layout(ref: string): Promise<NpyLayout> {
    checkInput(ref);
    return readNpyLayout(ref);
  }

  async read(ref: string): Promise<Matrix> {
    return readMatrix(ref);
  }

  async readRows(ref: string, r0: number, r1: number): Promise<Matrix> {
    checkInput(ref);
    return readNpyRows(ref, r0, r1);
  }

  async write(ref: string, m: Matrix): Promise<void> {
    await fs.promises.mkdir(path.dirname(ref), { recursive: true });
    await writeNpy(ref, m); // atomic: a temporary file in the same folder, then renamed
  }

  async writeText(ref: string, text: string): Promise<void> {
    await fs.promises.mkdir(path.dirname(ref), { recursive: true });
    const tmp = tempNameFor(ref);
    await fs.promises.writeFile(tmp, text);
    await fs.promises.rename(tmp, ref);
  }

  async create(tmpRef: string, rows: number, cols: number, dtype: DType): Promise<void> {
    await fs.promises.mkdir(path.dirname(tmpRef), { recursive: true });
    await createNpy(tmpRef, rows, cols, dtype);
  }

  writeRows(tmpRef: string, r0: number, m: Matrix): Promise<void> {
    return writeNpyRows(tmpRef, r0, m);
  }

  async publish(tmpRef: string, ref: string): Promise<void> {
    await fs.promises.rename(tmpRef, ref);
  }

  async checkFolder(ref: string, overwrite: boolean, own: (name: string) => boolean): Promise<void> {
    checkFolderTarget(ref, { overwrite, ownFiles: own, overwriteHint: 'overwrite (--force)' });
  }

  writeFolder(ref: string, overwrite: boolean, own: (name: string) => boolean, fill: (staging: string) => Promise<void>): Promise<void> {
    return writeFolder(ref, { overwrite, ownFiles: own, overwriteHint: 'overwrite (--force)' }, fill);
  }

  async exists(ref: string): Promise<boolean> {
    return fs.existsSync(ref);
  }

  async remove(ref: string): Promise<void> {
    await fs.promises.rm(ref, { force: true, recursive: true });
  }
}

/** An empty matrix of `dtype` (rows×cols zeros). */
export function emptyMatrix(rows: number, cols: number, dtype: DType): Matrix {
  return new Matrix(allocate(dtype, rows * cols), rows, cols);
}
