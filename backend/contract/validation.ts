/**
 * `POST /api/validate`'s answer, and what `message.validation` holds for a reply with code.
 * Positions are 1-based; `endColumn` points just past the last character (as SARIF's does), in
 * UTF-16 code units.
 */
export type Severity = 'error' | 'warning' | 'note';

export type EngineId = 'structural' | 'secrets' | 'syntax' | 'lint' | 'dependencies';

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

export interface ValidationSummary {
  files: number;
  errors: number;
  warnings: number;
  notes: number;
  suppressed: number;
  failedClauses: string[];
}

export interface ValidationResult {
  verdict: 'pass' | 'fail';
  summary: ValidationSummary;
  findings: Finding[];
  durationMs: number;
}
