/**
 * Compiler-style text: one `path:line:col severity ruleId message` line per finding, which
 * editors and terminals turn into links, then a one-line summary.
 */
import type { ValidationReport } from './types.js';

export function formatText(report: ValidationReport): string {
  const lines = report.findings.map((f) => `${f.path}:${f.line}:${f.column} ${f.severity} ${f.ruleId} ${f.message}`);
  const { files, errors, warnings, notes, suppressed, failedClauses } = report.summary;
  const problems = errors + warnings + notes;
  const verdict = report.verdict === 'pass' ? 'PASS' : report.verdict === 'error' ? 'ERROR (not every file could be checked)' : `FAIL (${failedClauses.join(', ')})`;
  lines.push(
    `${verdict}: ${plural(problems, 'problem')} (${plural(errors, 'error')}, ${plural(warnings, 'warning')}, ${plural(notes, 'note')}), ` +
      `${suppressed} suppressed, in ${plural(files, 'file')} [${Math.round(report.durationMs)} ms]`,
  );
  return `${lines.join('\n')}\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
