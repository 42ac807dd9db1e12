/**
 * Messages between the Electron main process and the backend utility process. Both sides parse
 * what they receive with the guards below, so a malformed message is ignored, never trusted.
 */

/** Config overrides in the backend's own key names (see backend/config/schema.ts). */
export type BackendOverrides = Record<string, string | number | boolean>;

export type HostToBackend =
  /** Start the server with these overrides (they win over env, .env and config.yaml). */
  | { type: 'start'; overrides: BackendOverrides }
  /** Apply changed settings to the running server. */
  | { type: 'reconfigure'; overrides: BackendOverrides }
  /** Close the server in order, then exit. */
  | { type: 'shutdown' };

export type ReconfigureResult = 'applied' | 'restart-required' | 'refused';

export type BackendToHost =
  | { type: 'server-started'; url: string; token: string }
  | { type: 'server-failed'; message: string }
  /**
   * Answer to `reconfigure`: everything took effect, some keys need a restart, or the settings
   * were refused (invalid for the backend's schema: a restart would not start either).
   */
  | { type: 'reconfigured'; result: ReconfigureResult; message: string }
  | { type: 'stopped' };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isOverrides(v: unknown): v is BackendOverrides {
  return isRecord(v) && Object.values(v).every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean');
}

export function parseHostMessage(v: unknown): HostToBackend | undefined {
  if (!isRecord(v)) return undefined;
  switch (v.type) {
    case 'start':
    case 'reconfigure':
      return isOverrides(v.overrides) ? { type: v.type, overrides: v.overrides } : undefined;
    case 'shutdown':
      return { type: 'shutdown' };
    default:
      return undefined;
  }
}

export function parseBackendMessage(v: unknown): BackendToHost | undefined {
  if (!isRecord(v)) return undefined;
  switch (v.type) {
    case 'server-started':
      return typeof v.url === 'string' && typeof v.token === 'string' ? { type: 'server-started', url: v.url, token: v.token } : undefined;
    case 'server-failed':
      return typeof v.message === 'string' ? { type: 'server-failed', message: v.message } : undefined;
    case 'reconfigured':
      return (v.result === 'applied' || v.result === 'restart-required' || v.result === 'refused') && typeof v.message === 'string'
        ? { type: 'reconfigured', result: v.result, message: v.message }
        : undefined;
    case 'stopped':
      return { type: 'stopped' };
    default:
      return undefined;
  }
}
