/**
 * ESLint, in-process through the `Linter` class with a flat config generated from the rules file.
 * One Linter and one config per script language are built once; the TypeScript parser (the
 * slowest import in the module, ~0.5–1 s) is loaded when createGovernance asks for it or when the
 * first TypeScript file arrives. The same ESLint run also serves the syntax engine, whose parse
 * errors for JS/TS come from ESLint's parsers (espree, typescript-estree) rather than tree-sitter.
 */
import type { Linter } from 'eslint';
import type { AnalyzedFile } from '../analyzed-file.js';
import type { LintRuleConfig } from '../config.js';
import type { LintOptions } from '../config-schema.js';
import { GovernanceConfigError } from '../errors.js';
import { isCommonJsPath, isScriptLanguage } from '../languages.js';
import type { RuleDescriptor } from '../types.js';
import { firstSentence, type Engine, type Report } from './engine.js';

type ScriptLanguage = 'javascript' | 'typescript' | 'tsx';

export interface EslintOutcome {
  /** Rule messages (non-fatal). */
  messages: Linter.LintMessage[];
  /** The parser's error, when the file does not parse. */
  fatal: Linter.LintMessage | undefined;
}

/** Globals the security rules look up (no-implied-eval checks that setTimeout is the global one). */
const DEFAULT_GLOBALS: Record<string, 'readonly' | 'writable' | 'off'> = {
  globalThis: 'readonly',
  window: 'readonly',
  self: 'readonly',
  global: 'readonly',
  setTimeout: 'readonly',
  setInterval: 'readonly',
  setImmediate: 'readonly',
  execScript: 'readonly',
  Function: 'readonly',
};

const OUTCOME = Symbol('eslint-outcome');

export class EslintRunner {
  private readonly linter: Linter;
  private readonly rules: Linter.RulesRecord;
  private readonly globals: Record<string, 'readonly' | 'writable' | 'off'>;
  private tsParser: Promise<Linter.Parser | undefined> | undefined;
  private readonly configs = new Map<string, Linter.Config[]>();

  private constructor(linter: Linter, rules: Linter.RulesRecord, options: LintOptions) {
    this.linter = linter;
    this.rules = rules;
    this.globals = { ...DEFAULT_GLOBALS, ...options.globals };
  }

  /**
   * Builds the runner. Every configured rule is tried once against ESLint so an unknown rule
   * name or bad options is a config error at start-up, naming the rule.
   */
  static async create(opts: { cwd: string; rules: LintRuleConfig[]; options: LintOptions; preloadTypeScript: boolean }): Promise<EslintRunner> {
    const { Linter } = await import('eslint');
    const linter = new Linter({ cwd: opts.cwd });
    const rules: Linter.RulesRecord = {};
    for (const rule of opts.rules) {
      if (!rule.enabled) continue;
      const entry: Linter.RuleEntry = ['error', ...rule.options];
      try {
        linter.verify('', [{ files: ['**/*.js'], rules: { [rule.eslintRule]: entry } }], 'input.js');
      } catch (err) {
        const unknown = /Could not find/.test((err as Error).message);
        throw new GovernanceConfigError(
          { ...rule.location, field: `${rule.location.field}.${unknown ? (rule.eslintRule === rule.id ? 'id' : 'eslint') : 'options'}` },
          unknown
            ? `"${rule.eslintRule}" is not a core ESLint rule (plugins are not supported)`
            : `invalid options for ESLint rule ${rule.eslintRule}: ${(err as Error).message.replace(/^Key "rules": Key "[^"]+":\s*/, '').replace(/\s+/g, ' ').trim()}`,
        );
      }
      rules[rule.eslintRule] = entry;
    }
    const runner = new EslintRunner(linter, rules, opts.options);
    if (opts.preloadTypeScript) await runner.typescriptParser();
    return runner;
  }

  /** ESLint's result for a JS/TS file (memoized on the file); undefined when it cannot be linted. */
  outcome(file: AnalyzedFile): Promise<EslintOutcome | undefined> {
    return file.memo(OUTCOME, () => this.verify(file));
  }

