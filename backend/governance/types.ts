/**
 * The governance contract shared by every part of the module and by its callers (HTTP route,
 * chat pipeline, CLI). Positions are 1-based; `endColumn` points just past the last character,
 * which is what SARIF's `region.endColumn` means too. Columns count UTF-16 code units, the unit
 * JavaScript strings (and SARIF's default `columnKind`) use.
 */
import type { LanguageId } from './languages.js';

export type Severity = 'error' | 'warning' | 'note';

/** `governance` reports on the run itself (a validation that ran out of time), not on the code. */
export type EngineId = 'structural' | 'secrets' | 'syntax' | 'lint' | 'dependencies' | 'governance';

export interface Finding {
  ruleId: string;
  engine: EngineId;
  severity: Severity;
  message: string;
  path: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export interface SourceFile {
  path: string;
  content: string;
  /** A language id or alias (`ts`, `py`, `golang`…); inferred from `path` when absent. */
  language?: string;
}

export interface ValidationSummary {
  files: number;
  errors: number;
  warnings: number;
  notes: number;
  suppressed: number;
  failedClauses: string[];
}

export interface ValidationReport {
  /** `error`: the code could not be judged (for example the validation ran out of time). */
  verdict: 'pass' | 'fail' | 'error';
  summary: ValidationSummary;
  findings: Finding[];
  durationMs: number;
}

export interface RuleDescriptor {
  id: string;
  engine: EngineId;
  /** The configured severity before per-path overrides. */
  severity: Severity;
  /** One line: what the rule catches. */
  shortDescription: string;
  /** Why it matters, when the rule says more than the short description. */
  fullDescription?: string;
  /** How to fix a finding. */
  help: string;
  /** Languages the rule inspects; absent means every language its engine handles. */
  languages?: LanguageId[];
}

/** Where validation results are kept between calls; the key already includes the config hash. */
export interface ValidationCache {
  get(key: string): Promise<ValidationReport | undefined>;
  set(key: string, value: ValidationReport): Promise<void>;
}

export interface ValidateOptions {
  /** Base for relative paths, manifests (package.json…) and policy globs. Defaults to the governance cwd. */
  cwd?: string;
  /**
   * Check imports against the nearest manifest. Defaults to true; chat replies turn it off because
   * a snippet belongs to no project.
   */
  checkDependencies?: boolean;
}

export interface Governance {
  /** sha256 of the effective config, its rule files and the engine package versions. */
  readonly configHash: string;
  /** The config file in use (absolute path). */
  readonly configPath: string;
  validate(files: SourceFile[], opts?: ValidateOptions): Promise<ValidationReport>;
  /** A SARIF 2.1.0 log for the report. */
  toSarif(report: ValidationReport): object;
  rules(): RuleDescriptor[];
  close(): Promise<void>;
}
