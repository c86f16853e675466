/** Type-level search with the access policy applied to the result set (no leaks through search). */
import type { FhirBundle, FhirResource } from '../../contracts/fhir';
import type { FhirResourceDoc } from '../../models/fhir-resource';
import type { Caller, RequestContext } from '../platform/request-context';
import type { RecordService } from './record-service';
import type { AccessDecision } from './records-api';
import { InvalidInputError, PreconditionFailedError } from '../platform/errors';
import { parseSearch, type SearchQuery } from './search';
import { searchParamType } from './search-params';
import { pushdownShape } from '../db/pushdown';

const CANDIDATE_LIMIT = 2000;

export async function searchResources(
  service: RecordService,
  caller: Caller,
  type: string,
  query: SearchQuery,
  baseUrl: string,
  ctx?: RequestContext,
): Promise<FhirBundle> {
  const parsed = parseSearch(type, query);
  const resources = service.store.resources;
  // One more than the page: whether a next page exists is then known without counting.
  const fetchPage = (filter: Record<string, unknown>) =>
    resources
      .find(filter, { resource: 1, patientId: 1, refs: 1 })
      .sort(parsed.sort)
      .skip(parsed.offset)
      .limit(parsed.count + 1)
      .lean<Found[]>();
  // The patients whose data may match: those the search names (patient=, subject=, Patient?_id=; a
  // resource's compartment is the patient it names), else every patient with a match.
  const named = namedPatients(type, query);
  const decided = new Map<string, AccessDecision | null>();
  let fetched: Found[] | undefined;
  if (named.length) {
    for (const [id, d] of await service.access.readableWithDecisions(caller, named)) decided.set(id, d);
    // A search that names patients (patient=, subject=, Patient?_id=) is refused (403, audited) when the
    // caller may not read one of them, whether or not anything matches: no existence oracle.
    for (const id of named) {
      if (decided.has(id)) continue;
      await service.access.enforce(caller, id, 'R', ctx, [`${type}?search`], `search ${type}`);
    }
  } else if (parsed.offset === 0 && parsed.count > 0) {
    // The first page without first finding every matching patient (a `distinct` over all matches,
    // then each one's care team): when the caller may read every match of the unrestricted first
    // page, it is the first page of the matches they may read (the usual case: an identifier).
    const first = await fetchPage(pushdownShape(parsed.filter));
    const readable = await service.access.readableWithDecisions(caller, [...new Set(first.flatMap((d) => (d.patientId ? [d.patientId] : [])))]);
    if (first.every((d) => !d.patientId || readable.has(d.patientId))) {
      fetched = first;
      for (const [id, d] of readable) decided.set(id, d);
    }
  }
  // The search restricted to the patients the caller may read (and resources of no patient).
  let restricted: Record<string, unknown> | undefined;
  const restrictedFilter = async (): Promise<Record<string, unknown>> => {
    if (restricted) return restricted;
    let allowed = [...decided.keys()];
    if (!named.length) {
      const candidates = ((await resources.distinct('patientId', pushdownShape(parsed.filter))) as (string | null)[]).filter(
        (p): p is string => typeof p === 'string',
      );
      const all = await service.access.readableWithDecisions(caller, candidates.slice(0, CANDIDATE_LIMIT));
      for (const [id, d] of all) if (!decided.has(id)) decided.set(id, d);
      allowed = [...all.keys()];
    }
    restricted = pushdownShape({ $and: [parsed.filter, { $or: [{ patientId: { $in: allowed } }, { patientId: { $exists: false } }] }] }); // top-level equalities: the database answers them
    return restricted;
  };
  fetched ??= parsed.count === 0 ? [] : await fetchPage(await restrictedFilter()); // _count=0: total only
  const docs = fetched.slice(0, parsed.count);
  const more = fetched.length > parsed.count;
  // A page with nothing after it ends the result set: its total is known without counting (FerretDB
  // v1 counts by reading every matching document); `_total=none` is never counted.
  const lastPage = parsed.count > 0 && !more && (docs.length > 0 || parsed.offset === 0);
  const total = lastPage ? parsed.offset + docs.length : parsed.total === 'none' ? undefined : await service.store.count(await restrictedFilter());
  const included = await includes(service, caller, type, query, docs);
  // Audit: one entry per patient whose data is disclosed (matches and includes).
  const perPatient = new Map<string, string[]>();
  for (const d of [...docs, ...included])
    if (d.patientId && d.resource) perPatient.set(d.patientId, [...(perPatient.get(d.patientId) ?? []), `${d.resource.resourceType}/${d.resource.id}`]);
  for (const [patientId, entities] of perPatient) {
    const decision = decided.get(patientId) ?? (await service.access.check(caller, patientId, 'read'));
    await service.access.auditDecision(caller, patientId, 'R', ctx, entities, decision, `search ${type}`);
  }
  // A named patient with nothing matching was still searched: that access is audited too.
  for (const id of named) {
    if (perPatient.has(id) || !decided.has(id)) continue;
    const decision = decided.get(id) ?? (await service.access.check(caller, id, 'read'));
    await service.access.auditDecision(caller, id, 'R', ctx, [`${type}?search`], decision, `search ${type}`);
  }
  const qs = (offset: number) => {
    const p = new URLSearchParams(parsed.canonical);
    p.set('_count', String(parsed.count));
    if (offset) p.set('_offset', String(offset));
    return `${baseUrl}/${type}?${p.toString()}`;
  };
  const link = [{ relation: 'self', url: qs(parsed.offset) }];
  if (total === undefined ? more : parsed.offset + parsed.count < total) link.push({ relation: 'next', url: qs(parsed.offset + parsed.count) });
  if (parsed.offset > 0) link.push({ relation: 'previous', url: qs(Math.max(0, parsed.offset - parsed.count)) });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(total === undefined ? {} : { total }),
    link,
    entry: [
      ...docs.map((d) => {
        const r = d.resource as FhirResource;
        return { fullUrl: `${baseUrl}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'match' as const } };
      }),
      ...included.map((d) => {
        const r = d.resource as FhirResource;
        return { fullUrl: `${baseUrl}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'include' as const } };
      }),
    ],
  };
}

