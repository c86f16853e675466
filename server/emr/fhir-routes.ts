/** The FHIR R4 REST API under /fhir/R4 (behind requireAuth; metadata is mounted apart, public). */
import { Router, type Request, type Response } from 'express';
import type { FhirBundle, FhirResource } from '../../contracts/fhir';
import { InvalidInputError, NotFoundError } from '../platform/errors';
import { callerOf } from '../http/request-context';
import { parseIfMatch, type BundleProcessor } from './bundle';
import { capabilityStatement } from './capability';
import type { RecordService } from './record-service';
import type { WriteResult } from './resource-store';
import { conditionalMatch, searchResources } from './search-service';
import type { SearchQuery } from './search';
import { buildSummary } from './summary';
import { isKnownResourceType } from './validation';
import type { ApiDocs } from '../http/openapi';

export const FHIR_JSON = 'application/fhir+json';

export function baseUrlOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}/fhir/R4`;
}

export function sendFhir(res: Response, status: number, body: FhirResource): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}

function typeParam(req: Request): string {
  const type = String(req.params.type);
  if (!/^[A-Z][A-Za-z]{1,63}$/.test(type) || !isKnownResourceType(type)) throw new NotFoundError(`'${type}' is not a FHIR R4 resource type`);
  return type;
}
function idParam(req: Request, name = 'id'): string {
  const id = String(req.params[name]);
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw new InvalidInputError(`'${id}' is not a valid FHIR id`, ['id']);
  return id;
}

function sendWrite(req: Request, res: Response, r: WriteResult): void {
  const base = baseUrlOf(req);
  res.setHeader('ETag', `W/"${r.versionId}"`);
  res.setHeader('Last-Modified', r.lastUpdated.toUTCString());
  res.setHeader('Location', `${base}/${r.type}/${r.id}/_history/${r.versionId}`);
  sendFhir(res, r.created ? 201 : 200, r.resource as FhirResource);
}

export const fhirMetadataDocs: ApiDocs = {
  'GET /': { summary: 'FHIR CapabilityStatement: resource types, search parameters, operations', fhir: true, public: true },
};

export const fhirDocs: ApiDocs = {
  'POST /': { summary: 'transaction (all or nothing) or batch Bundle', fhir: true },
  'GET /Patient/:id/:operation': { summary: '$everything (the whole compartment) or $summary (IPS-style document Bundle)', fhir: true },
  'GET /:type': { summary: 'Search a resource type with its R4 search parameters (searchset Bundle)', fhir: true },
  'POST /:type': {
    summary: 'Create a resource (validated against R4; VN Core citizen ID links patients); If-None-Exist for a conditional create',
    fhir: true,
    status: 201,
  },
  'GET /:type/:id': { summary: 'Read a resource (ETag = version)', fhir: true },
  'PUT /:type/:id': { summary: 'Update or create a resource; If-Match for optimistic locking', fhir: true },
  'DELETE /:type/:id': { summary: 'Delete a resource (kept in history)', fhir: true },
  'GET /:type/:id/_history': { summary: 'Version history of a resource (history Bundle)', fhir: true },
  'GET /:type/:id/_history/:vid': { summary: 'Read one version', fhir: true },
};

export function fhirMetadataRouter(): Router {
  const router = Router();
  router.get('/', (req, res) => sendFhir(res, 200, capabilityStatement(baseUrlOf(req))));
  return router;
}

export function fhirRouter(service: RecordService, bundles: BundleProcessor): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const out = await bundles.process({ kind: 'user', caller: callerOf(req) }, req.body, req.context);
    if (out.linkedPatients.length) res.setHeader('X-Hoichan-Linked-Patients', out.linkedPatients.map((id) => `Patient/${id}`).join(', '));
    sendFhir(res, 200, out.bundle);
  });

  router.get('/Patient/:id/:operation', async (req, res, next) => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- runtime input: the value comes from the request body/params and is not guaranteed a string
    const op = String(req.params.operation);
    if (op !== '$everything' && op !== '$summary') {
      next();
      return;
    }
    const id = idParam(req);
    const caller = callerOf(req);
    const resources = await service.compartment(caller, id, req.context, op);
    const base = baseUrlOf(req);
    if (op === '$summary') {
      const patient = resources.find((r) => r.resourceType === 'Patient' && r.id === id);
      if (!patient) throw new NotFoundError(`Patient/${id} is not known`);
      sendFhir(res, 200, buildSummary(patient, resources, base));
      return;
    }
    const extra = await service.referencedOutside(resources);
    const bundle: FhirBundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: resources.length + extra.length,
      link: [{ relation: 'self', url: `${base}/Patient/${id}/$everything` }],
      entry: [...resources.map((r) => ({ r, mode: 'match' as const })), ...extra.map((r) => ({ r, mode: 'include' as const }))].map(({ r, mode }) => ({
        fullUrl: `${base}/${r.resourceType}/${r.id}`,
        resource: r,
        search: { mode },
      })),
    };
    sendFhir(res, 200, bundle);
  });

  router.get('/:type', async (req, res) => {
    const type = typeParam(req);
    sendFhir(res, 200, await searchResources(service, callerOf(req), type, req.query as SearchQuery, baseUrlOf(req), req.context));
  });

  router.post('/:type', async (req, res) => {
    const type = typeParam(req);
    const condition = req.header('if-none-exist');
    if (condition !== undefined) {
      // a retry after an ambiguous failure finds what the first try stored instead of creating it twice
      const existing = await conditionalMatch(service, callerOf(req), type, condition, baseUrlOf(req), req.context);
      if (existing) {
        res.setHeader('ETag', `W/"${existing.meta?.versionId ?? '1'}"`);
        sendFhir(res, 200, existing);
        return;
      }
    }
    sendWrite(req, res, await service.create({ kind: 'user', caller: callerOf(req) }, req.body, req.context, type));
  });

  router.get('/:type/:id', async (req, res) => {
    const type = typeParam(req);
    const resource = await service.read(callerOf(req), type, idParam(req), req.context);
    res.setHeader('ETag', `W/"${resource.meta?.versionId ?? '1'}"`);
    if (resource.meta?.lastUpdated) res.setHeader('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
    sendFhir(res, 200, resource);
  });

  router.put('/:type/:id', async (req, res) => {
    const type = typeParam(req);
    const r = await service.update({ kind: 'user', caller: callerOf(req) }, type, idParam(req), req.body, parseIfMatch(req.header('if-match')), req.context);
    sendWrite(req, res, r);
  });

  router.delete('/:type/:id', async (req, res) => {
    const type = typeParam(req);
    const r = await service.remove({ kind: 'user', caller: callerOf(req) }, type, idParam(req), parseIfMatch(req.header('if-match')), req.context);
    res.setHeader('ETag', `W/"${r.versionId}"`);
    res.status(204).end();
  });

  router.get('/:type/:id/_history', async (req, res) => {
    const type = typeParam(req);
    const id = idParam(req);
    const versions = await service.history(callerOf(req), type, id, req.context);
    const base = baseUrlOf(req);
    const bundle: FhirBundle = {
      resourceType: 'Bundle',
      type: 'history',
      total: versions.length,
      link: [{ relation: 'self', url: `${base}/${type}/${id}/_history` }],
      entry: versions.map((v) => ({
        fullUrl: `${base}/${type}/${id}`,
        ...(v.resource ? { resource: v.resource } : {}),
        request: { method: v.method, url: v.method === 'POST' ? type : `${type}/${id}` },
        response: {
          status: v.deleted ? '204 No Content' : v.versionId === 1 ? '201 Created' : '200 OK',
          etag: `W/"${v.versionId}"`,
          lastModified: v.lastUpdated.toISOString(),
        },
      })),
    };
    sendFhir(res, 200, bundle);
  });

  router.get('/:type/:id/_history/:vid', async (req, res) => {
    const type = typeParam(req);
    const vid = Number(req.params.vid);
    if (!Number.isInteger(vid) || vid < 1) throw new InvalidInputError('version id must be a positive integer', ['vid']);
    const resource = await service.vread(callerOf(req), type, idParam(req), vid, req.context);
    res.setHeader('ETag', `W/"${vid}"`);
    sendFhir(res, 200, resource);
  });

  return router;
}
