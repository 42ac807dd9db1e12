/**
 * Just enough Markdown for chat replies: fenced code blocks and inline code. The output is plain
 * data that React renders as text nodes, so model output can never inject HTML.
 */
export type Segment = { kind: 'text'; text: string } | { kind: 'code'; language: string; code: string; closed: boolean };

export type Inline = { kind: 'text' | 'code'; text: string };

const OPEN = /^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$/;

/**
 * Splits a reply into text and fenced code. A fence still open at the end (a reply that is
 * streaming, or was cut off) is code up to the end, marked `closed: false`.
 */
export function splitFences(content: string): Segment[] {
  const segments: Segment[] = [];
  const lines = content.split('\n');
  let text: string[] = [];
  let i = 0;
  const flushText = (): void => {
    const joined = text.join('\n');
    if (joined.trim() !== '') segments.push({ kind: 'text', text: joined.replace(/^\n+|\n+$/g, '') });
    text = [];
  };
  while (i < lines.length) {
    const line = lines[i] ?? '';
    const open = OPEN.exec(line);
    if (!open) {
      text.push(line);
      i++;
      continue;
    }
    flushText();
    const fence = open[1] ?? '```';
    const indent = line.length - line.trimStart().length;
    const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}[ \\t]*$`);
    const code: string[] = [];
    i++;
    let closed = false;
    while (i < lines.length) {
      const l = lines[i] ?? '';
      i++;
      if (close.test(l)) {
        closed = true;
        break;
      }
      // Content lines lose up to the opening fence's indentation, as CommonMark says.
      code.push(l.replace(new RegExp(`^ {0,${indent}}`), ''));
    }
    segments.push({ kind: 'code', language: (open[2] ?? '').toLowerCase(), code: code.join('\n'), closed });
  }
  flushText();
  return segments;
}

/** Splits text at `inline code` spans (single or double backticks). */
export function splitInlineCode(text: string): Inline[] {
  const out: Inline[] = [];
  const pattern = /(``?)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g;
  let last = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (m.index > last) out.push({ kind: 'text', text: text.slice(last, m.index) });
    out.push({ kind: 'code', text: (m[2] ?? '').trim() === '' ? (m[2] ?? '') : (m[2] ?? '').replace(/^ (.*) $/s, '$1') });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) });
  return out;
}
