/**
 * The shape of governance/config.yaml and of the rule files it references, as zod schemas.
 * Rule entries are checked one by one (see config.ts) so an error can name the rule it is in;
 * that is why `rules` is `unknown[]` at the top level.
 */
import { z } from 'zod';
import { AST_LANGUAGES, normalizeLanguage } from './languages.js';

export const SeveritySchema = z.enum(['error', 'warning', 'note']);
const SeverityOrOffSchema = z.enum(['error', 'warning', 'note', 'off']);

/** ast-grep rule files also use `info` and `hint`; both become `note`. */
export const RuleSeveritySchema = z
  .enum(['error', 'warning', 'note', 'info', 'hint', 'off'])
  .transform((s) => (s === 'info' || s === 'hint' ? 'note' : s));

export const RuleIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/@-]*$/, 'rule ids use letters, digits and . _ / @ - (e.g. no-eval)');

/** Accepts aliases (`ts`, `py`, `JavaScript` as ast-grep writes it) and stores the canonical id. */
export const AstLanguageSchema = z.preprocess(
  (v) => (typeof v === 'string' ? (normalizeLanguage(v) ?? v) : v),
  z.enum(AST_LANGUAGES as unknown as ['javascript', 'typescript', 'tsx', 'python', 'go']),
);

const AstGrepObject = z.record(z.string(), z.unknown());

const MatcherSchema = z.strictObject({
  language: AstLanguageSchema.optional(),
  languages: z.array(AstLanguageSchema).min(1).optional(),
  rule: AstGrepObject,
  constraints: z.record(z.string(), AstGrepObject).optional(),
  utils: z.record(z.string(), AstGrepObject).optional(),
});

/** A structural rule: in config.yaml (with `engine: structural`) or as a rule-file document. */
export const StructuralRuleSchema = z.strictObject({
  id: RuleIdSchema,
  engine: z.literal('structural').optional(),
  enabled: z.boolean().default(true),
  severity: RuleSeveritySchema.default('error'),
  message: z.string().min(1),
  description: z.string().min(1).optional(),
  note: z.string().min(1).optional(),
  language: AstLanguageSchema.optional(),
  languages: z.array(AstLanguageSchema).min(1).optional(),
  rule: AstGrepObject.optional(),
  constraints: z.record(z.string(), AstGrepObject).optional(),
  utils: z.record(z.string(), AstGrepObject).optional(),
  match: z.array(MatcherSchema).min(1).optional(),
  // Accepted so ast-grep rule files can be dropped in unchanged; they mean nothing here.
  fix: z.unknown().optional(),
  url: z.string().optional(),
  metadata: z.unknown().optional(),
  files: z.unknown().optional(),
  ignores: z.unknown().optional(),
});

export const RuleFileEntrySchema = z.strictObject({
  file: z.string().min(1),
  engine: z.literal('structural').optional(),
  enabled: z.boolean().default(true),
  severity: RuleSeveritySchema.optional(),
});

/** An ESLint rule surfaced under our id; `eslint` names the ESLint rule when it differs. */
export const LintRuleSchema = z.strictObject({
  id: RuleIdSchema,
  engine: z.literal('lint'),
  enabled: z.boolean().default(true),
  severity: SeveritySchema.default('error'),
  message: z.string().min(1).optional(),
  description: z.string().min(1).optional(),
  eslint: z.string().min(1).optional(),
  options: z.array(z.unknown()).default([]),
});

/** Tunes a rule an engine ships with (secrets, syntax, dependencies, suppressions). */
export const BuiltinRuleSchema = z.strictObject({
  id: RuleIdSchema,
  engine: z.enum(['secrets', 'syntax', 'dependencies', 'lint']),
  enabled: z.boolean().default(true),
  severity: SeveritySchema.optional(),
  message: z.string().min(1).optional(),
});

const engine = <T extends z.ZodType>(options: T) =>
  z
    // Every option has a default, so an absent `options` (or engine) means "all defaults".
    .strictObject({ enabled: z.boolean().default(true), options: options.prefault({} as z.input<T>) })
    .prefault({});

export const SecretsOptionsSchema = z.strictObject({
  secretlint: z.boolean().default(true),
  entropyThreshold: z.number().min(0).max(8).default(3.5),
  minSecretLength: z.number().int().min(8).max(256).default(16),
  /** Regular expressions; a candidate secret matching one is ignored (test fixtures, sample keys). */
  allow: z.array(z.string()).default([]),
});

export const SyntaxOptionsSchema = z.strictObject({ json: z.boolean().default(true) });

export const LintOptionsSchema = z.strictObject({
  globals: z.record(z.string(), z.enum(['readonly', 'writable', 'off'])).default({}),
});

export const DependenciesOptionsSchema = z.strictObject({
  python: z.boolean().default(true),
  go: z.boolean().default(true),
  /** Package names that are fine to import without a manifest entry. */
  allow: z.array(z.string()).default([]),
});

export const ConfigSchema = z.strictObject({
  version: z.literal(1),
  engines: z
    .strictObject({
      structural: engine(z.strictObject({})),
      secrets: engine(SecretsOptionsSchema),
      syntax: engine(SyntaxOptionsSchema),
      lint: engine(LintOptionsSchema),
      dependencies: engine(DependenciesOptionsSchema),
    })
    .prefault({}),
  rules: z.array(z.unknown()).default([]),
  policy: z
    .strictObject({
      failOn: z.array(SeveritySchema).default(['error']),
      maxWarnings: z.number().int().min(0).nullable().default(null),
      ignore: z.array(z.string().min(1)).default([]),
      overrides: z
        .array(
          z.strictObject({
            files: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
            rules: z.record(z.string(), SeverityOrOffSchema),
          }),
        )
        .default([]),
    })
    .prefault({}),
});

export type ParsedConfig = z.infer<typeof ConfigSchema>;
export type StructuralRuleInput = z.infer<typeof StructuralRuleSchema>;
export type LintRuleInput = z.infer<typeof LintRuleSchema>;
export type BuiltinRuleInput = z.infer<typeof BuiltinRuleSchema>;
export type SecretsOptions = z.infer<typeof SecretsOptionsSchema>;
export type SyntaxOptions = z.infer<typeof SyntaxOptionsSchema>;
export type LintOptions = z.infer<typeof LintOptionsSchema>;
export type DependenciesOptions = z.infer<typeof DependenciesOptionsSchema>;
