/**
 * The governance service: loads the config once, builds the engines once and keeps them warm,
 * then validates files through a per-file result cache. This is the module's composition root;
 * callers see only the Governance interface.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AnalyzedFile } from './analyzed-file.js';
import { ensureLanguagesRegistered } from './ast-grep.js';
import { memoryValidationCache, validationCacheKey } from './cache.js';
import { canonicalJson, loadConfig, resolveConfigPath, type LoadedConfig } from './config.js';
import { DEPENDENCY_RULES, DependenciesEngine } from './engines/dependencies.js';
import type { Engine, Report } from './engines/engine.js';
import { EslintRunner, LintEngine, lintDescriptors } from './engines/lint.js';
import { ManifestLocator, manifestKindFor } from './engines/manifests.js';
import { OWN_SECRET_RULES, SecretsEngine } from './engines/secrets.js';
import { StructuralEngine, structuralDescriptors } from './engines/structural.js';
import { SYNTAX_RULES, SyntaxEngine } from './engines/syntax.js';
import { GovernanceConfigError } from './errors.js';
import { isCommonJsPath, resolveLanguage, type LanguageId } from './languages.js';
import { packageVersion } from '../paths.js';
import { engineVersions } from './package-info.js';
import { Policy } from './policy.js';
import { RuleBook } from './rule-book.js';
import { buildSarif } from './sarif.js';
import { displayPath } from './display-path.js';
import { SUPPRESSION_RULES, SUPPRESSION_RULE_ID, applySuppressions, findSuppressions } from './suppressions.js';
import type { Finding, Governance, RuleDescriptor, SourceFile, ValidateOptions, ValidationCache, ValidationReport } from './types.js';
import type { Manifest } from './engines/manifests.js';

/** Bumped when this module's own analysis changes, so cached results from older code are not reused. */
const ANALYSIS_VERSION = '1';

export interface CreateGovernanceOptions {
  /** Explicit config file (GOVERNANCE_CONFIG or --config); otherwise governance/config.yaml, else the default pack. */
  configPath?: string;
  cwd: string;
  cache?: ValidationCache;
  /**
   * Defer the TypeScript parser import (0.5–1 s) until the first TS file. Short-lived CLI runs
   * set this; the server leaves it off so the first chat reply is not the one that pays.
   */
  lazy?: boolean;
}

export { displayPath } from './display-path.js';

export async function createGovernance(opts: CreateGovernanceOptions): Promise<Governance> {
  const cwd = path.resolve(opts.cwd);
  const configPath = resolveConfigPath(cwd, opts.configPath);
  const config = await loadConfig(configPath, cwd);
  ensureLanguagesRegistered();

  const { engines, book } = await buildEngines(config, cwd, opts.lazy ?? false);
  const policy = new Policy(config.policy);
  checkOverrideRuleIds(config, book);

  const configHash = createHash('sha256')
    .update(canonicalJson({ analysis: ANALYSIS_VERSION, config: config.fingerprint, engines: engineVersions() }))
    .digest('hex');
  return new GovernanceService(cwd, config, engines, book, policy, opts.cache ?? memoryValidationCache(), configHash);
}

async function buildEngines(config: LoadedConfig, cwd: string, lazy: boolean): Promise<{ engines: Engine[]; book: RuleBook }> {
  const { engines: settings } = config;
  const book = new RuleBook();
  const register = (descriptors: RuleDescriptor[], engineEnabled: boolean, enabled: (id: string) => boolean = () => true): void => {
    for (const d of descriptors) book.register(d, engineEnabled && enabled(d.id));
  };

  register(structuralDescriptors(config.structural), settings.structural.enabled, (id) => config.structural.find((r) => r.id === id)?.enabled ?? true);
  register(lintDescriptors(config.lint), settings.lint.enabled, (id) => config.lint.find((r) => r.id === id)?.enabled ?? true);
  register(SUPPRESSION_RULES, true);
  register(SYNTAX_RULES, settings.syntax.enabled);
  register(DEPENDENCY_RULES, settings.dependencies.enabled);

  const engines: Engine[] = [];
  // ESLint serves both the lint engine and JS/TS syntax errors.
  const eslint =
    settings.lint.enabled || settings.syntax.enabled
      ? await EslintRunner.create({ cwd, rules: settings.lint.enabled ? config.lint : [], options: settings.lint.options, preloadTypeScript: !lazy })
      : undefined;
  // Syntax first: for JS/TS it runs ESLint, whose result the lint engine then reuses.
  if (settings.syntax.enabled && eslint) engines.push(new SyntaxEngine(settings.syntax.options, eslint));
  if (settings.structural.enabled) engines.push(new StructuralEngine(config.structural));
  if (settings.lint.enabled && eslint) engines.push(new LintEngine(eslint, config.lint));
  if (settings.secrets.enabled) {
    const secrets = await SecretsEngine.create(settings.secrets.options);
    register(secrets.descriptors, true);
    engines.push(secrets);
  } else {
    register(OWN_SECRET_RULES, false);
  }
  if (settings.dependencies.enabled) engines.push(new DependenciesEngine(settings.dependencies.options));

  const enabledEngines = new Set(engines.map((e) => e.id));
  enabledEngines.add('lint'); // suppression-without-reason is reported whatever engines run
  book.applyBuiltinSettings(config.builtins.filter((b) => enabledEngines.has(b.engine)));
  return { engines, book };
}

