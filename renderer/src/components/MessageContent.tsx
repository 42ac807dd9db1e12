import { memo, type ReactNode } from 'react';
import { splitFences, splitInlineCode } from '../lib/markdown.js';

function Inline({ text }: { text: string }) {
  const parts = splitInlineCode(text);
  return (
    <>
      {parts.map((p, i) =>
        p.kind === 'code' ? (
          <code key={i} className="inline-code">
            {p.text}
          </code>
        ) : (
          <span key={i}>{p.text}</span>
        ),
      )}
    </>
  );
}

/**
 * A reply as text paragraphs and <pre><code> blocks. Everything is rendered as React text nodes;
 * model output never reaches innerHTML.
 */
export const MessageContent = memo(function MessageContent({ content, streaming }: { content: string; streaming: boolean }) {
  const segments = splitFences(content);
  const nodes: ReactNode[] = segments.map((s, i) =>
    s.kind === 'code' ? (
      <figure className="code-block" key={i} data-testid="code-block" data-language={s.language || 'text'}>
        <figcaption>
          <span>{s.language || 'code'}</span>
          {!s.closed && streaming ? <span className="muted">writing…</span> : null}
        </figcaption>
        <pre>
          <code>{s.code}</code>
        </pre>
      </figure>
    ) : (
      <div className="text-block" key={i}>
        {s.text.split(/\n{2,}/).map((para, j) => (
          <p key={j}>
            <Inline text={para} />
          </p>
        ))}
      </div>
    ),
  );
  return (
    <div className="message-content" data-testid="message-content">
      {nodes}
      {streaming ? <span className="caret" aria-hidden="true" /> : null}
    </div>
  );
});
