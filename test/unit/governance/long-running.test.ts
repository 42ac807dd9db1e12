/**
 * A server validates for days: nothing may accumulate per validation. @secretlint/core marks
 * every rule run with performance.mark() (36 marks per file, kept forever by Node and by
 * secretlint's profiler); governance silences that profiler.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGovernance, type Governance } from '../../../backend/governance/index.js';

let gov: Governance;

beforeAll(async () => {
  gov = await createGovernance({ cwd: process.cwd(), lazy: true });
});

afterAll(async () => {
  await gov.close();
});

describe('long-running use', () => {
  it('leaves no performance marks behind, however many files are validated', async () => {
    const before = performance.getEntriesByType('mark').length;
    for (let i = 0; i < 25; i++) {
      await gov.validate([{ path: `f${i}.py`, content: `value_${i} = ${i}\n` }]);
    }
    expect(performance.getEntriesByType('mark').length).toBe(before);
  });

  it('refuses to validate after close()', async () => {
    const other = await createGovernance({ cwd: process.cwd(), lazy: true });
    await other.close();
    await expect(other.validate([{ path: 'a.py', content: 'x = 1\n' }])).rejects.toThrow(/after close/);
  });
});