/** Patient ids a search names explicitly: patient/subject (any modifier, comma lists), and _id on Patient. */
export function namedPatients(type: string, query: SearchQuery): string[] {
  const out = new Set<string>();
  for (const [rawKey, rawVal] of Object.entries(query)) {
    const key = rawKey.split(':')[0] ?? rawKey;
    const modifier = rawKey.includes(':') ? rawKey.slice(rawKey.indexOf(':') + 1) : undefined;
    const isPatientRef = key === 'patient' || ((key === 'subject' || key === 'beneficiary' || key === 'member') && (!modifier || modifier === 'Patient'));
    const isPatientId = type === 'Patient' && key === '_id';
    if (!isPatientRef && !isPatientId) continue;
    for (const v of [rawVal].flat()) {
      if (typeof v !== 'string') continue;
      for (const alt of v.split(',')) {
        const trimmed = alt.trim();
        if (!trimmed) continue;
        if (isPatientId) out.add(trimmed);
        else if (trimmed.startsWith('Patient/')) out.add(trimmed.slice('Patient/'.length));
        else if (!trimmed.includes('/')) out.add(trimmed);
      }
    }
  }
  return [...out];
}

const MAX_INCLUDED = 500;
type Found = Pick<FhirResourceDoc, 'resource' | 'patientId' | 'refs'>;

/**
 * `_include=Type:param` (the resources the matches refer to through an indexed reference parameter)
 * and `_revinclude=Type:param` (resources of Type that refer to a match). Included resources pass the
 * same rule as matches: their patient must be readable by the caller (or they belong to no patient).
 */
