/**
 * Structural rules: ast-grep rule objects (pattern/kind/regex/relational/composite) run over
 * the file's syntax tree in memory. Rules are checked against every grammar they name when the
 * engine is built, so a typo in a kind or a util reference fails start-up instead of silently
 * matching nothing.
 */
import type { NapiConfig } from '@ast-grep/napi';
import { parseSource, type SgNode } from '../ast-grep.js';
import type { AnalyzedFile } from '../analyzed-file.js';
import type { StructuralRuleConfig } from '../config.js';
import { GovernanceConfigError } from '../errors.js';
import { isAstLanguage, type AstLanguage } from '../languages.js';
import type { RuleDescriptor } from '../types.js';
import { firstSentence, spanFromRange, type Engine, type Report } from './engine.js';

interface CompiledMatcher {
  rule: StructuralRuleConfig;
  config: NapiConfig;
}

export class StructuralEngine implements Engine {
  readonly id = 'structural' as const;
  private readonly byLanguage = new Map<AstLanguage, CompiledMatcher[]>();

  constructor(rules: StructuralRuleConfig[]) {
    for (const rule of rules) {
      if (!rule.enabled) continue;
      for (const [index, matcher] of rule.matchers.entries()) {
        const config: NapiConfig = { rule: matcher.rule };
        if (matcher.constraints) config.constraints = matcher.constraints;
        if (matcher.utils) config.utils = matcher.utils;
        for (const language of matcher.languages) {
          checkCompiles(rule, index, language, config);
          const list = this.byLanguage.get(language) ?? [];
          list.push({ rule, config });
          this.byLanguage.set(language, list);
        }
      }
    }
  }

  supports(file: AnalyzedFile): boolean {
    return isAstLanguage(file.language) && this.byLanguage.has(file.language);
  }

  run(file: AnalyzedFile, report: Report): void {
    const root = file.ast()?.root();
    if (!root || !isAstLanguage(file.language)) return;
    for (const { rule, config } of this.byLanguage.get(file.language) ?? []) {
      for (const node of root.findAll(config)) {
        report(rule.id, spanFromRange(node.range()), { message: interpolate(rule.message, node, file.content) });
      }
    }
  }
}

export function structuralDescriptors(rules: StructuralRuleConfig[]): RuleDescriptor[] {
  return rules.map((rule) => {
    const descriptor: RuleDescriptor = {
      id: rule.id,
      engine: 'structural',
      severity: rule.severity,
      shortDescription: rule.description ?? firstSentence(rule.message),
      help: rule.message,
      languages: [...new Set(rule.matchers.flatMap((m) => m.languages))],
    };
    if (rule.note) descriptor.fullDescription = rule.note;
    return descriptor;
  });
}

/** ast-grep validates a rule when it first runs it; running it on an empty tree surfaces errors now. */
function checkCompiles(rule: StructuralRuleConfig, matcherIndex: number, language: AstLanguage, config: NapiConfig): void {
  try {
    parseSource(language, '').root().findAll(config);
  } catch (err) {
    const where = rule.matchers.length > 1 ? `match[${matcherIndex}]` : 'rule';
    // ast-grep nests causes as "outer\n |->inner\n |->innermost"; flatten to one line.
    const detail = (err as Error).message
      .split(/\n\s*\|->/)
      .map((part) => part.trim().replace(/\.$/, ''))
      .filter((part) => part.length > 0)
      .join(': ');
    throw new GovernanceConfigError(
      { ...rule.location, field: `${rule.location.field}.${where}` },
      `invalid ast-grep rule for ${language}: ${detail}`,
    );
  }
}

/**
 * `$NAME` and `$$$NAME` in a message are replaced by the text the metavariable matched, as in
 * ast-grep. A `$$$` match is a list of nodes; its text is the source between the first and last.
 */
function interpolate(message: string, node: SgNode, source: string): string {
  if (!message.includes('$')) return message;
  return message.replace(/(\$\$\$|\$)([A-Z_][A-Z0-9_]*)/g, (whole, sigil: string, name: string) => {
    let text: string | undefined;
    if (sigil === '$$$') {
      const nodes = node.getMultipleMatches(name);
      const first = nodes[0];
      const last = nodes[nodes.length - 1];
      text = first && last ? source.slice(first.range().start.index, last.range().end.index) : '';
    } else {
      text = node.getMatch(name)?.text();
    }
    return text === undefined ? whole : truncate(text.replace(/\s+/g, ' '), 60);
  });
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
