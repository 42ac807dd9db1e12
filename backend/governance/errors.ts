/**
 * A governance config that cannot be used. The message always names the file and the field
 * path (with the rule id when the field belongs to a rule), so whoever reads a failed start-up
 * or a CLI exit code 2 knows exactly what to edit:
 *
 *   governance/config.yaml: rules[3] (no-eval).severity: expected one of error|warning|note, got "fatal" (line 14)
 */
export interface ConfigLocation {
  /** The config or rule file, relative to the cwd when it lies inside it. */
  file: string;
  /** Field path such as `rules[3] (no-eval).severity`; empty for whole-file problems. */
  field: string;
  ruleId?: string;
  /** 1-based line in `file`, when known. */
  line?: number;
}

export class GovernanceConfigError extends Error {
  readonly file: string;
  readonly field: string;
  readonly ruleId: string | undefined;
  readonly line: number | undefined;
  readonly detail: string;

  constructor(location: ConfigLocation, detail: string) {
    const where = location.field ? `${location.file}: ${location.field}` : location.file;
    const line = location.line === undefined ? '' : ` (line ${location.line})`;
    super(`${where}: ${detail}${line}`);
    this.name = 'GovernanceConfigError';
    this.file = location.file;
    this.field = location.field;
    this.ruleId = location.ruleId;
    this.line = location.line;
    this.detail = detail;
  }
}
