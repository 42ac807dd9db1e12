import { describe, expect, it } from 'vitest';
import { formatBytes, formatMs, formatPercent, relativeTime } from '../../../renderer/src/lib/format.js';
import { describeProblem, probedUrls } from '../../../renderer/src/lib/problems.js';
import { readValidation, validationHeadline } from '../../../renderer/src/lib/validation.js';

describe('readValidation', () => {
  it('reads the governance report shape, errors first', () => {
    const view = readValidation({
      verdict: 'fail',
      summary: { files: 1, errors: 1, warnings: 1, notes: 0, suppressed: 0, failedClauses: [] },
      findings: [
        { ruleId: 'w', engine: 'lint', severity: 'warning', message: 'warn', path: 'reply.md#block-1', line: 3, column: 2, endLine: 3, endColumn: 4 },
        { ruleId: 'e', engine: 'secrets', severity: 'error', message: 'secret', path: 'reply.md#block-1', line: 9, column: 1, endLine: 9, endColumn: 20 },
      ],
      durationMs: 3,
    });
    expect(view).toEqual({
      kind: 'report',
      verdict: 'fail',
      errors: 1,
      warnings: 1,
      notes: 0,
      findings: [
        { ruleId: 'e', severity: 'error', message: 'secret', line: 9, column: 1, path: 'reply.md#block-1' },
        { ruleId: 'w', severity: 'warning', message: 'warn', line: 3, column: 2, path: 'reply.md#block-1' },
      ],
    });
    if (view.kind === 'report') expect(validationHeadline(view)).toBe('Code checks failed · 1 error, 1 warning');
  });

  it('is graceful with null, junk and partial shapes', () => {
    expect(readValidation(null)).toEqual({ kind: 'none' });
    expect(readValidation(undefined)).toEqual({ kind: 'none' });
    expect(readValidation('pass')).toEqual({ kind: 'unreadable' });
    expect(readValidation({ verdict: 'maybe' })).toEqual({ kind: 'unreadable' });
    const partial = readValidation({ verdict: 'pass', findings: [{ severity: 'loud' }, 7] });
    expect(partial).toEqual({
      kind: 'report',
      verdict: 'pass',
      errors: 0,
      warnings: 1,
      notes: 0,
      findings: [{ ruleId: 'unknown-rule', severity: 'warning', message: '', line: null, column: null, path: null }],
    });
    if (partial.kind === 'report') expect(validationHeadline(partial)).toBe('Code checks passed · 1 warning');
  });
});

describe('format', () => {
  it.each([
    [null, '—'],
    [0.25, '0.25 ms'],
    [12.4, '12 ms'],
    [1534, '1.53 s'],
    [12_500, '12.5 s'],
    [125_000, '2 min 5 s'],
  ])('formatMs(%s) = %s', (ms, text) => expect(formatMs(ms)).toBe(text));

  it.each([
    [512, '512 B'],
    [2048, '2.0 KB'],
    [187 * 1024 * 1024, '187 MB'],
    [undefined, '—'],
  ])('formatBytes(%s) = %s', (b, text) => expect(formatBytes(b)).toBe(text));

  it('formats ratios and relative times', () => {
    expect(formatPercent(0.8734)).toBe('87%');
    expect(formatPercent(null)).toBe('—');
    const now = Date.parse('2026-01-02T12:00:00Z');
    expect(relativeTime('2026-01-02T11:59:50Z', now)).toBe('just now');
    expect(relativeTime('2026-01-02T11:55:00Z', now)).toBe('5 min ago');
    expect(relativeTime('2026-01-01T11:00:00Z', now)).toBe('yesterday');
    expect(relativeTime('nonsense', now)).toBe('');
  });
});

describe('problems', () => {
  it('explains known codes and reads probed URLs', () => {
    expect(describeProblem({ code: 'no-provider', message: '' }).hint).toContain('LLM_BASE_URL');
    expect(describeProblem({ code: 'something-new', message: '' }).title).toBe('Something went wrong');
    expect(probedUrls({ code: 'no-provider', message: '', details: { probed: ['http://127.0.0.1:11434/v1', 3] } })).toEqual(['http://127.0.0.1:11434/v1']);
    expect(probedUrls({ code: 'no-provider', message: '' })).toEqual([]);
  });
});
