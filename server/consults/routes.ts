/** /api/consults: the HTTP face of the consult workflow (mounted behind requireAuth). */
import { Router, type Request, type RequestHandler } from 'express';
import multer from 'multer';
import { CONSULT_ACTIONS, type ConsultAction } from '../../contracts/consult-api';
import type { ConsultRequest } from '../../models/consult-request';
import { NotFoundError } from '../platform/errors';
import { callerOf } from '../http/request-context';
import { parseInput } from '../http/validate';
import { MAX_ATTACHMENT_BYTES } from './attachments';
import type { ConsultChat } from './consult-chat';
import type { ConsultReports } from './consult-reports';
import type { ConsultService } from './consult-service';
import type { ApiDocs } from '../http/openapi';
import { consultBundle } from './fhir-export';
import {
  attachmentParams,
  consultIdParam,
  createConsultSchema,
  inviteSchema,
  messageBodySchema,
  noteBodySchema,
  queueQuerySchema,
  reportBodySchema,
  transitionBodySchema,
  versionQuerySchema,
} from './schemas';

const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_ATTACHMENT_BYTES, files: 1, fields: 5, fieldSize: 16 * 1024 } });

/** Express 5 forwards rejected promises to the error handler; this only keeps the handlers short. */
const h =
  (fn: (req: Request) => Promise<{ status?: number; body: unknown }>): RequestHandler =>
  async (req, res) => {
    const r = await fn(req);
    res.status(r.status ?? 200).json(r.body);
  };

const ACTION_SUMMARY: Record<Exclude<ConsultAction, 'report'>, string> = {
  submit: 'Submit a draft request to the central hospital queue (referring doctor)',
  accept: 'Take the request from the queue (specialist)',
  decline: 'Decline the request with a reason (specialist)',
  schedule: 'Set the time of the call',
  start: 'Open the live call',
  close: 'Close the consult after the signed report',
  cancel: 'Withdraw the request (referring doctor)',
};

export const consultDocs: ApiDocs = {
  'POST /': {
    summary: 'Request a specialist consult for a patient, with the EMR and X-ray studies attached',
    roles: ['referring_doctor'],
    body: createConsultSchema,
    status: 201,
  },
  'GET /': { summary: "The caller's consults (requested, taking part or invited)" },
  'GET /queue': {
    summary: 'The central-hospital queue: urgency, then AI flag severity, then waiting time; SLA deadlines',
    roles: ['specialist'],
    query: queueQuerySchema,
  },
  'GET /:id': { summary: 'One consult with its participants and state times' },
  'GET /:id/fhir': { summary: 'The consult as FHIR (ServiceRequest, Task, the signed report as DiagnosticReport with a Provenance carrying its signature)' },
  ...Object.fromEntries(
    CONSULT_ACTIONS.filter((a): a is Exclude<ConsultAction, 'report'> => a !== 'report').map((a) => [
      `POST /:id/${a}`,
      { summary: ACTION_SUMMARY[a], body: transitionBodySchema },
    ]),
  ),
  'POST /:id/report': {
    summary:
      'Write and sign (ES256 detached JWS with the X.509 chain of the signer, certified by the hospital CA) the consult report; a later one is a new signed version',
    roles: ['specialist'],
    body: reportBodySchema,
    status: 201,
  },
  'GET /:id/report': { summary: 'The signed report (latest, or ?version=)', query: versionQuerySchema },
  'GET /:id/report/versions': { summary: 'All signed versions of the report' },
  'GET /:id/report/verify': {
    summary: "Verify a report's signature, certificate chain, validity at signing time and revocation; names signer and certificate",
    query: versionQuerySchema,
  },
  'POST /:id/participants': { summary: 'Invite a colleague (e.g. a radiologist) to the consult', body: inviteSchema, status: 201 },
  'GET /:id/messages': { summary: 'Chat messages of the consult' },
  'POST /:id/messages': { summary: 'Post a chat message, optionally with one attachment', multipart: { fields: messageBodySchema, file: 'file' }, status: 201 },
  'GET /:id/attachments/:attId': { summary: 'Download a chat attachment (checksum in X-Checksum-Sha256)', produces: 'application/octet-stream' },
  'GET /:id/notes': { summary: "The caller's private notes (never shown to others)" },
  'POST /:id/notes': { summary: 'Add a private note', body: noteBodySchema, status: 201 },
};

