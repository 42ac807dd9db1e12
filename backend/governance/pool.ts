/**
 * Governance off the event loop: the engines (ESLint, ast-grep, secretlint) run in worker threads
 * of a piscina pool, so a large file keeps one worker busy instead of the whole server. Callers get
 * the same Governance interface as the in-process service; the server, the chat pipeline and the
 * CLI all validate through here.
 *
 * Every validation has a time limit: when it runs out, the task is aborted, piscina terminates the
 * worker doing it (so it stops burning CPU) and starts a fresh one, and the caller gets verdict
 * `error` with a `governance-timeout` finding.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { packageVersion } from '../paths.js';
import { displayPath } from './display-path.js';
import { GovernanceConfigError } from './errors.js';
import { memoryValidationCache } from './cache.js';
import { buildSarif } from './sarif.js';
import type { Finding, Governance, RuleDescriptor, SourceFile, ValidateOptions, ValidationCache, ValidationReport } from './types.js';
import type { WorkerDescription, WorkerFailure, WorkerResult, WorkerSetup, WorkerTask } from './worker.js';

export const GOVERNANCE_TIMEOUT_RULE = 'governance-timeout';

const TIMEOUT_RULE: RuleDescriptor = {
  id: GOVERNANCE_TIMEOUT_RULE,
  engine: 'governance',
  severity: 'error',
  shortDescription: 'The validation ran out of time',
  fullDescription: 'The file was not judged: validating it took longer than GOVERNANCE_TIMEOUT_MS, so the work was stopped.',
  help: 'Split the file, or raise GOVERNANCE_TIMEOUT_MS if such files are expected.',
};

export interface GovernancePoolOptions {
  configPath?: string;
  cwd: string;
  /** Results of whole requests, keyed by config hash and content (the app's two-tier cache). */
  cache?: ValidationCache;
  /** Defer the TypeScript parser until the first TS file (short-lived CLI runs). */
  lazy?: boolean;
  /** Time limit of one validate() call, ms; 0 means none. */
  timeoutMs?: number;
  /** Most worker threads; defaults to the cores less one (at most 4, at least 1). */
  threads?: number;
  /** Errors of the pool itself (a worker that died between tasks). */
  onError?: (err: Error) => void;
  /** Aborting it while the engines still load stops the workers at once (a shutdown does not wait). */
  signal?: AbortSignal;
}

export function defaultGovernanceThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * Where the worker script is, for each way the code runs: the esbuild bundle
 * (dist/backend/orchestra.cjs, with governance-worker.cjs beside it), the compiled modules
 * (dist/backend/governance/worker.js), or the TypeScript sources under tsx or vitest, where the
 * worker needs tsx's loader to read .ts files.
 */
function workerScript(): { filename: string; execArgv?: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.cjs')) return { filename: fileURLToPath(new URL('./governance-worker.cjs', here)) };
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return { filename: fileURLToPath(new URL('./worker.ts', here)), execArgv: ['--import', tsx] };
  }
  return { filename: fileURLToPath(new URL('./worker.js', here)) };
}

function revive(failed: WorkerFailure['failed']): Error {
  if (failed.name === 'GovernanceConfigError' && failed.file !== undefined && failed.detail !== undefined) {
    return new GovernanceConfigError(
      { file: failed.file, field: failed.field ?? '', ...(failed.ruleId !== undefined ? { ruleId: failed.ruleId } : {}), ...(failed.line !== undefined ? { line: failed.line } : {}) },
      failed.detail,
    );
  }
  const err = new Error(failed.message);
  err.name = failed.name;
  return err;
}