function checkOverrideRuleIds(config: LoadedConfig, book: RuleBook): void {
  // secretlint's rule ids are only known once it is loaded; with it off, overrides of them are moot.
  const secretlintLoaded = book.hasIdStartingWith('secretlint/');
  for (const override of config.policy.overrides) {
    for (const id of Object.keys(override.rules)) {
      if (book.has(id) || (!secretlintLoaded && id.startsWith('secretlint/'))) continue;
      throw new GovernanceConfigError({ ...override.location, field: `${override.location.field}.${id}` }, 'unknown rule id');
    }
  }
}

class GovernanceService implements Governance {
  private closed = false;

  constructor(
    private readonly cwd: string,
    private readonly config: LoadedConfig,
    private readonly engines: Engine[],
    private readonly book: RuleBook,
    private readonly policy: Policy,
    private readonly cache: ValidationCache,
    readonly configHash: string,
  ) {}

  get configPath(): string {
    return this.config.path;
  }

  async validate(files: SourceFile[], opts: ValidateOptions = {}): Promise<ValidationReport> {
    if (this.closed) throw new Error('governance: validate() called after close()');
    const started = performance.now();
    const cwd = opts.cwd ? path.resolve(opts.cwd) : this.cwd;
    const checkDependencies = (opts.checkDependencies ?? true) && this.engines.some((e) => e.id === 'dependencies');
    const manifests = new ManifestLocator(cwd);

    const findings: Finding[] = [];
    let validated = 0;
    let suppressed = 0;
    for (const file of files) {
      const shown = displayPath(file.path, cwd);
      if (this.policy.isIgnored(shown)) continue;
      validated++;
      const language = resolveLanguage(file.path, file.language);
      const kind = checkDependencies ? manifestKindFor(language) : undefined;
      const manifest = kind ? await manifests.forFile(shown, kind) : undefined;
      const key = validationCacheKey({
        configHash: this.configHash,
        language: isCommonJsPath(shown, language) ? `${language}/commonjs` : language,
        content: file.content,
        ...(manifest ? { manifestDigest: manifest.digest } : {}),
      });
      let result = await this.cache.get(key);
      if (!result) {
        result = await this.analyze(shown, file.content, language, manifest);
        await this.cache.set(key, result);
      }
      // Cached results may come from identical content at another path.
      const own = result.findings.map((f) => (f.path === shown ? f : { ...f, path: shown }));
      findings.push(...this.policy.applyOverrides(shown, own));
      suppressed += result.summary.suppressed;
    }
    findings.sort(compareFindings);
    const { verdict, counts, failedClauses } = this.policy.evaluate(findings);
    return {
      verdict,
      summary: { files: validated, ...counts, suppressed, failedClauses },
      findings,
      durationMs: round(performance.now() - started),
    };
  }

  /** Runs every engine on one file; the result is what gets cached (before per-path overrides). */
  private async analyze(filePath: string, content: string, language: LanguageId, manifest: Manifest | undefined): Promise<ValidationReport> {
    const started = performance.now();
    const file = new AnalyzedFile(filePath, content, language, manifest);
    const raw: Finding[] = [];
    for (const engine of this.engines) {
      if (!engine.supports(file)) continue;
      const report: Report = (ruleId, span, text) => {
        const finding = this.book.finding(ruleId, engine.id, file, span, text);
        if (finding) raw.push(finding);
      };
      await engine.run(file, report);
    }
    const { kept, suppressed } = applySuppressions(raw, findSuppressions(file), (span, detail) =>
      this.book.finding(SUPPRESSION_RULE_ID, 'lint', file, span, { detail }),
    );
    kept.sort(compareFindings);
    const { verdict, counts, failedClauses } = this.policy.evaluate(kept);
    return {
      verdict,
      summary: { files: 1, ...counts, suppressed, failedClauses },
      findings: kept,
      durationMs: round(performance.now() - started),
    };
  }

  toSarif(report: ValidationReport): object {
    return buildSarif(report, this.rules(), packageVersion);
  }

  rules(): RuleDescriptor[] {
    return this.book.descriptors();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function compareFindings(a: Finding, b: Finding): number {
  return (
    (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
    a.line - b.line ||
    a.column - b.column ||
    (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0)
  );
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
