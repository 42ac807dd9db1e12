import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../backend/contract/index.js';
import { openSqlite } from '../../backend/data/sqlite.js';
import { VALIDATE_LIMITS } from '../../backend/http/routes/validate.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const REPLY = ['Here you go:\n', '\n```js\n', 'const a = 1;\n', 'eval(userInput);\n', '```\n', 'Done.'];

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ provider: { tokens: REPLY.length, tokenText: (i) => REPLY[i] ?? '' } });
});
afterAll(async () => {
  await t.close();
});

interface Report {
  verdict: string;
  summary: { errors: number; failedClauses: string[] };
  findings: Array<{ ruleId: string; line: number; column: number; severity: string; path: string }>;
  durationMs: number;
}

describe('POST /api/validate', () => {
  it('validates a snippet: verdict, summary, findings with 1-based positions', async () => {
    const res = await t.api('/api/validate', { method: 'POST', json: { code: 'const x = 1;\neval(x);\n', language: 'javascript' } });
    expect(res.status).toBe(200);
    const report = (await res.json()) as Report;
    expect(report.verdict).toBe('fail');
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    const evalFinding = report.findings.find((f) => f.ruleId === 'no-eval');
    expect(evalFinding).toMatchObject({ line: 2, column: 1, severity: 'error' });
    expect(report.summary.errors).toBeGreaterThanOrEqual(1);
  });

  it('passes clean code and infers the language from the path', async () => {
    const res = await t.api('/api/validate', {
      method: 'POST',
      json: { files: [{ path: 'src/add.ts', content: 'export const add = (a: number, b: number): number => a + b;\n' }] },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Report).verdict).toBe('pass');
  });

  it('returns SARIF 2.1.0 with ?format=sarif', async () => {
    const res = await t.api('/api/validate?format=sarif', { method: 'POST', json: { code: 'debugger;\n', language: 'js', path: 'a.js' } });
    expect(res.status).toBe(200);
    const log = (await res.json()) as {
      version: string;
      runs: Array<{ tool: { driver: { rules: Array<{ id: string }> } }; results: Array<{ ruleId: string; locations: Array<{ physicalLocation: { region: { startLine: number } } }> }> }>;
    };
    expect(log.version).toBe('2.1.0');
    expect(log.runs[0]?.tool.driver.rules.length).toBeGreaterThan(0);
    const result = log.runs[0]?.results.find((r) => r.ruleId === 'no-debugger');
    expect(result?.locations[0]?.physicalLocation.region.startLine).toBe(1);
  });

  it.each([
    [{}, 'code'],
    [{ code: 'x' }, 'language'],
    [{ code: 5, language: 'js' }, 'code'],
    [{ files: [] }, 'files'],
    [{ files: [{ path: 'a.js' }] }, 'files.0.content'],
  ])('400 naming the field for %o', async (body, field) => {
    const res = await t.api('/api/validate', { method: 'POST', json: body });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { code: string; details: { field: string } } }).error;
    expect(err.code).toBe('invalid-request');
    expect(err.details.field).toBe(field);
  });

  it('400 for an unknown format', async () => {
    const res = await t.api('/api/validate?format=xml', { method: 'POST', json: { code: 'x', language: 'js' } });
    expect(res.status).toBe(400);
  });

  it('413 for too many files or a file over the limit', async () => {
    const many = Array.from({ length: VALIDATE_LIMITS.files + 1 }, (_, i) => ({ path: `f${i}.js`, content: 'let a;' }));
    const a = await t.api('/api/validate', { method: 'POST', json: { files: many } });
    expect(a.status).toBe(413);
    const big = await t.api('/api/validate', { method: 'POST', json: { files: [{ path: 'big.js', content: 'x'.repeat(VALIDATE_LIMITS.fileBytes + 1) }] } });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { details: { field: string } } }).error.details.field).toBe('files.0.content');
  });
});

describe('governance in the chat pipeline', () => {
  it('validates code fences in a reply, maps lines into the reply, stores and audits the verdict', async () => {
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'write code' } });
    expect(res.status).toBe(200);
    const { message } = (await res.json()) as { message: Message & { validation: Report } };
    expect(message.content).toBe(REPLY.join(''));
    expect(message.validation.verdict).toBe('fail');
    const finding = message.validation.findings.find((f) => f.ruleId === 'no-eval');
    // reply lines: "Here you go:", "", "```js", "const a = 1;", "eval(userInput);"
    expect(finding?.line).toBe(5);
    expect(finding?.column).toBe(1);

    const stored = (await (await t.api(`/api/conversations/${message.conversationId}`)).json()) as { messages: Array<Message & { validation: Report | null }> };
    expect(stored.messages.find((m) => m.id === message.id)?.validation?.verdict).toBe('fail');

    const { db } = openSqlite(`${t.dataDir}/app.db`);
    const audit = await db.selectFrom('validations').selectAll().where('message_id', '=', message.id).execute();
    await db.destroy();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ source: 'chat', verdict: 'fail' });

    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/orchestra_governance_verdicts_total\{verdict="fail",source="chat"\} [1-9]/);
  });

  it('sends the verdict in chat:done over SSE', async () => {
    const res = await t.api('/api/chat', { method: 'POST', json: { message: 'again', stream: true } });
    const text = await res.text();
    const done = text.split('\n\n').find((b) => b.startsWith('event: done'));
    const payload = JSON.parse(done?.split('data: ')[1] ?? '{}') as { message: { validation: Report } };
    expect(payload.message.validation.verdict).toBe('fail');
  });
});
