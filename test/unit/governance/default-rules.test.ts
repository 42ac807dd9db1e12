/**
 * Every rule of the default pack, with one snippet it must flag (at the right line) and one
 * close look-alike it must leave alone. A final test checks that no default rule lacks a case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGovernance, type Governance } from '../../../backend/governance/index.js';
import { fake, tempDir, writeFiles } from './helpers.js';

interface RuleCase {
  rule: string;
  lang: string;
  bad: string;
  /** 1-based line the finding must start on (default 1). */
  line?: number;
  good: string;
}

const q = (s: string): string => JSON.stringify(s);

const CASES: RuleCase[] = [
  // ESLint (lint engine)
  { rule: 'no-eval', lang: 'ts', bad: 'const v = eval(input);', good: 'const v = JSON.parse(input);' },
  { rule: 'no-eval', lang: 'js', bad: 'let a = 1;\nwindow.eval(code);', line: 2, good: 'let a = 1;\nvalidator.evaluate(code);' },
  { rule: 'no-implied-eval', lang: 'js', bad: 'setTimeout("tick()", 10);', good: 'setTimeout(() => tick(), 10);' },
  { rule: 'no-new-func', lang: 'ts', bad: 'const f = new Function("a", "return a");', good: 'const f = (a: number) => a;' },
  { rule: 'no-debugger', lang: 'tsx', bad: 'function f() {\n  debugger;\n  return <div />;\n}', line: 2, good: 'function f() {\n  return <div />;\n}' },

  // child_process
  {
    rule: 'child-process-shell-injection',
    lang: 'js',
    bad: "const { exec } = require('node:child_process');\nexec(`ls ${dir}`);",
    line: 2,
    good: "const { execFile } = require('node:child_process');\nexecFile('ls', [dir]);",
  },
  {
    rule: 'child-process-shell-injection',
    lang: 'ts',
    bad: "import cp from 'child_process';\ncp.execSync('git log ' + branch);",
    line: 2,
    good: "const match = /a(b)/.exec('x' + y);",
  },

  // SQL built from strings
  { rule: 'sql-string-building', lang: 'ts', bad: 'db.query(`SELECT * FROM users WHERE id = ${id}`);', good: 'db.query("SELECT * FROM users WHERE id = $1", [id]);' },
  { rule: 'sql-string-building', lang: 'js', bad: 'const q = "DELETE FROM t WHERE id = " + req.params.id;', good: 'const msg = "Select a file from " + dir;' },
  { rule: 'sql-string-building', lang: 'js', bad: 'const q = `UPDATE users SET name = ${name}`;', good: 'const rows = await sql`SELECT * FROM users WHERE id = ${id}`;' },
  { rule: 'sql-string-building', lang: 'py', bad: 'cur.execute(f"SELECT * FROM users WHERE id = {uid}")', good: 'cur.execute("SELECT * FROM users WHERE id = %s", (uid,))' },
  { rule: 'sql-string-building', lang: 'py', bad: 'cur.execute("SELECT name FROM users WHERE id = %s" % uid)', good: 'print("%s items" % count)' },
  { rule: 'sql-string-building', lang: 'py', bad: 'cur.execute("INSERT INTO t VALUES ({})".format(v))', good: 'label = "{} items".format(n)' },
  {
    rule: 'sql-string-building',
    lang: 'go',
    bad: 'package main\n\nfunc f() {\n\tdb.Query(fmt.Sprintf("SELECT * FROM users WHERE id = %s", id))\n}\n',
    line: 4,
    good: 'package main\n\nfunc f() {\n\tdb.Query("SELECT * FROM users WHERE id = $1", id)\n}\n',
  },

  // TLS verification
  { rule: 'tls-verification-disabled', lang: 'ts', bad: 'const agent = new https.Agent({ rejectUnauthorized: false });', good: 'const agent = new https.Agent({ rejectUnauthorized: true, ca });' },
  { rule: 'tls-verification-disabled', lang: 'js', bad: "process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';", good: "process.env.NODE_TLS_REJECT_UNAUTHORIZED = '1';" },
  { rule: 'tls-verification-disabled', lang: 'py', bad: 'r = requests.get(url, verify=False)', good: 'r = requests.get(url, verify="/etc/ssl/ca.pem")' },
  {
    rule: 'tls-verification-disabled',
    lang: 'go',
    bad: 'package main\n\nimport "crypto/tls"\n\nvar cfg = &tls.Config{InsecureSkipVerify: true}\n',
    line: 5,
    good: 'package main\n\nimport "crypto/tls"\n\nvar cfg = &tls.Config{MinVersion: tls.VersionTLS12}\n',
  },

  // Python
  { rule: 'python-subprocess-shell', lang: 'py', bad: 'import subprocess\nsubprocess.run(cmd, shell=True)', line: 2, good: 'import subprocess\nsubprocess.run(["ls", d])' },
  { rule: 'python-pickle-load', lang: 'py', bad: 'import pickle\nobj = pickle.loads(blob)', line: 2, good: 'import json\nobj = json.loads(blob)' },
  { rule: 'python-yaml-unsafe-load', lang: 'py', bad: 'cfg = yaml.load(stream)', good: 'cfg = yaml.load(stream, Loader=yaml.SafeLoader)' },
  { rule: 'python-yaml-unsafe-load', lang: 'py', bad: 'cfg = yaml.load(stream, Loader=yaml.Loader)', good: 'cfg = yaml.safe_load(stream)' },
  { rule: 'python-eval', lang: 'py', bad: 'value = eval(expr)', good: 'value = ast.literal_eval(expr)' },
  { rule: 'python-debugger', lang: 'py', bad: 'def f():\n    breakpoint()\n', line: 2, good: 'def f():\n    log.debug("here")\n' },
  { rule: 'python-debugger', lang: 'py', bad: 'import pdb; pdb.set_trace()', good: 'import logging; logging.info("x")' },

  // Syntax, in every language with a parser
  { rule: 'syntax-error', lang: 'ts', bad: 'const ok = 1;\nconst x = (;\n', line: 2, good: 'const ok = 1;\nconst x = (1);\n' },
  { rule: 'syntax-error', lang: 'js', bad: 'function f() {\n  return 1;\n', line: 3, good: 'function f() {\n  return 1;\n}\n' },
  { rule: 'syntax-error', lang: 'tsx', bad: 'const a = <div>;\n', good: 'const a = <div />;\n' },
  { rule: 'syntax-error', lang: 'py', bad: 'x = 1\ndef f(:\n    pass\n', line: 2, good: 'x = 1\ndef f():\n    pass\n' },
  { rule: 'syntax-error', lang: 'go', bad: 'package main\n\nfunc main() {\n\tx := \n}\n', line: 4, good: 'package main\n\nfunc main() {\n\tx := 1\n\t_ = x\n}\n' },
  { rule: 'syntax-error', lang: 'json', bad: '{\n  "a": 1,\n  "b": \n}\n', line: 4, good: '{\n  "a": 1,\n  "b": 2\n}\n' },

  // Secrets (fake values are built at run time)
  { rule: 'aws-access-key-id', lang: 'ts', bad: `const id = ${q(fake.awsKeyId())};`, good: `const id = ${q(fake.awsDocsKeyId())};` },
  { rule: 'github-token', lang: 'py', bad: `TOKEN = ${q(fake.githubToken())}`, good: 'TOKEN = os.environ["GITHUB_TOKEN"]' },
  { rule: 'slack-token', lang: 'js', bad: `const slack = ${q(fake.slackToken())};`, good: 'const slack = process.env.SLACK_TOKEN;' },
  { rule: 'private-key', lang: 'ts', bad: `const key = \`${fake.pem()}\`;`, good: "if (pem.startsWith('-----BEGIN PRIVATE KEY-----')) load(pem);" },
  { rule: 'generic-api-key', lang: 'py', bad: `api_key = ${q(fake.randomKey())}`, good: 'api_key = "your-api-key-here"' },
  { rule: 'generic-api-key', lang: 'dotenv', bad: `DEBUG=1\nSERVICE_TOKEN=${fake.randomKey()}\n`, line: 2, good: 'DEBUG=1\nSERVICE_TOKEN=${SERVICE_TOKEN}\n' },
  { rule: 'hardcoded-password', lang: 'go', bad: `package main\n\nvar dbPassword = ${q(fake.password())}\n`, line: 3, good: 'package main\n\nvar dbPassword = os.Getenv("DB_PASSWORD")\n' },
  { rule: 'secretlint/npm', lang: 'js', bad: `const registry = ${q(fake.npmToken())};`, good: 'const registry = "https://registry.npmjs.org/";' },

  // Dependencies (the temp project below declares only "express")
  { rule: 'missing-dependency', lang: 'ts', bad: "import express from 'express';\nimport _ from 'lodash';", line: 2, good: "import express from 'express';\nimport fs from 'node:fs';\nimport { x } from './x.js';" },

  // Suppression hygiene
  {
    rule: 'suppression-without-reason',
    lang: 'ts',
    bad: '// orchestra-ignore-next-line no-eval\neval(code);',
    good: '// orchestra-ignore-next-line no-eval: input is a constant expression built above\neval(code);',
  },
];

