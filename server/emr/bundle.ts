/**
 * POST /fhir/R4 with a `transaction` Bundle (all or nothing, implemented in the application:
 * everything is validated and checked first, urn:uuid references are rewritten to assigned ids,
 * then written; a failing write undoes the earlier ones) or a `batch` Bundle (each entry on its own).
 * A Patient whose citizen ID (CCCD) is already known is linked to the existing record, not duplicated.
 */
import type { FhirBundle, FhirBundleEntry, FhirResource } from '../../contracts/fhir';
import { CITIZEN_ID_SYSTEM } from '../../contracts/fhir';
import { DomainError, InvalidInputError } from '../platform/errors';
import { operationOutcome } from '../http/error-handler';
import type { RequestContext } from '../platform/request-context';
import { agentOf } from './break-glass';
import { findReferences, parseLiteral } from './references';
import type { Actor, RecordService } from './record-service';
import { newId, refKey, type WritePlan, type WriteResult } from './resource-store';

type Entry = FhirBundleEntry;

/** Entries per Bundle: a Synthea patient is a few hundred; more is split by the sender. */
export const MAX_BUNDLE_ENTRIES = 2000;
interface Prepared {
  index: number;
  method: 'POST' | 'PUT' | 'DELETE';
  type: string;
  id: string;
  resource?: FhirResource;
  ifMatch?: number;
  /** Set when this Patient entry was linked to an existing patient by citizen ID. */
  linkedTo?: string;
}

export interface BundleOutcome {
  bundle: FhirBundle;
  linkedPatients: string[];
}

export function parseIfMatch(v: unknown): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new InvalidInputError('If-Match must be a string, an ETag like W/"3"', ['If-Match']);
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(v.trim());
  if (!m) throw new InvalidInputError(`If-Match '${v}' is not an ETag like W/"3"`, ['If-Match']);
  return Number(m[1]);
}

function citizenIdOf(resource: FhirResource): string | undefined {
  const ids = Array.isArray(resource.identifier) ? (resource.identifier as { system?: string; value?: string }[]) : [];
  return ids.find((i) => i.system === CITIZEN_ID_SYSTEM && typeof i.value === 'string')?.value;
}

function assertBundle(body: unknown): asserts body is FhirBundle {
  const b = body as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (typeof body !== 'object' || body === null || b.resourceType !== 'Bundle') throw new InvalidInputError('POST /fhir/R4 expects a Bundle', ['resourceType']);
  if (b.type !== 'transaction' && b.type !== 'batch')
    throw new InvalidInputError(`Bundle.type must be transaction or batch, not ${String(b.type)}`, ['Bundle.type']);
  if (b.entry !== undefined && !Array.isArray(b.entry)) throw new InvalidInputError('Bundle.entry must be an array', ['Bundle.entry']);
  if (Array.isArray(b.entry) && b.entry.length > MAX_BUNDLE_ENTRIES)
    throw new InvalidInputError(`A Bundle carries at most ${MAX_BUNDLE_ENTRIES} entries (this one has ${b.entry.length}); split it`, ['Bundle.entry'], 413);
  (b.entry as unknown[] | undefined)?.forEach((e, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new InvalidInputError(`Bundle.entry[${i}] must be an object`, [`Bundle.entry[${i}]`]);
  });
}

export class BundleProcessor {
  constructor(private readonly service: RecordService) {}

  async process(actor: Actor, body: unknown, ctx?: RequestContext): Promise<BundleOutcome> {
    assertBundle(body);
    return body.type === 'transaction' ? this.transaction(actor, body, ctx) : this.batch(actor, body, ctx);
  }

