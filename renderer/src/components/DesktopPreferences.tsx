import { useEffect, useState, type FormEvent } from 'react';
import type { DesktopSettings, OrchestraBridge, SecretName, SettingsUpdate, SettingsView } from '../../../preload/api.js';

/**
 * The settings the desktop shell keeps (electron-store, secrets through the OS keychain) and
 * pushes to the backend it hosts: the provider, the database, the cache, logging, reply
 * notifications and the update feed. They show only inside the desktop app, below the server
 * settings that every client shares.
 */
const FIELDS: Array<{ key: 'llmBaseUrl' | 'llmModel' | 'databaseUrl' | 'redisUrl' | 'updateUrl'; label: string; placeholder: string; help: string }> = [
  { key: 'llmBaseUrl', label: 'Model provider URL', placeholder: 'http://127.0.0.1:11434/v1', help: 'LLM_BASE_URL — empty probes Ollama and LM Studio on this machine.' },
  { key: 'llmModel', label: 'Default model', placeholder: "the provider's first model", help: 'LLM_MODEL' },
  { key: 'databaseUrl', label: 'Database URL', placeholder: 'SQLite in the app data folder', help: 'DATABASE_URL — postgres://user@host/db for a shared PostgreSQL.' },
  { key: 'redisUrl', label: 'Redis URL', placeholder: 'in-memory cache', help: 'REDIS_URL — redis://host:6379 for a shared cache.' },
  {
    key: 'updateUrl',
    label: 'Update URL',
    placeholder: 'no update checks',
    help: 'A web folder that serves the installers and latest*.yml from npm run dist; empty turns update checks off.',
  },
];

const SECRETS: Array<{ key: SecretName; label: string }> = [
  { key: 'llmApiKey', label: 'Provider API key' },
  { key: 'databasePassword', label: 'Database password' },
];

export function DesktopPreferences({ bridge }: { bridge: OrchestraBridge }) {
  const [view, setView] = useState<SettingsView | null>(null);
  const [draft, setDraft] = useState<DesktopSettings | null>(null);
  const [secrets, setSecrets] = useState<Partial<Record<SecretName, string | null>>>({});
  const [message, setMessage] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    bridge.getSettings().then(
      (v) => {
        setView(v);
        setDraft(v.settings);
      },
      (err: unknown) => setMessage({ tone: 'error', text: `Could not read the desktop settings: ${err instanceof Error ? err.message : String(err)}` }),
    );
  }, [bridge]);

  const save = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (!draft) return;
    setBusy(true);
    const update: SettingsUpdate = { settings: draft, secrets };
    try {
      const result = await bridge.saveSettings(update);
      if (result.ok) {
        setView(result.view);
        setDraft(result.view.settings);
        setSecrets({});
      }
      setMessage({ tone: result.ok ? 'ok' : 'error', text: result.message });
    } catch (err) {
      setMessage({ tone: 'error', text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };

  if (draft === null || view === null) return message ? <p className="muted small">{message.text}</p> : null;
  return (
    <form onSubmit={(e) => void save(e)} className="settings-form" aria-labelledby="desktop-prefs-title" data-testid="desktop-preferences">
      <h3 id="desktop-prefs-title">This desktop app</h3>
      {FIELDS.map((f) => (
        <label key={f.key} className="field">
          <span>{f.label}</span>
          <input value={draft[f.key]} placeholder={f.placeholder} spellCheck={false} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })} />
          <small className="muted">{f.help}</small>
        </label>
      ))}
      <label className="field">
        <span>Log level</span>
        <select value={draft.logLevel} onChange={(e) => setDraft({ ...draft, logLevel: e.target.value as DesktopSettings['logLevel'] })}>
          {(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const).map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
      </label>
      <label className="field field-inline">
        <input
          type="checkbox"
          data-testid="setting-notify-on-reply"
          checked={draft.notifyOnReply}
          onChange={(e) => setDraft({ ...draft, notifyOnReply: e.target.checked })}
        />
        <span>Notify me when a reply finishes while Orchestra is in the background</span>
      </label>
      {SECRETS.map((s) => (
        <label key={s.key} className="field">
          <span>
            {s.label} {view.secrets[s.key].set ? <em className="muted">(set)</em> : null}
          </span>
          <input
            type="password"
            autoComplete="off"
            disabled={!view.encryptionAvailable}
            placeholder={view.secrets[s.key].set ? 'leave empty to keep the stored value' : 'not set'}
            value={secrets[s.key] ?? ''}
            onChange={(e) => setSecrets({ ...secrets, [s.key]: e.target.value === '' ? undefined : e.target.value })}
          />
          {view.secrets[s.key].set ? (
            <button type="button" className="link-button" onClick={() => setSecrets({ ...secrets, [s.key]: null })}>
              {secrets[s.key] === null ? 'will be cleared on save' : 'clear stored value'}
            </button>
          ) : null}
        </label>
      ))}
      {!view.encryptionAvailable ? (
        <p className="notice notice-warn small">The OS keychain is not available, so secrets cannot be stored; use environment variables instead.</p>
      ) : (
        <p className="muted small">Secrets are encrypted with the OS keychain and never shown again.</p>
      )}
      {message ? (
        <p className={`notice ${message.tone === 'ok' ? 'notice-ok' : 'notice-error'} small`} role="status">
          {message.text}
        </p>
      ) : null}
      <button type="submit" className="button primary" data-testid="desktop-settings-save" disabled={busy}>
        {busy ? 'Saving…' : 'Save desktop settings'}
      </button>
    </form>
  );
}
