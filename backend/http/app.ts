import { existsSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import type { ChatService } from '../chat/service.js';
import type { ConversationService } from '../chat/conversations.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../data/store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ModelCatalog } from '../providers/catalog.js';
import type { MetricsSnapshotter } from '../metrics/snapshot.js';
import type { StatusService } from '../status/status.js';
import { pairingRoute, presentedToken, requireToken } from './auth.js';
import { AppError, errorBody } from './errors.js';
import { assignRequestId, requestLog } from './request-context.js';
import { fastPath, pathOf } from './fast-path.js';
import { breakerRoutes, type BreakerSources } from './routes/breakers.js';
import { chatRoutes, type ReplyFollowing } from './routes/chat.js';
import { conversationRoutes } from './routes/conversations.js';
import { searchRoutes } from './routes/search.js';
import { transferRoutes } from './routes/transfer.js';
import { modelRoutes } from './routes/models.js';
import { probeRoutes, prometheusRoute, statusRoutes } from './routes/health.js';
import { CONTENT_SECURITY_POLICY, allowedHostNames, cors, hostGuard, isLoopback, rateLimit, securityHeaders } from './security.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  tokenMatches: (candidate: string | undefined) => boolean;
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
}

/** Routes polled often; their successful requests are logged at debug to keep logs readable. */
const QUIET = new Set(['/healthz', '/readyz', '/metrics', '/api/status', '/api/metrics']);

/** Served by fastPath without the router; their paths are their route labels. */
const FAST_GET_PATHS = new Set(['/healthz', '/api/status']);

function routeLabel(req: Request): string {
  const route = (req as { route?: unknown }).route as { path?: unknown } | undefined;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  if (req.method === 'GET') {
    const path = pathOf(req.url);
    if (FAST_GET_PATHS.has(path)) return path;
  }
  return 'unmatched';
}

function observe(deps: AppDeps) {
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
        requestLog(req)[level](
          { method: req.method, path: req.path, route, status: res.statusCode, ms: Math.round(seconds * 100000) / 100 },
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
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is('application/json')) {
      next(new AppError(415, 'unsupported-media-type', 'send the request body as JSON with Content-Type: application/json'));
      return;
    }
    parse(req, res, next);
  };
}

/** Turns anything thrown into the contract's error shape; never sends a stack to a client. */
function errorHandler(deps: AppDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let appError: AppError;
    if (err instanceof AppError) appError = err;
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
    } else {
      requestLog(req).error({ err }, 'unhandled error');
      appError = new AppError(500, 'internal-error', 'something went wrong on the server; the log has the details');
    }
    if (res.headersSent) {
      // An SSE stream already started: the chat service reported the failure in-band.
      if (!res.writableEnded) res.end();
      return;
    }
    res.status(appError.status).json(errorBody(appError));
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
  // Proxies are not trusted: the socket address decides who is local.
  app.set('trust proxy', false);

  const edge: RequestHandler[] = [observe(deps), hostGuard(allowedHostNames(config.host, config.allowedHosts)), securityHeaders];
  app.use(...edge);
  const probes = probeRoutes(deps.store, deps.isClosing);
  app.use(probes.router);

  const tokenGuard = requireToken(deps.tokenMatches);
  const prometheus = prometheusRoute(deps.metrics);
  app.get('/metrics', (req: Request, res: Response, next: NextFunction) => {
    // Open to a local scraper; a remote one must present the token like any API client.
    if (isLoopback(req.socket.remoteAddress) || deps.tokenMatches(presentedToken(req.headers))) {
      prometheus(req, res).catch(next);
      return;
    }
    tokenGuard(req, res, next);
  });
  app.get('/pair', pairingRoute(deps.tokenMatches, () => false));

  const api = express.Router();
  const apiGuards: RequestHandler[] = [cors(config.corsOrigins), rateLimit(config.rateLimitPerMinute), tokenGuard];
  api.use(...apiGuards);
  api.use(jsonBodyParser(config.bodyLimitBytes));
  const statusApi = statusRoutes(deps.status, deps.snapshotter);
  api.use(statusApi.router);
  api.use(chatRoutes(deps.chat, deps.following));
  // Before the :id routes, so /conversations/import is not taken for an id.
  api.use(transferRoutes(deps.conversations));
  api.use(conversationRoutes(deps.conversations));
  api.use(searchRoutes(deps.conversations));
  if (deps.breakers) api.use(breakerRoutes(deps.breakers));
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

  const rendererDir = deps.rendererDir;
  if (rendererDir !== undefined && existsSync(path.join(rendererDir, 'index.html'))) {
    app.use(
      express.static(rendererDir, {
        index: false,
        maxAge: '1h',
        setHeaders: (res, file) => {
          if (file.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
        },
      }),
    );
    app.get(/^\/(?!api\/|ws\/).*/, (req: Request, res: Response) => {
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

  const fastHandlers: Record<string, RequestHandler[]> = {
    '/healthz': [...edge, probes.healthz],
    '/api/status': [...edge, ...apiGuards, statusApi.status],
  };
  const fastRoutes = new Map<string, RequestHandler[]>();
  for (const p of FAST_GET_PATHS) {
    const handlers = fastHandlers[p];
    if (handlers === undefined) throw new Error(`fast path ${p} has no handlers`);
    fastRoutes.set(`GET ${p}`, handlers);
  }
  const fast = fastPath(fastRoutes, onError);
  return { app, fast };
}
