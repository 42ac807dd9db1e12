/**
 * SARIF 2.1.0 output (the format code-scanning UIs import). Built by hand against the spec's
 * required properties: a run with tool.driver.{name, version, rules}, results that point at
 * their rule by id and index, with a 1-based region.
 */
import type { Finding, RuleDescriptor, Severity, ValidationReport } from './types.js';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
export const TOOL_NAME = 'orchestra-governance';

export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: SarifRun[];
}

export interface SarifRun {
  tool: { driver: SarifDriver };
  results: SarifResult[];
  columnKind: 'utf16CodeUnits';
  originalUriBaseIds?: Record<string, { uri: string }>;
  properties?: Record<string, unknown>;
}

export interface SarifDriver {
  name: string;
  version: string;
  informationUri?: string;
  rules: SarifRule[];
}

export interface SarifRule {
  id: string;
  shortDescription: { text: string };
  fullDescription?: { text: string };
  defaultConfiguration: { level: Severity };
  help: { text: string };
  properties: { engine: string; tags: string[] };
}

export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: Severity;
  message: { text: string };
  locations: Array<{
    physicalLocation: {
      artifactLocation: { uri: string; uriBaseId?: string };
      region: { startLine: number; startColumn: number; endLine: number; endColumn: number };
    };
  }>;
}

export function buildSarif(report: ValidationReport, rules: RuleDescriptor[], toolVersion: string, baseUri?: string): SarifLog {
  const sarifRules: SarifRule[] = [];
  const index = new Map<string, number>();
  const addRule = (rule: RuleDescriptor): number => {
    const existing = index.get(rule.id);
    if (existing !== undefined) return existing;
    const entry: SarifRule = {
      id: rule.id,
      shortDescription: { text: rule.shortDescription },
      ...(rule.fullDescription ? { fullDescription: { text: rule.fullDescription } } : {}),
      defaultConfiguration: { level: rule.severity },
      help: { text: rule.help },
      properties: { engine: rule.engine, tags: ['security', rule.engine] },
    };
    sarifRules.push(entry);
    index.set(rule.id, sarifRules.length - 1);
    return sarifRules.length - 1;
  };
  for (const rule of rules) addRule(rule);

  const results = report.findings.map((finding): SarifResult => {
    // A finding from a rule the caller did not list still needs a descriptor for ruleIndex.
    const ruleIndex = index.get(finding.ruleId) ?? addRule(fallbackRule(finding));
    const artifactLocation: { uri: string; uriBaseId?: string } = { uri: toUri(finding.path) };
    if (baseUri && !isAbsoluteUri(artifactLocation.uri)) artifactLocation.uriBaseId = 'SRCROOT';
    return {
      ruleId: finding.ruleId,
      ruleIndex,
      level: finding.severity,
      message: { text: finding.message },
      locations: [
        {
          physicalLocation: {
            artifactLocation,
            region: {
              startLine: Math.max(1, finding.line),
              startColumn: Math.max(1, finding.column),
              endLine: Math.max(finding.line, finding.endLine),
              endColumn: Math.max(1, finding.endColumn),
            },
          },
        },
      ],
    };
  });

  const run: SarifRun = {
    tool: { driver: { name: TOOL_NAME, version: toolVersion, rules: sarifRules } },
    results,
    columnKind: 'utf16CodeUnits',
    properties: { verdict: report.verdict, summary: report.summary },
  };
  if (baseUri) run.originalUriBaseIds = { SRCROOT: { uri: baseUri.endsWith('/') ? baseUri : `${baseUri}/` } };
  return { $schema: SARIF_SCHEMA, version: '2.1.0', runs: [run] };
}

function fallbackRule(finding: Finding): RuleDescriptor {
  return { id: finding.ruleId, engine: finding.engine, severity: finding.severity, shortDescription: finding.ruleId, help: finding.message };
}

/** Relative paths become relative URI references; each segment is percent-encoded (`#` included). */
function toUri(filePath: string): string {
  const normalized = filePath.replace(/\\/g, '/');
  if (/^[A-Za-z]:\//.test(normalized)) return `file:///${normalized.split('/').map(encodeSegment).join('/')}`;
  if (normalized.startsWith('/')) return `file://${normalized.split('/').map(encodeSegment).join('/')}`;
  return normalized.split('/').map(encodeSegment).join('/');
}

function encodeSegment(segment: string): string {
  return /^[A-Za-z]:$/.test(segment) ? segment : encodeURIComponent(segment);
}

function isAbsoluteUri(uri: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(uri);
}
