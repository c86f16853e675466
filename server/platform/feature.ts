import type { RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import type { AuditLog } from '../audit/audit-log';
import type { AccessTokens } from '../auth/tokens';
import type { HoichanConfig } from '../config';
import type { DemoSeedStep } from '../demo/seed';
import type { RouteMount } from '../http/app';
import type { Logger } from '../observability/logger';
import type { PlatformMetrics } from '../observability/metrics';
import type { Realtime, SocketFeature } from '../realtime/realtime';
import type { UploadPurpose } from '../uploads/upload-purpose';
import type { DomainEvents } from './domain-events';
import type { SharedState } from './shared-state';

/** What the composition root hands every feature. */
export interface FeatureContext {
  config: HoichanConfig;
  logger: Logger;
  metrics: PlatformMetrics;
  conn: Connection;
  audit: AuditLog;
  accessTokens: AccessTokens;
  /** Express middleware: a valid access token, caller in req.context.caller. */
  requireAuth: RequestHandler;
  events: DomainEvents;
  realtime: Realtime;
  /** State shared by every server process (Redis with REDIS_URL, else this process): room presence, timed-job leases, … */
  shared: SharedState;
}

/** What a feature gives back: its routes, its socket handlers, its demo data, and how to stop it. */
export interface Feature {
  name: string;
  mounts?: RouteMount[];
  socket?: SocketFeature;
  seed?: DemoSeedStep;
  /** Kinds of file it takes over the resumable-upload route (/api/uploads, tus). */
  uploadPurposes?: UploadPurpose[];
  /** Called on shutdown, in reverse order of creation. */
  close?: () => Promise<void>;
}
