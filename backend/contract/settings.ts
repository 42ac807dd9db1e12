/**
 * `GET /api/settings` and `PATCH /api/settings`: the settings the running server can change, each
 * with where its value comes from. Keys are the config schema's camelCase names.
 */

/** The settings the API reads and changes; every other setting stays with the environment and files. */
export const SETTING_KEYS = ['llmBaseUrl', 'llmApiKey', 'llmModel', 'databaseUrl', 'redisUrl', 'corsOrigins'] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/**
 * Where a value comes from, lowest precedence first: `default` < `file` (config.yaml, or the
 * desktop app's own preferences) < `stored` (saved through this API) < `env` (.env or the
 * environment) < `flag` (the command line). `env` and `flag` values are locked.
 */
export type SettingSource = 'default' | 'file' | 'env' | 'flag' | 'stored';

/** A secret (the provider API key) is never returned, only whether it is set. */
export interface SecretValue {
  set: boolean;
}

/**
 * One setting: its value (URLs with their passwords masked as `***`, a secret as `{set}`,
 * `null` when unset, the origin list as an array), its source, and whether the API may change it.
 */
export interface SettingEntry {
  value: string | string[] | SecretValue | null;
  source: SettingSource;
  locked: boolean;
}

export interface SettingsBody {
  settings: Record<SettingKey, SettingEntry>;
}

/** `PATCH /api/settings`: the new settings, plus which changed keys took effect now and which after a restart. */
export interface SettingsUpdateBody extends SettingsBody {
  applied: string[];
  restartRequired: string[];
}
