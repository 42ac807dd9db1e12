/**
 * Finds, reads and validates the governance config (YAML + zod) and the rule files it points
 * to. The result is plain data; compiling rules against ast-grep and ESLint happens when the
 * engines are built, and reports problems through the same GovernanceConfigError.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  BuiltinRuleSchema,
  ConfigSchema,
  LintRuleSchema,
  RuleFileEntrySchema,
  StructuralRuleSchema,
  type DependenciesOptions,
  type LintOptions,
  type SecretsOptions,
  type StructuralRuleInput,
  type SyntaxOptions,
} from './config-schema.js';
import {
  check,
  describeIssue,
  displayFile,
  firstIssue,
  isRecord,
  issueError,
  joinField,
  formatPath,
  lineOf,
  readYaml,
  UnreadableFileError,
  type YamlFile,
} from './config-source.js';
import { GovernanceConfigError, type ConfigLocation } from './errors.js';
import type { AstLanguage } from './languages.js';
import { resourcesDir } from '../paths.js';
import { SUPPRESSION_RULE_ID } from './suppressions.js';
import type { EngineId, Severity } from './types.js';

export interface MatcherConfig {
  languages: AstLanguage[];
  rule: Record<string, unknown>;
  constraints?: Record<string, Record<string, unknown>>;
  utils?: Record<string, Record<string, unknown>>;
}

export interface StructuralRuleConfig {
  id: string;
  enabled: boolean;
  severity: Severity;
  message: string;
  description?: string;
  note?: string;
  matchers: MatcherConfig[];
  location: ConfigLocation;
}

export interface LintRuleConfig {
  id: string;
  enabled: boolean;
  severity: Severity;
  message?: string;
  description?: string;
  eslintRule: string;
  options: unknown[];
  location: ConfigLocation;
}

export interface BuiltinRuleConfig {
  id: string;
  engine: EngineId;
  enabled: boolean;
  severity?: Severity;
  message?: string;
  location: ConfigLocation;
}

export interface PolicyOverride {
  files: string[];
  rules: Record<string, Severity | 'off'>;
  location: ConfigLocation;
}

export interface PolicyConfig {
  failOn: Severity[];
  maxWarnings: number | null;
  ignore: string[];
  overrides: PolicyOverride[];
}

export interface EngineSettings {
  structural: { enabled: boolean };
  secrets: { enabled: boolean; options: SecretsOptions };
  syntax: { enabled: boolean; options: SyntaxOptions };
  lint: { enabled: boolean; options: LintOptions };
  dependencies: { enabled: boolean; options: DependenciesOptions };
}

export interface LoadedConfig {
  /** Absolute path of the config file. */
  path: string;
  /** The path as shown in messages: relative to the cwd when inside it. */
  displayPath: string;
  engines: EngineSettings;
  structural: StructuralRuleConfig[];
  lint: LintRuleConfig[];
  builtins: BuiltinRuleConfig[];
  policy: PolicyConfig;
  /** Canonical JSON of everything above except locations; input to the config hash. */
  fingerprint: string;
}

export const PROJECT_CONFIG = path.join('governance', 'config.yaml');

/** explicit path (GOVERNANCE_CONFIG / --config) > ./governance/config.yaml > the default pack. */
export function resolveConfigPath(cwd: string, explicit?: string): string {
  if (explicit) return path.resolve(cwd, explicit);
  const project = path.resolve(cwd, PROJECT_CONFIG);
  if (existsSync(project)) return project;
  return defaultConfigPath();
}

export function defaultConfigPath(): string {
  return path.join(resourcesDir, 'governance', 'config.yaml');
}

