import { describe, expect, it } from 'vitest';
import { RelayRepair, uncovered } from '../../../backend/chat/replies.js';
import { newMessage, type Message } from '../../../backend/data/store.js';
import type { ReplyEvent } from '../../../backend/contract/events.js';

const token = (seq: number): ReplyEvent => ({ kind: 'token', event: { conversationId: 'c', messageId: 'm', seq, delta: `t${seq} ` } });
const text = (n: number): string => Array.from({ length: n }, (_, i) => `t${i} `).join('');
const ends = (n: number): number[] => Array.from({ length: n }, (_, i) => text(i + 1).length);

function stored(tokens: number): Message {
  return { ...newMessage({ id: 'm', conversationId: 'c', role: 'assistant', content: text(tokens), status: 'streaming' }), progress: { seq: tokens - 1, ends: ends(tokens) } };
}

describe('relayed reply events', () => {
  it('fills a gap from the stored progress, token by token, before handing on what came after', async () => {
    const out: ReplyEvent[] = [];
    let reads = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    const repair = new RelayRepair(
      (e) => {
        out.push(e);
        if (e.kind === 'done') done();
      },
      // The store catches up on the second read.
      () => Promise.resolve(++reads === 1 ? stored(3) : stored(9)),
      { warn: () => {} },
      { pollMs: 1 },
    );
    for (const seq of [0, 1, 2, 2, 7, 8, 9]) repair.accept(token(seq));
    repair.accept({ kind: 'done', event: { conversationId: 'c', message: stored(10) } });
    await finished;
    const seqs = out.filter((e) => e.kind === 'token').map((e) => (e.kind === 'token' ? e.event.seq : -1));
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out.map((e) => (e.kind === 'token' ? e.event.delta : '')).join('')).toBe(text(10));
    expect(out.at(-1)?.kind).toBe('done');
    repair.close();
  });

  it('a snapshot covers buffered tokens up to its seq; later ones and done pass', () => {
    const buffered = [token(3), token(4), token(5), { kind: 'done', event: { conversationId: 'c', message: stored(6) } } as ReplyEvent];
    expect(uncovered(buffered, new Map([['m', 4]])).map((e) => (e.kind === 'token' ? e.event.seq : e.kind))).toEqual([5, 'done']);
  });
});
