import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Histogram } from 'prom-client';
import type { BreakerSnapshot } from '../breaker/breaker.js';
import type { MetricsSnapshot } from '../contract/metrics.js';
import type { StatusService } from '../status/status.js';
import type { Metrics } from './metrics.js';

/** Estimates a quantile from cumulative histogram buckets by linear interpolation. */
export function quantileFromBuckets(buckets: Array<{ le: number; count: number }>, q: number): number | null {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = Number.isFinite(b.le) ? b.le : prevLe;
    prevCount = b.count;
  }
  return prevLe;
}

async function bucketsOf(h: Histogram<string>): Promise<Array<{ le: number; count: number }>> {
  const data = await h.get();
  const merged = new Map<number, number>();
  for (const v of data.values) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    merged.set(le, (merged.get(le) ?? 0) + v.value);
  }
  return [...merged.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

async function counterTotal(c: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }, filter?: (labels: Record<string, string | number>) => boolean): Promise<number> {
  const data = await c.get();
  return data.values.filter((v) => (filter ? filter(v.labels) : true)).reduce((sum, v) => sum + v.value, 0);
}

const ms = (seconds: number | null): number | null => (seconds === null ? null : Math.round(seconds * 100000) / 100);

/** The JSON the metrics panel draws: a few headline figures, not the whole registry. */
export class MetricsSnapshotter {
  private readonly loop = monitorEventLoopDelay({ resolution: 20 });
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();

  constructor(
    private readonly metrics: Metrics,
    private readonly status: StatusService,
    private readonly activeChats: () => number,
    private readonly breakers: () => BreakerSnapshot[],
  ) {
    this.loop.enable();
  }

  async snapshot(): Promise<MetricsSnapshot> {
    const m = this.metrics;
    const [httpBuckets, ttftBuckets, tpsBuckets] = await Promise.all([
      bucketsOf(m.httpDuration),
      bucketsOf(m.chatTtft),
      bucketsOf(m.chatTokensPerSecond),
    ]);
    const httpData = await m.httpDuration.get();
    let requests = 0;
    let errors = 0;
    for (const v of httpData.values) {
      if (!v.metricName?.endsWith('_count')) continue;
      requests += v.value;
      if (Number(v.labels.status) >= 500) errors += v.value;
    }
    const chat = (outcome: string): Promise<number> => counterTotal(m.chatRequests, (l) => l.outcome === outcome);
    const [completed, failed, cancelled] = await Promise.all([chat('complete'), chat('error'), chat('cancelled')]);
    const status = this.status.snapshot();

    const now = performance.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedMs = now - this.lastAt;
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const mem = process.memoryUsage();
    const lag = this.loop.mean / 1e6;
    this.loop.reset();

    return {
      at: new Date().toISOString(),
      uptimeSeconds: status.uptimeSeconds,
      http: { requests, errors, p50Ms: ms(quantileFromBuckets(httpBuckets, 0.5)), p95Ms: ms(quantileFromBuckets(httpBuckets, 0.95)) },
      chat: {
        active: this.activeChats(),
        completed,
        failed,
        cancelled,
        ttftP50Ms: ms(quantileFromBuckets(ttftBuckets, 0.5)),
        tokensPerSecondP50: quantileFromBuckets(tpsBuckets, 0.5),
      },
      websocket: status.components.websocket,
      cache: status.components.cache,
      database: status.components.database,
      breakers: this.breakers().map((b) => ({ name: b.name, state: b.state, failures: b.consecutiveFailures })),
      process: {
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        cpuPercent: elapsedMs > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 1000) / 10 : 0,
        eventLoopLagMs: Number.isFinite(lag) ? Math.round(lag * 100) / 100 : 0,
      },
    };
  }

  close(): void {
    this.loop.disable();
  }
}
