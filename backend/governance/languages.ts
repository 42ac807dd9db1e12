/**
 * Which language a piece of code is in, from a file path or a markdown fence tag. Every engine
 * keys off these ids, so aliases are folded here and nowhere else.
 */
import path from 'node:path';

export type LanguageId =
  | 'javascript'
  | 'typescript'
  | 'tsx'
  | 'python'
  | 'go'
  | 'json'
  | 'jsonc'
  | 'yaml'
  | 'shell'
  | 'dotenv'
  | 'toml'
  | 'text';

/** Languages with an ast-grep grammar: structural rules, syntax checks and comment detection. */
export type AstLanguage = 'javascript' | 'typescript' | 'tsx' | 'python' | 'go';

export const AST_LANGUAGES: readonly AstLanguage[] = ['javascript', 'typescript', 'tsx', 'python', 'go'];

export function isAstLanguage(language: LanguageId): language is AstLanguage {
  return (AST_LANGUAGES as readonly string[]).includes(language);
}

/** Languages ESLint lints. */
export function isScriptLanguage(language: LanguageId): language is 'javascript' | 'typescript' | 'tsx' {
  return language === 'javascript' || language === 'typescript' || language === 'tsx';
}

const ALIASES: Record<string, LanguageId> = {
  javascript: 'javascript',
  js: 'javascript',
  jsx: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  node: 'javascript',
  nodejs: 'javascript',
  ecmascript: 'javascript',
  es6: 'javascript',
  typescript: 'typescript',
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'tsx',
  python: 'python',
  py: 'python',
  python3: 'python',
  py3: 'python',
  pyi: 'python',
  go: 'go',
  golang: 'go',
  json: 'json',
  jsonc: 'jsonc',
  json5: 'jsonc',
  yaml: 'yaml',
  yml: 'yaml',
  shell: 'shell',
  sh: 'shell',
  bash: 'shell',
  zsh: 'shell',
  dotenv: 'dotenv',
  env: 'dotenv',
  toml: 'toml',
  text: 'text',
  txt: 'text',
  plaintext: 'text',
};

const EXTENSIONS: Record<string, LanguageId> = {
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascript',
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'tsx',
  '.py': 'python',
  '.pyi': 'python',
  '.pyw': 'python',
  '.go': 'go',
  '.json': 'json',
  '.jsonc': 'jsonc',
  '.json5': 'jsonc',
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.sh': 'shell',
  '.bash': 'shell',
  '.zsh': 'shell',
  '.env': 'dotenv',
  '.toml': 'toml',
};

/** JSON files that tools read with comments and trailing commas allowed. */
const JSONC_NAMES = /^(tsconfig(\..+)?|jsconfig(\..+)?|\.eslintrc|\.babelrc|devcontainer|settings|launch|tasks|extensions|keybindings)\.json$/;

/** Normalizes a language name or alias; undefined when it is not one we know. */
export function normalizeLanguage(name: string | undefined): LanguageId | undefined {
  if (!name) return undefined;
  return ALIASES[name.trim().toLowerCase()];
}

/** Infers the language from a path; undefined for files no engine understands. */
export function languageFromPath(filePath: string): LanguageId | undefined {
  const base = path.posix.basename(filePath.replace(/\\/g, '/'));
  // `.env`, `.env.local`, `.env.production`: dotenv files are named, not extended.
  if (base === '.env' || base.startsWith('.env.')) return 'dotenv';
  const ext = path.posix.extname(base).toLowerCase();
  const language = EXTENSIONS[ext];
  if (language === 'json' && JSONC_NAMES.test(base)) return 'jsonc';
  return language;
}

/** Language of a markdown fence from its info string (```ts title="x"` → typescript). */
export function languageFromFenceInfo(info: string | undefined): LanguageId | undefined {
  if (!info) return undefined;
  // Info strings look like `ts`, `{.python}`, `js title="a.js"` or `diff-js`; the first word wins.
  const word = info.trim().split(/[\s{},]+/).find((w) => w.length > 0);
  if (!word) return undefined;
  return normalizeLanguage(word.replace(/^\./, '')) ?? normalizeLanguage(word.split(/[:=]/)[0]);
}

/** True when the CLI should pick the file up while walking a directory. */
export function isSupportedPath(filePath: string): boolean {
  return languageFromPath(filePath) !== undefined;
}

/** The language to analyze a file as: explicit language, else inferred, else plain text. */
export function resolveLanguage(filePath: string, explicit?: string): LanguageId {
  return normalizeLanguage(explicit) ?? languageFromPath(filePath) ?? 'text';
}

/**
 * What else about a path changes how its content parses: `.cjs` files are CommonJS scripts
 * (`with` is legal, `import` is not). Part of the result cache key, next to the language.
 */
export function isCommonJsPath(filePath: string, language: LanguageId): boolean {
  return language === 'javascript' && /\.cjs$/i.test(filePath);
}
