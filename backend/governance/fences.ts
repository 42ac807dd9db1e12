/**
 * Fenced code blocks in a markdown chat reply, with the line each block starts on so findings
 * can point back into the reply. Follows CommonMark's fence rules (``` or ~~~, at least three,
 * closed by a fence of the same character at least as long; an unclosed fence runs to the end)
 * with one relaxation: a fence may be indented by any number of spaces, because models nest code
 * inside list items. Content lines lose up to that many leading spaces, as CommonMark specifies.
 */
export interface CodeBlock {
  /** First word of the info string as written (`ts`, `python`, `rust`), if any. */
  language: string | undefined;
  content: string;
  /** 1-based line, within the markdown, of the block's first content line. */
  startLine: number;
  /** Leading spaces removed from each content line (at most this many, fewer if the line has fewer). */
  indent: number;
}

const OPENING = /^( *)(`{3,}|~{3,})(.*)$/;

export function extractCodeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = OPENING.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = (open[1] ?? '').length;
    const fence = open[2] ?? '```';
    const info = (open[3] ?? '').trim();
    // A backtick fence's info string cannot contain backticks (that is inline code).
    if (fence.startsWith('`') && info.includes('`')) continue;
    const closing = new RegExp(`^ *${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    const content: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j] ?? '';
      if (closing.test(line)) break;
      content.push(stripIndent(line, indent));
    }
    const word = info.split(/\s+/)[0];
    blocks.push({ language: word ? word : undefined, content: content.join('\n'), startLine: i + 2, indent });
    i = j;
  }
  return blocks;
}

function stripIndent(line: string, indent: number): string {
  let n = 0;
  while (n < indent && line[n] === ' ') n++;
  return line.slice(n);
}

/** How many columns `stripIndent` removed from a line of the original markdown. */
export function removedIndent(line: string, indent: number): number {
  let n = 0;
  while (n < indent && line[n] === ' ') n++;
  return n;
}
