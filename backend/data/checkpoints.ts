import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import type Sqlite from 'better-sqlite3';

/**
 * WAL checkpoints on a worker thread of their own. SQLite's automatic checkpoint runs inside the
 * commit that pushes the WAL past 1,000 pages: that commit copies the pages into the database
 * file and waits for two fsyncs, on the thread that serves every request. Under steady writes
 * (chat turns) that was a stall of several to tens of milliseconds every few dozen commits, and a
 * tenth of the server's CPU per turn. Here a second connection, on a worker, checkpoints
 * (PASSIVE: it never blocks the writer) about as often as SQLite would have: after every
 * CHECKPOINT_EVERY_WRITES writing statements, some 1,000 pages of WAL for chat traffic. It does
 * nearly all the copying and syncing. The writing connection keeps an automatic checkpoint, at
 * WRITER_CHECKPOINT_PAGES instead of 1,000: under writes that never pause, the worker's
 * checkpoints never catch up with the end of the WAL, and only a checkpoint that did lets the
 * next commit start the WAL over from its beginning. The writer's own checkpoint then finds all
 * but the last pages copied and synced already. Durability is unchanged: commits are in the WAL
 * as before, and every checkpoint syncs the WAL and the database file as the automatic one did.
 *
 * The worker starts once the connection has run START_AFTER_WRITES writing statements: a server
 * that writes now and then (a desktop app between messages) checkpoints rarely and is better off
 * without a thread and its memory (about 10 MB). Once started, it sleeps (Atomics.wait) until the
 * writing thread signals, so an idle server costs nothing. If the worker cannot run (no worker
 * threads, the driver fails to load there), the writing connection gets SQLite's automatic
 * checkpoint back.
 */

/** SQLite's default, restored if the worker fails. */
const AUTOCHECKPOINT_PAGES = 1000;

/** The writing connection's own checkpoint while the worker runs: a WAL of up to 16 MiB. */
export const WRITER_CHECKPOINT_PAGES = 4000;

/** Writing statements (begin and commit included) before the worker starts: a few hundred turns. */
export const START_AFTER_WRITES = 1000;

/**
 * Writing statements between two checkpoints of the worker. A chat turn runs four, and with
 * group commit its writes take about two WAL pages, so this is about SQLite's own 1,000 pages.
 */
export const CHECKPOINT_EVERY_WRITES = 2000;

const IDLE = 0;
const WRITTEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** The longest a close waits for the worker to close its connection first, in ms. */
const CLOSE_WAIT_MS = 5000;

export interface CheckpointResult {
  /** Frames in the WAL when the checkpoint ran. */
  log: number;
  /** Frames of them now in the database file. */
  checkpointed: number;
}

// A CommonJS script run with `eval`: it needs no file of its own next to the bundle or in the
// packaged app. The driver is loaded by the absolute path the writing thread resolved.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const state = new Int32Array(workerData.state);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
for (;;) {
  Atomics.wait(state, 0, ${IDLE});
  if (Atomics.compareExchange(state, 0, ${WRITTEN}, ${IDLE}) !== ${WRITTEN}) break;
  const [result] = db.pragma('wal_checkpoint(PASSIVE)');
  parentPort.postMessage({ log: result.log, checkpointed: result.checkpointed });
}
db.close();
Atomics.store(state, 0, ${CLOSED});
Atomics.notify(state, 0);
`;

const requireModule = createRequire(import.meta.url);

export interface BackgroundCheckpointOptions {
  /** Default START_AFTER_WRITES. */
  startAfterWrites?: number;
  /** Default CHECKPOINT_EVERY_WRITES. */
  checkpointEveryWrites?: number;
  /** The better-sqlite3 entry the worker loads; tests point it elsewhere to make the worker fail. */
  driver?: string;
  /** Told when the worker failed and the writing connection checkpoints by itself again. */
  onFailure?: (err: Error) => void;
}

export class BackgroundCheckpoints {
  private worker: Worker | undefined;
  private readonly state = new Int32Array(new SharedArrayBuffer(4));
  private failed = false;
  private closed = false;
  private writes = 0;
  private readonly listeners = new Set<(result: CheckpointResult) => void>();

  constructor(
    private readonly raw: Sqlite.Database,
    private readonly file: string,
    private readonly options: BackgroundCheckpointOptions = {},
  ) {}

  /** True while checkpoints are left to the worker: it started and has not failed or been closed. */
  get active(): boolean {
    return this.worker !== undefined && !this.failed && !this.closed;
  }

  /** Called when the writing connection runs a statement that writes. */
  wrote(): void {
    if (this.failed || this.closed) return;
    this.writes++;
    if (this.worker === undefined) {
      if (this.writes < (this.options.startAfterWrites ?? START_AFTER_WRITES)) return;
      try {
        this.worker = this.start();
      } catch (err) {
        // This runs as a statement is prepared: a worker that cannot start must not fail it.
        this.fallBack(err instanceof Error ? err : new Error(String(err)));
        return;
      }
    } else if (this.writes < (this.options.checkpointEveryWrites ?? CHECKPOINT_EVERY_WRITES)) {
      return;
    }
    this.writes = 0;
    // A signal the worker has not taken yet stands for these writes too.
    if (Atomics.compareExchange(this.state, 0, IDLE, WRITTEN) === IDLE) Atomics.notify(this.state, 0);
  }

  /** Runs after each checkpoint the worker made (tests, diagnostics). */
  onCheckpoint(listener: (result: CheckpointResult) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Stops the worker after the checkpoint it may be running and waits (synchronously, as the
   * driver's close is) until it closed its connection: the writing connection must close last,
   * because the last connection to close is the one that checkpoints the rest of the WAL and
   * removes it, leaving only the database file.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.state, 0, CLOSING);
    Atomics.notify(this.state, 0);
    if (this.worker !== undefined && !this.failed) Atomics.wait(this.state, 0, CLOSING, CLOSE_WAIT_MS);
  }

  private start(): Worker {
    this.raw.pragma(`wal_autocheckpoint = ${WRITER_CHECKPOINT_PAGES}`);
    // Loaded when the first worker starts, not with the server: most runs never need one.
    const { Worker: WorkerThread } = requireModule('node:worker_threads') as typeof import('node:worker_threads');
    const worker = new WorkerThread(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: this.options.driver ?? requireModule.resolve('better-sqlite3'),
        file: this.file,
        state: this.state.buffer,
      },
    });
    // Never what keeps the process alive: a process that exits leaves the WAL to the next start.
    worker.unref();
    worker.on('message', (result: CheckpointResult) => {
      for (const listener of this.listeners) listener(result);
    });
    worker.on('error', (err) => this.fallBack(err));
    worker.on('exit', (code) => {
      if (!this.closed) this.fallBack(new Error(`the checkpoint worker stopped (exit code ${code})`));
    });
    return worker;
  }

  private fallBack(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    if (!this.closed && this.raw.open) this.raw.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    this.options.onFailure?.(err);
  }
}
