/**
 * The lines `orchestra serve` prints once it is ready: where it listens, how to pair a browser,
 * which model provider it uses (or the one-line fix when there is none), the database and the
 * cache. It never shows a secret: URLs are masked and the token stays in its file.
 */
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { maskUrl } from '../config/secrets.js';
import type { ProviderStatus } from '../providers/registry.js';

export interface BannerInput {
  config: Config;
  url: string;
  wsUrl: string;
  /** The one-time pairing link (or how to get one), on a line of its own; never a token. */
  pairing: string;
  provider: ProviderStatus;
  logFile: string | undefined;
  exposed: boolean;
}

export const NO_PROVIDER_FIX = 'set LLM_BASE_URL (e.g. LLM_BASE_URL=http://127.0.0.1:11434/v1 for Ollama), or start Ollama or LM Studio';

export function describeProvider(p: ProviderStatus): string {
  if (p.baseUrl === null || (p.source === 'none' && p.status !== 'up')) return `no model provider found; ${NO_PROVIDER_FIX}`;
  const how = p.source === 'probed' ? 'found locally' : 'LLM_BASE_URL';
  const model = p.model !== null ? `${p.model} at ` : '';
  const down = p.status === 'down' ? ' — not answering now' : '';
  return `${model}${maskUrl(p.baseUrl)} (${how})${down}`;
}

export function describeDatabase(databaseUrl: string): string {
  // sqlite:///relative/or/absolute: the path is what follows the third slash.
  if (databaseUrl.startsWith('sqlite://')) return `SQLite ${databaseUrl.replace(/^sqlite:\/\/\/?/, '')}`;
  return `PostgreSQL ${maskUrl(databaseUrl)} (local-first: SQLite outbox when it is down)`;
}

export function describeCache(redisUrl: string): string {
  return redisUrl.startsWith('memory://') ? 'in memory' : `in memory + Redis ${maskUrl(redisUrl)}`;
}

export function banner(b: BannerInput): string {
  const { config } = b;
  const token = config.apiToken !== undefined ? 'from API_TOKEN' : `stored in ${path.join(config.dataDir, 'api-token')}`;
  return [
    `Orchestra ${b.url} is ready${b.exposed ? ` (exposed on ${config.host}; a credential is required)` : ''}`,
    `  pair a browser:  ${b.pairing}`,
    `  API token:       ${token}`,
    `  provider:        ${describeProvider(b.provider)}`,
    `  database:        ${describeDatabase(config.databaseUrl)}`,
    `  cache:           ${describeCache(config.redisUrl)}`,
    `  Socket.IO:       ${b.wsUrl}/ws`,
    `  logs:            ${b.logFile ?? 'console only'}${config.logFormat === 'pretty' ? ` (console: ${consoleNote(config.logLevel)})` : ''}`,
    '',
  ].join('\n');
}

function consoleNote(level: Config['logLevel']): string {
  return level === 'debug' || level === 'trace' ? `everything at ${level}` : 'warnings and errors; --log-level debug for more';
}