const EXT: Record<string, string> = { ts: 'ts', js: 'js', tsx: 'tsx', py: 'py', go: 'go', json: 'json', dotenv: 'env' };

describe('default rule pack', () => {
  let gov: Governance;
  let project: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    project = tempDir();
    writeFiles(project.dir, { 'package.json': JSON.stringify({ name: 'demo', dependencies: { express: '^5.0.0' } }) });
    gov = await createGovernance({ cwd: project.dir });
  });

  afterAll(async () => {
    await gov.close();
    project.cleanup();
  });

  const validate = (c: RuleCase, code: string) =>
    gov.validate([{ path: c.lang === 'dotenv' ? `src/.env` : `src/sample.${EXT[c.lang] ?? c.lang}`, content: code }]);

  it.each(CASES.map((c) => [`${c.rule} (${c.lang}) flags ${JSON.stringify(c.bad.split('\n')[(c.line ?? 1) - 1]?.trim())}`, c] as const))(
    '%s',
    async (_name, c) => {
      const report = await validate(c, c.bad);
      const hits = report.findings.filter((f) => f.ruleId === c.rule);
      expect(hits, JSON.stringify(report.findings, null, 1)).toHaveLength(1);
      expect(hits[0]?.line).toBe(c.line ?? 1);
      expect(report.verdict).toBe(hits[0]?.severity === 'error' ? 'fail' : report.verdict);
    },
  );

  it.each(CASES.map((c) => [`${c.rule} (${c.lang}) accepts ${JSON.stringify(c.good.split('\n')[(c.line ?? 1) - 1]?.trim())}`, c] as const))(
    '%s',
    async (_name, c) => {
      const report = await validate(c, c.good);
      expect(report.findings.filter((f) => f.ruleId === c.rule)).toEqual([]);
    },
  );

  it('has a positive and a negative case for every rule it ships (secretlint rules through one representative)', () => {
    const covered = new Set(CASES.map((c) => c.rule));
    const missing = gov
      .rules()
      .map((r) => r.id)
      .filter((id) => !id.startsWith('secretlint/') && !covered.has(id));
    expect(missing).toEqual([]);
  });

  it('gives every rule a severity, a short description and a message that says how to fix it', () => {
    for (const rule of gov.rules()) {
      expect(['error', 'warning', 'note']).toContain(rule.severity);
      expect(rule.shortDescription.length).toBeGreaterThan(5);
      expect(rule.help.length).toBeGreaterThan(20);
    }
  });
});
