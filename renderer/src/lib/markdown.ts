import { Lexer, type Token, type Tokens, type TokensList } from 'marked';

/**
 * Markdown for chat replies, split into top-level blocks with marked's CommonMark + GFM lexer.
 *
 * While a reply streams, only its last block can still change: everything before it is followed
 * by another block, so it is finished. `splitBlocks` keeps the finished blocks from the previous
 * call and lexes only the text from the start of the last block on, so a token costs the size of
 * the tail, never the whole reply. Finished blocks keep their identity, so memoized components
 * for them never re-render.
 */

export interface Block {
  /** Position among the reply's blocks; stable once the block is finished. */
  index: number;
  token: Token;
}

export interface BlockSplit {
  content: string;
  /** Blocks followed by another block: they no longer change. */
  finished: Block[];
  /** Offset in `content` where the unfinished tail starts. */
  tailStart: number;
  /** The last block (and any blank space after it). */
  tail: Block[];
}

const OPTIONS = { gfm: true, breaks: false } as const;

/**
 * Paragraphs longer than this are not inline-lexed here: the renderer lexes them slice by slice
 * (`sliceText`, `lexInline`), a slice per frame, so a huge paragraph never costs one long task.
 */
export const LARGE_PARAGRAPH = 6_000;

export function isLargeParagraph(token: Token): token is Tokens.Paragraph {
  return token.type === 'paragraph' && (token as Tokens.Paragraph).text.length > LARGE_PARAGRAPH;
}

function lexBlocks(text: string): TokensList | Token[] {
  const lexer = new Lexer(OPTIONS);
  if (text.length <= LARGE_PARAGRAPH) return lexer.lex(text);
  // What lex() does, minus the inline pass over huge paragraphs.
  const tokens = lexer.blockTokens(text.replace(/\r\n|\r/g, '\n'), []);
  const sliced = new Set(
    tokens.filter(isLargeParagraph).map((t) => t.tokens),
  );
  for (const item of lexer.inlineQueue) {
    if (!sliced.has(item.tokens)) lexer.inlineTokens(item.src, item.tokens);
  }
  lexer.inlineQueue = [];
  return tokens;
}

/** Inline tokens of one slice of a long paragraph. */
export function lexInline(text: string): Token[] {
  return new Lexer(OPTIONS).inlineTokens(text);
}

/**
 * Cuts a long text into slices of about `size` characters, after a space or line break where
 * there is one nearby. Cuts depend only on the text before them, so as a streaming paragraph
 * grows its earlier slices stay the same strings.
 */
export function sliceText(text: string, size = 3_000, slack = 500, previous?: { text: string; slices: string[] }): string[] {
  const slices: string[] = [];
  let pos = 0;
  // The text only grew: every slice but the last is final, so slicing resumes at the last one.
  if (previous !== undefined && previous.slices.length > 1 && text.length >= previous.text.length && text.startsWith(previous.text)) {
    for (let i = 0; i < previous.slices.length - 1; i++) {
      const slice = previous.slices[i] ?? '';
      slices.push(slice);
      pos += slice.length;
    }
  }
  while (pos < text.length) {
    const from = pos + size;
    if (from >= text.length) break;
    const window = text.slice(from, from + slack);
    const space = window.search(/[ \n]/);
    if (space >= 0) {
      slices.push(text.slice(pos, from + space + 1));
      pos = from + space + 1;
    } else if (from + slack <= text.length) {
      slices.push(text.slice(pos, from + slack));
      pos = from + slack;
    } else {
      break;
    }
  }
  if (pos < text.length) slices.push(text.slice(pos));
  return slices;
}

/**
 * A huge paragraph at the tail that grew by text without a line break is the same paragraph,
 * longer: a line break is what could end it or turn it into another block. It is not lexed
 * again (its inline pass is done slice by slice anyway), which spares re-reading tens of
 * kilobytes, and the garbage that makes, on every update of a long streaming reply.
 */
