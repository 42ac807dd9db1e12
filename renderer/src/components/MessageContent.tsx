import { memo, useEffect, useMemo, useRef, useState } from 'react';
import type { Token, Tokens } from 'marked';
import { STREAM_RENDER_MS } from '../lib/limits.js';
import { blockHtml, inlineHtml } from '../lib/markdown-html.js';
import { isLargeParagraph, lexInline, sliceText, splitBlocks, type BlockSplit } from '../lib/markdown.js';
import type { PlacedFinding } from '../lib/validation.js';
import { CodeBlock } from './CodeBlock.js';


function useThrottledText(text: string, streaming: boolean): string {
  const [shown, setShown] = useState(text);
  const latest = useRef(text);
  latest.current = text;
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    if (!streaming || timer.current !== null) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      setShown(latest.current);
    }, STREAM_RENDER_MS);
  }, [text, streaming]);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );
  return streaming ? shown : text;
}

const isCode = (token: Token): token is Tokens.Code => token.type === 'code';

interface BlockProps {
  token: Token;
  writing: boolean;
  codeNumber: number | null;
  findings: PlacedFinding[];
}

const NO_FINDINGS: PlacedFinding[] = [];

/**
 * A very long paragraph (a model stuck in a loop, a pasted log): sliced so that no single task
 * parses, sanitizes and lays out all of it. Each slice is its own block box, so adding one lays
 * out only that slice (the price: a line break every few thousand characters). Slices appear one
 * per frame; a slice whose source is unchanged keeps its HTML, so while the paragraph streams
 * only its end is redone.
 */
function LargeParagraph({ token }: { token: Tokens.Paragraph }) {
  const sliced = useRef<{ text: string; slices: string[] } | undefined>(undefined);
  const slices = useMemo(() => {
    const next = sliceText(token.text, undefined, undefined, sliced.current);
    sliced.current = { text: token.text, slices: next };
    return next;
  }, [token]);
  const cache = useRef(new Map<string, string>());
  const [shown, setShown] = useState(1);
  useEffect(() => {
    if (shown >= slices.length) return;
    const frame = requestAnimationFrame(() => setShown((n) => n + 1));
    return () => cancelAnimationFrame(frame);
  }, [shown, slices.length]);
  const used = new Map<string, string>();
  const parts = slices.slice(0, shown).map((slice) => {
    const html = cache.current.get(slice) ?? inlineHtml(lexInline(slice));
    used.set(slice, html);
    return html;
  });
  cache.current = used;
  return (
    <div className="md-block">
      <p data-slices={slices.length} data-shown={Math.min(shown, slices.length)}>
        {parts.map((html, i) => (
          <span key={i} className="slice" dangerouslySetInnerHTML={{ __html: html }} />
        ))}
      </p>
    </div>
  );
}

const Block = memo(function Block({ token, writing, codeNumber, findings }: BlockProps) {
  const large = isLargeParagraph(token);
  const html = useMemo(() => (isCode(token) || token.type === 'space' || large ? '' : blockHtml(token)), [token, large]);
  if (large) return <LargeParagraph token={token} />;
  if (isCode(token)) {
    const language = (token.lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    return <CodeBlock code={token.text} language={language} writing={writing} number={codeNumber} findings={findings} />;
  }
  if (token.type === 'space') return null;
  return <div className="md-block" dangerouslySetInnerHTML={{ __html: html }} />;
});

/**
 * A reply rendered as Markdown, block by block. Finished blocks are memoized and keep their
 * identity while the reply streams; only the last block is lexed and rendered again.
 */
export const MessageContent = memo(function MessageContent({
  content,
  streaming,
  findings = NO_FINDINGS,
}: {
  content: string;
  streaming: boolean;
  findings?: PlacedFinding[];
}) {
  const shown = useThrottledText(content, streaming);
  const previous = useRef<BlockSplit | null>(null);
  const split = useMemo(() => {
    const next = splitBlocks(shown, previous.current);
    previous.current = next;
    return next;
  }, [shown]);

  const blocks = [...split.finished, ...split.tail];
  const tailStart = split.finished.length;
  let fenced = 0;
  return (
    <div className="message-content markdown" data-testid="message-content">
      {blocks.map((b) => {
        const code = isCode(b.token) && b.token.codeBlockStyle !== 'indented' ? ++fenced : null;
        const mine = code === null ? NO_FINDINGS : findings.filter((f) => f.block === code - 1);
        return (
          <Block
            key={b.index}
            token={b.token}
            writing={streaming && b.index >= tailStart}
            codeNumber={code}
            findings={mine.length === 0 ? NO_FINDINGS : mine}
          />
        );
      })}
      {streaming ? <span className="caret" aria-hidden="true" /> : null}
    </div>
  );
});
