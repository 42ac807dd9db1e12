import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BreakerEvent, BreakerRegistry, BreakerState } from '../breaker/breaker.js';

/**
 * Every Prometheus series of one server lives in its own registry (not prom-client's global one),
 * so several servers in one process — tests, the bench — never collide.
 */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  socketClients: Gauge;
  socketEvents: Counter<'event' | 'direction'>;
  chatTtft: Histogram;
  chatTokensPerSecond: Histogram;
  chatRequests: Counter<'outcome' | 'transport'>;
  chatTokens: Counter;
  providerErrors: Counter<'provider' | 'code'>;
  cacheRequests: Counter<'tier' | 'result'>;
  redisCommandDuration: Histogram<'command'>;
  dbQueryDuration: Histogram<'backend' | 'operation'>;
  dbActiveBackend: Gauge<'backend'>;
  breakerState: Gauge<'breaker' | 'state'>;
  breakerEvents: Counter<'breaker' | 'event'>;
  outboxBacklog: Gauge;
  replicationLag: Gauge;
  governanceVerdicts: Counter<'verdict' | 'source'>;
  /** Keeps the breaker gauges in step with a registry of breakers. */
  trackBreakers(breakers: BreakerRegistry): () => void;
  /** Drops a breaker's state series (its dependency is gone); its next call publishes them again. */
  forgetBreaker(name: string): void;
  close(): void;
}

const STATES: BreakerState[] = ['closed', 'open', 'halfOpen'];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  // These default gauges end in _total, which promtool rejects for non-counters; the per-type
  // nodejs_active_handles / _requests / _resources series carry the same numbers.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  const registers = [registry];

  const m: Omit<Metrics, 'trackBreakers' | 'forgetBreaker' | 'close'> = {
    registry,
    httpDuration: new Histogram({
      name: 'orchestra_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    socketClients: new Gauge({ name: 'orchestra_socketio_clients', help: 'Connected Socket.IO clients', registers }),
    socketEvents: new Counter({
      name: 'orchestra_socketio_events_total',
      help: 'Socket.IO events by name and direction',
      labelNames: ['event', 'direction'],
      registers,
    }),
    chatTtft: new Histogram({
      name: 'orchestra_chat_time_to_first_token_seconds',
      help: 'Time from accepting a chat turn to its first streamed token',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    chatTokensPerSecond: new Histogram({
      name: 'orchestra_chat_tokens_per_second',
      help: 'Streaming rate of completed replies',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      registers,
    }),
    chatRequests: new Counter({
      name: 'orchestra_chat_requests_total',
      help: 'Chat turns by outcome and transport',
      labelNames: ['outcome', 'transport'],
      registers,
    }),
    chatTokens: new Counter({ name: 'orchestra_chat_tokens_total', help: 'Streamed reply chunks', registers }),
    providerErrors: new Counter({
      name: 'orchestra_provider_errors_total',
      help: 'Model provider errors by provider and code',
      labelNames: ['provider', 'code'],
      registers,
    }),
    cacheRequests: new Counter({
      name: 'orchestra_cache_requests_total',
      help: 'Cache look-ups by tier and result',
      labelNames: ['tier', 'result'],
      registers,
    }),
    redisCommandDuration: new Histogram({
      name: 'orchestra_redis_command_duration_seconds',
      help: 'Redis command duration',
      labelNames: ['command'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5],
      registers,
    }),
    dbQueryDuration: new Histogram({
      name: 'orchestra_db_query_duration_seconds',
      help: 'Database query duration by backend and operation',
      labelNames: ['backend', 'operation'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    dbActiveBackend: new Gauge({
      name: 'orchestra_db_active_backend',
      help: 'Database serving reads: 1 for the active backend',
      labelNames: ['backend'],
      registers,
    }),
    breakerState: new Gauge({
      name: 'orchestra_breaker_state',
      help: 'Circuit breaker state: 1 for the current state',
      labelNames: ['breaker', 'state'],
      registers,
    }),
    breakerEvents: new Counter({
      name: 'orchestra_breaker_events_total',
      help: 'Circuit breaker events',
      labelNames: ['breaker', 'event'],
      registers,
    }),
    outboxBacklog: new Gauge({ name: 'orchestra_outbox_backlog', help: 'Writes waiting to be replicated to PostgreSQL', registers }),
    replicationLag: new Gauge({
      name: 'orchestra_replication_lag_seconds',
      help: 'Age of the oldest write waiting to be replicated',
      registers,
    }),
    governanceVerdicts: new Counter({
      name: 'orchestra_governance_verdicts_total',
      help: 'Governance verdicts by result and source',
      labelNames: ['verdict', 'source'],
      registers,
    }),
  };

  // The state each breaker's series show. A breaker reports every call it passes (a provider's:
  // every chat turn), and rewriting three labelled series each time cost more than the rest of a
  // turn's metrics; a call that left the state as shown changes nothing.
  const shown = new Map<string, BreakerState>();
  const setBreaker = (name: string, state: BreakerState): void => {
    shown.set(name, state);
    for (const s of STATES) m.breakerState.set({ breaker: name, state: s }, s === state ? 1 : 0);
  };

  return {
    ...m,
    trackBreakers(breakers: BreakerRegistry): () => void {
      for (const b of breakers.list()) setBreaker(b.name, b.state);
      const offT = breakers.onTransition((t) => setBreaker(t.name, t.to));
      const offE = breakers.onEvent((name: string, e: BreakerEvent) => {
        m.breakerEvents.inc({ breaker: name, event: e });
        if (e === 'success' || e === 'failure') {
          const b = breakers.get(name);
          if (b && shown.get(name) !== b.state) setBreaker(name, b.state);
        }
      });
      return () => {
        offT();
        offE();
      };
    },
    forgetBreaker(name: string): void {
      shown.delete(name);
      for (const state of STATES) m.breakerState.remove({ breaker: name, state });
    },
    close(): void {
      shown.clear();
      registry.clear();
    },
  };
}
