/**
 * The composition root: config → database → audit and identity → (SFU, triage) → HTTP + socket.io.
 * Shutdown runs in reverse. `startPlatform` is also what the integration and e2e tests start.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UPLOADS_PATH } from '../contracts/upload-api';
import { adminDocs, adminRouter } from './admin/routes';
import { AuditLog, auditOptionsFrom } from './audit/audit-log';
import { auditAdminRouter, auditDocs } from './audit/routes';
import { AuthService } from './auth/auth-service';
import { requireAuth, requireRole } from './auth/middleware';
import { authDocs, authRouter } from './auth/routes';
import { secretFromConfigOrDataDir } from './auth/secrets';
import { AccessTokens } from './auth/tokens';
import { ConfigError, loadConfig, type HoichanConfig } from './config';
import { openDatabase, type OpenedDatabase } from './db/open-database';
import { seedDemo } from './demo/seed';
import { directoryDocs, directoryRouter } from './directory/routes';
import { createHttpApp, type RouteMount } from './http/app';
import { HttpDispatcher } from './http/dispatch';
import { idempotency } from './http/idempotency';
import { createLogger, type Logger } from './observability/logger';
import { PlatformMetrics } from './observability/metrics';
import { Realtime } from './realtime/realtime';
import { createConsultFeature } from './consults/feature';
import type { ConsultDirectory } from './consults/directory-api';
import { createEmrFeature } from './emr/feature';
import { createImagingFeature } from './imaging/feature';
import { DomainEvents } from './platform/domain-events';
import { openSharedState } from './platform/shared-state';
import type { Feature, FeatureContext } from './platform/feature';
import { createSfuFeature } from './sfu/feature';
import { createResumableUploads } from './uploads/resumable-uploads';

export interface Platform {
  config: HoichanConfig;
  logger: Logger;
  db: OpenedDatabase;
  audit: AuditLog;
  auth: AuthService;
  events: DomainEvents;
  realtime: Realtime;
  httpServer: Server;
  /** Base URL the platform listens on, e.g. http://127.0.0.1:8080 */
  url: string;
  close(): Promise<void>;
}

