import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { createRequire } from 'node:module';
import { defaults, fields, type Config, type ConfigKey, type FieldSpec } from './schema.js';
import { maskUrl } from './secrets.js';

/** Where a value came from, lowest precedence first. Named in every error message. */
export type ConfigSource = 'default' | 'config file' | '.env' | 'environment' | 'command line' | 'override';

export interface ConfigFlags {
  config?: string;
  debug?: boolean;
  logLevel?: string;
  logFormat?: string;
  port?: string | number;
  host?: string;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  flags?: ConfigFlags;
  /** Highest precedence; used by tests and by the desktop host to push settings. */
  overrides?: Partial<Record<ConfigKey, unknown>>;
}

export interface LoadedConfig {
  config: Config;
  sources: Record<string, ConfigSource>;
  configFile: string | undefined;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Raw = Partial<Record<ConfigKey, { value: unknown; source: ConfigSource }>>;

const envToKey = new Map<string, ConfigKey>(
  (Object.keys(fields) as ConfigKey[]).map((k) => [fields[k].env, k]),
);

function put(raw: Raw, key: ConfigKey, value: unknown, source: ConfigSource): void {
  if (value === undefined || value === '') return;
  raw[key] = { value, source };
}

function fromNamedRecord(raw: Raw, record: Record<string, unknown>, source: ConfigSource, file: string): void {
  for (const [name, value] of Object.entries(record)) {
    const key = (name in fields ? (name as ConfigKey) : envToKey.get(name)) ?? undefined;
    if (key === undefined) {
      if (source === 'config file') {
        throw new ConfigError(`${file}: unknown setting "${name}" (allowed: ${Object.keys(fields).join(', ')} or their environment names)`);
      }
      continue;
    }
    put(raw, key, value, source);
  }
}

// The YAML parser is loaded only when there is a config file: most starts have none, and it is a
// large module graph to load on every start.
const requireModule = createRequire(import.meta.url);
const parseYaml = (text: string): unknown => (requireModule('yaml') as typeof import('yaml')).parse(text);

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file} cannot be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must be a mapping of settings`);
  return parsed as Record<string, unknown>;
}

function describe(key: ConfigKey, source: ConfigSource): string {
  const spec = fields[key];
  return source === 'config file' || source === 'override' ? `${key} (${spec.env})` : spec.env;
}

function shown(key: ConfigKey, value: unknown): string {
  const spec: FieldSpec = fields[key];
  if (spec.secret === true) return '***';
  return typeof value === 'string' ? JSON.stringify(maskUrl(value)) : JSON.stringify(value);
}

/**
 * Merges defaults < config.yaml (or --config) < .env < environment < flags < overrides, validates
 * every key with the schema and fails on the first bad one with a message naming the key, the
 * source and what is allowed.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const flags = options.flags ?? {};
  const raw: Raw = {};

  const explicitFile = flags.config ?? env.ORCHESTRA_CONFIG;
  const configFile = explicitFile !== undefined ? path.resolve(cwd, explicitFile) : path.resolve(cwd, 'config.yaml');
  const haveFile = explicitFile !== undefined || existsSync(configFile);
  if (haveFile) fromNamedRecord(raw, readConfigFile(configFile), 'config file', configFile);

  const dotenvFile = path.resolve(cwd, '.env');
  if (existsSync(dotenvFile)) fromNamedRecord(raw, parseEnv(readFileSync(dotenvFile, 'utf8')), '.env', dotenvFile);

  for (const [name, key] of envToKey) put(raw, key, env[name], 'environment');

  // put() skips a flag that was not given.
  put(raw, 'apiPort', flags.port, 'command line');
  put(raw, 'host', flags.host, 'command line');
  put(raw, 'logFormat', flags.logFormat, 'command line');
  if (flags.logLevel !== undefined) put(raw, 'logLevel', flags.logLevel, 'command line');
  else if (flags.debug === true) put(raw, 'logLevel', 'debug', 'command line');

  for (const [k, v] of Object.entries(options.overrides ?? {})) put(raw, k as ConfigKey, v, 'override');

  const values: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const key of Object.keys(fields) as ConfigKey[]) {
    const entry = raw[key];
    if (entry === undefined) continue;
    const result = fields[key].schema.safeParse(entry.value);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new ConfigError(
        `invalid ${describe(key, entry.source)}=${shown(key, entry.value)} from ${entry.source}: expected ${issue?.message ?? 'a valid value'} (${fields[key].doc})`,
      );
    }
    values[key] = result.data;
    sources[key] = entry.source;
  }

  const merged = { ...defaults, ...values } as Record<string, unknown>;
  const dataDir = path.resolve(cwd, merged.dataDir as string);
  const apiPort = merged.apiPort as number;
  const config: Config = {
    ...(merged as unknown as Config),
    dataDir,
    apiToken: values.apiToken as string | undefined,
    llmBaseUrl: values.llmBaseUrl as string | undefined,
    llmApiKey: values.llmApiKey as string | undefined,
    llmModel: values.llmModel as string | undefined,
    governanceConfig: values.governanceConfig as string | undefined,
    databaseUrl: (values.databaseUrl as string | undefined) ?? `sqlite:///${path.join(dataDir, 'app.db')}`,
    websocketPort: (values.websocketPort as number | undefined) ?? apiPort,
  };
  for (const key of Object.keys(fields)) sources[key] ??= 'default';
  return { config, sources, configFile: haveFile ? configFile : undefined };
}

/** The config as it may be logged: secrets masked. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(fields) as ConfigKey[]) {
    const value = config[key];
    const spec: FieldSpec = fields[key];
    if (value === undefined) continue;
    out[key] = spec.secret === true ? '***' : typeof value === 'string' ? maskUrl(value) : value;
  }
  return out;
}