function grownParagraph(previous: BlockSplit, added: string): BlockSplit | null {
  const last = previous.tail.length === 1 ? previous.tail[0] : undefined;
  if (last === undefined || !isLargeParagraph(last.token) || added.includes('\n') || added.includes('\r')) return null;
  const token = last.token;
  if (token.raw.endsWith('\n') || token.raw !== token.text) return null;
  const raw = token.raw + added;
  const grown: Tokens.Paragraph = { ...token, raw, text: raw, tokens: [] };
  return { content: previous.content + added, finished: previous.finished, tailStart: previous.tailStart, tail: [{ index: last.index, token: grown }] };
}

/** Splits `content`, reusing what `previous` found when `content` only grew at the end. */
export function splitBlocks(content: string, previous?: BlockSplit | null): BlockSplit {
  const reuse = previous !== null && previous !== undefined && content.length >= previous.content.length && content.startsWith(previous.content);
  if (reuse) {
    const fast = grownParagraph(previous, content.slice(previous.content.length));
    if (fast !== null) return { ...fast, content };
  }
  const finished = reuse ? previous.finished.slice() : [];
  let offset = reuse ? previous.tailStart : 0;
  const tokens = lexBlocks(content.slice(offset));
  // The last token that is not blank space is the tail; everything before it is finished.
  let last = tokens.length - 1;
  while (last > 0 && tokens[last]?.type === 'space') last--;
  const tail: Block[] = [];
  tokens.forEach((token, i) => {
    if (i < last) {
      finished.push({ index: finished.length, token });
      offset += token.raw.length;
    } else {
      tail.push({ index: finished.length + tail.length, token });
    }
  });
  return { content, finished, tailStart: offset, tail };
}

/**
 * The 1-based line, within the reply, of each fenced code block's first content line, found by
 * the same rules the backend uses when it validates a reply (backend/governance/fences.ts: ```
 * or ~~~ at any indentation, closed by the same character at least as long). The renderer may
 * import only types from the backend, hence this small twin. Findings name their block
 * (`reply.md#block-<n>`) and a line counted from the start of the reply; this maps them back.
 */
export function fenceStartLines(markdown: string): number[] {
  const lines = markdown.split(/\r?\n/);
  const starts: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const open = /^ *(`{3,}|~{3,})(.*)$/.exec(line);
    if (!open) continue;
    const fence = open[1] ?? '```';
    if (fence.startsWith('`') && (open[2] ?? '').includes('`')) continue;
    const char = fence[0] ?? '`';
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = (lines[j] ?? '').trimEnd();
      const body = l.trimStart();
      if (body.length >= fence.length && body === char.repeat(body.length) && /^ *$/.test(l.slice(0, l.length - body.length))) break;
    }
    starts.push(i + 2);
    i = j;
  }
  return starts;
}

/** `reply.md#block-3` → 2 (0-based), or null for a finding without a block. */
export function blockIndexOfPath(path: string | null | undefined): number | null {
  const m = /#block-(\d+)$/.exec(path ?? '');
  return m ? Number(m[1]) - 1 : null;
}

/** Splits text into lines the way a code block shows them (no empty line after a final newline). */
export function codeLines(code: string): string[] {
  const lines = code.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Splits highlighter HTML (text plus `<span class="…">` / `</span>`) into one HTML string per
 * line, closing the spans open at each line break and reopening them on the next line, so a
 * multi-line comment or string stays coloured on every line it covers.
 */
export function splitHighlightedLines(html: string): string[] {
  const lines: string[] = [];
  const open: string[] = [];
  let current = '';
  const parts = html.split(/(<span[^>]*>|<\/span>)/);
  for (const part of parts) {
    if (part.startsWith('<span')) {
      open.push(part);
      current += part;
    } else if (part === '</span>') {
      open.pop();
      current += part;
    } else {
      const pieces = part.split('\n');
      pieces.forEach((piece, i) => {
        if (i > 0) {
          lines.push(current + '</span>'.repeat(open.length));
          current = open.join('');
        }
        current += piece;
      });
    }
  }
  lines.push(current);
  if (lines.length > 1 && lines[lines.length - 1] === open.join('')) lines.pop();
  return lines;
}
