import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router, type Express, type RequestHandler } from 'express';
import type { HealthResponse, ReadinessResponse } from '../../contracts/api';
import type { Logger } from '../observability/logger';
import type { PlatformMetrics } from '../observability/metrics';
import { DomainError } from '../platform/errors';
import { errorHandler, notFoundHandler } from './error-handler';
import { checkJsonShape } from './json-shape';
import { requestLifetime } from './lifetime';
import { buildOpenApi, type ApiDocs } from './openapi';
import { requestContext } from './request-context';

export interface RouteMount {
  /** e.g. "/api/admin" */
  path: string;
  /** Middleware run before the router (auth, role checks). */
  guards: RequestHandler[];
  router: Router;
  /** What the code cannot say about the router's routes, for /api/openapi.json. */
  docs?: ApiDocs;
}

const PLATFORM_DOCS: ApiDocs = {
  'GET /healthz': { summary: 'Liveness: the process is up', public: true },
  'GET /readyz': { summary: 'Readiness: the database answers (503 while it does not)', public: true },
  'GET /metrics': { summary: 'Prometheus metrics', public: true, produces: 'text/plain' },
  'GET /api/openapi.json': { summary: 'This document', public: true },
};

export interface AppOptions {
  logger: Logger;
  metrics: PlatformMetrics;
  jsonBodyLimit: string;
  isDatabaseReachable: () => Promise<boolean>;
  mounts: RouteMount[];
  /** Built single-page app; served with index.html fallback when present. */
  clientDistDir?: string;
  /** Deadline of one request (multipart uploads excepted), then 503 and its AbortSignal fires. Default 30 s. */
  requestTimeoutMs?: number;
  /** Idempotency-Key handling, mounted after the guards of every /api mount. */
  idempotency?: RequestHandler;
}

/** Every parsed JSON body passes the shape limits (depth, storable keys) before any route sees it. */
const jsonShapeGuard: RequestHandler = (req, _res, next) => {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) {
    next();
    return;
  }
  const problem = checkJsonShape(body);
  if (problem) {
    next(new DomainError(400, problem.code, problem.message, problem.path ? [problem.path] : undefined));
    return;
  }
  next();
};

/** A NUL character in the path or the query (`%00`) is refused: no stored text may hold one, and no id or search value needs it. */
const nulInAddressGuard: RequestHandler = (req, _res, next) => {
  if (/%00/i.test(req.originalUrl) || req.originalUrl.includes('\u0000')) {
    next(new DomainError(400, 'invalid_character', 'A NUL character (%00) is not allowed in the address'));
    return;
  }
  next();
};

/** The express app: request id, metrics, health, feature routers, the SPA, and the one error handler. */
export function createHttpApp(opts: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestContext);
  app.use(requestLifetime(opts.requestTimeoutMs ?? 30_000));
  app.use(nulInAddressGuard);
  app.use((req, res, next) => {
    const end = opts.metrics.httpDuration.startTimer();
    res.on('finish', () => {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-member-access -- express types req.route as any
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : req.baseUrl || 'unmatched';
      opts.metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  });
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });
  app.use(express.json({ limit: opts.jsonBodyLimit, type: ['application/json', 'application/fhir+json', 'application/*+json'] }));
  app.use(jsonShapeGuard);

  const platform = Router();
  platform.get('/healthz', (_req, res) => {
    const body: HealthResponse = { status: 'ok' };
    res.json(body);
  });
  platform.get('/readyz', async (_req, res) => {
    const up = await opts.isDatabaseReachable();
    const body: ReadinessResponse = { status: up ? 'ready' : 'not_ready', database: up ? 'up' : 'down' };
    res.status(up ? 200 : 503).json(body);
  });
  platform.get('/metrics', async (_req, res) => {
    res.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics());
  });
  platform.get('/api/openapi.json', (_req, res) => {
    res.json(openApi.document);
  });
  const openApi = buildOpenApi([{ path: '', router: platform, docs: PLATFORM_DOCS }, ...opts.mounts], {
    title: 'hoichan API',
    version: '1',
    description:
      'Remote consultation between district clinics and central hospitals: consults, shared EMR (FHIR R4 under /fhir/R4, see its CapabilityStatement), chest X-ray triage. Errors are {error, message} under /api and OperationOutcome under /fhir/R4.',
  });
  for (const route of openApi.undocumented) opts.logger.warn({ route }, 'route has no OpenAPI documentation');
  app.use(platform);

  for (const mount of opts.mounts) {
    const idem = opts.idempotency && (mount.path === '/api' || mount.path.startsWith('/api/')) ? [opts.idempotency] : [];
    app.use(mount.path, ...mount.guards, ...idem, mount.router);
  }
  app.use(['/api', '/fhir'], notFoundHandler);

  if (opts.clientDistDir && existsSync(path.join(opts.clientDistDir, 'index.html'))) {
    const dist = opts.clientDistDir;
    // The service worker (client/public/sw.js): browsers must see a new build at once, so no long cache.
    if (existsSync(path.join(dist, 'sw.js'))) {
      app.get('/sw.js', (_req, res) => {
        res.setHeader('Cache-Control', 'no-cache');
        res.type('text/javascript');
        res.sendFile(path.join(dist, 'sw.js'));
      });
    }
    app.use(express.static(dist, { index: false, maxAge: '1h' }));
    app.get(/^\/(?!api\/|fhir\/|socket\.io\/).*/, (_req, res) => {
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(path.join(dist, 'index.html'));
    });
  }
  app.use(notFoundHandler);
  app.use(errorHandler(opts.logger));
  return app;
}
