/**
 * Config loading: resolution order, the custom-pack features, and errors that name the file,
 * the rule id and the field (and make the CLI exit 2).
 */
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runValidateCli } from '../../../backend/governance/cli.js';
import { createGovernance, GovernanceConfigError } from '../../../backend/governance/index.js';
import { captureIo, tempDir, writeFiles } from './helpers.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/governance');
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function project(files: Record<string, string> = {}): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  writeFiles(t.dir, files);
  return t.dir;
}

async function configError(dir: string, configPath?: string): Promise<GovernanceConfigError> {
  try {
    const gov = await createGovernance({ cwd: dir, lazy: true, ...(configPath ? { configPath } : {}) });
    await gov.close();
  } catch (err) {
    if (err instanceof GovernanceConfigError) return err;
    throw err;
  }
  throw new Error('expected a GovernanceConfigError');
}

describe('config resolution', () => {
  it('uses the default pack when the project has no governance/config.yaml', async () => {
    const dir = project();
    const gov = await createGovernance({ cwd: dir, lazy: true });
    expect(gov.configPath).toBe(path.resolve(import.meta.dirname, '../../../resources/governance/config.yaml'));
    expect(gov.rules().map((r) => r.id)).toContain('sql-string-building');
    await gov.close();
  });

  it('prefers ./governance/config.yaml, and an explicit path over both', async () => {
    const dir = project({ 'governance/config.yaml': 'version: 1\nrules: []\n', 'other.yaml': 'version: 1\nengines: { secrets: { enabled: false } }\n' });
    const local = await createGovernance({ cwd: dir, lazy: true });
    expect(local.configPath).toBe(path.join(dir, 'governance/config.yaml'));
    const explicit = await createGovernance({ cwd: dir, lazy: true, configPath: 'other.yaml' });
    expect(explicit.configPath).toBe(path.join(dir, 'other.yaml'));
    expect(explicit.configHash).not.toBe(local.configHash);
    expect(explicit.rules().some((r) => r.engine === 'secrets')).toBe(false);
    await Promise.all([local.close(), explicit.close()]);
  });
});

describe('custom pack', () => {
  it('loads inline rules, ast-grep rule files, ESLint rules and tuned built-ins', async () => {
    const dir = project();
    cpSync(path.join(FIXTURES, 'custom-pack'), path.join(dir, 'governance'), { recursive: true });
    const gov = await createGovernance({ cwd: dir, lazy: true });
    const rules = Object.fromEntries(gov.rules().map((r) => [r.id, r]));
    expect(rules['go-no-panic']).toMatchObject({ engine: 'structural', severity: 'note', languages: ['go'] });
    expect(rules['syntax-error']?.severity).toBe('warning');
    expect(rules['no-with']).toMatchObject({ engine: 'lint', severity: 'error' });
    expect(Object.keys(rules).some((id) => id.startsWith('secretlint/') || id === 'github-token')).toBe(false);

    const report = await gov.validate([
      { path: 'src/a.js', content: 'console.log("a", b);\nwith (o) { x(); }\n' },
      { path: 'scripts/build.js', content: 'console.log("build");\n' },
      { path: 'legacy/old.ts', content: 'console.log(1);\n' },
      { path: 'vendor/lib.js', content: 'eval(x); console.log(1);\n' },
      { path: 'cmd/main.go', content: 'package main\n\nfunc main() {\n\tpanic("boom")\n}\n' },
    ]);
    const found = report.findings.map((f) => `${f.path}:${f.line} ${f.severity} ${f.ruleId}`);
    expect(found).toEqual([
      'cmd/main.go:4 note go-no-panic',
      'legacy/old.ts:1 note no-console-log',
      'src/a.js:1 warning no-console-log',
      // `with` is a syntax error in ES modules, which this pack downgrades to a warning.
      'src/a.js:2 warning syntax-error',
    ]);
    // Metavariables in the message are filled in with the matched text.
    expect(report.findings.find((f) => f.ruleId === 'go-no-panic')?.message).toBe('Return an error instead of calling panic("boom").');
    expect(report.summary).toMatchObject({ files: 4, errors: 0, warnings: 2, notes: 2 });
    expect(report.verdict).toBe('fail');
    expect(report.summary.failedClauses).toEqual(['maxWarnings:1 (2)']);

    const cjs = await gov.validate([{ path: 'src/old.cjs', content: 'with (o) { x(); }\n' }]);
    expect(cjs.findings.map((f) => f.ruleId)).toEqual(['no-with']);
    await gov.close();
  });
});

