import { memo, type ReactNode } from 'react';
import type { MetricsSnapshot, StatusBody } from '../lib/contract.js';
import { formatBytes, formatMs, formatNumber, formatPercent, formatUptime } from '../lib/format.js';
import { Sparkline } from './Sparkline.js';

export interface MetricsHistory {
  latest: MetricsSnapshot | null;
  ticks: number;
  /** Oldest first, bounded. */
  history: MetricsSnapshot[];
}

export const HISTORY_LENGTH = 60;

export function addTick(h: MetricsHistory, snapshot: MetricsSnapshot): MetricsHistory {
  const history = [...h.history, snapshot];
  if (history.length > HISTORY_LENGTH) history.splice(0, history.length - HISTORY_LENGTH);
  return { latest: snapshot, ticks: h.ticks + 1, history };
}

function Stat({ label, value, testId, tone }: { label: string; value: ReactNode; testId?: string; tone?: string }) {
  return (
    <div className="stat">
      <span className="stat-label">{label}</span>
      <span className={`stat-value${tone ? ` tone-text-${tone}` : ''}`} data-testid={testId}>
        {value}
      </span>
    </div>
  );
}

function Card({ title, children, chart }: { title: string; children: ReactNode; chart?: ReactNode }) {
  return (
    <section className="metric-card">
      <header>
        <h4>{title}</h4>
        {chart}
      </header>
      <div className="stats">{children}</div>
    </section>
  );
}

const breakerTone = (state: string | null): string => (state === null || state === 'closed' ? 'ok' : state === 'open' ? 'down' : 'degraded');

/**
 * The live metrics panel: `metrics:tick` snapshots (about one a second while subscribed). Memoized:
 * it changes once a second, not with every batch of tokens that re-renders the window.
 */
export const MetricsPanel = memo(function MetricsPanel({
  metrics,
  status,
  onClose,
}: {
  metrics: MetricsHistory;
  status: StatusBody | null;
  onClose?: (() => void) | undefined;
}) {
  const m = metrics.latest;
  const h = metrics.history;
  return (
    <aside className="metrics" data-testid="metrics-panel" data-ticks={metrics.ticks} aria-label="Live metrics" tabIndex={0}>
      <header className="metrics-header">
        <h2 className="metrics-title">Live metrics</h2>
        {onClose ? (
          <button type="button" className="icon-button sheet-close" data-testid="metrics-close" aria-label="Hide metrics" onClick={onClose}>
            ×
          </button>
        ) : null}
        <span className="muted small" data-testid="metrics-updated">
          {m ? `up ${formatUptime(m.uptimeSeconds)} · ${new Date(m.at).toLocaleTimeString()}` : 'waiting for the first tick…'}
        </span>
      </header>
      {m === null ? (
        <div className="metrics-empty muted">Subscribing to metrics…</div>
      ) : (
        <div className="metric-cards">
          <Card title="HTTP" chart={<Sparkline values={h.map((s) => s.http.p95Ms)} label="HTTP p95 latency" />}>
            <Stat label="p50" value={formatMs(m.http.p50Ms)} testId="metric-http-p50" />
            <Stat label="p95" value={formatMs(m.http.p95Ms)} testId="metric-http-p95" />
            <Stat label="requests" value={formatNumber(m.http.requests)} />
            <Stat label="errors" value={formatNumber(m.http.errors)} tone={m.http.errors > 0 ? 'degraded' : undefined} />
          </Card>
          <Card title="Chat" chart={<Sparkline values={h.map((s) => s.chat.tokensPerSecondP50)} label="tokens per second" />}>
            <Stat label="active" value={formatNumber(m.chat.active)} testId="metric-chat-active" />
            <Stat label="completed" value={formatNumber(m.chat.completed)} testId="metric-chat-completed" />
            <Stat label="TTFT p50" value={formatMs(m.chat.ttftP50Ms)} testId="metric-chat-ttft" />
            <Stat label="tokens/s" value={formatNumber(m.chat.tokensPerSecondP50, 1)} testId="metric-chat-tps" />
            <Stat label="failed" value={formatNumber(m.chat.failed)} tone={m.chat.failed > 0 ? 'degraded' : undefined} />
            <Stat label="cancelled" value={formatNumber(m.chat.cancelled)} />
          </Card>
          <Card title="Realtime & cache">
            <Stat label="ws clients" value={formatNumber(m.websocket.clients)} testId="metric-ws-clients" />
            <Stat label="hit ratio" value={formatPercent(m.cache.l1.hitRatio)} testId="metric-cache-hit" />
            <Stat label="L1 entries" value={formatNumber(m.cache.l1.entries)} />
            <Stat label="L1 size" value={formatBytes(m.cache.l1.bytes)} />
            <Stat
              label="L2"
              value={m.cache.l2.backend === 'none' ? 'off' : `${m.cache.l2.backend} ${m.cache.l2.status}`}
              tone={m.cache.l2.status === 'down' ? 'down' : undefined}
            />
          </Card>
          <Card title="Database">
            <Stat label="backend" value={m.database.backend} testId="metric-db-backend" />
            <Stat label="mode" value={m.database.mode} tone={m.database.mode === 'fallback' ? 'degraded' : undefined} />
            <Stat label="breaker" value={m.database.breaker ?? 'none'} tone={m.database.breaker === null ? undefined : breakerTone(m.database.breaker)} />
            <Stat
              label="pending sync"
              value={formatNumber(m.database.pendingSync)}
              tone={m.database.pendingSync > 0 ? 'degraded' : undefined}
              testId="metric-db-pending"
            />
          </Card>
          <Card title="Breakers">
            {m.breakers.length === 0 ? (
              <span className="muted small">none yet</span>
            ) : (
              <ul className="breakers" data-testid="metric-breakers">
                {m.breakers.map((b) => (
                  <li key={b.name}>
                    <span className="breaker-name" title={b.name}>
                      {b.name}
                    </span>
                    <span className={`chip tone-${breakerTone(b.state)}`}>{b.state}</span>
                  </li>
                ))}
              </ul>
            )}
          </Card>
          <Card title="Process" chart={<Sparkline values={h.map((s) => s.process.cpuPercent)} label="CPU percent" />}>
            <Stat label="RSS" value={formatBytes(m.process.rssBytes)} testId="metric-rss" />
            <Stat label="heap" value={formatBytes(m.process.heapUsedBytes)} />
            <Stat label="CPU" value={`${formatNumber(m.process.cpuPercent, 1)}%`} testId="metric-cpu" />
            <Stat label="loop lag" value={formatMs(m.process.eventLoopLagMs)} tone={m.process.eventLoopLagMs > 100 ? 'degraded' : undefined} />
          </Card>
          {status ? (
            <p className="muted small metrics-footer">
              Orchestra {status.version} · provider{' '}
              {status.components.provider.baseUrl ? <code>{status.components.provider.baseUrl}</code> : <em>not configured</em>}
            </p>
          ) : null}
        </div>
      )}
    </aside>
  );
});
