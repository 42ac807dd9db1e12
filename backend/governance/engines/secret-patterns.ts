/**
 * Our own secret detectors: exact formats for the keys that leak most (AWS key ids, GitHub and
 * Slack tokens, PEM private keys) plus key/value assignments whose value is random enough to be
 * a credential. They complement the secretlint preset, which misses bare key ids and keys
 * without an exact-length body, and they work on any text (code, .env, YAML…).
 */
import type { LanguageId } from '../languages.js';

export interface SecretCandidate {
  ruleId: string;
  /** Offsets into the content; end is exclusive. */
  start: number;
  end: number;
  /** What was found, never the value itself. */
  what: string;
}

export interface SecretScanOptions {
  entropyThreshold: number;
  minSecretLength: number;
  allow: RegExp[];
}

interface FormatPattern {
  ruleId: string;
  what: string;
  regex: RegExp;
  accept?: (value: string) => boolean;
}

const FORMATS: FormatPattern[] = [
  {
    ruleId: 'aws-access-key-id',
    what: 'AWS access key id',
    regex: /\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b/g,
    // AWS documentation's sample keys end in EXAMPLE; they are published on purpose.
    accept: (value) => !value.endsWith('EXAMPLE'),
  },
  { ruleId: 'github-token', what: 'GitHub token', regex: /\bgh[pousr]_[A-Za-z0-9]{36,251}\b/g },
  { ruleId: 'github-token', what: 'GitHub fine-grained token', regex: /\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g },
  { ruleId: 'slack-token', what: 'Slack token', regex: /\bxox[abposr]-[0-9A-Za-z-]{10,250}/g },
  { ruleId: 'slack-token', what: 'Slack app token', regex: /\bxapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{32,}\b/g },
  { ruleId: 'slack-token', what: 'Slack webhook URL', regex: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/]{20,}/g },
];

// A PEM header followed (after real or escaped line breaks) by base64 key material. A lone
// header string, as in `if (pem.startsWith('-----BEGIN PRIVATE KEY-----'))`, is not a key.
const PEM_HEADER = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----(?:\\[rn]|["'`+\s])*[A-Za-z0-9+/=]{20,}/g;
const PEM_FOOTER = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;

// `name = "value"`, `name: 'value'`, `"name": "value"`, `name := "value"`, `name => "value"`.
// The value is a single-line string literal; comparisons (==, !=) are not assignments.
const QUOTED_ASSIGNMENT =
  /(?<![A-Za-z0-9_$])(["']?)([A-Za-z_$][A-Za-z0-9_.$-]*)\1\s*(?::=|=>|=(?!=)|:(?!:))\s*[rbuRBU]?(["'`])((?:(?!\3)[^\\\r\n]|\\.){1,512})\3/g;
// Config formats also write values bare: `API_KEY=abc` (.env), `token: abc` (YAML).
const BARE_ASSIGNMENT = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*[:=][ \t]*([^\s"'`#][^\s#]*)/gm;
const BARE_VALUE_LANGUAGES = new Set<LanguageId>(['dotenv', 'yaml', 'shell', 'toml', 'text']);

const SECRET_KEY = /(?:api[_.-]?key|apikey|secret|token|access[_.-]?key|auth[_.-]?key|private[_.-]?key|credential|passw(?:or)?d|passwd|pwd)/i;
const PASSWORD_KEY = /(?:passw(?:or)?d|passwd|pwd|secret)$/i;
const PLACEHOLDER =
  /^(?:\$\{.*\}|\$\(.*\)|\{\{.*\}\}|<[^>]*>|%\(?\w*\)?s|\*+|x{3,}|\.{3,}|-+|null|none|nil|undefined|true|false)$|example|placeholder|changeme|change_me|your[_-]|dummy|sample|redacted|fake|xxxx|test/i;

export function scanSecrets(content: string, language: LanguageId, options: SecretScanOptions): SecretCandidate[] {
  const found: SecretCandidate[] = [];
  const allowed = (value: string): boolean => options.allow.some((re) => re.test(value));

  for (const pattern of FORMATS) {
    for (const match of content.matchAll(pattern.regex)) {
      const value = match[0];
      if ((pattern.accept && !pattern.accept(value)) || allowed(value)) continue;
      found.push({ ruleId: pattern.ruleId, start: match.index, end: match.index + value.length, what: pattern.what });
    }
  }

  for (const match of content.matchAll(PEM_HEADER)) {
    if (allowed(match[0])) continue;
    PEM_FOOTER.lastIndex = match.index;
    const footer = PEM_FOOTER.exec(content);
    const headerEnd = match.index + match[0].indexOf('-----', 5) + 5;
    const end = footer && footer.index - match.index < 20_000 ? footer.index + footer[0].length : headerEnd;
    const kind = (match[1] ?? '').trim();
    found.push({ ruleId: 'private-key', start: match.index, end, what: `${kind ? `${kind} ` : ''}private key` });
  }

  const assignments: Array<{ key: string; value: string; start: number }> = [];
  for (const match of content.matchAll(QUOTED_ASSIGNMENT)) {
    const key = match[2] ?? '';
    const value = match[4] ?? '';
    const valueStart = match.index + match[0].length - value.length - 1;
    assignments.push({ key, value, start: valueStart });
  }
  if (BARE_VALUE_LANGUAGES.has(language)) {
    for (const match of content.matchAll(BARE_ASSIGNMENT)) {
      const key = match[1] ?? '';
      const value = match[2] ?? '';
      assignments.push({ key, value, start: match.index + match[0].length - value.length });
    }
  }
  for (const { key, value, start } of assignments) {
    if (!SECRET_KEY.test(key) || /\s/.test(value) || PLACEHOLDER.test(value) || allowed(value)) continue;
    const end = start + value.length;
    if (looksRandom(value, options)) {
      found.push({ ruleId: 'generic-api-key', start, end, what: `high-entropy value assigned to "${key}"` });
    } else if (PASSWORD_KEY.test(key) && value.length >= 6) {
      found.push({ ruleId: 'hardcoded-password', start, end, what: `literal assigned to "${key}"` });
    }
  }
  return found;
}

/** Long, mixes letters and digits, and carries enough Shannon entropy per character. */
function looksRandom(value: string, options: SecretScanOptions): boolean {
  if (value.length < options.minSecretLength) return false;
  if (!/[A-Za-z]/.test(value) || !/\d/.test(value)) return false;
  if (/^(?:https?|file|s3|gs):\/\//i.test(value) || /^[./~]/.test(value)) return false;
  return shannonEntropy(value) >= options.entropyThreshold;
}

export function shannonEntropy(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}
