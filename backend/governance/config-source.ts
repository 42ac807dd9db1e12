/**
 * Reading YAML config files with their line positions, and turning zod issues into messages
 * that name the file, the field path (with the rule id) and the line. Kept apart from config.ts,
 * which decides what the config means.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML, { isMap, isScalar, isSeq, LineCounter, type Document } from 'yaml';
import type { z } from 'zod';
import { GovernanceConfigError } from './errors.js';

export interface YamlFile {
  /** Each document as plain data. */
  data: unknown[];
  /** Each document's syntax tree, for line lookups. */
  source: Document[];
}

export async function readYaml(file: string, display: string): Promise<YamlFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UnreadableFileError((err as NodeJS.ErrnoException).code ?? 'unreadable');
  }
  const lines = new LineCounter();
  // An empty stream is an empty array, which callers report as "no documents".
  const source: Document[] = [...YAML.parseAllDocuments(text, { lineCounter: lines, prettyErrors: false })];
  for (const doc of source) {
    const error = doc.errors[0];
    if (error) {
      const line = lines.linePos(error.pos[0]).line;
      throw new GovernanceConfigError({ file: display, field: '', line }, `invalid YAML: ${error.message.split('\n')[0]}`);
    }
  }
  // Remember each document's line counter through a side map: lineOf needs it.
  for (const doc of source) LINE_COUNTERS.set(doc, lines);
  return { data: source.map((d) => d.toJS({ maxAliasCount: 100 }) as unknown), source };
}

const LINE_COUNTERS = new WeakMap<Document, LineCounter>();

/** The caller decides how to word it: the config file itself, or a rule file it references. */
export class UnreadableFileError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** 1-based line of the node at `at` (or of the nearest existing parent). */
export function lineOf(doc: Document | undefined, at: readonly PropertyKey[]): number | undefined {
  if (!doc) return undefined;
  const counter = LINE_COUNTERS.get(doc);
  if (!counter) return undefined;
  let node: unknown = doc.contents;
  let offset = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
  for (const key of at) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (!pair) break;
      const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range;
      if (keyRange) offset = keyRange[0];
      node = pair.value;
      const valueRange = (pair.value as { range?: [number, number, number] } | null)?.range;
      if (valueRange && !isMap(pair.value) && !isSeq(pair.value)) offset = valueRange[0];
    } else if (isSeq(node) && typeof key === 'number') {
      const item: unknown = node.items[key];
      const range = (item as { range?: [number, number, number] } | null)?.range;
      if (!range) break;
      offset = range[0];
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

export function check<T extends z.ZodType>(
  schema: T,
  value: unknown,
  base: readonly PropertyKey[],
  root: unknown,
  file: string,
  doc: Document | undefined,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw issueError(result.error, base, root, file, doc);
}

export function issueError(error: z.ZodError, base: readonly PropertyKey[], root: unknown, file: string, doc: Document | undefined): GovernanceConfigError {
  const issue = firstIssue(error);
  const full = [...base, ...issue.path];
  const ruleId = full[0] === 'rules' && typeof full[1] === 'number' ? ruleIdAt(root, full[1]) : undefined;
  return new GovernanceConfigError(
    { file, field: formatPath(full, root), line: lineOf(doc, full), ...(ruleId === undefined ? {} : { ruleId }) },
    describeIssue({ ...issue, path: full }, root),
  );
}

export interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  values?: unknown[];
  keys?: string[];
  expected?: string;
}

export function firstIssue(error: z.ZodError): Issue {
  const issue = error.issues[0] as unknown as Issue | undefined;
  if (!issue) return { code: 'custom', path: [], message: 'invalid' };
  if (issue.code === 'unrecognized_keys' && issue.keys?.[0] !== undefined) {
    // Point at the unknown key itself: `rules[3] (no-eval).severty: unknown field`.
    return { ...issue, path: [...issue.path, issue.keys[0]] };
  }
  return issue;
}

export function describeIssue(issue: Issue, root: unknown): string {
  const actual = valueAt(root, issue.path);
  const got = actual === undefined ? '' : `, got ${JSON.stringify(actual)}`;
  switch (issue.code) {
    case 'invalid_value':
      if (issue.values && issue.values.length > 1) return `expected one of ${issue.values.map(String).join('|')}${got}`;
      if (issue.values && issue.values.length === 1) return `expected ${JSON.stringify(issue.values[0])}${got}`;
      return `${issue.message}${got}`;
    case 'invalid_type':
      return actual === undefined ? `required (${issue.expected ?? 'value'})` : `expected ${issue.expected ?? 'another type'}${got}`;
    case 'unrecognized_keys':
      return 'unknown field';
    default:
      return `${issue.message}${got}`;
  }
}

/** `rules[3] (no-eval).match[0].languages`: indices in brackets, rule ids in parentheses. */
export function formatPath(at: readonly PropertyKey[], root: unknown): string {
  let out = '';
  for (const [i, key] of at.entries()) {
    if (typeof key === 'number') {
      out += `[${key}]`;
      if (i === 1 && at[0] === 'rules') {
        const label = ruleLabelAt(root, key);
        if (label) out += ` (${label})`;
      }
    } else {
      out += out ? `.${String(key)}` : String(key);
    }
  }
  return out;
}

export function joinField(prefix: string, at: readonly PropertyKey[], root: unknown): string {
  const rest = formatPath(at, root);
  if (!rest) return prefix;
  return rest.startsWith('[') ? `${prefix}${rest}` : `${prefix}.${rest}`;
}

function ruleIdAt(root: unknown, index: number): string | undefined {
  const rules = isRecord(root) ? root.rules : undefined;
  const entry = Array.isArray(rules) ? (rules[index] as unknown) : undefined;
  return isRecord(entry) && typeof entry.id === 'string' ? entry.id : undefined;
}

function ruleLabelAt(root: unknown, index: number): string | undefined {
  const id = ruleIdAt(root, index);
  if (id !== undefined) return id;
  const rules = isRecord(root) ? root.rules : undefined;
  const entry = Array.isArray(rules) ? (rules[index] as unknown) : undefined;
  return isRecord(entry) && typeof entry.file === 'string' ? `file ${entry.file}` : undefined;
}

function valueAt(root: unknown, at: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of at) {
    if (Array.isArray(node) && typeof key === 'number') node = node[key] as unknown;
    else if (isRecord(node) && typeof key === 'string') node = node[key];
    else return undefined;
  }
  return node;
}

export function displayFile(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
  return file;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

