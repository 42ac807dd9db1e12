/**
 * SARIF output checked against the required properties and constraints of the SARIF 2.1.0
 * schema (sarifLog, run, tool, toolComponent, reportingDescriptor, result, location, region),
 * without network access.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGovernance, type Governance } from '../../../backend/governance/index.js';
import { fake } from './helpers.js';

type Json = Record<string, unknown>;

const LEVELS = ['none', 'note', 'warning', 'error'];

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Returns a list of violations of the SARIF 2.1.0 schema's required structure. */
function sarifProblems(log: unknown): string[] {
  const problems: string[] = [];
  const need = (cond: boolean, what: string): void => {
    if (!cond) problems.push(what);
  };
  const isInt1 = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1;
  need(isObject(log), 'log is an object');
  if (!isObject(log)) return problems;
  need(log.version === '2.1.0', 'version is "2.1.0"');
  need(typeof log.$schema === 'string' && /sarif.*2\.1\.0/.test(log.$schema), '$schema names SARIF 2.1.0');
  need(Array.isArray(log.runs), 'runs is an array');
  for (const [r, run] of (Array.isArray(log.runs) ? (log.runs as unknown[]) : []).entries()) {
    need(isObject(run), `runs[${r}] is an object`);
    if (!isObject(run)) continue;
    const driver = isObject(run.tool) ? run.tool.driver : undefined;
    need(isObject(driver), `runs[${r}].tool.driver is an object`);
    if (!isObject(driver)) continue;
    need(typeof driver.name === 'string' && driver.name.length > 0, 'driver.name');
    need(typeof driver.version === 'string', 'driver.version');
    const rules = Array.isArray(driver.rules) ? (driver.rules as unknown[]) : [];
    need(Array.isArray(driver.rules), 'driver.rules is an array');
    const ids = new Set<string>();
    for (const [i, rule] of rules.entries()) {
      need(isObject(rule) && typeof rule.id === 'string', `rules[${i}].id`);
      if (!isObject(rule)) continue;
      need(!ids.has(rule.id as string), `rules[${i}].id is unique`);
      ids.add(rule.id as string);
      need(isObject(rule.shortDescription) && typeof rule.shortDescription.text === 'string', `rules[${i}].shortDescription.text`);
      if (rule.fullDescription !== undefined) need(isObject(rule.fullDescription) && typeof rule.fullDescription.text === 'string', `rules[${i}].fullDescription.text`);
      need(isObject(rule.help) && typeof rule.help.text === 'string', `rules[${i}].help.text`);
      const level = isObject(rule.defaultConfiguration) ? rule.defaultConfiguration.level : undefined;
      need(typeof level === 'string' && LEVELS.includes(level), `rules[${i}].defaultConfiguration.level`);
    }
    need(Array.isArray(run.results), `runs[${r}].results is an array`);
    for (const [i, result] of (Array.isArray(run.results) ? (run.results as unknown[]) : []).entries()) {
      need(isObject(result), `results[${i}] is an object`);
      if (!isObject(result)) continue;
      need(isObject(result.message) && typeof result.message.text === 'string', `results[${i}].message.text`);
      need(typeof result.ruleId === 'string', `results[${i}].ruleId`);
      need(Number.isInteger(result.ruleIndex) && (result.ruleIndex as number) >= 0 && (result.ruleIndex as number) < rules.length, `results[${i}].ruleIndex in range`);
      const indexed = rules[result.ruleIndex as number];
      need(isObject(indexed) && indexed.id === result.ruleId, `results[${i}].ruleIndex points at ruleId`);
      need(typeof result.level === 'string' && LEVELS.includes(result.level), `results[${i}].level`);
      const locations = Array.isArray(result.locations) ? (result.locations as unknown[]) : [];
      need(locations.length > 0, `results[${i}].locations`);
      const physical = isObject(locations[0]) ? locations[0].physicalLocation : undefined;
      need(isObject(physical), `results[${i}].locations[0].physicalLocation`);
      if (!isObject(physical)) continue;
      const artifact = physical.artifactLocation;
      need(isObject(artifact) && typeof artifact.uri === 'string' && !/[\s#]/.test(artifact.uri), `results[${i}] artifactLocation.uri is an encoded URI reference`);
      const region = physical.region;
      need(isObject(region), `results[${i}] region`);
      if (!isObject(region)) continue;
      need(isInt1(region.startLine) && isInt1(region.startColumn) && isInt1(region.endLine) && isInt1(region.endColumn), `results[${i}] region is 1-based`);
      need((region.endLine as number) >= (region.startLine as number), `results[${i}] region ends after it starts`);
    }
  }
  return problems;
}

let gov: Governance;

beforeAll(async () => {
  gov = await createGovernance({ cwd: process.cwd() });
});

afterAll(async () => {
  await gov.close();
});

describe('SARIF 2.1.0', () => {
  it('produces a log that satisfies the schema and carries every finding', async () => {
    const report = await gov.validate(
      [
        { path: 'src/app.ts', content: 'eval(x);\ndebugger;\n' },
        { path: 'src/dir with space/tool.py', content: `import subprocess\nsubprocess.call(c, shell=True)\nTOKEN = "${fake.githubToken()}"\n` },
        { path: 'reply.md#block-1', content: 'breakpoint()\n', language: 'python' },
      ],
      { checkDependencies: false },
    );
    const log = JSON.parse(JSON.stringify(gov.toSarif(report))) as Json;
    expect(sarifProblems(log)).toEqual([]);

    const run = (log.runs as Json[])[0] as Json;
    const driver = (run.tool as Json).driver as Json;
    expect(driver.name).toBe('orchestra-governance');
    const results = run.results as Json[];
    expect(results).toHaveLength(report.findings.length);
    expect(results.map((r) => r.ruleId)).toEqual(report.findings.map((f) => f.ruleId));

    const first = results[0] as Json;
    const loc = ((first.locations as Json[])[0] as Json).physicalLocation as Json;
    expect(loc).toEqual({
      artifactLocation: { uri: 'reply.md%23block-1' },
      region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 13 },
    });
    const uris = results.map((r) => (((r.locations as Json[])[0] as Json).physicalLocation as Json).artifactLocation as Json);
    expect(uris.map((u) => u.uri)).toContain('src/dir%20with%20space/tool.py');
  });

  it('lists every active rule, with the level from the config', () => {
    const log = gov.toSarif({ verdict: 'pass', summary: { files: 0, errors: 0, warnings: 0, notes: 0, suppressed: 0, failedClauses: [] }, findings: [], durationMs: 0 }) as Json;
    expect(sarifProblems(log)).toEqual([]);
    const rules = (((log.runs as Json[])[0] as Json).tool as Json).driver as Json;
    const ids = (rules.rules as Json[]).map((r) => r.id);
    expect(ids).toEqual(gov.rules().map((r) => r.id));
    const suppression = (rules.rules as Json[]).find((r) => r.id === 'suppression-without-reason') as Json;
    expect(suppression.defaultConfiguration).toEqual({ level: 'warning' });
  });

  it('the checker itself rejects a broken log', () => {
    expect(sarifProblems({ version: '2.0.0', runs: [{ tool: {}, results: [{}] }] }).length).toBeGreaterThan(2);
  });
});