  /** Parses entry.request into a write; ids assigned for POST. */
  #prepare(entry: Entry, index: number): Prepared {
    const where = `Bundle.entry[${index}]`;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the value comes from outside (database, request, parsed data) and may not match its declared type
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new InvalidInputError(`${where} must be an object`, [where]);
    const req = entry.request;
    if (!req || typeof req.url !== 'string') throw new InvalidInputError(`${where}.request is required (method and url)`, [`${where}.request`]);
    const method = req.method;
    if (method === 'POST') {
      const r = entry.resource;
      if (!r) throw new InvalidInputError(`${where}.resource is required for POST`, [`${where}.resource`]);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- runtime input: the value comes from the request body/params and is not guaranteed a string
      return { index, method, type: String(r.resourceType), id: newId(), resource: r };
    }
    const url = req.url.replace(/^\//, '').split('?')[0] ?? '';
    const lit = parseLiteral(url);
    if (method === 'PUT') {
      if (!lit || !entry.resource) throw new InvalidInputError(`${where}: PUT needs a url Type/id and a resource`, [`${where}.request.url`]);
      return { index, method, type: lit.type, id: lit.id, resource: entry.resource, ifMatch: parseIfMatch(req.ifMatch) };
    }
    if (method === 'DELETE') {
      if (!lit) throw new InvalidInputError(`${where}: DELETE needs a url Type/id`, [`${where}.request.url`]);
      return { index, method, type: lit.type, id: lit.id, ifMatch: parseIfMatch(req.ifMatch) };
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- runtime input: the value comes from the request body/params and is not guaranteed a string
    throw new InvalidInputError(`${where}.request.method ${String(method)} is not supported here (POST, PUT, DELETE)`, [`${where}.request.method`]);
  }

  /** The keys by which other entries may refer to this one: fullUrl, and Type/id of a given id. */
  #aliases(entry: Entry, p: Prepared): string[] {
    const out: string[] = [];
    if (entry.fullUrl) {
      out.push(entry.fullUrl);
      const m = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})$/.exec(entry.fullUrl);
      if (m?.[1] && /^https?:/.test(entry.fullUrl)) out.push(m[1]);
    }
    if (p.method === 'POST' && typeof p.resource?.id === 'string') out.push(refKey(p.type, p.resource.id));
    return out;
  }

  /**
   * Links a Patient entry to the existing record with the same citizen ID, only when the caller may
   * write that record (where duplicates exist, the first in `_id` order the caller may write: the
   * database's own order of matches is not stable, and an earlier duplicate made by someone else
   * must not hide the care team's record). Otherwise the entry is created as a new patient exactly as if no match
   * existed (no citizen-ID oracle: the response, headers and timing-free outcome are the same), and
   * the existing record's audit trail notes a possible duplicate registration for its care team.
   */
  async #linkByCitizenId(actor: Actor, p: Prepared, ctx?: RequestContext): Promise<void> {
    if (p.method !== 'POST' || p.type !== 'Patient' || !p.resource) return;
    const cccd = citizenIdOf(p.resource);
    if (!cccd) return;
    const matches = await this.service.store.patientsByIdentifier(CITIZEN_ID_SYSTEM, cccd);
    if (!matches.length) return;
    let existing = actor.kind === 'user' ? undefined : matches[0];
    if (actor.kind === 'user') {
      // Several records with one citizen ID are duplicates registered by someone who could not see
      // the first: link to the first (in a stable order) the caller may write.
      for (const id of matches) {
        if (actor.caller.role !== 'admin' && (await this.service.access.check(actor.caller, id, 'write')).allow) {
          existing = id;
          break;
        }
      }
      if (!existing) {
        for (const id of matches) {
          await this.service.audit.record({
            kind: 'access-denied',
            action: 'C',
            success: false,
            outcomeDesc: 'citizen-ID match not disclosed: the caller may not write this record; a new patient was registered instead (possible duplicate)',
            agent: agentOf(actor.caller, ctx),
            patientId: id,
            entities: [`Patient/${id}`],
            requestId: ctx?.requestId,
          });
        }
        return;
      }
    }
    if (!existing) return;
    p.id = existing;
    p.linkedTo = existing;
  }

  /** Conditional references resolve only to resources the caller may read; otherwise they match nothing. */
  async #resolveConditional(actor: Actor, ref: string): Promise<string | null> {
    const resolved = await this.service.refs.resolveConditional(ref);
    if (!resolved || actor.kind !== 'user') return resolved;
    const [type, id] = resolved.split('/') as [string, string];
    const doc = await this.service.store.doc(type, id);
    if (!doc?.patientId) return resolved;
    const d = await this.service.access.check(actor.caller, doc.patientId, 'read');
    return d.allow && actor.caller.role !== 'admin' ? resolved : null;
  }

  async #rewrite(actor: Actor, resource: FhirResource, map: Map<string, string>, base: string, problems: { path: string; message: string }[]): Promise<void> {
    for (const r of findReferences(resource, base)) {
      const target = map.get(r.reference);
      if (target) r.holder.reference = target;
      else if (r.reference.includes('?')) {
        const resolved = await this.#resolveConditional(actor, r.reference);
        if (resolved) r.holder.reference = resolved;
        else problems.push({ path: `${r.path}.reference`, message: `conditional reference ${r.reference} matches no single resource` });
      }
    }
  }

  async transaction(actor: Actor, bundle: FhirBundle, ctx?: RequestContext): Promise<BundleOutcome> {
    const entries = bundle.entry ?? [];
    const prepared = entries.map((e, i) => this.#prepare(e, i));
    // 1. validate every resource before anything else
    const issues: { expression: string; message: string }[] = [];
    for (const p of prepared) {
      if (!p.resource) continue;
      try {
        this.service.validate(p.resource, `Bundle.entry[${p.index}].resource`);
        if (p.method === 'PUT' && p.resource.resourceType !== p.type)
          issues.push({ expression: `Bundle.entry[${p.index}].resource.resourceType`, message: `resourceType differs from request.url` });
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        issues.push({ expression: (err.expression ?? []).join(', '), message: err.message });
      }
    }
    if (issues.length)
      throw new InvalidInputError(
        `Transaction rejected, nothing was written: ${issues.map((i) => i.message).join('; ')}`,
        issues.map((i) => i.expression),
      );
    // 2. same person, one record; ids and aliases
    for (const p of prepared) await this.#linkByCitizenId(actor, p, ctx);
    const map = new Map<string, string>();
    for (const p of prepared) for (const alias of this.#aliases(entries[p.index] ?? {}, p)) map.set(alias, refKey(p.type, p.id));
    // 3. rewrite references (copies: the request body stays as sent)
    const problems: { path: string; message: string }[] = [];
    for (const p of prepared) {
      ctx?.signal?.throwIfAborted();
      if (!p.resource) continue;
      p.resource = structuredClone(p.resource);
      await this.#rewrite(actor, p.resource, map, `Bundle.entry[${p.index}].resource`, problems);
    }
    if (problems.length)
      throw new InvalidInputError(
        `Transaction rejected, nothing was written: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
        problems.map((p) => p.path),
        422,
      );
    // 4. write all or nothing (commit checks references and access first); nothing is written for a request already abandoned
    ctx?.signal?.throwIfAborted();
    const writes = prepared.filter((p) => !p.linkedTo);
    const plans: (WritePlan & { base: string })[] = writes.map((p) => ({
      method: p.method,
      type: p.type,
      id: p.id,
      resource: p.resource ? { ...p.resource, id: p.id } : undefined,
      expectedVersion: p.ifMatch,
      base: `Bundle.entry[${p.index}].resource`,
    }));
    const linked = prepared.filter((p) => p.linkedTo).map((p) => p.linkedTo as string);
    const notes = new Map(linked.map((id) => [id, 'import linked to the existing record by citizen ID']));
    const results = await this.service.commit(actor, plans, ctx, notes);
    const byKey = new Map(results.map((r) => [refKey(r.type, r.id), r]));
    const linkedDocs = new Map<string, number>();
    for (const id of linked) linkedDocs.set(id, (await this.service.store.doc('Patient', id))?.versionId ?? 1);
    const out: Entry[] = prepared.map((p) => {
      if (p.linkedTo) return { fullUrl: `Patient/${p.linkedTo}`, response: linkedResponse(p.linkedTo, linkedDocs.get(p.linkedTo) ?? 1) };
      const r = byKey.get(refKey(p.type, p.id));
      return r ? { fullUrl: refKey(r.type, r.id), response: responseOf(r) } : { response: { status: '200 OK' } };
    });
    return { bundle: { resourceType: 'Bundle', type: 'transaction-response', entry: out }, linkedPatients: linked };
  }

  async batch(actor: Actor, bundle: FhirBundle, ctx?: RequestContext): Promise<BundleOutcome> {
    const entries = bundle.entry ?? [];
    const map = new Map<string, string>();
    const linked: string[] = [];
    const out: Entry[] = [];
    for (const [i, entry] of entries.entries()) {
      // An abandoned request (deadline passed, client gone) stops between entries; batch entries are independent, so those already written stay written.
      ctx?.signal?.throwIfAborted();
      try {
        const p = this.#prepare(entry, i);
        if (p.resource) this.service.validate(p.resource, `Bundle.entry[${i}].resource`);
        await this.#linkByCitizenId(actor, p, ctx);
        if (p.linkedTo) {
          for (const alias of this.#aliases(entry, p)) map.set(alias, `Patient/${p.linkedTo}`);
          linked.push(p.linkedTo);
          if (actor.kind === 'user')
            await this.service.access.enforce(
              actor.caller,
              p.linkedTo,
              'U',
              ctx,
              [`Patient/${p.linkedTo}`],
              'import linked to the existing record by citizen ID',
            );
          const v = (await this.service.store.doc('Patient', p.linkedTo))?.versionId ?? 1;
          out.push({ fullUrl: `Patient/${p.linkedTo}`, response: linkedResponse(p.linkedTo, v) });
          continue;
        }
        if (p.resource) {
          p.resource = structuredClone(p.resource);
          const problems: { path: string; message: string }[] = [];
          await this.#rewrite(actor, p.resource, map, `Bundle.entry[${i}].resource`, problems);
          if (problems.length)
            throw new InvalidInputError(
              problems.map((x) => `${x.path}: ${x.message}`).join('; '),
              problems.map((x) => x.path),
              422,
            );
        }
        if (p.method === 'DELETE') {
          await this.service.remove(actor, p.type, p.id, p.ifMatch, ctx).then((r) => out.push({ fullUrl: refKey(r.type, r.id), response: responseOf(r) }));
          continue;
        }
        const [r] = await this.service.commit(
          actor,
          [{ method: p.method, type: p.type, id: p.id, resource: p.resource ? { ...p.resource, id: p.id } : undefined, expectedVersion: p.ifMatch }],
          ctx,
        );
        if (!r) throw new Error('no write result');
        for (const alias of this.#aliases(entry, p)) map.set(alias, refKey(p.type, p.id));
        out.push({ fullUrl: refKey(r.type, r.id), response: responseOf(r) });
      } catch (err) {
        const status = err instanceof DomainError ? err.status : 500;
        const message = err instanceof DomainError ? err.message : 'Internal error';
        const expression = err instanceof DomainError ? err.expression : undefined;
        out.push({
          response: {
            status: String(status),
            outcome: operationOutcome(
              'error',
              status === 403
                ? 'forbidden'
                : status === 404
                  ? 'not-found'
                  : status === 412 || status === 409
                    ? 'conflict'
                    : status >= 500
                      ? 'exception'
                      : 'invalid',
              message,
              expression,
            ),
          },
        });
      }
    }
    return { bundle: { resourceType: 'Bundle', type: 'batch-response', entry: out }, linkedPatients: linked };
  }
}

function responseOf(r: WriteResult): NonNullable<Entry['response']> {
  if (r.deleted) return { status: '204 No Content', etag: `W/"${r.versionId}"` };
  return {
    status: r.created ? '201 Created' : '200 OK',
    location: `${refKey(r.type, r.id)}/_history/${r.versionId}`,
    etag: `W/"${r.versionId}"`,
    lastModified: r.lastUpdated.toISOString(),
  };
}

function linkedResponse(patientId: string, versionId: number): NonNullable<Entry['response']> {
  return {
    status: '200 OK',
    location: `Patient/${patientId}/_history/${versionId}`,
    etag: `W/"${versionId}"`,
    outcome: operationOutcome(
      'information',
      'informational',
      `A patient with this citizen ID already exists: linked to Patient/${patientId} instead of creating a duplicate; references in this Bundle now point to it.`,
      ['Patient.identifier'],
    ),
  };
}