async function includes(service: RecordService, caller: Caller, type: string, query: SearchQuery, docs: Found[]): Promise<Found[]> {
  const specs = (key: string) =>
    [query[key]]
      .flat()
      .filter((v): v is string => typeof v === 'string')
      .map((v) => {
        const m = /^([A-Z][A-Za-z]+):([a-z][a-z-]*)$/.exec(v);
        if (!m) throw new InvalidInputError(`${key}=${v}: expected Type:parameter (e.g. Observation:patient)`, [key]);
        return { source: m[1] as string, param: m[2] as string };
      });
  const inc = specs('_include');
  const rev = specs('_revinclude');
  if ((!inc.length && !rev.length) || !docs.length) return [];
  const resources = service.store.resources;
  const seen = new Set(docs.map((d) => `${d.resource?.resourceType}/${d.resource?.id}`));
  const wanted: Found[] = [];
  for (const { source, param } of inc) {
    if (source !== type || searchParamType(type, param) !== 'reference')
      throw new InvalidInputError(`_include=${source}:${param}: not a reference parameter of ${type} this server indexes`, ['_include']);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
    const keys = [...new Set(docs.flatMap((d) => (d.refs ?? []).filter((r) => r.startsWith(`${param}|`)).map((r) => r.slice(param.length + 1))))].filter(
      (k) => !seen.has(k),
    );
    if (!keys.length) continue;
    // Point reads by _id (FerretDB v1 pushes no `$in` down: `{_id: {$in}}` reads the whole collection).
    wanted.push(...(await service.store.docsByKeys<Found>(keys.slice(0, MAX_INCLUDED), { resource: 1, patientId: 1, refs: 1 }, { currentOnly: true })));
  }
  for (const { source, param } of rev) {
    if (searchParamType(source, param) !== 'reference')
      throw new InvalidInputError(`_revinclude=${source}:${param}: not a reference parameter of ${source} this server indexes`, ['_revinclude']);
    const targets = [...new Set(docs.map((d) => `${param}|${d.resource?.resourceType}/${d.resource?.id}`))];
    // One query per target, each all top-level equalities (`refs` holds the key: array containment), so
    // the backend answers it from its index; `refs: {$in: targets}` is not pushed down and would read
    // every resource of the type.
    for (const target of targets) {
      if (wanted.length >= 2 * MAX_INCLUDED) break; // enough to fill the page after duplicates and unreadable ones drop out
      wanted.push(
        ...(await resources.find({ type: source, refs: target, deleted: false }, { resource: 1, patientId: 1, refs: 1 }).limit(MAX_INCLUDED).lean<Found[]>()),
      );
    }
  }
  const fresh = wanted.filter((d) => {
    const key = `${d.resource?.resourceType}/${d.resource?.id}`;
    if (!d.resource || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const readable = await service.access.readablePatientIds(caller, [...new Set(fresh.flatMap((d) => (d.patientId ? [d.patientId] : [])))]);
  return fresh.filter((d) => !d.patientId || readable.has(d.patientId)).slice(0, MAX_INCLUDED);
}

/**
 * Conditional create (`If-None-Exist: identifier=sys|value`): the existing resource when exactly one
 * the caller may see matches, null when none does, 412 when several do. The search runs under the
 * same access rules and audit as GET. Two concurrent conditional creates can still both create
 * (no transactions in FerretDB v1); it makes a client's retry safe, not a uniqueness constraint.
 */
export async function conditionalMatch(
  service: RecordService,
  caller: Caller,
  type: string,
  condition: string,
  baseUrl: string,
  ctx?: RequestContext,
): Promise<FhirResource | null> {
  const raw = condition.trim().replace(new RegExp(`^(${type})?\\?`), '');
  const query: SearchQuery = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    if (k.startsWith('_') && k !== '_id') throw new InvalidInputError(`If-None-Exist: ${k} is not a search criterion`, ['If-None-Exist']);
    const prev = query[k];
    query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  if (!Object.keys(query).length)
    throw new InvalidInputError('If-None-Exist: give at least one search parameter, e.g. identifier=system|value', ['If-None-Exist']);
  const bundle = await searchResources(service, caller, type, { ...query, _count: '2' }, baseUrl, ctx);
  const matches = (bundle.entry ?? []).filter((e) => e.search?.mode === 'match');
  if ((bundle.total ?? matches.length) > 1)
    throw new PreconditionFailedError(`If-None-Exist matched ${bundle.total ?? matches.length} resources; it must match at most one`);
  return matches[0]?.resource ?? null;
}
