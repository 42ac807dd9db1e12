/** Result caching: keyed by content + language + config hash (which includes engine versions). */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SecretsEngine } from '../../../backend/governance/engines/secrets.js';
import { createGovernance, type Governance, type ValidationCache, type ValidationReport } from '../../../backend/governance/index.js';
import { engineVersions } from '../../../backend/governance/package-info.js';
import { tempDir, writeFiles } from './helpers.js';

class CountingCache implements ValidationCache {
  readonly store = new Map<string, ValidationReport>();
  hits = 0;
  misses = 0;
  sets = 0;
  get(key: string): Promise<ValidationReport | undefined> {
    const value = this.store.get(key);
    if (value) this.hits++;
    else this.misses++;
    return Promise.resolve(value);
  }
  set(key: string, value: ValidationReport): Promise<void> {
    this.sets++;
    this.store.set(key, value);
    return Promise.resolve();
  }
}

const project = tempDir();
let cache: CountingCache;
let gov: Governance;

beforeAll(async () => {
  writeFiles(project.dir, {
    'package.json': JSON.stringify({ name: 'p', dependencies: {} }),
    'strict/config.yaml': 'version: 1\nrules:\n  - { id: no-eval, engine: lint, severity: error }\n',
    'relaxed/config.yaml': 'version: 1\nrules:\n  - { id: no-eval, engine: lint, severity: warning }\n',
  });
  cache = new CountingCache();
  gov = await createGovernance({ cwd: project.dir, cache, configPath: 'strict/config.yaml' });
});

afterAll(async () => {
  await gov.close();
  project.cleanup();
});

describe('validation cache', () => {
  it('serves the second validation of the same content from the cache', async () => {
    const file = { path: 'a.ts', content: 'const v = eval(x);\n' };
    const first = await gov.validate([file]);
    expect([cache.hits, cache.misses, cache.sets]).toEqual([0, 1, 1]);
    const second = await gov.validate([file]);
    expect([cache.hits, cache.misses, cache.sets]).toEqual([1, 1, 1]);
    expect(second.findings).toEqual(first.findings);
    expect(second.verdict).toBe('fail');
  });

  it('reuses a result for identical content at another path, with that path in the findings', async () => {
    const before = cache.hits;
    const report = await gov.validate([{ path: 'other/b.ts', content: 'const v = eval(x);\n' }]);
    expect(cache.hits).toBe(before + 1);
    expect(report.findings.map((f) => f.path)).toEqual(['other/b.ts']);
  });

  it('misses when the language differs', async () => {
    const misses = cache.misses;
    await gov.validate([{ path: 'c.js', content: 'const v = eval(x);\n' }]);
    expect(cache.misses).toBe(misses + 1);
  });

  it('misses when the manifest an import is checked against changes', async () => {
    const file = { path: 'dep.ts', content: "import left from 'left-pad';\n" };
    const missing = await gov.validate([file]);
    expect(missing.findings.map((f) => f.ruleId)).toEqual(['missing-dependency']);
    writeFiles(project.dir, { 'package.json': JSON.stringify({ name: 'p', dependencies: { 'left-pad': '1.0.0' } }) });
    const misses = cache.misses;
    const declared = await gov.validate([file]);
    expect(cache.misses).toBe(misses + 1);
    expect(declared.findings).toEqual([]);
  });

  it('misses under a different config: the config hash is part of the key', async () => {
    const relaxed = await createGovernance({ cwd: project.dir, cache, configPath: 'relaxed/config.yaml' });
    expect(relaxed.configHash).not.toBe(gov.configHash);
    const misses = cache.misses;
    const report = await relaxed.validate([{ path: 'a.ts', content: 'const v = eval(x);\n' }]);
    expect(cache.misses).toBe(misses + 1);
    expect(report.findings.map((f) => f.severity)).toEqual(['warning']);
    expect(report.verdict).toBe('pass');
    await relaxed.close();
  });

  it('gives equal configs equal hashes, and the hash covers engine versions', async () => {
    const again = await createGovernance({ cwd: project.dir, configPath: 'strict/config.yaml', lazy: true });
    expect(again.configHash).toBe(gov.configHash);
    await again.close();
    expect(Object.keys(engineVersions())).toEqual(expect.arrayContaining(['@ast-grep/napi', 'eslint', '@secretlint/core']));
    expect(engineVersions()['eslint']).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('defaults to an in-process cache: a repeat validation runs no engine', async () => {
    const local = await createGovernance({ cwd: project.dir, configPath: 'strict/config.yaml' });
    const runs = vi.spyOn(SecretsEngine.prototype, 'run');
    try {
      const content = Array.from({ length: 50 }, (_, i) => `export const x${i} = eval(${i});\n`).join('');
      const file = { path: 'big.js', content };
      const cold = await local.validate([file]);
      expect(runs).toHaveBeenCalledTimes(1);
      const warm = await local.validate([file]);
      expect(runs).toHaveBeenCalledTimes(1);
      expect(warm.findings).toEqual(cold.findings);
      expect(warm.findings).toHaveLength(50);
    } finally {
      runs.mockRestore();
      await local.close();
    }
  });
});
