import { Fragment, memo, useEffect, useState } from 'react';
import { highlight } from '../lib/highlight.js';
import { safeHighlight } from '../lib/markdown-html.js';
import { codeLines, splitHighlightedLines } from '../lib/markdown.js';
import type { PlacedFinding } from '../lib/validation.js';
import { CopyButton } from './CopyButton.js';

export interface CodeBlockProps {
  code: string;
  language: string;
  /** Still being written (the tail of a streaming reply): not highlighted yet. */
  writing: boolean;
  /** 1-based number among the reply's fenced blocks, as governance names them; null for indented code. */
  number: number | null;
  findings: PlacedFinding[];
}

/**
 * One code block: line numbers, syntax colours once the block is complete (the highlighter is
 * loaded on first use), a copy button, and the lines that governance findings point at marked.
 */
export const CodeBlock = memo(function CodeBlock({ code, language, writing, number, findings }: CodeBlockProps) {
  const [highlighted, setHighlighted] = useState<{ code: string; lines: string[] } | null>(null);
  useEffect(() => {
    if (writing) return;
    let live = true;
    highlight(code, language).then(
      (html) => {
        if (live && html !== null) setHighlighted({ code, lines: splitHighlightedLines(safeHighlight(html)) });
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [code, language, writing]);

  const lines = codeLines(code);
  const html = highlighted !== null && highlighted.code === code && highlighted.lines.length === lines.length ? highlighted.lines : null;
  const flagged = new Map<number, PlacedFinding[]>();
  for (const f of findings) {
    if (f.blockLine === null) continue;
    flagged.set(f.blockLine, [...(flagged.get(f.blockLine) ?? []), f]);
  }

  return (
    <figure className="code-block" data-testid="code-block" data-language={language || 'text'} data-block={number ?? undefined}>
      <figcaption>
        <span>{language || 'code'}</span>
        <span className="code-actions">
          {writing ? <span className="muted">writing…</span> : null}
          <CopyButton text={code} label={`Copy ${language || 'code'} block${number !== null ? ` ${number}` : ''}`} testId="copy-code" />
        </span>
      </figcaption>
      <pre tabIndex={0} aria-label={`${language || 'code'} code`}>
        <code className={html ? 'hljs' : undefined}>
          {lines.map((line, i) => {
            const marks = flagged.get(i + 1);
            const severity = marks?.some((m) => m.severity === 'error') ? 'error' : marks?.some((m) => m.severity === 'warning') ? 'warning' : 'note';
            const props = {
              className: marks ? `code-line flagged severity-line-${severity}` : 'code-line',
              'data-line': i + 1,
              ...(marks ? { 'data-testid': 'flagged-line', title: marks.map((m) => `${m.ruleId}: ${m.message}`).join('\n') } : {}),
            };
            return (
              <Fragment key={i}>
                {i > 0 ? '\n' : null}
                {html ? <span {...props} dangerouslySetInnerHTML={{ __html: html[i] ?? '' }} /> : <span {...props}>{line}</span>}
              </Fragment>
            );
          })}
        </code>
      </pre>
    </figure>
  );
});
