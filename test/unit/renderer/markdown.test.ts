import { describe, expect, it } from 'vitest';
import { extractCodeBlocks } from '../../../backend/governance/fences.js';
import { blockIndexOfPath, codeLines, fenceStartLines, lexInline, sliceText, splitBlocks, splitHighlightedLines } from '../../../renderer/src/lib/markdown.js';
import { placeFindings, readValidation } from '../../../renderer/src/lib/validation.js';

const typesOf = (content: string) => {
  const s = splitBlocks(content);
  return [...s.finished, ...s.tail].map((b) => b.token.type);
};

describe('splitBlocks', () => {
  it('splits a reply into CommonMark + GFM blocks', () => {
    expect(typesOf('# Title\n\nText **bold**.\n\n- a\n- b\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n```ts\nconst a = 1;\n```')).toEqual([
      'heading',
      'space',
      'paragraph',
      'space',
      'list',
      'space',
      'table',
      'space',
      'code',
    ]);
  });

  it('keeps finished blocks (same objects) and lexes only the tail as the reply grows', () => {
    let text = 'Intro paragraph.\n\n```js\nconst a';
    const first = splitBlocks(text);
    expect(first.finished.map((b) => b.token.type)).toEqual(['paragraph', 'space']);
    expect(first.tail.map((b) => b.token.type)).toEqual(['code']);
    text += ' = 1;\n```\n\nAfter';
    const second = splitBlocks(text, first);
    expect(second.finished[0]).toBe(first.finished[0]);
    expect(second.finished.map((b) => b.token.type)).toEqual(['paragraph', 'space', 'code', 'space']);
    expect(second.tail.map((b) => b.token.type)).toEqual(['paragraph']);
    // The same blocks as lexing the whole text at once.
    const whole = splitBlocks(text);
    expect([...second.finished, ...second.tail].map((b) => b.token.raw)).toEqual([...whole.finished, ...whole.tail].map((b) => b.token.raw));
  });

  it('starts over when the text changed rather than grew', () => {
    const first = splitBlocks('one\n\ntwo');
    const second = splitBlocks('uno\n\ntwo', first);
    expect(second.finished[0]).not.toBe(first.finished[0]);
    expect(second.finished[0]?.token.raw).toBe('uno\n\n'.slice(0, second.finished[0]?.token.raw.length));
  });

  it("lexes 'a```' × 25,000 in linear time", () => {
    // CPU time, not wall time: on a busy machine the lexer waits for a core, which wall time
    // counts and CPU time does not. Linear work here is tens of milliseconds; quadratic work on
    // 100,000 characters is billions of steps, minutes of CPU.
    const before = process.cpuUsage();
    const s = splitBlocks('a```'.repeat(25_000));
    const used = process.cpuUsage(before);
    expect(s.tail[0]?.token.type).toBe('paragraph');
    expect((used.user + used.system) / 1000).toBeLessThan(5_000);
  });
});

describe('long paragraphs', () => {
  it('leaves a huge top-level paragraph to be lexed slice by slice, and lexes the rest', () => {
    const huge = 'word '.repeat(2_000);
    const s = splitBlocks(`# Head **bold**\n\n${huge}\n\n- item *em*`);
    const [head, , para, , list] = [...s.finished, ...s.tail].map((b) => b.token);
    expect(head?.type).toBe('heading');
    expect((head as { tokens: unknown[] }).tokens.length).toBeGreaterThan(0);
    expect(para?.type).toBe('paragraph');
    expect((para as { tokens: unknown[] }).tokens).toEqual([]);
    expect(JSON.stringify(list)).toContain('"type":"em"');
    expect(lexInline('a `b` c').map((t) => t.type)).toEqual(['text', 'codespan', 'text']);
  });

  it('a huge paragraph growing without a line break is extended, not lexed again, and matches a fresh lex', () => {
    let text = `# Head\n\n${'tok '.repeat(2_000)}`;
    let split = splitBlocks(text);
    const head = split.finished[0];
    for (const added of ['tok7 ', 'more *em* ', 'x'.repeat(10)]) {
      text += added;
      split = splitBlocks(text, split);
      expect(split.finished[0]).toBe(head);
      const fresh = splitBlocks(text);
      expect(split.tail.map((b) => [b.index, b.token.type, b.token.raw, (b.token as { text?: string }).text])).toEqual(
        fresh.tail.map((b) => [b.index, b.token.type, b.token.raw, (b.token as { text?: string }).text]),
      );
    }
    // A line break may end the paragraph: the tail is lexed again.
    text += '\n\n- item';
    split = splitBlocks(text, split);
    expect([...split.finished, ...split.tail].map((b) => b.token.type)).toEqual(['heading', 'space', 'paragraph', 'space', 'list']);
  });

  it('slices at spaces, and earlier slices do not change as the text grows', () => {
    const text = 'abcdefghij '.repeat(1_000);
    const slices = sliceText(text, 1_000, 50);
    expect(slices.join('')).toBe(text);
    expect(slices.every((sl) => sl.endsWith(' '))).toBe(true);
    const grown = sliceText(text + 'more words here', 1_000, 50);
    expect(grown.slice(0, slices.length - 1)).toEqual(slices.slice(0, -1));
    // Resumed from the previous slicing, the result is the same as slicing from scratch.
    const resumed = sliceText(text + 'more words here', 1_000, 50, { text, slices });
    expect(resumed).toEqual(grown);
    expect(resumed[0]).toBe(slices[0]);
    expect(sliceText('other text entirely '.repeat(200), 1_000, 50, { text, slices })).toEqual(sliceText('other text entirely '.repeat(200), 1_000, 50));
    expect(sliceText('x'.repeat(2_500), 1_000, 50)).toEqual(['x'.repeat(1_050), 'x'.repeat(1_050), 'x'.repeat(400)]);
  });
});

describe('fenceStartLines', () => {
  it('numbers blocks exactly as the backend does', () => {
    const reply = 'Intro\n\n```ts\na\nb\n```\n\n  ~~~py\n  x\n  ~~~\n\n````md\n```js\ninner\n```\n````\n\n```\nunclosed';
    expect(fenceStartLines(reply)).toEqual(extractCodeBlocks(reply).map((b) => b.startLine));
  });
});

describe('placeFindings', () => {
  it('turns reply lines into lines of the block named by the path', () => {
    const reply = 'First:\n\n```js\nconst a = 1;\n```\n\n```js\nconst b = 2;\neval(b);\n```';
    const view = readValidation({
      verdict: 'fail',
      findings: [
        { ruleId: 'no-eval', severity: 'error', message: 'x', path: 'reply.md#block-2', line: 9, column: 1 },
        { ruleId: 'old', severity: 'warning', message: 'y', line: 4, column: 2 },
      ],
    });
    if (view.kind !== 'report') throw new Error('expected a report');
    const placed = placeFindings(view.findings, fenceStartLines(reply), blockIndexOfPath);
    expect(placed.map((f) => [f.ruleId, f.block, f.blockLine])).toEqual([
      ['no-eval', 1, 2],
      ['old', null, null],
    ]);
  });
});

describe('code lines', () => {
  it('drops the empty line after a final newline', () => {
    expect(codeLines('a\nb\n')).toEqual(['a', 'b']);
    expect(codeLines('')).toEqual(['']);
  });

  it('closes and reopens highlighter spans at line breaks', () => {
    const html = 'x <span class="c">/* a\nb */</span> y\nz';
    expect(splitHighlightedLines(html)).toEqual(['x <span class="c">/* a</span>', '<span class="c">b */</span> y', 'z']);
  });
});
