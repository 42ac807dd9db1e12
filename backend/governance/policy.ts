/**
 * The policy turns findings into a verdict: which paths are skipped (`ignore`), how severities
 * change per path (`overrides`), and which findings fail the run (`failOn`, `maxWarnings`).
 */
import picomatch from 'picomatch';
import type { PolicyConfig } from './config.js';
import type { Finding, Severity, ValidationSummary } from './types.js';

type Matcher = (path: string) => boolean;

export class Policy {
  private readonly ignored: Matcher;
  private readonly overrides: Array<{ matches: Matcher; rules: Record<string, Severity | 'off'> }>;

  constructor(private readonly config: PolicyConfig) {
    this.ignored = config.ignore.length > 0 ? picomatch(config.ignore, { dot: true }) : () => false;
    this.overrides = config.overrides.map((o) => ({ matches: picomatch(o.files, { dot: true }), rules: o.rules }));
  }

  isIgnored(path: string): boolean {
    return this.ignored(path);
  }

  /** Applies overrides in order (later ones win); `off` drops the finding. */
  applyOverrides(path: string, findings: Finding[]): Finding[] {
    const applicable = this.overrides.filter((o) => o.matches(path));
    if (applicable.length === 0) return findings;
    const out: Finding[] = [];
    for (const finding of findings) {
      let severity: Severity | 'off' = finding.severity;
      for (const o of applicable) severity = o.rules[finding.ruleId] ?? severity;
      if (severity === 'off') continue;
      out.push(severity === finding.severity ? finding : { ...finding, severity });
    }
    return out;
  }

  /**
   * Verdict plus the clauses that failed, e.g. `failOn:error (2)` when two error findings
   * remain, `maxWarnings:10 (12)` when twelve warnings exceed a limit of ten.
   */
  evaluate(findings: Finding[]): { verdict: 'pass' | 'fail'; counts: Pick<ValidationSummary, 'errors' | 'warnings' | 'notes'>; failedClauses: string[] } {
    const counts = { errors: 0, warnings: 0, notes: 0 };
    for (const f of findings) {
      if (f.severity === 'error') counts.errors++;
      else if (f.severity === 'warning') counts.warnings++;
      else counts.notes++;
    }
    const bySeverity: Record<Severity, number> = { error: counts.errors, warning: counts.warnings, note: counts.notes };
    const failedClauses: string[] = [];
    for (const severity of this.config.failOn) {
      if (bySeverity[severity] > 0) failedClauses.push(`failOn:${severity} (${bySeverity[severity]})`);
    }
    if (this.config.maxWarnings !== null && counts.warnings > this.config.maxWarnings) {
      failedClauses.push(`maxWarnings:${this.config.maxWarnings} (${counts.warnings})`);
    }
    return { verdict: failedClauses.length > 0 ? 'fail' : 'pass', counts, failedClauses };
  }
}
