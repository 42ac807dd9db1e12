import { existsSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import type { ChatService } from '../chat/service.js';
import type { ConversationService } from '../chat/conversations.js';
import type { ConversationThreads } from '../chat/threads.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../data/store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ModelCatalog } from '../providers/catalog.js';
import type { MetricsSnapshotter } from '../metrics/snapshot.js';
import type { StatusService } from '../status/status.js';
import type { SettingsService } from '../settings/settings-service.js';
import type { AccessService } from '../access/access-service.js';
import type { ChatLimits } from '../access/chat-limits.js';
import { accessGuard, accessRoutes, pairingRoute } from './access.js';
import { retryAfterOf, type Lockout } from '../access/lockout.js';
import type { MinuteWindows } from '../access/windows.js';
import { DomainError } from '../errors.js';
import { AppError, errorBody, httpStatusOf } from './errors.js';
import { gatewayErrorHandler } from '../gateway/errors.js';
import { createGatewayMetrics } from '../gateway/metrics.js';
import { gatewayRouter } from '../gateway/routes.js';
import { assignRequestId, requestLog } from './request-context.js';
import { pathGuard } from './safe-path.js';
import { refuseNul } from './validation.js';
import { fastPath, pathOf } from './fast-path.js';
import { plainJsonLength, readPlainJson } from './json-body.js';
import { breakerRoutes, type BreakerSources } from './routes/breakers.js';
import { chatRoutes, chatTurnRoute, type ReplyFollowing } from './routes/chat.js';
import { conversationRoutes } from './routes/conversations.js';
import { searchRoutes } from './routes/search.js';
import { settingsRoutes } from './routes/settings.js';
import { transferRoutes } from './routes/transfer.js';
import { modelRoutes } from './routes/models.js';
import { probeRoutes, prometheusRoute, statusRoutes } from './routes/health.js';
import { CONTENT_SECURITY_POLICY, allowedHostNames, clientAddressResolver, cors, hostGuard, isLoopback, rateLimit, securityHeaders } from './security.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  /** The access concern: who a request is, lock-out, the shared rate windows, chat limits. */
  access: { service: AccessService; lockout: Lockout; rateWindows: MinuteWindows; chatLimits: ChatLimits };
  store: Store;
  chat: ChatService;
  conversations: ConversationService;
  /** GET /api/chat/:messageId/stream: late viewers of a reply. */
  following?: ReplyFollowing;
  /** GET /api/models; absent in builds without a provider registry. */
  models?: ModelCatalog;
  status: StatusService;
  /** GET /api/breakers, for the `orchestra breaker` monitor. */
  breakers?: BreakerSources;
  metrics: Metrics;
  snapshotter: MetricsSnapshotter;
  /** Mounted at /api; the governance concern provides it (501 until then). */
  validateRouter?: express.Router;
  rendererDir?: string;
  isClosing: () => boolean;
  /** The server speaks TLS: cookies it sets carry `Secure`. */
  tls?: boolean;
  /** Epoch ms the server started; reported as the models' `created` on /v1. */
  startedAt?: number;
  /** Lets /v1 clients that name no conversation continue theirs. */
  threads?: ConversationThreads;
  /** GET/PATCH /api/settings (admin). */
  settings?: SettingsService;
  /** CORS_ORIGINS as it is now (the settings API changes it live); config.corsOrigins otherwise. */
  corsOrigins?: () => readonly string[];
}

/** Routes polled often; their successful requests are logged at debug to keep logs readable. */
const QUIET = new Set(['/healthz', '/readyz', '/metrics', '/api/status', '/api/metrics']);

/**
 * Served by fastPath without the router ("METHOD path"); their paths are their route labels. The
 * chat turn is there because it is the busiest route that writes: every message sent over HTTP.
 */
const FAST_ROUTES = new Set(['GET /healthz', 'GET /api/status', 'POST /api/chat']);

function routeLabel(req: Request): string {
  const route = (req as { route?: unknown }).route as { path?: unknown } | undefined;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  const path = pathOf(req.url);
  if (FAST_ROUTES.has(`${req.method} ${path}`)) return path;
  return 'unmatched';
}

