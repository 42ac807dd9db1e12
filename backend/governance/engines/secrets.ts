/**
 * Secrets: the @secretlint recommended preset (through @secretlint/core's in-memory lintSource)
 * plus our format and entropy detectors. Runs on every file, whatever its language, because
 * keys leak through .env files and YAML as often as through code. Messages never contain the
 * secret itself: reports end up in logs, SARIF uploads and chat transcripts.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { lintSource as LintSource } from '@secretlint/core';
import type { AnalyzedFile } from '../analyzed-file.js';
import type { SecretsOptions } from '../config-schema.js';
import type { RuleDescriptor } from '../types.js';
import type { Engine, Report } from './engine.js';
import { scanSecrets, type SecretCandidate, type SecretScanOptions } from './secret-patterns.js';

type SecretlintConfig = Parameters<typeof LintSource>[0]['options']['config'];
type SecretlintRuleConfig = Extract<SecretlintConfig['rules'][number], { rule: { meta: { type: 'scanner' | 'filter' } } }>;
type SecretlintRule = SecretlintRuleConfig['rule'];

const FIX = 'Remove it from the code, revoke it, and load it at runtime from the environment or a secret manager.';

export const OWN_SECRET_RULES: RuleDescriptor[] = [
  {
    id: 'aws-access-key-id',
    engine: 'secrets',
    severity: 'error',
    shortDescription: 'AWS access key id in source.',
    help: `${FIX} Rotate the key pair in IAM.`,
  },
  { id: 'github-token', engine: 'secrets', severity: 'error', shortDescription: 'GitHub token in source.', help: FIX },
  { id: 'slack-token', engine: 'secrets', severity: 'error', shortDescription: 'Slack token or webhook URL in source.', help: FIX },
  {
    id: 'private-key',
    engine: 'secrets',
    severity: 'error',
    shortDescription: 'PEM private key in source.',
    help: 'Remove the key, treat it as compromised, and read keys from a file outside the repository or a secret manager.',
  },
  {
    id: 'generic-api-key',
    engine: 'secrets',
    severity: 'error',
    shortDescription: 'High-entropy value assigned to a key, token, secret or password.',
    fullDescription: 'A long random-looking string assigned to a name such as api_key, token or secret is almost always a credential.',
    help: FIX,
  },
  {
    id: 'hardcoded-password',
    engine: 'secrets',
    severity: 'error',
    shortDescription: 'Literal password or secret assigned in code.',
    help: 'Do not write passwords in code: read them from the environment (process.env.DB_PASSWORD, os.environ["DB_PASSWORD"]) or a secret manager.',
  },
];

/** Which detector wins when two flag the same text: exact formats, then secretlint, then heuristics. */
const PRIORITY: Record<string, number> = {
  'aws-access-key-id': 0,
  'github-token': 0,
  'slack-token': 0,
  'private-key': 0,
  'generic-api-key': 2,
  'hardcoded-password': 3,
};
const SECRETLINT_PRIORITY = 1;
const SECRETLINT_PREFIX = '@secretlint/secretlint-rule-';

interface SecretlintRuntime {
  lintSource: typeof LintSource;
  config: SecretlintConfig;
}

export class SecretsEngine implements Engine {
  readonly id = 'secrets' as const;
  private readonly scan: SecretScanOptions;

  private constructor(
    options: SecretsOptions,
    private readonly secretlint: SecretlintRuntime | undefined,
    readonly descriptors: RuleDescriptor[],
  ) {
    this.scan = {
      entropyThreshold: options.entropyThreshold,
      minSecretLength: options.minSecretLength,
      allow: options.allow.map((source) => new RegExp(source)),
    };
  }

