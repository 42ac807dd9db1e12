import { renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { makePrivateDir, makePrivateFile, restrictIfPresent } from '../private-files.js';

/**
 * A size-rotated log file: backend.log is always the current file, older ones are backend.log.1
 * (newest) … backend.log.N. Rotation happens in-process with SonicBoom's reopen, so there is no
 * worker thread and no lost line.
 */
export interface RotatingFileOptions {
  file: string;
  maxBytes: number;
  keep: number;
}

export interface RotatingFile {
  write(line: string): void;
  flush(): Promise<void>;
  /** Writes what is buffered before returning: the last lines of a process about to exit. */
  flushSync(): void;
  close(): Promise<void>;
}

export function openRotatingFile({ file, maxBytes, keep }: RotatingFileOptions): RotatingFile {
  // Logs hold request paths, model names and errors: the directory is 0700, every file 0600.
  makePrivateDir(path.dirname(file));
  makePrivateFile(file);
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    size = 0;
  }
  // Synchronous writes of a 4 KiB buffer: the file is open from the first line and no write is
  // ever in flight, so a rotation (flush, rename, reopen) cannot lose, reorder or misdirect a
  // line. With asynchronous writes a rotation races the write in progress and the (re)open.
  const dest = pino.destination({ dest: file, sync: true, mkdir: true, minLength: 4096, mode: 0o600 });
  let closed = false;

  const rotate = (): void => {
    dest.flushSync();
    rmSync(`${file}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      try {
        renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch {
        // a gap in the numbering is fine
      }
    }
    renameSync(file, `${file}.1`);
    restrictIfPresent(`${file}.1`);
    makePrivateFile(file);
    dest.reopen();
    size = 0;
  };

  return {
    write(line: string): void {
      if (closed) return;
      dest.write(line);
      size += Buffer.byteLength(line);
      if (size >= maxBytes) rotate();
    },
    flush: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        dest.flush((err) => {
          void err;
          resolve();
        });
      }),
    flushSync: () => {
      if (!closed) dest.flushSync();
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        dest.once('close', () => resolve());
        dest.once('error', () => resolve());
        dest.end();
      }),
  };
}
