import { z } from 'zod';

/**
 * The one configuration schema. Every key carries its environment name, a doc line and a default,
 * so the loader, the error messages and the README table all come from the same place.
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0));
const databaseUrl = z
  .string()
  .refine((v) => /^(sqlite:\/\/|postgres(ql)?:\/\/)/.test(v), 'a sqlite:///path or postgres://… URL');
const redisUrl = z.string().refine((v) => /^(memory:\/\/|rediss?:\/\/)/.test(v), 'memory:// or a redis:// / rediss:// URL');
const httpUrl = z.string().url().refine((v) => /^https?:\/\//.test(v), 'an http(s):// URL');
// Levels are read in any case: `--log-level DEBUG` and `LOG_LEVEL=Warn` mean what they say.
const logLevel = z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(LOG_LEVELS));
const logFormat = z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(['pretty', 'json']));
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

export interface FieldSpec {
  env: string;
  doc: string;
  schema: z.ZodType;
  /** Shown in docs; the actual default is applied by the loader (some depend on other keys). */
  defaultDoc: string;
  secret?: boolean;
}

export const fields = {
  databaseUrl: { env: 'DATABASE_URL', doc: 'sqlite:///path or postgres://… URL', schema: databaseUrl, defaultDoc: 'sqlite:///<DATA_DIR>/app.db' },
  redisUrl: { env: 'REDIS_URL', doc: 'memory:// or redis://… for the shared L2 cache and Socket.IO fan-out', schema: redisUrl, defaultDoc: 'memory://' },
  apiPort: { env: 'API_PORT', doc: 'HTTP port (0 picks a free one)', schema: port, defaultDoc: '8000' },
  websocketPort: { env: 'WEBSOCKET_PORT', doc: 'Socket.IO port; a different value gives Socket.IO its own listener', schema: port, defaultDoc: 'same as API_PORT' },
  host: { env: 'HOST', doc: 'bind address; anything but loopback exposes the server on the network', schema: z.string().min(1), defaultDoc: '127.0.0.1' },
  dataDir: { env: 'DATA_DIR', doc: 'database, logs and token', schema: z.string().min(1), defaultDoc: './data' },
  logLevel: { env: 'LOG_LEVEL', doc: 'trace, debug, info, warn, error, fatal or silent (any case)', schema: logLevel, defaultDoc: 'info' },
  logFormat: { env: 'LOG_FORMAT', doc: 'console output: pretty (the banner, then warnings and errors) or json (every log line, for services)', schema: logFormat, defaultDoc: 'pretty' },
  logToFile: { env: 'LOG_TO_FILE', doc: 'also write logs to <DATA_DIR>/logs/backend.log (rotated)', schema: bool, defaultDoc: 'true' },
  apiToken: { env: 'API_TOKEN', doc: 'access token for /api and Socket.IO', schema: z.string().min(16, 'at least 16 characters'), defaultDoc: 'generated once, stored in DATA_DIR (0600)', secret: true },
  circuitBreakerThreshold: { env: 'CIRCUIT_BREAKER_THRESHOLD', doc: 'consecutive failures before a breaker opens', schema: positiveInt, defaultDoc: '5' },
  circuitBreakerResetMs: { env: 'CIRCUIT_BREAKER_RESET_MS', doc: 'how long an open breaker waits before one probe, ms', schema: positiveInt, defaultDoc: '10000' },
  cacheTtlSeconds: { env: 'CACHE_TTL', doc: 'cache time-to-live, seconds', schema: positiveInt, defaultDoc: '300' },
  cacheMaxEntries: { env: 'CACHE_MAX_ENTRIES', doc: 'most entries kept in the in-memory cache (L1)', schema: positiveInt, defaultDoc: '5000' },
  cacheMaxBytes: { env: 'CACHE_MAX_BYTES', doc: 'most bytes kept in the in-memory cache (L1), estimated', schema: positiveInt, defaultDoc: '33554432 (32 MiB)' },
  redisCommandTimeoutMs: { env: 'REDIS_COMMAND_TIMEOUT_MS', doc: 'longest wait for one Redis command, ms; a request never waits longer on Redis', schema: positiveInt, defaultDoc: '250' },
  cacheInvalidationTimeoutMs: { env: 'CACHE_INVALIDATION_TIMEOUT_MS', doc: 'longest a write waits for every other instance to confirm it dropped its cached copies, ms', schema: positiveInt, defaultDoc: '1000' },
  llmBaseUrl: { env: 'LLM_BASE_URL', doc: 'OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1', schema: httpUrl, defaultDoc: 'probe local Ollama and LM Studio' },
  llmApiKey: { env: 'LLM_API_KEY', doc: 'API key sent as a bearer token to the provider', schema: z.string().min(1), defaultDoc: 'none', secret: true },
  llmModel: { env: 'LLM_MODEL', doc: 'model used when a request names none', schema: z.string().min(1), defaultDoc: "the provider's first model" },
  providerConnectTimeoutMs: { env: 'PROVIDER_CONNECT_TIMEOUT_MS', doc: 'provider connect timeout, ms', schema: positiveInt, defaultDoc: '5000' },
  providerIdleTimeoutMs: { env: 'PROVIDER_IDLE_TIMEOUT_MS', doc: 'longest silence inside a reply stream, ms', schema: positiveInt, defaultDoc: '30000' },
  governanceConfig: { env: 'GOVERNANCE_CONFIG', doc: 'governance rules file', schema: z.string().min(1), defaultDoc: 'governance/config.yaml, else the default pack' },
  corsOrigins: { env: 'CORS_ORIGINS', doc: 'comma-separated origins allowed to call the API from a browser', schema: list, defaultDoc: 'none (same origin only)' },
  allowedHosts: { env: 'ALLOWED_HOSTS', doc: 'extra Host header values accepted (DNS-rebinding guard)', schema: list, defaultDoc: 'loopback names, plus interface addresses when exposed' },
  bodyLimitBytes: { env: 'BODY_LIMIT_BYTES', doc: 'largest accepted request body, bytes', schema: positiveInt, defaultDoc: '1048576' },
  rateLimitPerMinute: { env: 'RATE_LIMIT_PER_MINUTE', doc: 'requests and Socket.IO events per minute per non-loopback client', schema: positiveInt, defaultDoc: '600' },
  maxConcurrentChats: { env: 'MAX_CONCURRENT_CHATS', doc: 'most replies generated at once on this instance', schema: positiveInt, defaultDoc: '64' },
  maxConcurrentChatsPerClient: { env: 'MAX_CONCURRENT_CHATS_PER_CLIENT', doc: 'most replies generated at once per credential (the owner token is exempt)', schema: positiveInt, defaultDoc: '8' },
  shutdownTimeoutMs: { env: 'SHUTDOWN_TIMEOUT_MS', doc: 'time limit for each shutdown step, ms', schema: positiveInt, defaultDoc: '5000' },
  shutdownHardLimitMs: { env: 'SHUTDOWN_HARD_LIMIT_MS', doc: 'time after the first signal at which `orchestra serve` exits with code 1 even if a shutdown step still hangs, ms', schema: positiveInt, defaultDoc: '3 × SHUTDOWN_TIMEOUT_MS' },
  dbQueryTimeoutMs: { env: 'DB_QUERY_TIMEOUT_MS', doc: 'PostgreSQL statement/query timeout, ms (kept below the breaker timeout)', schema: positiveInt, defaultDoc: '2000' },
  dbConnectTimeoutMs: { env: 'DB_CONNECT_TIMEOUT_MS', doc: 'PostgreSQL connect timeout, ms', schema: positiveInt, defaultDoc: '2000' },
  dbBreakerTimeoutMs: { env: 'DB_BREAKER_TIMEOUT_MS', doc: 'time limit of one PostgreSQL call through its breaker, ms (above the query and connect timeouts)', schema: positiveInt, defaultDoc: 'DB_CONNECT_TIMEOUT_MS + DB_QUERY_TIMEOUT_MS + 500' },
  gatewayBlockOnFail: { env: 'GATEWAY_BLOCK_ON_FAIL', doc: 'the OpenAI-compatible gateway (/v1) refuses a reply whose code fails validation', schema: bool, defaultDoc: 'false' },
  dbPullIntervalMs: { env: 'DB_PULL_INTERVAL_MS', doc: 'how often rows written by other instances are pulled from PostgreSQL, ms', schema: positiveInt, defaultDoc: '5000' },
  governanceTimeoutMs: { env: 'GOVERNANCE_TIMEOUT_MS', doc: 'time limit of one validation, ms; past it the verdict is `error` with a `governance-timeout` finding', schema: positiveInt, defaultDoc: '10000' },
  governanceThreads: { env: 'GOVERNANCE_THREADS', doc: 'most worker threads validating code', schema: positiveInt, defaultDoc: 'cores - 1 (1 to 4)' },
  headersTimeoutMs: { env: 'HEADERS_TIMEOUT_MS', doc: 'a connection must send complete request headers within this, ms (slow-header attacks)', schema: positiveInt, defaultDoc: '10000' },
  requestTimeoutMs: { env: 'REQUEST_TIMEOUT_MS', doc: 'a request body must arrive within this, ms (responses such as SSE streams are not limited)', schema: positiveInt, defaultDoc: '30000' },
  maxConnections: { env: 'MAX_CONNECTIONS', doc: 'most open connections per listener; more are refused', schema: positiveInt, defaultDoc: '2048' },
  tlsCertFile: { env: 'TLS_CERT_FILE', doc: 'PEM certificate (chain); with TLS_KEY_FILE the server speaks HTTPS and WSS', schema: z.string().min(1), defaultDoc: 'none (plain HTTP)' },
  tlsKeyFile: { env: 'TLS_KEY_FILE', doc: 'PEM private key for TLS_CERT_FILE', schema: z.string().min(1), defaultDoc: 'none' },
  trustProxy: { env: 'TRUST_PROXY', doc: 'take the client address from X-Forwarded-For (only behind your own reverse proxy)', schema: bool, defaultDoc: 'false' },
} satisfies Record<string, FieldSpec>;

