/**
 * Every rule the engines can report, with its effective severity and message. Engines report by
 * rule id; the book turns that into a Finding, dropping rules the config disabled, so no engine
 * has to know about config overrides.
 */
import type { AnalyzedFile } from './analyzed-file.js';
import type { BuiltinRuleConfig } from './config.js';
import type { ReportText } from './engines/engine.js';
import { GovernanceConfigError } from './errors.js';
import type { EngineId, Finding, RuleDescriptor } from './types.js';

export interface Span {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

interface Entry {
  descriptor: RuleDescriptor;
  enabled: boolean;
}

export class RuleBook {
  private readonly entries = new Map<string, Entry>();

  register(descriptor: RuleDescriptor, enabled = true): void {
    this.entries.set(descriptor.id, { descriptor, enabled });
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  hasIdStartingWith(prefix: string): boolean {
    for (const id of this.entries.keys()) if (id.startsWith(prefix)) return true;
    return false;
  }

  /** Applies `rules:` entries that tune built-in rules (severity, message, enabled). */
  applyBuiltinSettings(settings: BuiltinRuleConfig[]): void {
    for (const setting of settings) {
      const entry = this.entries.get(setting.id);
      if (!entry || entry.descriptor.engine !== setting.engine) {
        const known = [...this.entries.values()].filter((e) => e.descriptor.engine === setting.engine).map((e) => e.descriptor.id);
        throw new GovernanceConfigError(
          { ...setting.location, field: `${setting.location.field}.id` },
          `"${setting.id}" is not a built-in ${setting.engine} rule; expected one of ${known.join('|') || '(none)'}`,
        );
      }
      entry.enabled = setting.enabled;
      if (setting.severity) entry.descriptor = { ...entry.descriptor, severity: setting.severity };
      if (setting.message) entry.descriptor = { ...entry.descriptor, help: setting.message };
    }
  }

  /** Descriptors of enabled rules, in registration order. */
  descriptors(): RuleDescriptor[] {
    return [...this.entries.values()].filter((e) => e.enabled).map((e) => e.descriptor);
  }

  /** A finding for `ruleId` at `span`, or undefined when the rule is disabled or unknown. */
  finding(ruleId: string, engine: EngineId, file: AnalyzedFile, span: Span, text: ReportText = {}): Finding | undefined {
    const entry = this.entries.get(ruleId);
    if (!entry || !entry.enabled) return undefined;
    const { descriptor } = entry;
    const message = text.message ?? (text.detail ? `${text.detail} ${descriptor.help}` : descriptor.help);
    return { ruleId, engine, severity: descriptor.severity, message, path: file.path, ...span };
  }
}
