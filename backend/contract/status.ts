/** `GET /api/status`, and the `status:changed` event's `status`. */
export type OverallStatus = 'ok' | 'degraded' | 'down';

export interface DatabaseStatus {
  backend: 'sqlite' | 'postgres';
  mode: 'primary' | 'fallback';
  breaker: 'closed' | 'open' | 'halfOpen' | null;
  pendingSync: number;
}

export interface CacheStatus {
  l1: { entries: number; bytes: number; hitRatio: number };
  l2: { backend: 'redis' | 'none'; status: 'up' | 'down' };
}

export interface ProviderStatus {
  id: string | null;
  baseUrl: string | null;
  source: 'configured' | 'probed' | 'none';
  status: 'up' | 'down' | 'unknown';
  breaker: 'closed' | 'open' | 'halfOpen' | null;
}

export interface StatusBody {
  status: OverallStatus;
  version: string;
  uptimeSeconds: number;
  components: {
    database: DatabaseStatus;
    cache: CacheStatus;
    provider: ProviderStatus;
    websocket: { clients: number };
  };
}
