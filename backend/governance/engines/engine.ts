/** What every engine implements; the service runs them in order over each file. */
import type { AnalyzedFile } from '../analyzed-file.js';
import type { Span } from '../rule-book.js';
import type { EngineId } from '../types.js';

/**
 * What a finding says. `message` replaces the rule's text; `detail` (what exactly was found) is
 * put in front of the rule's help text. With neither, the help text alone is the message.
 */
export interface ReportText {
  message?: string;
  detail?: string;
}

export type Report = (ruleId: string, span: Span, text?: ReportText) => void;

export interface Engine {
  readonly id: EngineId;
  supports(file: AnalyzedFile): boolean;
  run(file: AnalyzedFile, report: Report): void | Promise<void>;
}

/** 0-based ast-grep range → our 1-based span with exclusive end column. */
export function spanFromRange(range: { start: { line: number; column: number }; end: { line: number; column: number } }): Span {
  return {
    line: range.start.line + 1,
    column: range.start.column + 1,
    endLine: range.end.line + 1,
    endColumn: range.end.column + 1,
  };
}

/** The first sentence of a rule message, for SARIF's one-line shortDescription. */
export function firstSentence(text: string): string {
  const match = /^(.+?[.!?])(\s|$)/s.exec(text);
  return (match?.[1] ?? text).replace(/\s+/g, ' ').trim();
}
