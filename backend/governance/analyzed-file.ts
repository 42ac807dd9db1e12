/**
 * One file under validation, shared by every engine. Expensive artifacts (the ast-grep tree,
 * the line index, the ESLint result) are computed on first use and kept for the other engines,
 * so a file is parsed once per grammar however many engines look at it.
 */
import { parseSource, type SgRoot } from './ast-grep.js';
import { isAstLanguage, type LanguageId } from './languages.js';
import { LineIndex } from './line-index.js';
import type { Manifest } from './engines/manifests.js';

export class AnalyzedFile {
  private tree: SgRoot | undefined;
  private index: LineIndex | undefined;
  private readonly memos = new Map<symbol, unknown>();

  constructor(
    readonly path: string,
    readonly content: string,
    readonly language: LanguageId,
    /** The manifest imports are checked against, when dependency checking applies. */
    readonly manifest: Manifest | undefined,
  ) {}

  /** The ast-grep tree, for languages that have a grammar. */
  ast(): SgRoot | undefined {
    if (!isAstLanguage(this.language)) return undefined;
    this.tree ??= parseSource(this.language, this.content);
    return this.tree;
  }

  get lines(): LineIndex {
    this.index ??= new LineIndex(this.content);
    return this.index;
  }

  /** Per-file memo for results several engines share (keyed by a module-private symbol). */
  memo<T>(key: symbol, compute: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = compute();
    this.memos.set(key, value);
    return value;
  }
}
