/** Inline suppressions: they need a rule id and a reason, only real comments count, and they are counted. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGovernance, type Governance } from '../../../backend/governance/index.js';
import { fake } from './helpers.js';

let gov: Governance;

beforeAll(async () => {
  gov = await createGovernance({ cwd: process.cwd() });
});

afterAll(async () => {
  await gov.close();
});

const run = (path: string, content: string) => gov.validate([{ path, content }], { checkDependencies: false });

describe('suppressions', () => {
  it('silences the named rule on the next line and counts it', async () => {
    const report = await run('a.ts', '// orchestra-ignore-next-line no-eval: expression comes from our own config file\nconst v = eval(expr);\n');
    expect(report.findings).toEqual([]);
    expect(report.summary.suppressed).toBe(1);
    expect(report.verdict).toBe('pass');
  });

  it('accepts several rule ids and `--` as the reason separator', async () => {
    const code = '/* orchestra-ignore-next-line no-eval, no-new-func -- sandboxed plugin host */\nconst f = eval(a) || new Function(b);\n';
    const report = await run('b.js', code);
    expect(report.findings).toEqual([]);
    expect(report.summary.suppressed).toBe(2);
  });

  it('only silences the rules it names', async () => {
    const report = await run('c.ts', '// orchestra-ignore-next-line no-debugger: wrong rule\nconst v = eval(expr);\n');
    expect(report.findings.map((f) => f.ruleId)).toEqual(['no-eval']);
    expect(report.summary.suppressed).toBe(0);
  });

  it('only applies to the next line', async () => {
    const report = await run('d.ts', '// orchestra-ignore-next-line no-eval: fine here\n\nconst v = eval(expr);\n');
    expect(report.findings.map((f) => [f.ruleId, f.line])).toEqual([['no-eval', 3]]);
  });

  it('supports orchestra-ignore-line for the comment line itself', async () => {
    const report = await run('e.py', 'x = eval(s)  # orchestra-ignore-line python-eval: s is a numeric literal validated above\n');
    expect(report.findings).toEqual([]);
    expect(report.summary.suppressed).toBe(1);
  });

  it('does not suppress without a reason and reports suppression-without-reason', async () => {
    const report = await run('f.py', '# orchestra-ignore-next-line python-pickle-load\nobj = pickle.loads(blob)\n');
    expect(report.findings.map((f) => [f.ruleId, f.severity, f.line])).toEqual([
      ['suppression-without-reason', 'warning', 1],
      ['python-pickle-load', 'error', 2],
    ]);
    expect(report.summary.suppressed).toBe(0);
    expect(report.findings[0]?.message).toContain('python-pickle-load');
  });

  it('treats an empty reason or a missing rule id as no suppression', async () => {
    const empty = await run('g.ts', '// orchestra-ignore-next-line no-eval:   \neval(x);\n');
    expect(empty.findings.map((f) => f.ruleId)).toEqual(['suppression-without-reason', 'no-eval']);
    const noRule = await run('h.ts', '// orchestra-ignore-next-line : because\neval(x);\n');
    expect(noRule.findings.map((f) => f.ruleId)).toEqual(['suppression-without-reason', 'no-eval']);
    expect(noRule.findings[0]?.message).toContain('names no rule');
  });

  it('ignores the marker inside a string: only real comments are suppressions', async () => {
    const code = 'const note = "// orchestra-ignore-next-line no-eval: not a comment";\neval(x);\n';
    const report = await run('i.ts', code);
    expect(report.findings.map((f) => f.ruleId)).toEqual(['no-eval']);
  });

  it('requires the directive to open the comment, so prose that mentions it is not one', async () => {
    const code = '// Use orchestra-ignore-next-line <rule>: <reason> to silence a finding.\neval(x);\n';
    const report = await run('j.ts', code);
    expect(report.findings.map((f) => f.ruleId)).toEqual(['no-eval']);
  });

  it('works in files without a grammar through # comments (.env)', async () => {
    const content = `# orchestra-ignore-next-line generic-api-key: revoked sandbox key kept for the docs\nSERVICE_TOKEN=${fake.randomKey()}\n`;
    const report = await run('config/.env', content);
    expect(report.findings).toEqual([]);
    expect(report.summary.suppressed).toBe(1);
  });

  it('adds up suppressed findings across files', async () => {
    const report = await gov.validate(
      [
        { path: 'x.ts', content: '// orchestra-ignore-next-line no-debugger: kept for the demo\ndebugger;\n' },
        { path: 'y.py', content: '# orchestra-ignore-next-line python-debugger: local tool, never shipped\nbreakpoint()\n' },
      ],
      { checkDependencies: false },
    );
    expect(report.summary.suppressed).toBe(2);
    expect(report.summary.files).toBe(2);
  });
});
