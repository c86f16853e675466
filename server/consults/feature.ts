/**
 * Consult workflow: ConsultRequest state machine, queue and SLA, live room with waiting
 * room, chat with attachments, private notes, signed ConsultReport. See docs/consults.md.
 */
import { rooms as socketRooms } from '../../contracts/events';
import type { PatientRecords } from '../emr/records-api';
import { secretFromConfigOrDataDir } from '../auth/secrets';
import type { Feature, FeatureContext } from '../platform/feature';
import { PROCESS_HEARTBEAT_MS } from '../platform/room-presence';
import { SigningKeys } from '../signing/signing-keys';
import { ConsultAccess } from './access';
import { ConsultChat } from './consult-chat';
import { ConsultReports } from './consult-reports';
import { ConsultRoomService } from './consult-room-service';
import { ConsultService } from './consult-service';
import { createConsultDirectory } from './directory';
import type { ConsultDirectory } from './directory-api';
import { listenToDomainEvents } from './domain-listeners';
import { ConsultNotifier } from './notifier';
import { consultDocs, consultRouter } from './routes';
import { SlaSweeper, SWEEP_LEASE_TTL_MS } from './sla-sweeper';
import { consultSocketFeature } from './socket-handlers';
import { attachmentUploadPurpose } from './upload-purpose';

export function createConsultFeature(ctx: FeatureContext, deps: { records: PatientRecords }): Feature & { directory: ConsultDirectory } {
  const access = new ConsultAccess(ctx.conn, ctx.audit, deps.records);
  const notifier = new ConsultNotifier(ctx.realtime, (specialty) => access.candidateSpecialistIds(specialty));
  const service = new ConsultService(access, deps.records, notifier, ctx.logger, ctx.events);
  const chat = new ConsultChat(ctx.conn, access, notifier);
  const keys = new SigningKeys(
    ctx.conn,
    secretFromConfigOrDataDir(ctx.config.auth.keyEncryptionSecret, ctx.config.dataDir, 'key-encryption-secret'),
    ctx.config.signing,
  );
  const reports = new ConsultReports(ctx.conn, access, service, keys, deps.records, notifier, ctx.logger);
  const roomService = new ConsultRoomService({
    io: () => ctx.realtime.io,
    access,
    service,
    chat,
    records: deps.records,
    presence: ctx.shared.roomPresence('consult'),
  });
  const sweeper = new SlaSweeper(access.consults, notifier, ctx.logger, ctx.shared.lease('sla-sweeper', SWEEP_LEASE_TTL_MS));
  const unsubscribe = listenToDomainEvents(ctx.events, access.consults, notifier);
  // Revocation: a deactivated user's (or facility's) live sockets are told and closed, and with them their calls.
  const offRevoked = ctx.accessTokens.status?.onRevoked((r) => {
    const io = ctx.realtime.io;
    const room = r.userId ? socketRooms.user(r.userId) : r.facilityId ? socketRooms.facility(r.facilityId) : null;
    if (!room) return;
    io.to(room).emit('session:expired', { message: `${r.reason}; sign in again` });
    io.in(room).disconnectSockets(true);
  });
  if (offRevoked) unsubscribe.push(offRevoked);
  sweeper.start();
  // Several processes: a dead process's room members are taken out and the rooms told (departures go to one process each).
  const departedSweep = setInterval(() => {
    roomService.sweepDeparted().catch((err: unknown) => ctx.logger.warn({ err }, 'consult room departures sweep failed'));
  }, PROCESS_HEARTBEAT_MS);
  departedSweep.unref();

  return {
    name: 'consults',
    directory: createConsultDirectory(access.consults, access),
    uploadPurposes: [attachmentUploadPurpose(chat, access)],
    mounts: [{ path: '/api/consults', guards: [ctx.requireAuth], router: consultRouter({ service, chat, reports }), docs: consultDocs }],
    socket: consultSocketFeature({ tokens: ctx.accessTokens, room: roomService, logger: ctx.logger }),
    close: async () => {
      for (const off of unsubscribe) off();
      clearInterval(departedSweep);
      await sweeper.stop();
    },
  };
}