  /** Loads secretlint and its preset once; the config object is reused for every file. */
  static async create(options: SecretsOptions): Promise<SecretsEngine> {
    const descriptors = [...OWN_SECRET_RULES];
    if (!options.secretlint) return new SecretsEngine(options, undefined, descriptors);
    const [{ lintSource }, preset] = await Promise.all([
      import('@secretlint/core'),
      import('@secretlint/secretlint-rule-preset-recommend'),
      silenceSecretlintProfiler(),
    ]);
    // The preset's rules are registered one by one rather than through the preset: secretlint
    // 11 ignores `disabled` for rules inside a preset, and filter-comments must be off.
    // `secretlint-disable` comments would be a second, reason-less way to silence findings;
    // our suppression comments (which require a reason) are the only one.
    const presetRules = (preset.rules as unknown as SecretlintRule[]).filter((rule) => !rule.meta.id.endsWith('filter-comments'));
    for (const rule of presetRules) {
      const short = rule.meta.id.replace(SECRETLINT_PREFIX, '');
      descriptors.push({
        id: `secretlint/${short}`,
        engine: 'secrets',
        severity: 'error',
        shortDescription: `Credential detected by secretlint (${short}).`,
        help: FIX,
      });
    }
    const config: SecretlintConfig = { rules: presetRules.map((rule) => ({ id: rule.meta.id, rule })) };
    return new SecretsEngine(options, { lintSource, config }, descriptors);
  }

  supports(): boolean {
    return true;
  }

  async run(file: AnalyzedFile, report: Report): Promise<void> {
    const candidates: Array<SecretCandidate & { priority: number }> = scanSecrets(file.content, file.language, this.scan).map((c) => ({
      ...c,
      priority: PRIORITY[c.ruleId] ?? 2,
    }));
    if (this.secretlint) {
      const result = await this.secretlint.lintSource({
        source: { content: file.content, filePath: file.path, contentType: 'text' },
        options: { config: this.secretlint.config, maskSecrets: true, noPhysicFilePath: true },
      });
      for (const message of result.messages) {
        const short = message.ruleId.replace(SECRETLINT_PREFIX, '');
        candidates.push({
          ruleId: `secretlint/${short}`,
          start: message.range[0],
          end: message.range[1],
          // secretlint's message names the kind of secret; strip the masked value it quotes.
          what: `${message.message.replace(/:\s*\*+\s*$/, '').replace(/\(\*+\)/, '').trim()} (secretlint)`,
          priority: SECRETLINT_PRIORITY,
        });
      }
    }
    for (const candidate of dedupe(candidates)) {
      const start = file.lines.position(candidate.start);
      const end = file.lines.position(candidate.end);
      report(
        candidate.ruleId,
        { line: start.line, column: start.column, endLine: end.line, endColumn: end.column },
        { detail: `${capitalize(candidate.what)}${candidate.ruleId.startsWith('secretlint/') ? '.' : ' found.'}` },
      );
    }
  }
}

/**
 * @secretlint/core reports every rule run to a process-wide profiler (@secretlint/profiler) via
 * performance.mark(). Its observer keeps every entry forever and scans all of them on each new
 * mark, so in a long-running server each lintSource call gets slower and memory grows without
 * bound (measured: most of the CPU time after a few hundred validations). We never read the
 * profile, so its mark() becomes a no-op. The module is resolved from @secretlint/core's own
 * location to patch the instance core uses; if that fails, nothing changes.
 */
async function silenceSecretlintProfiler(): Promise<void> {
  try {
    const fromHere = createRequire(import.meta.url);
    const fromCore = createRequire(fromHere.resolve('@secretlint/core'));
    const url = pathToFileURL(fromCore.resolve('@secretlint/profiler')).href;
    const mod = (await import(url)) as { secretLintProfiler?: { mark?: unknown } };
    if (mod.secretLintProfiler && typeof mod.secretLintProfiler.mark === 'function') {
      mod.secretLintProfiler.mark = () => undefined;
    }
  } catch {
    // A different secretlint layout: run unpatched rather than fail.
  }
}

/** Keeps one finding per overlapping region: the highest-priority detector, then the earliest. */
function dedupe<T extends SecretCandidate & { priority: number }>(candidates: T[]): T[] {
  const sorted = [...candidates].sort((a, b) => a.priority - b.priority || a.start - b.start);
  const kept: T[] = [];
  for (const candidate of sorted) {
    if (kept.some((k) => candidate.start < k.end && k.start < candidate.end)) continue;
    kept.push(candidate);
  }
  return kept.sort((a, b) => a.start - b.start);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