export async function loadConfig(configPath: string, cwd: string): Promise<LoadedConfig> {
  const displayPath = displayFile(configPath, cwd);
  let read: YamlFile;
  try {
    read = await readYaml(configPath, displayPath);
  } catch (err) {
    if (err instanceof UnreadableFileError) throw new GovernanceConfigError({ file: displayPath, field: '' }, `cannot read the file (${err.code})`);
    throw err;
  }
  const { data, source } = read;
  if (data.length !== 1) {
    throw new GovernanceConfigError({ file: displayPath, field: '' }, 'expected exactly one YAML document');
  }
  const raw = data[0];
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw issueError(parsed.error, [], raw, displayPath, source[0]);
  const config = parsed.data;

  const structural: StructuralRuleConfig[] = [];
  const lint: LintRuleConfig[] = [];
  const builtins: BuiltinRuleConfig[] = [];
  const seen = new Map<string, string>();
  const claim = (id: string, location: ConfigLocation): void => {
    const previous = seen.get(id);
    if (previous !== undefined) {
      throw new GovernanceConfigError({ ...location, field: `${location.field}.id` }, `duplicate rule id "${id}", already defined at ${previous}`);
    }
    seen.set(id, location.field);
  };

  const configDir = path.dirname(configPath);
  for (const [index, entry] of config.rules.entries()) {
    const base = ['rules', index] as const;
    const location = (ruleId?: string): ConfigLocation => ({
      file: displayPath,
      field: formatPath(base, raw),
      line: lineOf(source[0], base),
      ...(ruleId === undefined ? {} : { ruleId }),
    });
    const fail = (field: string, detail: string): never => {
      throw new GovernanceConfigError(
        { file: displayPath, field: `${formatPath(base, raw)}${field ? `.${field}` : ''}`, line: lineOf(source[0], field ? [...base, field] : base) },
        detail,
      );
    };
    if (!isRecord(entry)) fail('', 'expected a mapping with at least `id` and `engine` (or `file`)');
    const record = entry as Record<string, unknown>;
    const engine = record.engine;

    if ('file' in record) {
      const fileEntry = check(RuleFileEntrySchema, record, base, raw, displayPath, source[0]);
      const rulePath = path.resolve(configDir, fileEntry.file);
      const fileRules = await loadRuleFile(rulePath, cwd, location());
      for (const rule of fileRules) {
        if (fileEntry.severity === 'off' || !fileEntry.enabled) rule.enabled = false;
        else if (fileEntry.severity !== undefined) rule.severity = fileEntry.severity;
        claim(rule.id, rule.location);
        structural.push(rule);
      }
      continue;
    }

    const isAstGrepShaped = 'rule' in record || 'match' in record;
    if (engine === 'structural' || (engine === undefined && isAstGrepShaped)) {
      const input = check(StructuralRuleSchema, record, base, raw, displayPath, source[0]);
      const rule = normalizeStructural(input, location(input.id), (field, detail) => fail(field, detail));
      claim(rule.id, rule.location);
      structural.push(rule);
    } else if (engine === 'lint' && record.id !== SUPPRESSION_RULE_ID) {
      const input = check(LintRuleSchema, record, base, raw, displayPath, source[0]);
      const rule: LintRuleConfig = {
        id: input.id,
        enabled: input.enabled,
        severity: input.severity,
        eslintRule: input.eslint ?? input.id,
        options: input.options,
        location: location(input.id),
        ...(input.message === undefined ? {} : { message: input.message }),
        ...(input.description === undefined ? {} : { description: input.description }),
      };
      claim(rule.id, rule.location);
      lint.push(rule);
    } else if (engine === 'secrets' || engine === 'syntax' || engine === 'dependencies' || engine === 'lint') {
      const input = check(BuiltinRuleSchema, record, base, raw, displayPath, source[0]);
      const rule: BuiltinRuleConfig = {
        id: input.id,
        engine: input.engine,
        enabled: input.enabled,
        location: location(input.id),
        ...(input.severity === undefined ? {} : { severity: input.severity }),
        ...(input.message === undefined ? {} : { message: input.message }),
      };
      claim(rule.id, rule.location);
      builtins.push(rule);
    } else {
      fail('engine', `expected one of structural|lint|secrets|syntax|dependencies${engine === undefined ? '' : `, got ${JSON.stringify(engine)}`}`);
    }
  }

  const policy: PolicyConfig = {
    failOn: config.policy.failOn,
    maxWarnings: config.policy.maxWarnings,
    ignore: config.policy.ignore,
    overrides: config.policy.overrides.map((o, i) => ({
      files: typeof o.files === 'string' ? [o.files] : o.files,
      rules: o.rules,
      location: { file: displayPath, field: `policy.overrides[${i}].rules`, line: lineOf(source[0], ['policy', 'overrides', i, 'rules']) },
    })),
  };
  const engines: EngineSettings = config.engines;

  const fingerprint = canonicalJson({
    engines,
    structural: structural.map(withoutLocation),
    lint: lint.map(withoutLocation),
    builtins: builtins.map(withoutLocation),
    policy: { ...policy, overrides: policy.overrides.map(withoutLocation) },
  });
  return { path: configPath, displayPath, engines, structural, lint, builtins, policy, fingerprint };
}

