import type { SaveSettingsResult } from '../preload/api.js';
import type { BackendOverrides, ReconfigureResult } from './backend-protocol.js';
import { SettingsError, type SettingsService } from './settings.js';

export interface ApplySettingsDeps {
  settings: Pick<SettingsService, 'snapshot' | 'restore' | 'update' | 'backendOverrides'>;
  dataDir: string;
  reconfigure(overrides: BackendOverrides): Promise<{ result: ReconfigureResult | 'not-running'; message: string }>;
  /** Restarts the backend after the answer went back to the renderer (the window then reloads). */
  scheduleRestart(): void;
}

/**
 * Saving settings from the Settings dialog: validate and store, push to the running backend,
 * then restart it if some key needs that. Settings the backend refuses are rolled back, so the
 * next start does not fail on them.
 */
export async function saveAndApplySettings(deps: ApplySettingsDeps, update: unknown): Promise<SaveSettingsResult> {
  const previous = deps.settings.snapshot();
  let view;
  try {
    view = deps.settings.update(update);
  } catch (err) {
    if (err instanceof SettingsError) return { ok: false, message: err.message, field: err.field };
    throw err;
  }
  const outcome = await deps.reconfigure(deps.settings.backendOverrides(deps.dataDir));
  switch (outcome.result) {
    case 'applied':
      return { ok: true, applied: 'live', message: `Settings saved and applied (${outcome.message}).`, view };
    case 'not-running':
      return { ok: true, applied: 'saved', message: 'Settings saved; they apply when the backend starts.', view };
    case 'refused':
      deps.settings.restore(previous);
      return { ok: false, message: `Not saved: ${outcome.message}` };
    case 'restart-required':
      deps.scheduleRestart();
      return { ok: true, applied: 'restarted', message: `Settings saved; ${outcome.message}, so the backend restarts now.`, view };
  }
}
