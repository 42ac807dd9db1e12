import type http from 'node:http';
import type { Logger } from 'pino';
import { BreakerRegistry, type BreakerTransition } from './breaker/breaker.js';
import { CompletionCache } from './chat/completions-cache.js';
import { openSwitchableCache } from './cache/open.js';
import { cacheKey } from './cache/cache.js';
import type { SwitchableCache } from './cache/switchable.js';
import { DeferredBroadcaster } from './chat/broadcaster.js';
import { ConversationService } from './chat/conversations.js';
import { ConversationThreads } from './chat/threads.js';
import { ReplyCatchUp, ReplyFeed } from './chat/replies.js';
import { ChatService, type ReplyValidator } from './chat/service.js';
import { describeConfig, type ConfigSource } from './config/load.js';
import type { Config } from './config/schema.js';
import { passwordOf, registerSecret } from './config/secrets.js';
import { openSwitchableStore } from './data/open.js';
import { LiveSettings, type ReconfigureResult, type RedisSwitch } from './settings/live-settings.js';
import { SettingsService } from './settings/settings-service.js';
import type { Store } from './data/store.js';
import { ValidationService } from './governance/validation-service.js';
import { createApp } from './http/app.js';
import { validateRoutes } from './http/routes/validate.js';
import { AccessService } from './access/access-service.js';
import { ChatLimits } from './access/chat-limits.js';
import { Lockout } from './access/lockout.js';
import { originChecker } from './access/origins.js';
import { MinuteWindows } from './access/windows.js';
import { resolveToken } from './access/owner-token.js';
import { closeServer, createHttpServer, listen, type ListenerOptions } from './http/listen.js';
import { allowedHostNames, clientAddressResolver } from './http/security.js';
import { loadTls } from './http/tls.js';
import { createLogger } from './logging/logger.js';
import { createMetrics } from './metrics/metrics.js';
import { cacheObserver, replicationObserver } from './metrics/storage-observers.js';
import { MetricsSnapshotter } from './metrics/snapshot.js';
import { packageVersion, rendererDistDir } from './paths.js';
import { makePrivateDir } from './private-files.js';
import { createProviderRegistry, DEFAULT_PROBE_TARGETS, type ProviderRegistry, type ProviderStatus } from './providers/registry.js';
import { ModelCatalog } from './providers/catalog.js';
import { fanOut } from './realtime/redis-adapter.js';
import { Realtime } from './realtime/socket-server.js';
import { isRedisUrl } from './redis/client.js';
import { StatusService } from './status/status.js';

export interface StartOptions {
  /** Where console log lines go (default stdout). */
  logStream?: { write(line: string): unknown };
  /** Local servers probed when no provider is configured; tests pass their own. */
  probeTargets?: string[];
  rendererDir?: string;
  metricsIntervalMs?: number;
  /** The access concern's clock (pairing-code expiry, lock-out windows); tests move it. */
  now?: () => number;
  /**
   * Where each config value came from (loadConfig's `sources`): the settings API reports it and
   * refuses to change values fixed by the environment or a flag. None means every value is a default.
   */
  sources?: Record<string, ConfigSource>;
}

export interface RunningServer {
  url: string;
  /** Base URL of the Socket.IO listener (path /ws); same as `url` unless WEBSOCKET_PORT differs. */
  wsUrl: string;
  port: number;
  wsPort: number;
  token: string;
  /** The config in effect: as loaded, with settings stored through the settings API applied. */
  config: Config;
  logger: Logger;
  logFile: string | undefined;
  /** TLS_CERT_FILE/TLS_KEY_FILE are set: `url` and `wsUrl` are https:// and cookies carry `Secure`. */
  tls: boolean;
  /** A fresh one-time pairing link (`…/pair?code=…`, valid 10 minutes) for the banner and the desktop window. */
  pairingLink(): Promise<{ url: string; expiresAt: string }>;
  /** The model provider in use, probing local ones first when none is configured (for the banner). */
  provider(): Promise<ProviderStatus>;
  /** Applies changed settings live where possible (DATABASE_URL, REDIS_URL, the model provider). */
  reconfigure(next: Partial<Config>): Promise<ReconfigureResult>;
  close(): Promise<void>;
  /** The shutdown step in progress while close() runs (for the forced-exit message), else undefined. */
  shutdownStep(): string | undefined;
}

