/**
 * Syntax: one `syntax-error` finding at the first place a file stops parsing. JS/TS use ESLint's
 * parser result (shared with the lint engine; precise messages, and it knows the newest syntax);
 * Python and Go use tree-sitter through ast-grep, whose error recovery leaves ERROR nodes for
 * unexpected text and zero-width MISSING nodes for tokens it had to invent; JSON uses our own
 * checker. Only the first problem is reported because what follows is usually a consequence.
 */
import type { SgNode } from '../ast-grep.js';
import type { AnalyzedFile } from '../analyzed-file.js';
import type { SyntaxOptions } from '../config-schema.js';
import { isAstLanguage } from '../languages.js';
import type { RuleDescriptor } from '../types.js';
import { spanFromRange, type Engine, type Report } from './engine.js';
import { checkJson } from './json-syntax.js';
import type { EslintRunner } from './lint.js';

export const SYNTAX_RULES: RuleDescriptor[] = [
  {
    id: 'syntax-error',
    engine: 'syntax',
    severity: 'error',
    shortDescription: 'The code does not parse.',
    languages: ['javascript', 'typescript', 'tsx', 'python', 'go', 'json', 'jsonc'],
    help: 'Fix the syntax at this position; the other checks cannot see past a parse error.',
  },
];

export class SyntaxEngine implements Engine {
  readonly id = 'syntax' as const;

  constructor(
    private readonly options: SyntaxOptions,
    private readonly eslint: EslintRunner,
  ) {}

  supports(file: AnalyzedFile): boolean {
    if (file.language === 'json' || file.language === 'jsonc') return this.options.json;
    return isAstLanguage(file.language);
  }

  async run(file: AnalyzedFile, report: Report): Promise<void> {
    if (file.language === 'json' || file.language === 'jsonc') {
      const error = checkJson(file.content, { comments: file.language === 'jsonc' });
      if (!error) return;
      const at = file.lines.position(error.offset);
      report('syntax-error', { line: at.line, column: at.column, endLine: at.line, endColumn: at.column + 1 }, { detail: `Invalid JSON: ${error.message}.` });
      return;
    }
    const eslint = await this.eslint.outcome(file);
    if (eslint) {
      if (!eslint.fatal) return;
      const { line } = eslint.fatal;
      // Parsers report a parse error at the end of the input with column 0; findings are 1-based.
      const column = Math.max(1, eslint.fatal.column);
      const text = eslint.fatal.message.replace(/^Parsing error:\s*/, '');
      report('syntax-error', { line, column, endLine: line, endColumn: column + 1 }, { detail: `Syntax error: ${text}` });
      return;
    }
    // Python, Go, or TypeScript when typescript-eslint is not installed.
    const root = file.ast()?.root();
    if (!root) return;
    const problem = firstTreeProblem(root);
    if (problem) report('syntax-error', spanFromRange(problem.node.range()), { detail: problem.detail });
  }
}

/** The earlier of the first ERROR node and the first MISSING (zero-width, invented) token. */
function firstTreeProblem(root: SgNode): { node: SgNode; detail: string } | undefined {
  // Both searches run inside ast-grep (native); walking the tree from JS is far slower.
  const error = root.find({ rule: { kind: 'ERROR' } });
  const missing = root
    .findAll({ rule: { regex: '^$' } })
    .find((node) => isMissingToken(node, root));
  const candidates: Array<{ node: SgNode; detail: string }> = [];
  if (error) candidates.push({ node: error, detail: `Syntax error: unexpected ${quote(error.text())}.` });
  if (missing) candidates.push({ node: missing, detail: `Syntax error: missing ${describeKind(String(missing.kind()))}.` });
  candidates.sort((a, b) => a.node.range().start.index - b.node.range().start.index);
  return candidates[0];
}

/**
 * tree-sitter's MISSING nodes are leaves with no text. A few grammars also produce legitimately
 * empty leaves for empty literal contents (Go's `` ` ` `` gives an empty raw_string_literal_content).
 */
function isMissingToken(node: SgNode, root: SgNode): boolean {
  if (node.id() === root.id()) return false;
  const kind = String(node.kind());
  if (/(content|fragment|chars)$/.test(kind)) return false;
  return node.children().length === 0;
}

function describeKind(kind: string): string {
  return /^[a-z_]+$/.test(kind) ? kind.replace(/_/g, ' ') : `\`${kind}\``;
}

function quote(text: string): string {
  const firstLine = text.split('\n')[0] ?? '';
  const short = firstLine.length > 40 ? `${firstLine.slice(0, 39)}…` : firstLine;
  return `\`${short.trim() || text.trim().slice(0, 40)}\``;
}
