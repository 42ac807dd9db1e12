import { describe, expect, it } from 'vitest';
import { splitFences, splitInlineCode } from '../../../renderer/src/lib/markdown.js';

describe('splitFences', () => {
  it('separates text and fenced code with its language', () => {
    expect(splitFences('Intro:\n\n```ts\nconst a = 1;\n```\n\nAfter.')).toEqual([
      { kind: 'text', text: 'Intro:' },
      { kind: 'code', language: 'ts', code: 'const a = 1;', closed: true },
      { kind: 'text', text: 'After.' },
    ]);
  });

  it('handles tildes, longer fences and an info string', () => {
    expect(splitFences('~~~python title="x.py"\nprint(1)\n~~~')).toEqual([{ kind: 'code', language: 'python', code: 'print(1)', closed: true }]);
    expect(splitFences('````md\n```js\nx\n```\n````')).toEqual([{ kind: 'code', language: 'md', code: '```js\nx\n```', closed: true }]);
  });

  it('treats an unterminated fence (a reply still streaming) as code to the end', () => {
    expect(splitFences('Look:\n```go\nfunc main() {\n')).toEqual([
      { kind: 'text', text: 'Look:' },
      { kind: 'code', language: 'go', code: 'func main() {\n', closed: false },
    ]);
  });

  it('keeps markup as text: nothing here is HTML', () => {
    expect(splitFences('<img src=x onerror=alert(1)>')).toEqual([{ kind: 'text', text: '<img src=x onerror=alert(1)>' }]);
  });

  it('returns nothing for an empty reply', () => {
    expect(splitFences('')).toEqual([]);
  });
});

describe('splitInlineCode', () => {
  it('finds `code` spans', () => {
    expect(splitInlineCode('run `npm test` now')).toEqual([
      { kind: 'text', text: 'run ' },
      { kind: 'code', text: 'npm test' },
      { kind: 'text', text: ' now' },
    ]);
    expect(splitInlineCode('a ``x ` y`` b')).toEqual([
      { kind: 'text', text: 'a ' },
      { kind: 'code', text: 'x ` y' },
      { kind: 'text', text: ' b' },
    ]);
    expect(splitInlineCode('no code ` here')).toEqual([{ kind: 'text', text: 'no code ` here' }]);
  });
});
