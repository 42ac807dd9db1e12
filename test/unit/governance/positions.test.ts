/**
 * Line/column mapping: findings are 1-based, columns count UTF-16 units and endColumn points
 * just past the last character, for in-memory snippets, files on disk (through the CLI) and
 * code fences inside a chat reply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidateCli } from '../../../backend/governance/cli.js';
import { createGovernance, extractCodeBlocks, validateReply, type Governance } from '../../../backend/governance/index.js';
import { captureIo, fake, tempDir, writeFiles } from './helpers.js';

let gov: Governance;

beforeAll(async () => {
  gov = await createGovernance({ cwd: process.cwd() });
});

afterAll(async () => {
  await gov.close();
});

describe('snippets', () => {
  it('reports exact ranges from every engine', async () => {
    const code = [
      'const greeting = "héllo 😀";', // non-ASCII before nothing: sanity line
      '  const v = eval(input);', // lint: eval at col 13
      `const t = "${fake.githubToken()}";`, // secrets: token starts at col 12
      'db.query(`SELECT * FROM users WHERE id = ${id}`);', // structural: template at col 10
    ].join('\n');
    const report = await gov.validate([{ path: 'snippet.ts', content: code }], { checkDependencies: false });
    const byRule = Object.fromEntries(report.findings.map((f) => [f.ruleId, f]));
    expect(byRule['no-eval']).toMatchObject({ line: 2, column: 13, endLine: 2, endColumn: 17 });
    expect(byRule['github-token']).toMatchObject({ line: 3, column: 12, endLine: 3, endColumn: 12 + fake.githubToken().length });
    expect(byRule['sql-string-building']).toMatchObject({ line: 4, column: 10, endLine: 4, endColumn: 48 });
  });

  it('counts columns in UTF-16 code units, like JavaScript strings and SARIF', async () => {
    const code = 'x = "é😀"; y = eval(z)\n';
    const report = await gov.validate([{ path: 'u.py', content: code, language: 'python' }]);
    const finding = report.findings.find((f) => f.ruleId === 'python-eval');
    expect(finding).toMatchObject({ line: 1, column: code.indexOf('eval') + 1, endColumn: code.indexOf(')') + 2 });
  });

  it('spans multi-line findings with endLine', async () => {
    const code = `const k = \`${fake.pem()}\`;\n`;
    const report = await gov.validate([{ path: 'k.ts', content: code }]);
    const finding = report.findings.find((f) => f.ruleId === 'private-key');
    expect(finding).toMatchObject({ line: 1, column: 12, endLine: 4 });
  });

  it('handles CRLF line endings', async () => {
    const code = 'import os\r\nx = 1\r\nbreakpoint()\r\n';
    const report = await gov.validate([{ path: 'w.py', content: code }]);
    expect(report.findings.find((f) => f.ruleId === 'python-debugger')).toMatchObject({ line: 3, column: 1, endColumn: 13 });
  });
});

describe('files through the CLI', () => {
  it('prints path:line:col for files on disk', async () => {
    const project = tempDir();
    try {
      writeFiles(project.dir, {
        'src/app.py': 'import subprocess\n\n\ndef run(cmd):\n    return subprocess.run(cmd, shell=True)\n',
        'src/util/dbg.js': 'export function f() {\n  if (x) {\n    debugger;\n  }\n}\n',
      });
      const io = captureIo(project.dir);
      const code = await runValidateCli(['src'], io);
      expect(code).toBe(1);
      expect(io.out()).toContain('src/app.py:5:12 error python-subprocess-shell ');
      expect(io.out()).toContain('src/util/dbg.js:3:5 error no-debugger ');
    } finally {
      project.cleanup();
    }
  });
});

describe('code fences in a chat reply', () => {
  const reply = [
    'Here is the fix:', // 1
    '', // 2
    '```python', // 3
    'import yaml', // 4
    'cfg = yaml.load(open("c.yml"))', // 5
    '```', // 6
    '', // 7
    '1. Then in the browser:', // 8
    '   ```js', // 9
    '   const a = 1;', // 10
    '     debugger;', // 11
    '   ```', // 12
    '', // 13
    '~~~', // 14
    `token = ${fake.githubToken()}`, // 15
    '~~~', // 16
  ].join('\n');

  it('extracts blocks with their language, content and first content line', () => {
    const blocks = extractCodeBlocks(reply);
    expect(blocks.map((b) => [b.language, b.startLine])).toEqual([
      ['python', 4],
      ['js', 10],
      [undefined, 15],
    ]);
    expect(blocks[0]?.content).toBe('import yaml\ncfg = yaml.load(open("c.yml"))');
    // Up to the fence's indentation is removed from each line, as CommonMark does.
    expect(blocks[1]?.content).toBe('const a = 1;\n  debugger;');
  });

  it('maps findings back to lines and columns of the reply', async () => {
    const report = await validateReply(gov, reply);
    expect(report).not.toBeNull();
    const findings = report?.findings ?? [];
    expect(findings.find((f) => f.ruleId === 'python-yaml-unsafe-load')).toMatchObject({ path: 'reply.md#block-1', line: 5, column: 7 });
    // Column 6 in the block (after 2 spaces) plus the 3 removed indentation spaces.
    expect(findings.find((f) => f.ruleId === 'no-debugger')).toMatchObject({ path: 'reply.md#block-2', line: 11, column: 6, endColumn: 15 });
    // Untagged block: scanned for secrets only.
    expect(findings.find((f) => f.ruleId === 'github-token')).toMatchObject({ path: 'reply.md#block-3', line: 15, column: 9 });
    for (const f of findings) {
      const lineText = reply.split('\n')[f.line - 1] ?? '';
      expect(f.column).toBeLessThanOrEqual(lineText.length);
    }
  });

  it('returns null when the reply has no code blocks', async () => {
    expect(await validateReply(gov, 'No code here, just `inline` text.\n')).toBeNull();
  });

  it('treats an unclosed fence as running to the end of the reply', () => {
    const blocks = extractCodeBlocks('Text\n```ts\nconst a = 1;\nconst b = 2;');
    expect(blocks).toEqual([{ language: 'ts', content: 'const a = 1;\nconst b = 2;', startLine: 3, indent: 0 }]);
  });

  it('needs a closing fence of the same kind and at least the same length', () => {
    const blocks = extractCodeBlocks('````md\n```js\ninner\n```\n````\nafter');
    expect(blocks).toHaveLength(1);
    expect(blocks[0]?.content).toBe('```js\ninner\n```');
  });
});

describe('parse errors at the end of the input', () => {
  it('are reported with a 1-based column', async () => {
    const { createGovernance } = await import('../../../backend/governance/service.js');
    const gov = await createGovernance({ cwd: process.cwd() });
    try {
      const report = await gov.validate([{ path: 'cut.ts', content: 'export function f(): number {\n  return 1;\n' }]);
      const finding = report.findings.find((f) => f.ruleId === 'syntax-error');
      expect(finding?.line).toBe(3);
      expect(finding?.column).toBeGreaterThanOrEqual(1);
    } finally {
      await gov.close();
    }
  });
});