const idOf = (req: Request) => parseInput(consultIdParam, req.params, 'params').id;

export function consultRouter(deps: { service: ConsultService; chat: ConsultChat; reports: ConsultReports }): Router {
  const { service, chat, reports } = deps;
  const r = Router();

  r.post(
    '/',
    h(async (req) => ({ status: 201, body: await service.create(callerOf(req), parseInput(createConsultSchema, req.body ?? {}), req.context) })),
  );
  r.get(
    '/',
    h(async (req) => ({ body: await service.listMine(callerOf(req), req.context) })),
  );
  r.get(
    '/queue',
    h(async (req) => ({ body: await service.queue(callerOf(req), parseInput(queueQuerySchema, req.query, 'query').specialty, req.context) })),
  );
  r.get(
    '/:id',
    h(async (req) => ({ body: await service.get(callerOf(req), idOf(req), req.context) })),
  );

  r.get(
    '/:id/fhir',
    h(async (req) => {
      const caller = callerOf(req);
      const id = idOf(req);
      await service.get(caller, id, req.context); // access check + audit
      const consult = await service.consults.findById(id).lean<ConsultRequest>();
      if (!consult) throw new NotFoundError(`No consult ${id}`);
      return { body: consultBundle(consult, await reports.latestResource(id), await reports.latestProvenance(id)) };
    }),
  );

  // state-machine actions; `report` carries the report body and signs it
  for (const action of CONSULT_ACTIONS) {
    if (action === 'report') continue;
    r.post(
      `/:id/${action}`,
      h(async (req) => ({ body: await service.transition(callerOf(req), idOf(req), action, parseInput(transitionBodySchema, req.body ?? {}), req.context) })),
    );
  }
  r.post(
    '/:id/report',
    h(async (req) => ({ status: 201, body: await reports.write(callerOf(req), idOf(req), parseInput(reportBodySchema, req.body ?? {}), req.context) })),
  );
  r.get(
    '/:id/report',
    h(async (req) => ({ body: await reports.get(callerOf(req), idOf(req), parseInput(versionQuerySchema, req.query, 'query').version, req.context) })),
  );
  r.get(
    '/:id/report/versions',
    h(async (req) => ({ body: await reports.versions(callerOf(req), idOf(req), req.context) })),
  );
  r.get(
    '/:id/report/verify',
    h(async (req) => ({ body: await reports.verify(callerOf(req), idOf(req), parseInput(versionQuerySchema, req.query, 'query').version, req.context) })),
  );

  r.post(
    '/:id/participants',
    h(async (req) => ({ status: 201, body: await service.invite(callerOf(req), idOf(req), parseInput(inviteSchema, req.body ?? {}), req.context) })),
  );

  r.get(
    '/:id/messages',
    h(async (req) => ({ body: await chat.list(callerOf(req), idOf(req), req.context) })),
  );
  r.post(
    '/:id/messages',
    upload.single('file'),
    h(async (req) => {
      const body = parseInput(messageBodySchema, req.body ?? {});
      return { status: 201, body: await chat.post(callerOf(req), idOf(req), body.text, req.file, req.context) };
    }),
  );
  r.get('/:id/attachments/:attId', async (req, res) => {
    const { id, attId } = parseInput(attachmentParams, req.params, 'params');
    const att = await chat.attachment(callerOf(req), id, attId, req.context);
    res.setHeader('Content-Type', att.contentType);
    res.setHeader('Content-Length', String(att.data.length));
    res.setHeader('Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(att.filename)}`);
    res.setHeader('X-Checksum-Sha256', att.sha256);
    res.setHeader('Cache-Control', 'private, no-store');
    res.end(att.data);
  });

  r.get(
    '/:id/notes',
    h(async (req) => ({ body: await chat.myNotes(callerOf(req), idOf(req), req.context) })),
  );
  r.post(
    '/:id/notes',
    h(async (req) => ({ status: 201, body: await chat.addNote(callerOf(req), idOf(req), parseInput(noteBodySchema, req.body ?? {}).text, req.context) })),
  );
  return r;
}
