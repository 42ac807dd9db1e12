import { describe, expect, it } from 'vitest';
import { extractCodeBlocks } from '../../../backend/governance/fences.js';
import { blockIndexOfPath, codeLines, fenceStartLines, splitBlocks, splitHighlightedLines } from '../../../renderer/src/lib/markdown.js';
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
    const started = performance.now();
    const s = splitBlocks('a```'.repeat(25_000));
    expect(s.tail[0]?.token.type).toBe('paragraph');
    expect(performance.now() - started).toBeLessThan(5_000);
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
