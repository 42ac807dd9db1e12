/**
 * The examples in docs/governance.md are real: the example config loads and behaves as the text
 * says, and so does the multi-language rule example.
 */
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGovernance, type Governance } from '../../../backend/governance/index.js';
import { tempDir, writeFiles } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const doc = readFileSync(path.join(ROOT, 'docs/governance.md'), 'utf8');

function yamlBlockAfter(heading: string): string {
  const start = doc.indexOf(heading);
  const block = /```yaml\n([\s\S]*?)\n```/.exec(doc.slice(start));
  if (start === -1 || !block?.[1]) throw new Error(`no yaml block after ${heading}`);
  return block[1];
}

const project = tempDir();
let gov: Governance;

beforeAll(async () => {
  cpSync(path.join(ROOT, 'resources/governance/rules'), path.join(project.dir, 'governance/rules'), { recursive: true });
  writeFiles(project.dir, {
    'governance/config.yaml': yamlBlockAfter('## The config file'),
    'governance/rules/go-style.yaml': 'id: go-no-panic\nlanguage: go\nmessage: Return an error instead of panic($MSG).\nrule: { pattern: panic($MSG) }\n',
    'governance/rules/tls.yaml': yamlBlockAfter('### Structural rules'),
  });
  gov = await createGovernance({ cwd: project.dir, lazy: true });
});

afterAll(async () => {
  await gov.close();
  project.cleanup();
});

describe('docs/governance.md examples', () => {
  it('the example config loads, with its rules, tuning and policy', async () => {
    const rules = Object.fromEntries(gov.rules().map((r) => [r.id, r]));
    expect(rules['no-console-log']).toMatchObject({ severity: 'warning', shortDescription: 'console.log left in code.', fullDescription: "Logs end up in the user's devtools." });
    expect(rules['go-no-panic']?.severity).toBe('warning');
    expect(rules['generic-api-key']?.severity).toBe('warning');
    const report = await gov.validate([
      { path: 'src/a.ts', content: 'console.log("x", y);\n' },
      { path: 'scripts/b.ts', content: 'console.log("x");\n' },
      { path: 'vendor/c.js', content: 'debugger;\n' },
      { path: 'src/d.js', content: 'with (o) {}\n' },
      { path: 'test/e.cjs', content: 'with (o) {}\n' },
    ]);
    expect(report.findings.map((f) => `${f.path} ${f.severity} ${f.ruleId}`)).toEqual([
      'src/a.ts warning no-console-log',
      'src/d.js error syntax-error',
      'test/e.cjs warning no-with',
    ]);
    expect(report.findings[0]?.message).toBe('Remove console.log("x", y) or use the app logger.');
  });

  it('the multi-language rule example matches what it says', async () => {
    writeFiles(project.dir, { 'governance/tls-only.yaml': 'version: 1\nrules:\n  - file: rules/tls.yaml\n' });
    const only = await createGovernance({ cwd: project.dir, lazy: true, configPath: 'governance/tls-only.yaml' });
    const report = await only.validate([
      { path: 'a.js', content: 'https.get(u, { rejectUnauthorized: false });\n' },
      { path: 'b.py', content: 'requests.get(u, verify=False)\nrequests.get(u, verify=True)\n' },
    ]);
    expect(report.findings.map((f) => `${f.path}:${f.line} ${f.ruleId}`)).toEqual(['a.js:1 tls-verification-disabled', 'b.py:1 tls-verification-disabled']);
    await only.close();
  });

  it('ignores secretlint-disable comments, as documented (suppressions need a reason)', async () => {
    const token = ['np', 'm_', 'a1B2c3D4e5F6g7H8i9J0', 'k1L2m3N4o5P6q7R8'].join('');
    const report = await gov.validate([{ path: 'x.js', content: `const t = "${token}"; // secretlint-disable-line\n` }]);
    expect(report.findings.map((f) => f.ruleId)).toEqual(['secretlint/npm']);
  });
});