export async function createGovernancePool(opts: GovernancePoolOptions): Promise<Governance> {
  const cwd = path.resolve(opts.cwd);
  const { filename, execArgv } = workerScript();
  const setup: WorkerSetup = { cwd, lazy: opts.lazy ?? false, ...(opts.configPath !== undefined ? { configPath: opts.configPath } : {}) };
  const pool = new Piscina<WorkerTask, WorkerResult>({
    filename,
    ...(execArgv ? { execArgv } : {}),
    workerData: setup,
    minThreads: 1,
    maxThreads: Math.max(1, opts.threads ?? defaultGovernanceThreads()),
    // Extra workers retire after a quiet spell; each holds its own engines (tens of MB).
    idleTimeout: 120_000,
    // No niceIncrement: a worker lowers its own priority once its engines are loaded (worker.ts).
  });
  pool.on('error', (err: Error) => opts.onError?.(err));
  let destroyed: Promise<void> | undefined;
  const destroy = (): Promise<void> => (destroyed ??= pool.destroy());
  const onAbort = (): void => void destroy().catch(() => {});
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (opts.signal?.aborted === true) throw new Error('governance: the pool was stopped while it started');
    const described = await pool.run({ kind: 'describe' });
    if ('failed' in described) throw revive(described.failed);
    if (!('configHash' in described)) throw new Error('governance worker: unexpected answer to describe');
    return new PooledGovernance(pool, described, cwd, opts.cache ?? memoryValidationCache(), opts.timeoutMs ?? 0);
  } catch (err) {
    await destroy();
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

class PooledGovernance implements Governance {
  private closed = false;
  readonly configHash: string;
  readonly configPath: string;
  private readonly ruleList: RuleDescriptor[];

  constructor(
    private readonly pool: Piscina<WorkerTask, WorkerResult>,
    described: WorkerDescription,
    private readonly cwd: string,
    private readonly cache: ValidationCache,
    private readonly timeoutMs: number,
  ) {
    this.configHash = described.configHash;
    this.configPath = described.configPath;
    this.ruleList = described.rules;
  }

  async validate(files: SourceFile[], opts: ValidateOptions = {}): Promise<ValidationReport> {
    if (this.closed) throw new Error('governance: validate() called after close()');
    const started = performance.now();
    const cwd = opts.cwd !== undefined ? path.resolve(opts.cwd) : this.cwd;
    // With dependency checks the verdict also depends on manifests on disk, which the key cannot see.
    const key = (opts.checkDependencies ?? true) ? undefined : this.requestKey(files, cwd);
    const cached = key !== undefined ? await this.cache.get(key) : undefined;
    if (cached) return { ...cached, durationMs: round(performance.now() - started) };

    let result: WorkerResult;
    if (this.timeoutMs > 0) {
      // The clock starts when a worker with loaded engines takes the task, not at submission: a
      // worker that replaces a recycled one loads its engines first, and a limit counted from
      // submission would kill it during loading, again and again.
      const abort = new AbortController();
      const { port1, port2 } = new MessageChannel();
      let timer: NodeJS.Timeout | undefined;
      port1.once('message', () => {
        timer = setTimeout(() => abort.abort(), this.timeoutMs);
      });
      try {
        result = await this.pool.run({ kind: 'validate', files, opts: { ...opts, cwd }, started: port2 }, { signal: abort.signal, transferList: [port2] });
      } catch (err) {
        if (abort.signal.aborted) return this.timedOut(files, cwd, started);
        throw err;
      } finally {
        clearTimeout(timer);
        port1.close();
      }
    } else {
      result = await this.pool.run({ kind: 'validate', files, opts: { ...opts, cwd } });
    }
    if ('failed' in result) throw revive(result.failed);
    if (!('report' in result)) throw new Error('governance worker: unexpected answer to validate');
    if (key !== undefined) await this.cache.set(key, result.report);
    return { ...result.report, durationMs: round(performance.now() - started) };
  }

  private requestKey(files: SourceFile[], cwd: string): string {
    const hash = createHash('sha256').update(this.configHash).update('\0request\0').update(cwd);
    for (const f of files) hash.update('\0').update(f.path).update('\0').update(f.language ?? '').update('\0').update(f.content);
    return hash.digest('hex');
  }

  private timedOut(files: SourceFile[], cwd: string, started: number): ValidationReport {
    const seconds = Math.round(this.timeoutMs / 100) / 10;
    const findings: Finding[] = files.map((f) => ({
      ruleId: GOVERNANCE_TIMEOUT_RULE,
      engine: 'governance',
      severity: 'error',
      message: `validation stopped after ${seconds} s (GOVERNANCE_TIMEOUT_MS); this file was not checked`,
      path: displayPath(f.path, cwd),
      line: 1,
      column: 1,
      endLine: 1,
      endColumn: 1,
    }));
    return {
      verdict: 'error',
      summary: { files: files.length, errors: findings.length, warnings: 0, notes: 0, suppressed: 0, failedClauses: [] },
      findings,
      durationMs: round(performance.now() - started),
    };
  }

  toSarif(report: ValidationReport): object {
    return buildSarif(report, this.rules(), packageVersion);
  }

  rules(): RuleDescriptor[] {
    return [...this.ruleList, TIMEOUT_RULE];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
