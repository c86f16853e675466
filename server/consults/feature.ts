/**
 * Consult workflow (issue 4): ConsultRequest state machine, queue and SLA, live room with waiting
 * room, chat with attachments, private notes, signed ConsultReport. See docs/consults.md.
 */
import type { PatientRecords } from '../fhir/records-api';
import { secretFromConfigOrDataDir } from '../auth/secrets';
import type { Feature, FeatureContext } from '../platform/feature';
import { SigningKeys } from '../signing/signing-keys';
import { ConsultAccess } from './access';
import { ConsultChat } from './consult-chat';
import { ConsultReports } from './consult-reports';
import { ConsultRooms } from './consult-room';
import { ConsultService } from './consult-service';
import { createConsultDirectory } from './directory';
import type { ConsultDirectory } from './directory-api';
import { listenToDomainEvents } from './domain-listeners';
import { ConsultNotifier } from './notifier';
import { consultDocs, consultRouter } from './routes';
import { SlaSweeper } from './sla-sweeper';
import { consultSocketFeature } from './socket-handlers';

export function createConsultFeature(ctx: FeatureContext, deps: { records: PatientRecords }): Feature & { directory: ConsultDirectory } {
  const access = new ConsultAccess(ctx.conn, ctx.audit, deps.records);
  const notifier = new ConsultNotifier(ctx.realtime, () => access.centralFacilityIds());
  const service = new ConsultService(access, deps.records, notifier, ctx.logger);
  const chat = new ConsultChat(ctx.conn, access, notifier);
  const keys = new SigningKeys(ctx.conn, secretFromConfigOrDataDir(ctx.config.auth.keyEncryptionSecret, ctx.config.dataDir, 'key-encryption-secret'));
  const reports = new ConsultReports(ctx.conn, access, service, keys, deps.records, notifier, ctx.logger);
  const rooms = new ConsultRooms();
  const sweeper = new SlaSweeper(access.consults, notifier, ctx.logger);
  const unsubscribe = listenToDomainEvents(ctx.events, access.consults, notifier);
  sweeper.start();

  return {
    name: 'consults',
    directory: createConsultDirectory(access.consults, access),
    mounts: [{ path: '/api/consults', guards: [ctx.requireAuth], router: consultRouter({ service, chat, reports }), docs: consultDocs }],
    socket: consultSocketFeature({ io: () => ctx.realtime.io, access, service, chat, records: deps.records, rooms, logger: ctx.logger }),
    close: async () => {
      for (const off of unsubscribe) off();
      await sweeper.stop();
    },
  };
}
