import type { Logger } from 'pino';
import { cacheKey, type Cache } from '../cache/cache.js';
import { newId } from '../data/ids.js';
import type { Store } from '../data/store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Governance, SourceFile, ValidationCache, ValidationReport } from './types.js';

export type ValidationSource = 'api' | 'chat' | 'cli';

export interface ValidationServiceOptions {
  configPath: string | undefined;
  cwd: string;
  store: Store;
  cache: Cache;
  metrics: Metrics;
  logger: Logger;
  /** GOVERNANCE_TIMEOUT_MS: time limit of one validation, ms. */
  timeoutMs: number;
  /** GOVERNANCE_THREADS: most worker threads; undefined picks from the core count. */
  threads?: number | undefined;
}

/**
 * Governance as the server uses it: the engines load once per worker thread of the pool, on first
 * use (they are heavy, and most starts never validate anything), and run off the event loop with a
 * time limit; results are cached by content and rule hash in the shared cache; every verdict is
 * counted in Prometheus and recorded in the validations audit table.
 */
export class ValidationService {
  private governance: Promise<Governance> | undefined;
  /** Stops a pool that is still loading its engines when the server shuts down. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: ValidationServiceOptions) {}

  /** Loads the engines now (for example when a chat turn starts) so the reply does not wait. */
  warm(): void {
    // Every chat turn calls this: only the call that starts the load listens for its failure, so
    // turns arriving while the engines load neither pile up handlers nor log the failure again.
    if (this.governance) return;
    this.load().catch((err: unknown) => {
      this.options.logger.error({ err: (err as Error).message }, 'governance engines failed to load');
    });
  }

  private load(): Promise<Governance> {
    if (!this.governance) {
      const { cache } = this.options;
      const results: ValidationCache = {
        get: (key) => cache.get<ValidationReport>(cacheKey('validation', key)),
        set: (key, value) => cache.set(cacheKey('validation', key), value),
      };
      const started = performance.now();
      const { configPath, cwd, timeoutMs, threads, logger } = this.options;
      // Imported here, not at the top: the pool and its workers would otherwise start with every
      // server, adding to start-up time and idle memory.
      this.governance = import('./pool.js')
        .then(({ createGovernancePool }) =>
          createGovernancePool({
            cwd,
            cache: results,
            timeoutMs,
            ...(configPath !== undefined ? { configPath } : {}),
            ...(threads !== undefined ? { threads } : {}),
            onError: (err) => logger.error({ err: err.message }, 'a governance worker failed'),
            signal: this.stopping.signal,
          }),
        )
        .then((g) => {
        this.options.logger.info({ ms: Math.round(performance.now() - started), config: g.configPath, rules: g.rules().length }, 'governance engines loaded');
        return g;
      });
      // A failed load is retried on the next call rather than cached forever.
      this.governance.catch(() => {
        this.governance = undefined;
      });
    }
    return this.governance;
  }

  async validateFiles(files: SourceFile[], source: ValidationSource): Promise<ValidationReport> {
    const governance = await this.load();
    const report = await governance.validate(files, { cwd: this.options.cwd, checkDependencies: false });
    await this.record(report, source, null, governance.configHash);
    return report;
  }

  /** Checks the fenced code blocks of an assistant reply; null when it has none. */
  async validateReply(content: string, messageId: string): Promise<ValidationReport | null> {
    const { validateReply } = await import('./reply.js');
    const { extractCodeBlocks } = await import('./fences.js');
    // Most replies carry no code: they must not wait for the engines to load.
    if (extractCodeBlocks(content).length === 0) return null;
    const governance = await this.load();
    const report = await validateReply(governance, content);
    if (report) await this.record(report, 'chat', messageId, governance.configHash);
    return report;
  }

  async toSarif(report: ValidationReport): Promise<object> {
    return (await this.load()).toSarif(report);
  }

  private async record(report: ValidationReport, source: ValidationSource, messageId: string | null, configHash: string): Promise<void> {
    this.options.metrics.governanceVerdicts.inc({ verdict: report.verdict, source });
    try {
      await this.options.store.apply([
        {
          kind: 'validation.insert',
          row: {
            id: newId(),
            messageId,
            source,
            verdict: report.verdict,
            errors: report.summary.errors,
            warnings: report.summary.warnings,
            notes: report.summary.notes,
            configHash,
            durationMs: report.durationMs,
            findings: report.findings,
            createdAt: new Date().toISOString(),
          },
        },
      ]);
    } catch (err) {
      // The verdict still reaches the caller; the audit gap is logged.
      this.options.logger.error({ err: (err as Error).message, source }, 'could not record a validation');
    }
  }

  async close(): Promise<void> {
    const loading = this.governance;
    this.governance = undefined;
    this.stopping.abort();
    if (loading) await (await loading.catch(() => undefined))?.close();
  }
}
