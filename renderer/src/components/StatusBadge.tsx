import type { OverallStatus } from '../lib/contract.js';

export type Connection = 'connecting' | 'connected' | 'reconnecting';
/** What the UI knows of the model provider: GET /api/models answered, failed, or not asked yet. */
export type ProviderState = 'unknown' | 'up' | 'none' | 'down';

const LABEL: Record<OverallStatus, string> = { ok: 'Healthy', degraded: 'Degraded', down: 'Down' };

/**
 * The backend's overall status (GET /api/status, then `status:changed`), the connection state
 * while offline, and the model provider: a healthy server with no provider cannot answer, so the
 * badge says so.
 */
export function StatusBadge({
  status,
  connection,
  detail,
  provider = 'unknown',
}: {
  status: OverallStatus | null;
  connection: Connection;
  detail?: string | undefined;
  provider?: ProviderState;
}) {
  const offline = connection !== 'connected';
  const noProvider = provider === 'none' || provider === 'down';
  const tone = offline ? 'down' : status === 'ok' && noProvider ? 'degraded' : (status ?? 'down');
  const text = offline
    ? connection === 'connecting'
      ? 'Connecting…'
      : 'Reconnecting…'
    : status === 'ok' && noProvider
      ? provider === 'none'
        ? 'No model provider'
        : 'Provider down'
      : status
        ? LABEL[status]
        : 'Unknown';
  return (
    <span
      className={`status-badge tone-${tone}`}
      data-testid="status-badge"
      data-status={status ?? 'unknown'}
      data-connection={connection}
      data-provider={provider}
      title={detail ?? (offline ? 'The live connection to the server is down' : `Backend status: ${text}`)}
      role="status"
    >
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}
