import type { HLJSApi, LanguageFn } from 'highlight.js';

/**
 * Syntax highlighting on demand: highlight.js's core and each language grammar are loaded the
 * first time a code block needs them (each one its own chunk), so the first load carries none
 * of it. Unknown languages stay plain text.
 */

type Loader = () => Promise<{ default: LanguageFn }>;

const LANGUAGES: Record<string, Loader> = {
  bash: () => import('highlight.js/lib/languages/bash'),
  c: () => import('highlight.js/lib/languages/c'),
  cpp: () => import('highlight.js/lib/languages/cpp'),
  csharp: () => import('highlight.js/lib/languages/csharp'),
  css: () => import('highlight.js/lib/languages/css'),
  diff: () => import('highlight.js/lib/languages/diff'),
  go: () => import('highlight.js/lib/languages/go'),
  java: () => import('highlight.js/lib/languages/java'),
  javascript: () => import('highlight.js/lib/languages/javascript'),
  json: () => import('highlight.js/lib/languages/json'),
  kotlin: () => import('highlight.js/lib/languages/kotlin'),
  markdown: () => import('highlight.js/lib/languages/markdown'),
  php: () => import('highlight.js/lib/languages/php'),
  python: () => import('highlight.js/lib/languages/python'),
  ruby: () => import('highlight.js/lib/languages/ruby'),
  rust: () => import('highlight.js/lib/languages/rust'),
  sql: () => import('highlight.js/lib/languages/sql'),
  swift: () => import('highlight.js/lib/languages/swift'),
  typescript: () => import('highlight.js/lib/languages/typescript'),
  xml: () => import('highlight.js/lib/languages/xml'),
  yaml: () => import('highlight.js/lib/languages/yaml'),
};

const ALIASES: Record<string, string> = {
  sh: 'bash',
  shell: 'bash',
  zsh: 'bash',
  console: 'bash',
  'c++': 'cpp',
  cs: 'csharp',
  golang: 'go',
  js: 'javascript',
  jsx: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  ts: 'typescript',
  tsx: 'typescript',
  py: 'python',
  rb: 'ruby',
  rs: 'rust',
  kt: 'kotlin',
  html: 'xml',
  svg: 'xml',
  yml: 'yaml',
  md: 'markdown',
  patch: 'diff',
};

export function grammarName(language: string): string | null {
  const name = ALIASES[language.toLowerCase()] ?? language.toLowerCase();
  return name in LANGUAGES ? name : null;
}

let core: Promise<HLJSApi> | undefined;
const registered = new Map<string, Promise<void>>();

async function load(name: string): Promise<HLJSApi> {
  core ??= import('highlight.js/lib/core').then((m) => m.default);
  const hljs = await core;
  let pending = registered.get(name);
  if (pending === undefined) {
    const loader = LANGUAGES[name];
    pending = loader ? loader().then((m) => hljs.registerLanguage(name, m.default)) : Promise.resolve();
    registered.set(name, pending);
  }
  await pending;
  return hljs;
}

/** Highlighted HTML for `code`, or null when the language is unknown or the code is too big to be worth it. */
export async function highlight(code: string, language: string): Promise<string | null> {
  const name = grammarName(language);
  if (name === null || code.length > 200_000) return null;
  const hljs = await load(name);
  return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
}
