import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, fromText, readSettings } from '../lib/api.js';
import type { SettingEntry } from '../lib/contract.js';
import type { OrchestraBridge } from '../../../preload/api.js';
import { DesktopPreferences } from './DesktopPreferences.js';
import { CloseIcon } from './Icons.js';

/**
 * The admin settings, over GET/PATCH /api/settings: the same component in a browser and in the
 * desktop app. Each value shows where it comes from; one fixed by the environment or a flag is
 * locked and cannot be changed here. Secrets are never shown, only whether they are set.
 */

const KNOWN: Record<string, { label: string; help: string; placeholder?: string }> = {
  llmBaseUrl: { label: 'Model provider URL', help: 'LLM_BASE_URL — empty probes Ollama and LM Studio on this machine.', placeholder: 'http://127.0.0.1:11434/v1' },
  llmApiKey: { label: 'Provider API key', help: 'LLM_API_KEY' },
  llmModel: { label: 'Default model', help: 'LLM_MODEL', placeholder: "the provider's first model" },
  databaseUrl: { label: 'Database URL', help: 'DATABASE_URL — postgres://user@host/db for a shared PostgreSQL.' },
  redisUrl: { label: 'Redis URL', help: 'REDIS_URL — redis://host:6379 for a shared cache.' },
  corsOrigins: { label: 'Allowed origins', help: 'CORS_ORIGINS — comma-separated.' },
};
const ENV_NAMES: Record<string, string> = {
  LLM_BASE_URL: 'llmBaseUrl',
  LLM_API_KEY: 'llmApiKey',
  LLM_MODEL: 'llmModel',
  DATABASE_URL: 'databaseUrl',
  REDIS_URL: 'redisUrl',
  CORS_ORIGINS: 'corsOrigins',
};

const isSecret = (v: unknown): v is { set: boolean } => typeof v === 'object' && v !== null && !Array.isArray(v) && 'set' in v;
const asText = (v: unknown): string => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join(', ') : typeof v === 'string' ? v : JSON.stringify(v));
const describe = (key: string) => KNOWN[ENV_NAMES[key] ?? key] ?? { label: key, help: '' };

export function SettingsDialog({ onClose, version, bridge }: { onClose: () => void; version?: string | undefined; bridge?: OrchestraBridge | null | undefined }) {
  const [entries, setEntries] = useState<Record<string, SettingEntry> | null>(null);
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLButtonElement>(null);

  const load = (): void => {
    api.settings().then(
      (body) => {
        setEntries(readSettings(body));
        setDraft({});
      },
      (err: unknown) =>
        setMessage({
          tone: 'error',
          text:
            err instanceof ApiError && err.status === 403
              ? 'Only an admin credential can change settings.'
              : `Could not read the settings: ${err instanceof Error ? err.message : String(err)}`,
        }),
    );
  };
  useEffect(load, []);
  useEffect(() => first.current?.focus(), []);

  const save = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (!entries) return;
    const patch: Record<string, unknown> = {};
    for (const [key, text] of Object.entries(draft)) {
      const entry = entries[key];
      if (!entry || entry.locked) continue;
      if (isSecret(entry.value)) {
        if (text !== '') patch[key] = text;
      } else if (text !== asText(entry.value)) {
        patch[key] = fromText(text, entry.value);
      }
    }
    if (Object.keys(patch).length === 0) {
      setMessage({ tone: 'ok', text: 'Nothing changed.' });
      return;
    }
    setBusy(true);
    try {
      await api.saveSettings(patch);
      setMessage({ tone: 'ok', text: 'Saved and applied.' });
      load();
    } catch (err) {
      const text =
        err instanceof ApiError && err.code === 'setting-locked'
          ? `That value is fixed by the environment or a flag: ${err.message}`
          : err instanceof Error
            ? err.message
            : String(err);
      setMessage({ tone: 'error', text });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" role="presentation" onClick={onClose}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="settings-title" data-testid="settings-dialog" onClick={(e) => e.stopPropagation()}>
        <header className="modal-header">
          <h2 id="settings-title">Settings</h2>
          <button ref={first} type="button" className="icon-button" aria-label="Close settings" onClick={onClose}>
            <CloseIcon />
          </button>
        </header>
        {entries === null ? (
          <p className="muted" role={message ? 'alert' : undefined} data-testid="settings-message">
            {message?.text ?? 'Loading…'}
          </p>
        ) : (
          <form onSubmit={(e) => void save(e)} className="settings-form">
            {Object.entries(entries).map(([key, entry]) => {
              const d = describe(key);
              const secret = isSecret(entry.value);
              const id = `setting-${key}`;
              return (
                <div key={key} className="field" data-testid="setting" data-key={key} data-locked={entry.locked ? 'true' : 'false'}>
                  <label htmlFor={id}>
                    {d.label}{' '}
                    <span className="chip" data-testid="setting-source">
                      {entry.source}
                    </span>
                    {entry.locked ? (
                      <span className="chip chip-locked" data-testid="setting-locked" title="Set by the environment or a command-line flag">
                        locked
                      </span>
                    ) : null}
                  </label>
                  <input
                    id={id}
                    data-testid={id}
                    type={secret ? 'password' : 'text'}
                    autoComplete="off"
                    spellCheck={false}
                    readOnly={entry.locked}
                    aria-readonly={entry.locked}
                    placeholder={secret ? (isSecret(entry.value) && entry.value.set ? 'set — leave empty to keep it' : 'not set') : d.placeholder}
                    value={draft[key] ?? (secret ? '' : asText(entry.value))}
                    onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
                  />
                  {d.help ? <small className="muted">{d.help}</small> : null}
                </div>
              );
            })}
            {message ? (
              <p className={`notice ${message.tone === 'ok' ? 'notice-ok' : 'notice-error'} small`} role="status" data-testid="settings-message">
                {message.text}
              </p>
            ) : null}
            <footer className="modal-footer">
              {version ? <span className="muted small">Orchestra {version}</span> : null}
              <button type="button" className="button" onClick={onClose}>
                Close
              </button>
              <button type="submit" className="button primary" data-testid="settings-save" disabled={busy}>
                {busy ? 'Saving…' : 'Save'}
              </button>
            </footer>
          </form>
        )}
        {bridge ? <DesktopPreferences bridge={bridge} /> : null}
      </div>
    </div>
  );
}
