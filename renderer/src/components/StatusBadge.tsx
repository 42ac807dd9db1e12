import type { OverallStatus } from '../lib/contract.js';

export type Connection = 'connecting' | 'connected' | 'reconnecting';

const LABEL: Record<OverallStatus, string> = { ok: 'Healthy', degraded: 'Degraded', down: 'Down' };

/** The backend's overall status (GET /api/status, then `status:changed`), or the connection state while offline. */
export function StatusBadge({ status, connection, detail }: { status: OverallStatus | null; connection: Connection; detail?: string }) {
  const offline = connection !== 'connected';
  const tone = offline ? 'down' : (status ?? 'down');
  const text = offline ? (connection === 'connecting' ? 'Connecting…' : 'Reconnecting…') : status ? LABEL[status] : 'Unknown';
  return (
    <span
      className={`status-badge tone-${tone}`}
      data-testid="status-badge"
      data-status={status ?? 'unknown'}
      data-connection={connection}
      title={detail ?? (offline ? 'The live connection to the server is down' : `Backend status: ${text}`)}
      role="status"
    >
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}
