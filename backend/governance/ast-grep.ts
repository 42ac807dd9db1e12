/**
 * The one place that talks to ast-grep's runtime: registers the Python and Go grammars (the
 * napi docs ask for exactly one registration per process) and maps our language ids to
 * ast-grep's. Everything else parses through `parseSource`.
 */
import { Lang, parse, registerDynamicLanguage, type SgNode, type SgRoot } from '@ast-grep/napi';
import go from '@ast-grep/lang-go';
import python from '@ast-grep/lang-python';
import type { AstLanguage } from './languages.js';

const NAPI_LANG: Record<AstLanguage, string> = {
  javascript: Lang.JavaScript,
  typescript: Lang.TypeScript,
  tsx: Lang.Tsx,
  python: 'python',
  go: 'go',
};

// A process-wide flag rather than a module one: test runners and hot reloaders can evaluate
// this module more than once in the same process, and the native registry is process-wide.
const REGISTERED = Symbol.for('orchestra.governance.astGrepLanguages');

export function ensureLanguagesRegistered(): void {
  const holder = globalThis as { [REGISTERED]?: boolean };
  if (holder[REGISTERED]) return;
  // The getters resolve the prebuilt parser for this platform and throw a clear error when
  // there is none (the package would then need its postinstall build).
  registerDynamicLanguage({ python, go });
  holder[REGISTERED] = true;
}

export function parseSource(language: AstLanguage, content: string): SgRoot {
  ensureLanguagesRegistered();
  return parse(NAPI_LANG[language], content);
}

export type { SgNode, SgRoot };
