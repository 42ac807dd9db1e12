import { describe, expect, it } from 'vitest';
import { ActiveTurns } from '../../../backend/chat/active-turns.js';

describe('ActiveTurns', () => {
  it('finds, counts and forgets turns by reply id, as a Map would', () => {
    const turns = new ActiveTurns<{ n: number }>();
    expect(turns.size).toBe(0);
    expect(turns.get('a')).toBeUndefined();
    turns.set('a', { n: 1 }).set('b', { n: 2 });
    expect(turns.size).toBe(2);
    expect(turns.has('a')).toBe(true);
    expect(turns.get('b')).toEqual({ n: 2 });
    expect(turns.delete('a')).toBe(true);
    expect(turns.delete('a')).toBe(false);
    expect(turns.has('a')).toBe(false);
    expect(turns.get('a')).toBeUndefined();
    expect(turns.size).toBe(1);
  });

  it('replaces the turn of an id it already holds, keeping its place', () => {
    const turns = new ActiveTurns<string>();
    turns.set('a', 'first').set('b', 'second').set('a', 'again');
    expect(turns.size).toBe(2);
    expect(turns.entries()).toEqual([
      ['a', 'again'],
      ['b', 'second'],
    ]);
  });

  it('iterates in the order the turns were added, also when a later turn reuses a freed slot', () => {
    const turns = new ActiveTurns<number>();
    turns.set('a', 1).set('b', 2).set('c', 3);
    turns.delete('a');
    turns.set('d', 4);
    turns.delete('c');
    turns.set('e', 5);
    expect([...turns]).toEqual([
      ['b', 2],
      ['d', 4],
      ['e', 5],
    ]);
    expect(turns.entries().map(([id]) => id)).toEqual(['b', 'd', 'e']);
  });

  it('stays exact through many turns at once coming and going', () => {
    const turns = new ActiveTurns<number>();
    const model = new Map<string, number>();
    // A deterministic mix of adds and removes, 16 or so at a time as under load.
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let i = 0; i < 5000; i++) {
      const id = `m${next() % 40}`;
      if (next() % 2 === 0) {
        turns.set(id, i);
        model.set(id, i);
      } else {
        expect(turns.delete(id)).toBe(model.delete(id));
      }
      expect(turns.size).toBe(model.size);
    }
    expect(turns.entries()).toEqual([...model.entries()]);
  });
});