function observe(deps: AppDeps) {
  // The request line's fields are the server's own (method, path, route, status, time), so it is
  // written without pino's redaction: redaction paths that start with a wildcard make pino pass
  // every field of a line through the redactor, which cloned and serialized each one apart (a
  // tenth of what a chat turn allocated). Secrets inside any line are still masked by the
  // scrubber every line passes through on its way out (logger.ts).
  const requestLines = deps.logger.child({}, { redact: [] });
  return (req: Request, res: Response, next: NextFunction): void => {
    const { id, started } = assignRequestId(req, deps.logger);
    res.setHeader('X-Request-Id', id);
    // A response finishes once, so a plain listener does (`once` would wrap it in another closure).
    res.on('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const route = routeLabel(req);
      deps.metrics.httpDuration.observe({ method: req.method, route, status: res.statusCode }, seconds);
      const quiet = res.statusCode < 400 && QUIET.has(pathOf((req as { originalUrl?: string }).originalUrl ?? req.url));
      const level = res.statusCode >= 500 ? 'error' : quiet ? 'debug' : 'info';
      if (deps.logger.isLevelEnabled(level)) {
        requestLines[level](
          { reqId: id, method: req.method, path: req.path, route, status: res.statusCode, ms: Math.round(seconds * 100000) / 100 },
          'request',
        );
      }
    });
    next();
  };
}

function jsonBodyParser(limit: number) {
  const parse = express.json({ limit, strict: true });
  return (req: Request, res: Response, next: NextFunction): void => {
    const parsed = (err?: unknown): void => {
      if (err !== undefined && err !== null) {
        next(err);
        return;
      }
      try {
        refuseNul(req.body);
      } catch (e) {
        next(e);
        return;
      }
      next();
    };
    // Most bodies are plain UTF-8 JSON with a length; they skip express.json (see json-body.ts).
    const plainLength = plainJsonLength(req, limit);
    if (plainLength !== undefined) {
      if (!Reflect.has(req, 'body')) req.body = undefined;
      readPlainJson(req, plainLength, (err, body) => {
        if (err === undefined) req.body = body;
        parsed(err);
      });
      return;
    }
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is('application/json')) {
      next(new AppError(415, 'unsupported-media-type', 'send the request body as JSON with Content-Type: application/json'));
      return;
    }
    parse(req, res, parsed);
  };
}

/** The 4xx status an error carries (http-errors style), if any. */
function clientStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

const isGatewayPath = (req: Request): boolean => {
  const p = pathOf((req as { originalUrl?: string }).originalUrl ?? req.url);
  return p === '/v1' || p.startsWith('/v1/');
};

/** Turns anything thrown into the contract's error shape; never sends a stack to a client. */
function errorHandler(deps: AppDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let appError: DomainError;
    if (err instanceof DomainError) appError = err;
    else if (typeof err === 'object' && err !== null && 'type' in err && typeof err.type === 'string') {
      const e = err as { type: string; limit?: number; message?: string };
      if (e.type === 'entity.too.large') {
        appError = new AppError(413, 'payload-too-large', `the request body is larger than ${e.limit ?? deps.config.bodyLimitBytes} bytes`, {
          limitBytes: e.limit ?? deps.config.bodyLimitBytes,
        });
      } else if (e.type === 'entity.parse.failed') {
        appError = new AppError(400, 'invalid-json', 'the request body is not valid JSON');
      } else if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
        appError = new AppError(415, 'unsupported-media-type', e.message ?? 'unsupported body encoding');
      } else {
        appError = new AppError(400, 'invalid-request', e.message ?? 'the request is not valid');
      }
    } else if (clientStatus(err) !== undefined) {
      // http-errors from Express's router or express.static (a 4xx they decided): kept, never a 500.
      const status = clientStatus(err) as number;
      appError = new AppError(status, status === 404 ? 'not-found' : status === 405 ? 'method-not-allowed' : 'bad-request', status === 404 ? `no route ${req.method} ${req.path}` : 'the request is not valid');
    } else {
      requestLog(req).error({ err }, 'unhandled error');
      appError = new AppError(500, 'internal-error', 'something went wrong on the server; the log has the details');
    }
    const retryAfter = retryAfterOf(appError);
    if (retryAfter !== undefined && !res.headersSent) res.setHeader('Retry-After', String(retryAfter));

    if (isGatewayPath(req)) {
      // Errors raised before the /v1 router (the Host guard) still leave in OpenAI's shape.
      gatewayErrorHandler(err, req, res, _next);
      return;
    }
    if (res.headersSent) {
      // An SSE stream already started: the chat service reported the failure in-band.
      if (!res.writableEnded) res.end();
      return;
    }
    res.status(httpStatusOf(appError)).json(errorBody(appError));
  };
}

