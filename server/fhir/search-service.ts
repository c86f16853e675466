/** Type-level search with the access policy applied to the result set (no leaks through search). */
import type { FhirBundle, FhirResource } from '../../contracts/fhir';
import type { FhirResourceDoc } from '../../models/fhir-resource';
import type { Caller, RequestContext } from '../http/request-context';
import type { RecordService } from './record-service';
import { parseSearch, type SearchQuery } from './search';
import { pushdownShape } from '../db/pushdown';

const CANDIDATE_LIMIT = 2000;

export async function searchResources(service: RecordService, caller: Caller, type: string, query: SearchQuery, baseUrl: string, ctx?: RequestContext): Promise<FhirBundle> {
  const parsed = parseSearch(type, query);
  const resources = service.store.resources;
  const candidates = ((await resources.distinct('patientId', pushdownShape(parsed.filter))) as (string | null)[]).filter((p): p is string => typeof p === 'string');
  const allowed = caller.role === 'admin' ? new Set<string>() : await service.access.readablePatientIds(caller, candidates.slice(0, CANDIDATE_LIMIT));
  // A search that names one patient the caller may not see is refused (and audited), not silently empty.
  const named = [query.patient, query.subject, type === 'Patient' ? query._id : undefined].flat().filter((v): v is string => typeof v === 'string');
  for (const v of named) {
    const id = v.replace(/^Patient\//, '');
    if (!v.includes(',') && candidates.includes(id) && !allowed.has(id)) await service.access.enforce(caller, id, 'R', ctx, [`${type}?search`]);
  }
  const filter = pushdownShape({ $and: [parsed.filter, { $or: [{ patientId: { $in: [...allowed] } }, { patientId: { $exists: false } }] }] }); // top-level equalities: the database answers them
  const [total, docs] = await Promise.all([
    service.store.count(filter),
    parsed.count === 0 ? Promise.resolve([]) : resources.find(filter, { resource: 1, patientId: 1 }).sort(parsed.sort).skip(parsed.offset).limit(parsed.count).lean<Pick<FhirResourceDoc, 'resource' | 'patientId'>[]>(), // _count=0: total only
  ]);
  // Audit: one entry per patient whose data is disclosed.
  const perPatient = new Map<string, string[]>();
  for (const d of docs) if (d.patientId && d.resource) perPatient.set(d.patientId, [...(perPatient.get(d.patientId) ?? []), `${d.resource.resourceType}/${d.resource.id}`]);
  for (const [patientId, entities] of perPatient) {
    const decision = await service.access.check(caller, patientId, 'read');
    await service.access.auditDecision(caller, patientId, 'R', ctx, entities, decision, `search ${type}`);
  }
  const qs = (offset: number) => {
    const p = new URLSearchParams(parsed.canonical);
    p.set('_count', String(parsed.count));
    if (offset) p.set('_offset', String(offset));
    return `${baseUrl}/${type}?${p.toString()}`;
  };
  const link = [{ relation: 'self', url: qs(parsed.offset) }];
  if (parsed.offset + parsed.count < total) link.push({ relation: 'next', url: qs(parsed.offset + parsed.count) });
  if (parsed.offset > 0) link.push({ relation: 'previous', url: qs(Math.max(0, parsed.offset - parsed.count)) });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    link,
    entry: docs.map((d) => {
      const r = d.resource as FhirResource;
      return { fullUrl: `${baseUrl}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'match' as const } };
    }),
  };
}