/** Loads every document of an ast-grep style rule file as one structural rule. */
async function loadRuleFile(rulePath: string, cwd: string, from: ConfigLocation): Promise<StructuralRuleConfig[]> {
  const display = displayFile(rulePath, cwd);
  let read: YamlFile;
  try {
    read = await readYaml(rulePath, display);
  } catch (err) {
    if (err instanceof UnreadableFileError) {
      throw new GovernanceConfigError({ ...from, field: `${from.field}.file` }, `cannot read rule file ${display} (${err.code})`);
    }
    throw err;
  }
  const rules: StructuralRuleConfig[] = [];
  for (const [index, doc] of read.data.entries()) {
    const docLabel = (): string => {
      const id = isRecord(doc) && typeof doc.id === 'string' ? ` (${doc.id})` : '';
      return `document[${index + 1}]${id}`;
    };
    if (!isRecord(doc)) {
      throw new GovernanceConfigError({ file: display, field: docLabel() }, 'expected a rule mapping (id, message, language(s), rule or match)');
    }
    const parsed = StructuralRuleSchema.safeParse(doc);
    if (!parsed.success) {
      const issue = firstIssue(parsed.error);
      throw new GovernanceConfigError(
        { file: display, field: joinField(docLabel(), issue.path, doc), line: lineOf(read.source[index], issue.path) },
        describeIssue(issue, doc),
      );
    }
    const location: ConfigLocation = { file: display, field: docLabel(), ruleId: parsed.data.id, line: lineOf(read.source[index], []) };
    rules.push(
      normalizeStructural(parsed.data, location, (field, detail) => {
        throw new GovernanceConfigError({ file: display, field: `${docLabel()}${field ? `.${field}` : ''}` }, detail);
      }),
    );
  }
  if (rules.length === 0) {
    throw new GovernanceConfigError({ ...from, field: `${from.field}.file` }, `rule file ${display} contains no rules`);
  }
  return rules;
}

/** Folds the single-matcher and `match:` forms into a list of matchers with explicit languages. */
function normalizeStructural(
  input: StructuralRuleInput,
  location: ConfigLocation,
  fail: (field: string, detail: string) => never,
): StructuralRuleConfig {
  const topLanguages = input.languages ?? (input.language ? [input.language] : undefined);
  let matchers: MatcherConfig[];
  if (input.match && input.rule) fail('match', 'use either `rule` or `match`, not both');
  if (input.match) {
    matchers = input.match.map((m, i) => {
      const languages =
        m.languages ?? (m.language ? [m.language] : topLanguages) ??
        fail(`match[${i}].languages`, 'required: the languages this matcher applies to (javascript|typescript|tsx|python|go)');
      return withOptional({ languages: dedupe(languages), rule: m.rule }, {
        constraints: merge(input.constraints, m.constraints),
        utils: merge(input.utils, m.utils),
      });
    });
  } else if (input.rule) {
    const languages = topLanguages ?? fail('languages', 'required: the languages this rule applies to (javascript|typescript|tsx|python|go)');
    matchers = [withOptional({ languages: dedupe(languages), rule: input.rule }, { constraints: input.constraints, utils: input.utils })];
  } else {
    return fail('rule', 'required: an ast-grep rule object (or a `match` list of them)');
  }
  const severity = input.severity === 'off' ? 'error' : input.severity;
  return {
    id: input.id,
    enabled: input.enabled && input.severity !== 'off',
    severity,
    message: input.message.trim(),
    matchers,
    location: { ...location, ruleId: input.id },
    ...(input.description === undefined ? {} : { description: input.description.trim() }),
    ...(input.note === undefined ? {} : { note: input.note.trim() }),
  };
}

/** Locations say where a rule was written, which must not change the config hash. */
function withoutLocation<T extends { location: ConfigLocation }>(value: T): Omit<T, 'location'> {
  const copy: Partial<T> = { ...value };
  delete copy.location;
  return copy as Omit<T, 'location'>;
}

function dedupe<T>(items: T[]): T[] {
  return [...new Set(items)];
}

function merge<T>(a: Record<string, T> | undefined, b: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!a && !b) return undefined;
  return { ...a, ...b };
}

function withOptional<T extends object, O extends Record<string, unknown>>(value: T, optional: O): T & Partial<O> {
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, v] of Object.entries(optional)) if (v !== undefined) out[key] = v;
  return out as T & Partial<O>;
}

/** JSON with object keys sorted, so equal configs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (isRecord(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
    }
    return v;
  });
}
