import { useEffect, useState, type FormEvent } from 'react';
import type { DesktopSettings, OrchestraBridge, SecretName, SettingsUpdate, SettingsView } from '../../../preload/api.js';
import { CloseIcon } from './Icons.js';

const FIELDS: Array<{ key: Exclude<keyof DesktopSettings, 'logLevel' | 'notifyOnReply'>; label: string; placeholder: string; help: string }> = [
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

/** Desktop settings (only in the Electron app, through the preload bridge). */
export function SettingsDialog({ bridge, onClose }: { bridge: OrchestraBridge; onClose: () => void }) {
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
      (err: unknown) => setMessage({ tone: 'error', text: `Could not read the settings: ${(err as Error).message}` }),
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
        setMessage({ tone: 'ok', text: result.message });
      } else {
        setMessage({ tone: 'error', text: result.message });
      }
    } catch (err) {
      setMessage({ tone: 'error', text: (err as Error).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" role="presentation" onClick={onClose}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="settings-title" data-testid="settings-dialog" onClick={(e) => e.stopPropagation()}>
        <header className="modal-header">
          <h3 id="settings-title">Settings</h3>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
            <CloseIcon />
          </button>
        </header>
        {draft === null || view === null ? (
          <p className="muted">{message?.text ?? 'Loading…'}</p>
        ) : (
          <form onSubmit={(e) => void save(e)} className="settings-form">
            {FIELDS.map((f) => (
              <label key={f.key} className="field">
                <span>{f.label}</span>
                <input
                  value={draft[f.key]}
                  placeholder={f.placeholder}
                  spellCheck={false}
                  onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
                />
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
            {message ? <p className={`notice ${message.tone === 'ok' ? 'notice-ok' : 'notice-error'} small`}>{message.text}</p> : null}
            <footer className="modal-footer">
              <span className="muted small">Orchestra {bridge.version}</span>
              <button type="button" className="button" onClick={onClose}>
                Close
              </button>
              <button type="submit" className="button primary" disabled={busy}>
                {busy ? 'Saving…' : 'Save'}
              </button>
            </footer>
          </form>
        )}
      </div>
    </div>
  );
}