export type ConfigKey = keyof typeof fields;

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  apiPort: number;
  websocketPort: number;
  host: string;
  dataDir: string;
  logLevel: LogLevel;
  logFormat: 'pretty' | 'json';
  logToFile: boolean;
  apiToken: string | undefined;
  circuitBreakerThreshold: number;
  circuitBreakerResetMs: number;
  cacheTtlSeconds: number;
  cacheMaxEntries: number;
  cacheMaxBytes: number;
  redisCommandTimeoutMs: number;
  cacheInvalidationTimeoutMs: number;
  llmBaseUrl: string | undefined;
  llmApiKey: string | undefined;
  llmModel: string | undefined;
  providerConnectTimeoutMs: number;
  providerIdleTimeoutMs: number;
  governanceConfig: string | undefined;
  corsOrigins: string[];
  allowedHosts: string[];
  bodyLimitBytes: number;
  rateLimitPerMinute: number;
  maxConcurrentChats: number;
  maxConcurrentChatsPerClient: number;
  shutdownTimeoutMs: number;
  /** Undefined means 3 × SHUTDOWN_TIMEOUT_MS. */
  shutdownHardLimitMs: number | undefined;
  dbQueryTimeoutMs: number;
  dbConnectTimeoutMs: number;
  /** Undefined means DB_CONNECT_TIMEOUT_MS + DB_QUERY_TIMEOUT_MS + 500. */
  dbBreakerTimeoutMs: number | undefined;
  dbPullIntervalMs: number;
  governanceTimeoutMs: number;
  /** Undefined picks from the core count. */
  governanceThreads: number | undefined;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  trustProxy: boolean;
  gatewayBlockOnFail: boolean;
}

export const defaults = {
  redisUrl: 'memory://',
  apiPort: 8000,
  host: '127.0.0.1',
  dataDir: './data',
  logLevel: 'info',
  logFormat: 'pretty',
  logToFile: true,
  circuitBreakerThreshold: 5,
  circuitBreakerResetMs: 10_000,
  cacheTtlSeconds: 300,
  cacheMaxEntries: 5000,
  cacheMaxBytes: 32 * 1024 * 1024,
  redisCommandTimeoutMs: 250,
  cacheInvalidationTimeoutMs: 1000,
  providerConnectTimeoutMs: 5000,
  providerIdleTimeoutMs: 30_000,
  corsOrigins: [],
  allowedHosts: [],
  bodyLimitBytes: 1024 * 1024,
  rateLimitPerMinute: 600,
  maxConcurrentChats: 64,
  maxConcurrentChatsPerClient: 8,
  shutdownTimeoutMs: 5000,
  dbQueryTimeoutMs: 2000,
  dbConnectTimeoutMs: 2000,
  dbPullIntervalMs: 5000,
  governanceTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 2048,
  trustProxy: false,
  gatewayBlockOnFail: false,
} satisfies Partial<Config>;