export interface BuiltApp {
  app: express.Express;
  /** Serves the hot routes without the router; returns false for every other request. */
  fast: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export function createApp(deps: AppDeps): BuiltApp {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Without TRUST_PROXY the socket address decides who is local. With it, a loopback proxy's
  // X-Forwarded-For does (req.ip, rate limits, /metrics), exactly as clientAddressResolver reads it.
  app.set('trust proxy', config.trustProxy ? 'loopback' : false);
  const addressOf = clientAddressResolver(config.trustProxy);

  const edge: RequestHandler[] = [observe(deps), pathGuard, hostGuard(allowedHostNames(config.host, config.allowedHosts)), securityHeaders];
  app.use(...edge);
  const probes = probeRoutes(deps.store, deps.isClosing);
  app.use(probes.router);

  const { service: access, lockout, rateWindows } = deps.access;
  const tokenGuard = accessGuard(access, lockout);
  const limit = rateLimit(config.rateLimitPerMinute, rateWindows, addressOf);
  const prometheus = prometheusRoute(deps.metrics);
  app.get('/metrics', (req: Request, res: Response, next: NextFunction) => {
    // Open to a local scraper; a remote one must present a credential like any API client.
    if (isLoopback(addressOf(req))) {
      prometheus(req, res).catch(next);
      return;
    }
    tokenGuard(req, res, (err?: unknown) => {
      if (err !== undefined) next(err);
      else prometheus(req, res).catch(next);
    });
  });
  app.get('/pair', limit, pairingRoute(access, lockout));

  const api = express.Router();
  const apiGuards: RequestHandler[] = [cors(deps.corsOrigins ?? config.corsOrigins), limit, tokenGuard];
  const jsonBody = jsonBodyParser(config.bodyLimitBytes);
  api.use(...apiGuards);
  api.use(jsonBody);
  const statusApi = statusRoutes(deps.status, deps.snapshotter);
  api.use(statusApi.router);
  api.use(chatRoutes(deps.chat, deps.following, deps.access.chatLimits));
  // Before the :id routes, so /conversations/import is not taken for an id.
  api.use(transferRoutes(deps.conversations));
  api.use(conversationRoutes(deps.conversations));
  api.use(searchRoutes(deps.conversations));
  api.use(accessRoutes(access));
  if (deps.breakers) api.use(breakerRoutes(deps.breakers));
  if (deps.settings) api.use(settingsRoutes(deps.settings));
  if (deps.models) api.use(modelRoutes(deps.models));
  if (deps.validateRouter) api.use(deps.validateRouter);
  else {
    api.post('/validate', () => {
      throw new AppError(501, 'not-implemented', 'code validation is not available in this build');
    });
  }
  api.use((req: Request) => {
    throw new AppError(404, 'not-found', `no route ${req.method} ${req.baseUrl}${req.path}`);
  });
  app.use('/api', api);

  // The OpenAI-compatible gateway: same guards as /api, OpenAI's error shape, never the app's HTML.
  if (deps.models) {
    app.use(
      '/v1',
      gatewayRouter({
        chat: deps.chat,
        models: deps.models,
        guards: apiGuards,
        bodyLimitBytes: config.bodyLimitBytes,
        blockOnFail: config.gatewayBlockOnFail,
        metrics: createGatewayMetrics(deps.metrics.registry),
        ...(deps.threads !== undefined ? { threads: deps.threads } : {}),
        startedAt: Math.floor((deps.startedAt ?? Date.now()) / 1000),
        chatLimits: deps.access.chatLimits,
      }),
    );
  }

  const rendererDir = deps.rendererDir;
  if (rendererDir !== undefined && existsSync(path.join(rendererDir, 'index.html'))) {
    app.use(
      express.static(rendererDir, {
        index: false,
        maxAge: '1h',
        setHeaders: (res, file) => {
          if (file.endsWith('.html')) {
            res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
            res.setHeader('Cache-Control', 'no-cache');
          }
        },
      }),
    );
    // The app's HTML for its client-side routes; a missing file under /assets/ is a 404 (a script
    // tag that receives HTML fails in confusing ways), as are /api/, /ws/ and /v1 paths.
    app.get(/^\/(?!api\/|ws\/|assets\/|v1(?:\/|$)).*/, (req: Request, res: Response) => {
      res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(path.join(rendererDir, 'index.html'));
    });
  }

  app.use((req: Request) => {
    throw new AppError(404, 'not-found', `no route ${req.method} ${req.path}`);
  });
  const onError = errorHandler(deps);
  app.use(onError);

  // The same middleware, in the same order, as the routed chain of each of these.
  const fastHandlers: Record<string, RequestHandler[]> = {
    'GET /healthz': [...edge, probes.healthz],
    'GET /api/status': [...edge, ...apiGuards, statusApi.status],
    'POST /api/chat': [...edge, ...apiGuards, jsonBody, chatTurnRoute(deps.chat, deps.access.chatLimits)],
  };
  const fastRoutes = new Map<string, RequestHandler[]>();
  for (const key of FAST_ROUTES) {
    const handlers = fastHandlers[key];
    if (handlers === undefined) throw new Error(`fast path ${key} has no handlers`);
    fastRoutes.set(key, handlers);
  }
  const fast = fastPath(fastRoutes, onError);
  return { app, fast };
}