  private async verify(file: AnalyzedFile): Promise<EslintOutcome | undefined> {
    if (!isScriptLanguage(file.language)) return undefined;
    const config = await this.configFor(file.language, file.path);
    if (!config) return undefined;
    const messages = this.linter.verify(file.content, config, FILENAMES[file.language]);
    const fatal = messages.find((m) => m.fatal === true);
    // ruleId null without `fatal` is ESLint talking about inline config we switched off.
    return { fatal, messages: messages.filter((m) => !m.fatal && m.ruleId !== null) };
  }

  private async configFor(language: ScriptLanguage, filePath: string): Promise<Linter.Config[] | undefined> {
    const commonjs = isCommonJsPath(filePath, language);
    const key = commonjs ? 'commonjs' : language;
    const cached = this.configs.get(key);
    if (cached) return cached;
    const languageOptions: Linter.LanguageOptions = {
      ecmaVersion: 'latest',
      sourceType: commonjs ? 'commonjs' : 'module',
      globals: this.globals,
      parserOptions: { ecmaFeatures: { jsx: language !== 'typescript' } },
    };
    if (language !== 'javascript') {
      const parser = await this.typescriptParser();
      if (!parser) return undefined;
      languageOptions.parser = parser;
      // No type information (rules that need it are not offered), so skip what only
      // type-aware linting uses: node maps and JSDoc parsing are a large share of parse time.
      languageOptions.parserOptions = { ecmaFeatures: { jsx: language === 'tsx' }, preserveNodeMaps: false, jsDocParsingMode: 'none' };
    }
    const config: Linter.Config[] = [
      {
        files: [`**/*${FILENAMES[language].slice('input'.length)}`],
        languageOptions,
        // Inline `eslint-disable` comments would bypass the reason that our own suppression
        // comments require, so ESLint ignores them.
        linterOptions: { noInlineConfig: true, reportUnusedDisableDirectives: 'off' },
        rules: this.rules,
      },
    ];
    this.configs.set(key, config);
    return config;
  }

  /**
   * typescript-eslint's parser, imported once; undefined when the package is not installed, in
   * which case TS files are not linted and their syntax is checked with tree-sitter instead.
   */
  typescriptParser(): Promise<Linter.Parser | undefined> {
    this.tsParser ??= import('typescript-eslint').then(
      (mod) => mod.parser as unknown as Linter.Parser,
      () => undefined,
    );
    return this.tsParser;
  }
}

const FILENAMES: Record<ScriptLanguage, string> = {
  javascript: 'input.js',
  typescript: 'input.ts',
  tsx: 'input.tsx',
};

export class LintEngine implements Engine {
  readonly id = 'lint' as const;
  private readonly byEslintName = new Map<string, LintRuleConfig>();

  constructor(
    private readonly runner: EslintRunner,
    rules: LintRuleConfig[],
  ) {
    for (const rule of rules) if (rule.enabled) this.byEslintName.set(rule.eslintRule, rule);
  }

  supports(file: AnalyzedFile): boolean {
    return isScriptLanguage(file.language) && this.byEslintName.size > 0;
  }

  async run(file: AnalyzedFile, report: Report): Promise<void> {
    const outcome = await this.runner.outcome(file);
    // A file that does not parse has no lint results; the syntax engine reports the parse error.
    if (!outcome || outcome.fatal) return;
    for (const message of outcome.messages) {
      const rule = message.ruleId === null ? undefined : this.byEslintName.get(message.ruleId);
      if (!rule) continue;
      report(
        rule.id,
        {
          line: message.line,
          column: message.column,
          endLine: message.endLine ?? message.line,
          endColumn: message.endColumn ?? message.column + 1,
        },
        { message: rule.message ?? message.message },
      );
    }
  }
}

export function lintDescriptors(rules: LintRuleConfig[]): RuleDescriptor[] {
  return rules.map((rule) => {
    const docs = `https://eslint.org/docs/latest/rules/${rule.eslintRule}`;
    const descriptor: RuleDescriptor = {
      id: rule.id,
      engine: 'lint',
      severity: rule.severity,
      shortDescription: rule.description ?? (rule.message ? firstSentence(rule.message) : `ESLint rule ${rule.eslintRule}.`),
      help: rule.message ? `${rule.message} (ESLint ${rule.eslintRule}: ${docs})` : `See ${docs}`,
      languages: ['javascript', 'typescript', 'tsx'],
    };
    return descriptor;
  });
}
