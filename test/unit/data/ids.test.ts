import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { newId } from '../../../backend/data/ids.js';

describe('newId', () => {
  it('makes RFC 9562 version-7 UUIDs that zod accepts', () => {
    const id = newId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(z.uuid().safeParse(id).success).toBe(true);
  });

  it('sorts in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => newId());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('never reuses random bytes, also across the blocks they are drawn in', () => {
    // 48 random bits end each id; 5,000 ids draw 50,000 bytes, several blocks' worth.
    const tails = Array.from({ length: 5000 }, () => newId().slice(-12));
    expect(new Set(tails).size).toBe(tails.length);
  });

  it('starts with the current time', () => {
    const before = Date.now();
    const id = newId();
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });
});
