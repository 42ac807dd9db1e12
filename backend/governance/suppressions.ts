/**
 * Inline suppressions. A comment
 *
 *   // orchestra-ignore-next-line no-eval, no-new-func: sandboxed plugin loader, input is signed
 *   # orchestra-ignore-next-line python-pickle-load: cache file written by this process only
 *
 * silences the named rules on the next line; `orchestra-ignore-line` does the same for the line
 * the comment is on. The reason after `:` (or ` -- `) is required: a suppression without one
 * silences nothing and is itself reported as `suppression-without-reason`, so every exception
 * in the code base explains itself. In languages we parse, only real comments count (a string
 * containing the marker is not a suppression).
 */
import type { AnalyzedFile } from './analyzed-file.js';
import type { Span } from './rule-book.js';
import type { Finding, RuleDescriptor } from './types.js';

export const SUPPRESSION_RULE_ID = 'suppression-without-reason';

export const SUPPRESSION_RULES: RuleDescriptor[] = [
  {
    id: SUPPRESSION_RULE_ID,
    // Reported alongside lint findings: it is a code-hygiene problem in the comment itself.
    engine: 'lint',
    severity: 'warning',
    shortDescription: 'Suppression comment without a reason.',
    help: 'Say why the finding is safe to ignore: `orchestra-ignore-next-line <rule-id>: <reason>`. Until then the suppression has no effect.',
  },
];

const MARKER = 'orchestra-ignore-';
// The directive must open the comment (`// orchestra-ignore-…`, `# …`, `/* …`), so prose that
// mentions it, like this comment, is not one.
const DIRECTIVE = /^(?:\/\/+|\/\*+|#+)\s*orchestra-ignore-(next-line|line)\b([^\n]*)/;

export interface Suppression {
  /** The line whose findings it silences. */
  targetLine: number;
  ruleIds: string[];
  reason: string | undefined;
  /** Where the comment is, for the finding when the reason is missing. */
  span: Span;
}

/** Suppression directives in the file's comments. */
export function findSuppressions(file: AnalyzedFile): Suppression[] {
  // Cheap guard: nearly every file has none, and finding comments costs a tree walk.
  if (!file.content.includes(MARKER)) return [];
  const out: Suppression[] = [];
  for (const comment of comments(file)) {
    const match = DIRECTIVE.exec(comment.text);
    if (!match) continue;
    const body = (match[2] ?? '').replace(/\*\/\s*$/, '').trim();
    const separator = /:|\s--\s|^--\s/.exec(body);
    const idsPart = separator ? body.slice(0, separator.index) : body;
    const reason = separator ? body.slice(separator.index + separator[0].length).trim() : '';
    const ruleIds = idsPart
      .split(/[\s,]+/)
      .map((id) => id.trim())
      .filter((id) => id.length > 0);
    const targetLine = match[1] === 'line' ? comment.span.line : comment.span.endLine + 1;
    out.push({ targetLine, ruleIds, reason: reason || undefined, span: comment.span });
  }
  return out;
}

export interface SuppressionResult {
  kept: Finding[];
  suppressed: number;
}

/**
 * Removes findings silenced by a valid suppression and adds a `suppression-without-reason`
 * finding (through `report`) for each directive that lacks a reason or names no rule.
 */
export function applySuppressions(
  findings: Finding[],
  suppressions: Suppression[],
  report: (span: Span, detail: string) => Finding | undefined,
): SuppressionResult {
  if (suppressions.length === 0) return { kept: findings, suppressed: 0 };
  const active = new Map<number, Set<string>>();
  const problems: Finding[] = [];
  for (const s of suppressions) {
    if (s.ruleIds.length === 0 || s.reason === undefined) {
      const what = s.ruleIds.length === 0 ? 'names no rule' : `of ${s.ruleIds.join(', ')} has no reason`;
      const problem = report(s.span, `Suppression ${what}, so it is ignored.`);
      if (problem) problems.push(problem);
      continue;
    }
    const set = active.get(s.targetLine) ?? new Set<string>();
    for (const id of s.ruleIds) set.add(id);
    active.set(s.targetLine, set);
  }
  let suppressed = 0;
  const kept: Finding[] = [];
  for (const finding of findings) {
    if (finding.ruleId !== SUPPRESSION_RULE_ID && active.get(finding.line)?.has(finding.ruleId)) {
      suppressed++;
      continue;
    }
    kept.push(finding);
  }
  return { kept: [...kept, ...problems], suppressed };
}

interface Comment {
  text: string;
  span: Span;
}

function comments(file: AnalyzedFile): Comment[] {
  const root = file.ast()?.root();
  if (root) {
    return root
      .findAll({ rule: { kind: 'comment', regex: MARKER } })
      .map((node) => {
        const { start, end } = node.range();
        return { text: node.text(), span: { line: start.line + 1, column: start.column + 1, endLine: end.line + 1, endColumn: end.column + 1 } };
      });
  }
  // No grammar (YAML, .env, shell, TOML, JSONC, text): a `#` or `//` comment on a line.
  const out: Comment[] = [];
  for (let line = 1; line <= file.lines.lineCount; line++) {
    const text = file.lines.lineText(line);
    const at = text.search(/(?:^|\s)(?:#|\/\/)\s*orchestra-ignore-(?:next-line|line)\b/);
    if (at === -1) continue;
    const start = at + (/\s/.test(text[at] ?? '') ? 1 : 0);
    out.push({ text: text.slice(start), span: { line, column: start + 1, endLine: line, endColumn: text.length + 1 } });
  }
  return out;
}
