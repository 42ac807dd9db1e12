/**
 * What a person sees in the terminal. The log file keeps every JSON line at the configured level;
 * the console (format `pretty`) shows warnings and errors only, as short readable lines, unless
 * the level is `debug` or `trace`, when it shows all of it (request lines included). Format
 * `json` writes the same JSON lines as the file, for services that collect stdout.
 */
import type { LogLevel } from '../config/schema.js';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** The lowest level the console shows in the pretty format. */
export function consoleThreshold(level: LogLevel): number {
  const value = VALUES[level] ?? 30;
  return value <= VALUES.debug! ? value : Math.max(value, VALUES.warn!);
}

/** The level of a pino line, read without parsing it: `"level"` is the first key pino writes. */
export function levelOf(line: string): number {
  const prefix = '{"level":"';
  if (!line.startsWith(prefix)) return VALUES.info!;
  const end = line.indexOf('"', prefix.length);
  return VALUES[line.slice(prefix.length, end)] ?? VALUES.info!;
}

// The config dump stays in the file: on the console it would bury the banner.
const OMIT = new Set(['level', 'time', 'pid', 'msg', 'hostname', 'config']);

const value = (v: unknown): string => (typeof v === 'string' ? (/\s/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v));

/** `12:04:05 WARN  breaker redis is open  breaker=redis lastError="connect ECONNREFUSED"` */
export function prettyLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof record.time === 'string' ? record.time.slice(11, 19) : '';
  const level = (typeof record.level === 'string' ? record.level : 'info').toUpperCase().padEnd(5);
  const fields = Object.entries(record)
    .filter(([k, v]) => !OMIT.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
  return `${time} ${level} ${typeof record.msg === 'string' ? record.msg : ''}${fields === '' ? '' : `  ${fields}`}\n`;
}

/** A console sink for the logger: decides per line whether and how it is shown. */
export function consoleSink(format: LogFormat, level: LogLevel, out: { write(line: string): unknown }): (line: string) => void {
  if (format === 'json') return (line) => void out.write(line);
  const threshold = consoleThreshold(level);
  return (line) => {
    if (levelOf(line) >= threshold) out.write(prettyLine(line));
  };
}