/** Runs a shutdown step with a time limit; a step that hangs is logged and left behind. */
async function step(log: Logger, name: string, timeoutMs: number, fn: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const result = await Promise.race([fn().then(() => 'ok' as const), timeout]);
    if (result === 'timeout') log.warn({ step: name, timeoutMs }, 'shutdown step timed out');
  } catch (err) {
    log.warn({ step: name, err: (err as Error).message }, 'shutdown step failed');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The composition root: the one place that builds every concern and wires them together. The CLI,
 * the desktop host and the tests all start the server through here.
 */
export async function startServer(loaded: Config, options: StartOptions = {}): Promise<RunningServer> {
  // Read first: a bad certificate or key stops start-up before anything is opened.
  const tls = loadTls(loaded);
  const limits: ListenerOptions = {
    headersTimeoutMs: loaded.headersTimeoutMs,
    requestTimeoutMs: loaded.requestTimeoutMs,
    maxConnections: loaded.maxConnections,
    tls,
  };
  makePrivateDir(loaded.dataDir);
  registerSecret(loaded.apiToken);
  registerSecret(loaded.llmApiKey);
  registerSecret(passwordOf(loaded.databaseUrl));
  registerSecret(passwordOf(loaded.redisUrl));
  const logging = createLogger({
    level: loaded.logLevel,
    dataDir: loaded.dataDir,
    toFile: loaded.logToFile,
    format: loaded.logFormat,
    ...(options.logStream ? { stdout: options.logStream } : {}),
  });
  const logger = logging.logger;
  // Stored settings come before anything else opens: DATABASE_URL and REDIS_URL may be among them.
  let settings: SettingsService;
  try {
    settings = await SettingsService.open({ config: loaded, sources: options.sources, logger });
  } catch (err) {
    await logging.close();
    throw err;
  }
  const config = settings.effectiveConfig(loaded);
  const token = resolveToken(config.apiToken, config.dataDir);
  registerSecret(token);

  const metrics = createMetrics();
  const breakers = new BreakerRegistry();
  const untrackBreakers = metrics.trackBreakers(breakers);
  const cleanups: Array<{ name: string; run: () => Promise<unknown> }> = [];
  let store: Store | undefined;
  let cache: SwitchableCache | undefined;
  let providers: ProviderRegistry | undefined;
  let onReplicated = (_conversationIds: string[]): void => {};
  let onStoreSwitched = (_next: Store): void => {};
  // A breaker that a live switch removed leaves no stale series behind.
  const forgetBreaker = (name: string): void => metrics.forgetBreaker(name);

  try {
    const replication = replicationObserver(metrics);
    store = await openSwitchableStore(config, {
      observe: (backend) => (operation, seconds) => metrics.dbQueryDuration.observe({ backend, operation }, seconds),
      breakers,
      logger,
      // PostgreSQL mode (issue 3): outbox/lag/active-backend gauges, and cache invalidation for
      // conversations a pull changed.
      replication,
      onReplicated: (ids) => onReplicated(ids),
      onSwitched: (next) => onStoreSwitched(next),
    });
    const liveStore = store;
    const now = options.now ?? Date.now;
    const access = new AccessService({ ownerToken: token, store: liveStore.credentials, logger, now });
    const lockout = new Lockout(now);
    const rateWindows = new MinuteWindows(now);
    const chatLimits = new ChatLimits({ total: config.maxConcurrentChats, perClient: config.maxConcurrentChatsPerClient });
    metrics.dbActiveBackend.set({ backend: store.backend }, 1);
    const interrupted = await store.markInterrupted();
    if (interrupted > 0) logger.warn({ interrupted }, 'replies that were streaming when the server stopped are marked interrupted');

    cache = openSwitchableCache(config, { breakers, observer: cacheObserver(metrics), logger });
    const liveCache = cache;
    providers = createProviderRegistry({
      baseUrl: config.llmBaseUrl,
      apiKey: config.llmApiKey,
      model: config.llmModel,
      breakers,
      breakerOptions: { threshold: config.circuitBreakerThreshold, resetTimeoutMs: config.circuitBreakerResetMs },
      connectTimeoutMs: config.providerConnectTimeoutMs,
      idleTimeoutMs: config.providerIdleTimeoutMs,
      probeTargets: options.probeTargets ?? [...DEFAULT_PROBE_TARGETS],
      logger,
    });
    const liveProviders = providers;
    // CORS_ORIGINS as it is now: the HTTP CORS middleware and the Socket.IO origin check read it on
    // every request, so a change through the settings API applies to the very next one.
    let corsOrigins: readonly string[] = config.corsOrigins;
    const currentOrigins = (): readonly string[] => corsOrigins;
    // REDIS_URL live needs the Socket.IO relay, which exists only once the listener is up; until
    // then a change waits for a restart.
    let switchRedis: RedisSwitch = () => Promise.resolve({ restartRequired: true });
    const live = new LiveSettings(liveStore, config, logger, liveProviders, (redisUrl) => switchRedis(redisUrl));
    const applyLive = async (next: Partial<Config>): Promise<ReconfigureResult> => {
      const { corsOrigins: origins, ...rest } = next;
      const result = await live.apply(rest);
      if (origins !== undefined && JSON.stringify(origins) !== JSON.stringify(corsOrigins)) {
        corsOrigins = [...origins];
        result.applied.push('corsOrigins');
        logger.info({ corsOrigins }, 'CORS_ORIGINS changed');
      }
      return result;
    };
    settings.bindApply(applyLive);

    const startedAt = Date.now();
    const broadcaster = new DeferredBroadcaster();
    let websocketClients = (): number => 0;
    const conversations = new ConversationService(liveStore, liveCache, broadcaster);
    onReplicated = (ids) => {
      for (const id of ids) void conversations.invalidate(id).catch(() => {});
    };
    const status = new StatusService({
      version: packageVersion,
      startedAt,
      store: liveStore,
      cache: liveCache,
      breakers,
      provider: () => {
        const p = liveProviders.current();
        return { id: p.id, baseUrl: p.baseUrl, source: p.source, status: p.status, breaker: p.breaker };
      },
      websocketClients: () => websocketClients(),
    });
    onStoreSwitched = (next) => {
      // SQLite mode has no replication: the gauges say so (PostgreSQL mode reports its own).
      if (next.backend === 'sqlite') {
        replication.replication({ pendingSync: 0, lagSeconds: 0, activeBackend: 'sqlite' });
        forgetBreaker('postgres');
      }
      // Pages cached from the previous store (PostgreSQL may hold other instances' rows the
      // replica had not pulled yet) are read again from the new one.
      liveCache.invalidate([], [cacheKey('conversation', ''), cacheKey('conversations', '')]).catch(() => {});
      status.invalidate();
    };
    const validation = new ValidationService({
      configPath: config.governanceConfig,
      cwd: process.cwd(),
      store: liveStore,
      cache: liveCache,
      metrics,
      logger,
      timeoutMs: config.governanceTimeoutMs,
      threads: config.governanceThreads,
    });
    const validator: ReplyValidator = {
      prepare: () => validation.warm(),
      validate: (content, messageId) => validation.validateReply(content, messageId),
    };
    const liveChat = new ChatService({ conversations, providers: liveProviders, broadcaster, metrics, completions: new CompletionCache(liveCache), validator });
    // Replies outlive their viewers: reply events reach followers here, and late viewers catch up.
    const feed = new ReplyFeed();
    const catchUp = new ReplyCatchUp(() => liveChat, conversations);
    const snapshotter = new MetricsSnapshotter(metrics, status, () => liveChat.activeCount, () => breakers.snapshot());

    // One log line and one status:changed per breaker transition, never one per failed call.
    const offTransitions = breakers.onTransition((t: BreakerTransition) => {
      status.invalidate();
      const level = t.to === 'open' ? 'warn' : 'info';
      logger[level]({ breaker: t.name, from: t.from, to: t.to, lastError: t.lastError }, `breaker ${t.name} is ${t.to}`);
      const overall = status.snapshot().status;
      broadcaster.statusChanged({ status: overall, component: t.name, detail: `breaker ${t.to}`, at: t.at });
    });

    let closing = false;
    const { app, fast } = createApp({
      config,
      logger,
      access: { service: access, lockout, rateWindows, chatLimits },
      store: liveStore,
      chat: liveChat,
      conversations,
      following: { feed, catchUp },
      models: new ModelCatalog(liveProviders, liveCache, Math.min(60, config.cacheTtlSeconds)),
      status,
      breakers: { breakers: () => breakers.snapshot(), database: () => liveStore.health(), sync: () => liveStore.sync?.() },
      metrics,
      snapshotter,
      rendererDir: options.rendererDir ?? rendererDistDir,
      validateRouter: validateRoutes(validation),
      isClosing: () => closing,
      tls: tls !== undefined,
      startedAt,
      threads: new ConversationThreads(liveCache, conversations),
      settings,
      corsOrigins: currentOrigins,
    });
    const httpServer = createHttpServer(app, fast, limits);
    const port = await listen(httpServer, config.apiPort, config.host, 'HTTP');
    let wsServer: http.Server | undefined;
    let wsPort = port;
    const separateSocket = config.websocketPort !== config.apiPort;
    if (separateSocket) {
      wsServer = createHttpServer((_req: http.IncomingMessage, res: http.ServerResponse) => {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'not-found', message: 'this port only serves Socket.IO at /ws' } }));
      }, undefined, limits);
      try {
        wsPort = await listen(wsServer, config.websocketPort, config.host, 'Socket.IO');
      } catch (err) {
        await closeServer(httpServer, 1000);
        throw err;
      }
    }
    const realtime = new Realtime(wsServer ?? httpServer, {
      chat: () => liveChat,
      conversations,
      access,
      lockout,
      rateWindows,
      rateLimitPerMinute: config.rateLimitPerMinute,
      chatLimits,
      originAllowed: originChecker({ listed: currentOrigins, ports: [port, wsPort] }),
      allowedHosts: allowedHostNames(config.host, config.allowedHosts),
      corsOrigins: currentOrigins,
      clientAddress: clientAddressResolver(config.trustProxy),
      logger,
      metrics,
      snapshotter,
      feed,
      catchUp,
      ...(options.metricsIntervalMs !== undefined ? { metricsIntervalMs: options.metricsIntervalMs } : {}),
    });
    // Before the first connection: Socket.IO fan-out across instances when Redis is configured.
    const relay = fanOut(realtime.io, isRedisUrl(config.redisUrl) ? config.redisUrl : undefined, {
      commandTimeoutMs: config.redisCommandTimeoutMs,
      logger,
      onClustered: (clustered) => {
        realtime.clustered = clustered;
      },
    });
    broadcaster.target = realtime;
    websocketClients = () => realtime.clients;

    const displayHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
    const scheme = tls !== undefined ? 'https' : 'http';
    const url = `${scheme}://${displayHost}:${port}`;
    const wsUrl = `${scheme}://${displayHost}:${wsPort}`;
    logger.info({ url, wsUrl, config: describeConfig(config), version: packageVersion }, 'orchestra is ready');

    let closed: Promise<void> | undefined;
    let currentStep: string | undefined;
    const close = (): Promise<void> => {
      closed ??= (async () => {
        closing = true;
        const t = config.shutdownTimeoutMs;
        logger.info('shutting down');
        const run = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
          currentStep = name;
          await step(logger, name, t, fn);
        };
        // Streams first, so every reply in flight is stored before its socket goes away.
        await run('chat streams', () => liveChat.shutdown());
        await run('socket.io', () => realtime.close());
        if (relay.clustered) await run('socket.io redis', () => relay.close());
        await run('http', () => closeServer(httpServer, Math.min(t, 2000)));
        if (wsServer) {
          const s = wsServer;
          await run('socket.io listener', () => closeServer(s, Math.min(t, 2000)));
        }
        offTransitions();
        untrackBreakers();
        snapshotter.close();
        await run('providers', () => liveProviders.close());
        await run('governance', () => validation.close());
        await run('cache', () => liveCache.close());
        await run('database', () => liveStore.close());
        await run('settings', () => settings.close());
        currentStep = undefined;
        breakers.shutdown();
        metrics.close();
        logger.info('stopped');
        await logging.close();
      })();
      return closed;
    };
    // REDIS_URL live: the cache and the Socket.IO relay both follow.
    switchRedis = async (redisUrl: string): Promise<{ restartRequired: boolean }> => {
      await liveCache.reconfigure(redisUrl);
      await relay.switchTo(isRedisUrl(redisUrl) ? redisUrl : undefined);
      if (!isRedisUrl(redisUrl)) forgetBreaker('redis');
      status.invalidate();
      return { restartRequired: false };
    };
    const provider = async (): Promise<ProviderStatus> => {
      await liveProviders.resolve().catch(() => undefined);
      return liveProviders.current();
    };
    const pairingLink = async (): Promise<{ url: string; expiresAt: string }> => {
      const { code, expiresAt } = await access.createPairingCode('admin');
      return { url: `${url}/pair?code=${encodeURIComponent(code)}`, expiresAt };
    };
    return {
      url,
      wsUrl,
      port,
      wsPort,
      token,
      config,
      logger,
      logFile: logging.file,
      tls: tls !== undefined,
      pairingLink,
      provider,
      // Stored settings keep winning over the file values a SIGHUP or the desktop app passes.
      reconfigure: async (next) => {
        const result = await applyLive(settings.withStored(next));
        settings.noteApplied(next, result.applied);
        return result;
      },
      close,
      shutdownStep: () => currentStep,
    };
  } catch (err) {
    cleanups.push(
      { name: 'settings', run: () => settings.close() },
      { name: 'providers', run: async () => providers?.close() },
      { name: 'cache', run: async () => cache?.close() },
      { name: 'database', run: async () => store?.close() },
    );
    for (const c of cleanups) await step(logger, c.name, 2000, c.run);
    untrackBreakers();
    breakers.shutdown();
    metrics.close();
    await logging.close();
    throw err;
  }
}
