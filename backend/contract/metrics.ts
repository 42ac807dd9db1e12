/** What the metrics panel shows; sent by `GET /api/metrics` and as `metrics:tick`. */
export interface MetricsSnapshot {
  at: string;
  uptimeSeconds: number;
  http: { requests: number; errors: number; p50Ms: number | null; p95Ms: number | null };
  chat: {
    active: number;
    completed: number;
    failed: number;
    cancelled: number;
    ttftP50Ms: number | null;
    tokensPerSecondP50: number | null;
  };
  websocket: { clients: number };
  cache: { l1: { entries: number; bytes: number; hitRatio: number }; l2: { backend: string; status: string } };
  database: { backend: string; mode: string; breaker: string | null; pendingSync: number };
  breakers: Array<{ name: string; state: string; failures: number }>;
  process: { rssBytes: number; heapUsedBytes: number; cpuPercent: number; eventLoopLagMs: number };
}