export async function startPlatform(config: HoichanConfig, logger: Logger = createLogger(config.logLevel)): Promise<Platform> {
  const metrics = new PlatformMetrics();
  const closers: Array<{ name: string; close: () => Promise<void> }> = [];
  let stopAccepting: (() => Promise<void>) | null = null;
  const closeAll = async () => {
    await stopAccepting?.();
    for (const c of closers.reverse()) {
      try {
        await c.close();
      } catch (err) {
        logger.error({ err, part: c.name }, 'error while shutting down');
      }
    }
  };

  try {
    // 1. database
    const db = await openDatabase(config, logger, () => metrics.databaseRestarts.inc());
    closers.push({ name: 'database', close: () => db.close() });
    const conn = db.database.connection;

    // 1b. state shared by every server process (Redis when REDIS_URL is set, this process otherwise)
    const shared = await openSharedState(config.redisUrl, logger);
    closers.push({ name: 'shared state', close: () => shared.close() });

    // 2. audit and identity
    const audit = AuditLog.create(conn, auditOptionsFrom(config));
    closers.push({ name: 'audit', close: () => audit.close() });
    const accessTokens = new AccessTokens({
      secret: secretFromConfigOrDataDir(config.auth.jwtSecret, config.dataDir, 'jwt-secret'),
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      ttlS: config.auth.accessTokenTtlS,
    });
    const auth = new AuthService(conn, accessTokens, audit, config.auth, metrics, shared);
    const authenticated = requireAuth(accessTokens);

    // 3. HTTP server and realtime first (features emit through realtime), the express app last.
    // The dispatcher is the server's request listener *before* socket.io attaches: engine.io then
    // answers /socket.io/ itself and hands every other request to the dispatcher (never both).
    const dispatcher = new HttpDispatcher(logger);
    const httpServer = createServer(dispatcher.listener);
    const realtime = new Realtime(httpServer, accessTokens, logger, { audit, limits: config.realtime, shared });
    // Shutdown: stop accepting first, then (reverse order) features, sockets, audit, database.
    // Shutdown drains before anything closes: no new connections, idle keep-alive connections
    // closed, and the requests in flight answered (up to 60 % of SHUTDOWN_TIMEOUT_MS) while the
    // features and the database they use are still up. Only then the rest is closed.
    stopAccepting = async () => {
      if (!httpServer.listening) return;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      const unfinished = await dispatcher.drain(Math.round(config.shutdownTimeoutMs * 0.6));
      if (unfinished > 0) logger.warn({ unfinished }, 'shutdown: requests still running after the drain period are cut off');
      httpServer.closeAllConnections();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 500).unref())]);
    };
    closers.push({ name: 'realtime', close: () => realtime.close() });
    const events = new DomainEvents();
    events.onError((err) => logger.error({ err }, 'domain event listener failed'));

    // 4. features: shared EMR → imaging and triage → consults → live video
    const ctx: FeatureContext = { config, logger, metrics, conn, audit, accessTokens, requireAuth: authenticated, events, realtime, shared };
    const features: Feature[] = [];
    const addFeature = <F extends Feature>(feature: F): F => {
      features.push(feature);
      if (feature.close) closers.push({ name: feature.name, close: feature.close });
      return feature;
    };
    // eslint-disable-next-line prefer-const -- read by the closure above before it is assigned, so it stays let
    let consultDirectory: ConsultDirectory | undefined;
    const emr = addFeature(createEmrFeature(ctx, { consults: () => consultDirectory }));
    addFeature(await createImagingFeature(ctx, { records: emr.records }));
    const consults = addFeature(createConsultFeature(ctx, { records: emr.records }));
    consultDirectory = consults.directory;
    addFeature(await createSfuFeature(ctx, { consults: consults.directory }));

    // Resumable uploads (tus) for the kinds of file the features take.
    const uploads = await createResumableUploads({
      dataDir: config.dataDir,
      mountPath: UPLOADS_PATH,
      purposes: features.flatMap((f) => f.uploadPurposes ?? []),
      logger,
    });
    closers.push({ name: 'uploads', close: () => uploads.close() });

    await db.database.syncIndexes();
    if (config.demo.seed) {
      const seeded = await seedDemo(
        conn,
        config.demo.password,
        features.flatMap((f) => (f.seed ? [f.seed] : [])),
      );
      if (seeded.generatedPassword && config.env !== 'production') {
        // Printed once on the console for the person installing the demo; never logged as JSON.
        process.stdout.write(
          `\nhoichan demo accounts created. Password for every demo login: ${seeded.generatedPassword}\n  referrer@district.demo, specialist@central.demo, radiologist@central.demo, admin@central.demo\n\n`,
        );
      }
    }

    const mounts: RouteMount[] = [
      { path: '/api', guards: [], router: authRouter(auth, conn), docs: authDocs },
      { path: '/api/admin/audit', guards: [authenticated, requireRole('admin')], router: auditAdminRouter(audit), docs: auditDocs },
      { path: '/api/admin', guards: [authenticated, requireRole('admin')], router: adminRouter(conn, audit, auth), docs: adminDocs },
      { path: '/api/directory', guards: [authenticated], router: directoryRouter(conn, audit, emr.records), docs: directoryDocs },
      ...features.flatMap((f) => f.mounts ?? []),
      { path: UPLOADS_PATH, guards: [authenticated], router: uploads.router, docs: uploads.docs },
    ];
    for (const f of features) if (f.socket) realtime.use(f.socket);
    const app = createHttpApp({
      logger,
      metrics,
      jsonBodyLimit: config.http.jsonBodyLimit,
      isDatabaseReachable: () => db.database.isReachable(),
      mounts,
      clientDistDir: config.http.clientDistDir,
      requestTimeoutMs: config.http.requestTimeoutMs,
      idempotency: idempotency(conn, logger, Math.max(60_000, 2 * config.http.requestTimeoutMs)),
    });
    dispatcher.setHandler(app);
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.http.port, config.http.host, () => resolve());
    });
    const addr = httpServer.address() as AddressInfo;
    const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
    const url = `http://${host}:${addr.port}`;
    logger.info({ url, database: db.embedded ? 'embedded FerretDB' : 'MONGODB_URI' }, 'hoichan is listening');

    let closed: Promise<void> | null = null;
    return {
      config,
      logger,
      db,
      audit,
      auth,
      events,
      realtime,
      httpServer,
      url,
      close: () => (closed ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function main(): Promise<void> {
  let config: HoichanConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const platform = await startPlatform(config, logger);
  let stopping = false;
  const stop = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    platform.close().then(
      () => {
        logger.info('stopped');
        process.exit(exitCode);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // A stray rejected promise (a listener, a timer) must not take every other request down with it.
  process.on('unhandledRejection', (reason: unknown) => {
    logger.error({ err: reason }, 'unhandled promise rejection; kept running');
  });
  // After an uncaught exception the process state is unknown: shut down in order (closing the
  // embedded database rather than orphaning it) and exit 1 so the supervisor restarts us.
  process.on('uncaughtException', (err: Error) => {
    logger.fatal({ err }, 'uncaught exception; shutting down');
    stop('uncaughtException', 1);
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`hoichan failed to start: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
