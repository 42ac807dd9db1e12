/**
 * Reads `message.validation` (the governance verdict for code in a reply) defensively: the field
 * is `unknown` in the contract, may be null (no code, or governance off) and may come from a newer
 * or older backend, so anything unexpected degrades to "unreadable" instead of breaking the chat.
 */
export type Severity = 'error' | 'warning' | 'note';

export interface FindingView {
  ruleId: string;
  severity: Severity;
  message: string;
  line: number | null;
  column: number | null;
  /** The file the finding is in: `reply.md#block-<n>` for code in a chat reply. */
  path: string | null;
}

/** A finding placed in the reply: which code block (0-based) and which line of that block. */
export interface PlacedFinding extends FindingView {
  block: number | null;
  blockLine: number | null;
}

export type ValidationView =
  | { kind: 'none' }
  | { kind: 'unreadable' }
  | { kind: 'report'; verdict: 'pass' | 'fail' | 'error'; errors: number; warnings: number; notes: number; findings: FindingView[] };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);
const position = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);

function readFinding(v: unknown): FindingView | undefined {
  if (!isRecord(v)) return undefined;
  const severity: Severity = v.severity === 'error' || v.severity === 'warning' || v.severity === 'note' ? v.severity : 'warning';
  return {
    ruleId: typeof v.ruleId === 'string' ? v.ruleId : 'unknown-rule',
    severity,
    message: typeof v.message === 'string' ? v.message : '',
    line: position(v.line),
    column: position(v.column),
    path: typeof v.path === 'string' ? v.path : null,
  };
}

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, note: 2 };

export function readValidation(value: unknown): ValidationView {
  if (value === null || value === undefined) return { kind: 'none' };
  if (!isRecord(value) || (value.verdict !== 'pass' && value.verdict !== 'fail' && value.verdict !== 'error')) return { kind: 'unreadable' };
  const findings = (Array.isArray(value.findings) ? value.findings : [])
    .map(readFinding)
    .filter((f): f is FindingView => f !== undefined)
    .sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || (a.line ?? 0) - (b.line ?? 0));
  const summary = isRecord(value.summary) ? value.summary : {};
  const tally = (s: Severity): number => findings.filter((f) => f.severity === s).length;
  return {
    kind: 'report',
    verdict: value.verdict,
    errors: count(summary.errors) ?? tally('error'),
    warnings: count(summary.warnings) ?? tally('warning'),
    notes: count(summary.notes) ?? tally('note'),
    findings,
  };
}

export function validationHeadline(view: Extract<ValidationView, { kind: 'report' }>): string {
  const parts: string[] = [];
  if (view.errors > 0) parts.push(`${view.errors} error${view.errors === 1 ? '' : 's'}`);
  if (view.warnings > 0) parts.push(`${view.warnings} warning${view.warnings === 1 ? '' : 's'}`);
  if (view.notes > 0) parts.push(`${view.notes} note${view.notes === 1 ? '' : 's'}`);
  const verdict = view.verdict === 'pass' ? 'Code checks passed' : view.verdict === 'error' ? 'Code checks could not finish' : 'Code checks failed';
  return parts.length > 0 ? `${verdict} · ${parts.join(', ')}` : verdict;
}

/**
 * Points each finding at its code block and at a line counted from that block's first line. The
 * backend counts lines from the start of the whole reply and names the block in `path`;
 * `blockStarts` are the reply lines where each block's content starts (see fenceStartLines).
 */
export function placeFindings(findings: FindingView[], blockStarts: number[], blockOfPath: (path: string | null) => number | null): PlacedFinding[] {
  return findings.map((f) => {
    const block = blockOfPath(f.path);
    const start = block === null ? undefined : blockStarts[block];
    if (block === null || start === undefined || f.line === null) return { ...f, block, blockLine: null };
    const blockLine = f.line - start + 1;
    return { ...f, block, blockLine: blockLine >= 1 ? blockLine : null };
  });
}