describe('config errors', () => {
  it('names the file, the rule id and the field for a bad severity', async () => {
    const dir = project({ 'governance/config.yaml': readFileSync(path.join(FIXTURES, 'bad-severity.yaml'), 'utf8') });
    const err = await configError(dir);
    expect(err.message).toBe('governance/config.yaml: rules[3] (no-new-func).severity: expected one of error|warning|note, got "fatal" (line 16)');
    expect(err).toMatchObject({ file: 'governance/config.yaml', field: 'rules[3] (no-new-func).severity', ruleId: 'no-new-func', line: 16 });
  });

  it('makes the CLI exit 2 with that message on stderr', async () => {
    const dir = project({ 'governance/config.yaml': readFileSync(path.join(FIXTURES, 'bad-severity.yaml'), 'utf8'), 'a.js': 'const a = 1;\n' });
    const io = captureIo(dir);
    expect(await runValidateCli(['a.js'], io)).toBe(2);
    expect(io.err()).toContain('governance/config.yaml: rules[3] (no-new-func).severity: expected one of error|warning|note');
    expect(io.out()).toBe('');
  });

  it.each([
    ['an unknown field', 'version: 1\nrules:\n  - id: no-eval\n    engine: lint\n    severty: error\n', 'rules[0] (no-eval).severty: unknown field (line 5)'],
    ['an unknown engine', 'version: 1\nrules:\n  - id: x\n    engine: magic\n', 'rules[0] (x).engine: expected one of structural|lint|secrets|syntax|dependencies, got "magic"'],
    ['a bad ast-grep kind', 'version: 1\nrules:\n  - id: bad-kind\n    engine: structural\n    languages: [python]\n    message: m\n    rule: { kind: no_such_kind }\n', 'rules[0] (bad-kind).rule: invalid ast-grep rule for python'],
    ['an unknown language', 'version: 1\nrules:\n  - id: r\n    engine: structural\n    languages: [cobol]\n    message: m\n    rule: { pattern: x }\n', 'rules[0] (r).languages[0]: expected one of javascript|typescript|tsx|python|go, got "cobol"'],
    ['a missing message', 'version: 1\nrules:\n  - id: r\n    engine: structural\n    languages: [go]\n    rule: { pattern: x }\n', 'rules[0] (r).message: required'],
    ['an unknown ESLint rule', 'version: 1\nrules:\n  - id: no-evil\n    engine: lint\n', 'rules[0] (no-evil).id: "no-evil" is not a core ESLint rule'],
    ['bad ESLint options', 'version: 1\nrules:\n  - id: no-eval\n    engine: lint\n    options: [{ allowIndirect: maybe }]\n', 'rules[0] (no-eval).options: invalid options for ESLint rule no-eval'],
    ['a duplicate id', 'version: 1\nrules:\n  - { id: no-eval, engine: lint }\n  - { id: no-eval, engine: lint }\n', 'rules[1] (no-eval).id: duplicate rule id "no-eval", already defined at rules[0] (no-eval)'],
    ['an unknown built-in', 'version: 1\nrules:\n  - { id: aws-key, engine: secrets }\n', 'rules[0] (aws-key).id: "aws-key" is not a built-in secrets rule'],
    ['an override of an unknown rule', 'version: 1\npolicy:\n  overrides:\n    - files: "**"\n      rules: { no-evl: off }\n', 'policy.overrides[0].rules.no-evl: unknown rule id'],
    ['a wrong top-level type', 'version: 1\npolicy:\n  maxWarnings: lots\n', 'policy.maxWarnings: expected number, got "lots" (line 3)'],
    ['a wrong version', 'version: 2\n', 'version: expected 1, got 2 (line 1)'],
    ['invalid YAML', 'version: 1\nrules: [\n  - id: x\n', 'governance/config.yaml: invalid YAML'],
    ['a missing rule file', 'version: 1\nrules:\n  - file: rules/nope.yaml\n', 'rules[0] (file rules/nope.yaml).file: cannot read rule file governance/rules/nope.yaml (ENOENT)'],
  ])('reports %s', async (_what, yaml, expected) => {
    const dir = project({ 'governance/config.yaml': yaml });
    const err = await configError(dir);
    expect(err.message).toContain(expected);
    expect(err.message.startsWith('governance/config.yaml')).toBe(true);
  });

  it('names the rule file and document for errors inside a rule file', async () => {
    const dir = project({
      'governance/config.yaml': 'version: 1\nrules:\n  - file: rules/mine.yaml\n',
      'governance/rules/mine.yaml': 'id: ok-rule\nlanguage: go\nmessage: m\nrule: { pattern: x }\n---\nid: broken\nlanguage: go\nseverity: loud\nmessage: m\nrule: { pattern: y }\n',
    });
    const err = await configError(dir);
    expect(err.message).toBe('governance/rules/mine.yaml: document[2] (broken).severity: expected one of error|warning|note|info|hint|off, got "loud" (line 8)');
  });

  it('reports a missing explicit config file', async () => {
    const dir = project();
    const err = await configError(dir, 'nowhere.yaml');
    expect(err.message).toBe('nowhere.yaml: cannot read the file (ENOENT)');
  });
});
