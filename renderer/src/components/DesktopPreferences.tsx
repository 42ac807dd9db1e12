import { useEffect, useState } from 'react';
import type { DesktopSettings, OrchestraBridge } from '../../../preload/api.js';

/**
 * Preferences that belong to the desktop shell, not to the server: reply notifications and the
 * update feed. They live in main's settings store (through the bridge), so they show only inside
 * the desktop app, below the server settings that every client shares.
 */
export function DesktopPreferences({ bridge }: { bridge: OrchestraBridge }) {
  const [prefs, setPrefs] = useState<Pick<DesktopSettings, 'notifyOnReply' | 'updateUrl'> | null>(null);
  const [updateUrl, setUpdateUrl] = useState('');
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    bridge.getSettings().then(
      (view) => {
        setPrefs({ notifyOnReply: view.settings.notifyOnReply, updateUrl: view.settings.updateUrl });
        setUpdateUrl(view.settings.updateUrl);
      },
      (err: unknown) => setNote(`Could not read the desktop preferences: ${err instanceof Error ? err.message : String(err)}`),
    );
  }, [bridge]);

  const save = (patch: Partial<DesktopSettings>): void => {
    bridge.saveSettings({ settings: patch }).then(
      (result) => {
        setPrefs((p) => (p ? { ...p, ...patch } : p));
        setNote(result.ok ? 'Saved.' : result.message);
      },
      (err: unknown) => setNote(err instanceof Error ? err.message : String(err)),
    );
  };

  if (prefs === null) return note ? <p className="muted small">{note}</p> : null;
  return (
    <section className="settings-form" aria-labelledby="desktop-prefs-title" data-testid="desktop-preferences">
      <h3 id="desktop-prefs-title">This desktop app</h3>
      <label className="field field-inline">
        <input
          type="checkbox"
          data-testid="setting-notify-on-reply"
          checked={prefs.notifyOnReply}
          onChange={(e) => save({ notifyOnReply: e.target.checked })}
        />
        <span>Notify me when a reply finishes while Orchestra is in the background</span>
      </label>
      <div className="field">
        <label htmlFor="setting-update-url">Update URL</label>
        <input
          id="setting-update-url"
          data-testid="setting-update-url"
          type="url"
          placeholder="no update checks"
          value={updateUrl}
          onChange={(e) => setUpdateUrl(e.target.value)}
          onBlur={() => {
            if (updateUrl !== prefs.updateUrl) save({ updateUrl });
          }}
        />
        <small className="muted">A web folder that serves the installers and latest*.yml from npm run dist; empty turns update checks off.</small>
      </div>
      {note ? (
        <p className="muted small" role="status">
          {note}
        </p>
      ) : null}
    </section>
  );
}
