/**
 * Versioned storage of FHIR resources: current versions in `fhir_resources`, every version in
 * `fhir_history`. No database transactions (FerretDB v1): multi-resource writes go through
 * `applyAll`, which undoes what it wrote when a later write fails.
 */
import { randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import type { FhirResource } from '../../contracts/fhir';
import { fhirHistoryModel, type FhirHistoryDoc } from '../../models/fhir-history';
import { fhirSummaryModel, type FhirSummaryDoc } from '../../models/fhir-summary';
import { fhirResourceModel, type DateKey, type FhirResourceDoc } from '../../models/fhir-resource';
import { storedBody } from '../../models/resource-json';
import { ConflictError, DomainError, NotFoundError, PreconditionFailedError } from '../platform/errors';
import { extractKeys } from './search-params';

export type WriteMethod = 'POST' | 'PUT' | 'DELETE';

/** One planned write. `expectedVersion` (from If-Match) makes an update conditional. */
export interface WritePlan {
  method: WriteMethod;
  type: string;
  id: string;
  resource?: FhirResource;
  expectedVersion?: number;
  /** For a new Patient: the facility of the clinician registering them. */
  registeredByFacilityId?: string;
  /** The patient whose access rules protect a resource outside the compartment (Binary.securityContext). */
  accessPatientId?: string;
}

export interface WriteResult {
  type: string;
  id: string;
  versionId: number;
  lastUpdated: Date;
  created: boolean;
  deleted: boolean;
  patientId?: string;
  resource: FhirResource | null;
}

export const newId = (): string => randomUUID();
export const refKey = (type: string, id: string): string => `${type}/${id}`;

export class ResourceStore {
  readonly resources: Model<FhirResourceDoc>;
  readonly history: Model<FhirHistoryDoc>;
  readonly summaries: Model<FhirSummaryDoc>;

  constructor(conn: Connection) {
    this.resources = fhirResourceModel(conn);
    this.history = fhirHistoryModel(conn);
    this.summaries = fhirSummaryModel(conn);
  }

  /** The stored members of a patient's $summary, if they were built from this compartment version. */
  async summaryMembers(patientId: string, version: number): Promise<FhirResource[] | null> {
    const d = await this.summaries.findById(patientId).lean<FhirSummaryDoc>();
    if (!d || d.version !== version) return null;
    if (typeof d.membersJson === 'string') return JSON.parse(d.membersJson) as FhirResource[];
    return d.members ?? null;
  }

  async saveSummaryMembers(patientId: string, version: number, members: FhirResource[]): Promise<void> {
    await this.summaries.replaceOne(
      { _id: patientId },
      { _id: patientId, version, membersJson: JSON.stringify(members), builtAt: new Date() },
      { upsert: true },
    );
  }

  /** Moves the compartment version of these patients forward (after every write to their compartments). */
  async bumpCompartments(patientIds: Iterable<string>): Promise<void> {
    for (const id of new Set(patientIds)) await this.resources.updateOne({ _id: refKey('Patient', id) }, { $inc: { compartmentVersion: 1 } });
  }

  /** The current document (deleted ones too, so callers can answer 410). */
  async doc(type: string, id: string): Promise<FhirResourceDoc | null> {
    return this.resources.findById(refKey(type, id)).lean<FhirResourceDoc>();
  }

  async read(type: string, id: string): Promise<FhirResourceDoc> {
    const d = await this.doc(type, id);
    if (!d) throw new NotFoundError(`${type}/${id} is not known`);
    if (d.deleted) throw new GoneError(`${type}/${id} was deleted`);
    return d;
  }

  async vread(type: string, id: string, versionId: number): Promise<FhirHistoryDoc> {
    const h = await this.history.findById(`${type}/${id}/_history/${versionId}`).lean<FhirHistoryDoc>();
    if (!h) throw new NotFoundError(`${type}/${id} has no version ${versionId}`);
    if (h.deleted) throw new GoneError(`${type}/${id} version ${versionId} is a deletion`);
    return h;
  }

  async instanceHistory(type: string, id: string, limit = 100): Promise<FhirHistoryDoc[]> {
    return this.history.find({ type, id }).sort({ versionId: -1 }).limit(limit).lean<FhirHistoryDoc[]>();
  }

  /**
   * How many documents match: the `count` command (FerretDB v1 hands its filter to the backend, as it
   * does a first `$match`), without the aggregation pipeline `countDocuments` builds around it.
   */
  async count(filter: Record<string, unknown>): Promise<number> {
    const db = this.resources.db.db;
    if (!db) throw new Error('database not connected');
    const out = (await db.command({ count: this.resources.collection.collectionName, query: filter })) as { n?: number };
    return out.n ?? 0;
  }

  /**
   * Current documents by "Type/id" key, as point reads by `_id` (indexed on every backend), a few at a
   * time: FerretDB v1 pushes no `$in` down, so `{_id: {$in: keys}}` reads the whole collection.
   */
  async docsByKeys<T = FhirResourceDoc>(keys: string[], projection: Record<string, 0 | 1> = {}, opts: { currentOnly?: boolean } = {}): Promise<T[]> {
    const unique = [...new Set(keys)];
    const out: T[] = [];
    // exactly {_id}: the only filter FerretDB's SQLite backend pushes down (a second key would scan)
    const proj = Object.keys(projection).length && opts.currentOnly ? { ...projection, deleted: 1 as const } : projection;
    for (let i = 0; i < unique.length; i += 16) {
      const found = await Promise.all(unique.slice(i, i + 16).map((k) => this.resources.findById(k, proj).lean<T & { deleted?: boolean }>()));
      for (const d of found) if (d && !(opts.currentOnly && d.deleted)) out.push(d);
    }
    return out;
  }

  /** Which of these "Type/id" keys exist (not deleted). */
  async existing(keys: string[]): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const found = await this.docsByKeys<{ _id: string }>(keys, { _id: 1 }, { currentOnly: true });
    return new Set(found.map((d) => d._id));
  }

  /**
   * Patients with this identifier (e.g. a citizen ID), in a stable order: usually one; more are
   * duplicates registered by someone who could not see the first (see the Bundle's citizen-ID linking).
   */
  async patientsByIdentifier(system: string, value: string, limit = 20): Promise<string[]> {
    const docs = await this.resources
      .find({ type: 'Patient', deleted: false, tokens: `identifier|${system}|${value}` }, { id: 1 })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<{ id: string }[]>();
    return docs.map((d) => d.id);
  }

  /** Applies every plan or none: on failure, what was written is undone and the error rethrown. */
  async applyAll(plans: WritePlan[]): Promise<WriteResult[]> {
    const now = Date.now();
    const undo: Array<() => Promise<unknown>> = [];
    const results: WriteResult[] = [];
    try {
      // Creates in bulk (the common case of an import), the rest one by one.
      const creates = plans.filter((p) => p.method === 'POST');
      if (creates.length) {
        const docs = creates.map((p) => this.#docFor(p, 1, new Date(now)));
        const ids = docs.map((d) => d._id);
        undo.push(() => this.resources.deleteMany({ _id: { $in: ids } }));
        undo.push(() => this.history.deleteMany({ _id: { $in: ids.map((id) => `${id}/_history/1`) } }));
        // lean: the documents are built complete here (#docFor), so mongoose need not construct,
        // cast and validate a Document per resource (a tenth of an import's Node CPU)
        await this.history.insertMany(
          docs.map((d) => storedBody(historyOf(d, 'POST'))),
          { ordered: true, lean: true },
        );
        try {
          await this.resources.insertMany(docs.map(storedBody), { ordered: true, lean: true });
        } catch (err) {
          if ((err as { code?: number }).code === 11000) throw new ConflictError('A resource with that id already exists');
          throw err;
        }
        for (const d of docs) results.push(resultOf(d, true));
      }
      const touched = new Set<string>();
      for (const p of plans) {
        if (p.method === 'POST') continue;
        results.push(await this.#updateOrDelete(p, new Date(now), undo, touched));
      }
      for (const r of results) if (r.patientId) touched.add(r.patientId);
      await this.bumpCompartments(touched);
      return results;
    } catch (err) {
      for (const u of undo.reverse()) await u().catch(() => undefined);
      throw err;
    }
  }

  async #updateOrDelete(p: WritePlan, lastUpdated: Date, undo: Array<() => Promise<unknown>>, touched: Set<string>): Promise<WriteResult> {
    const key = refKey(p.type, p.id);
    const prev = await this.resources.findById(key).lean<FhirResourceDoc>();
    if (prev?.patientId) touched.add(prev.patientId);
    if (p.expectedVersion !== undefined && (!prev || prev.deleted || prev.versionId !== p.expectedVersion)) {
      throw new PreconditionFailedError(`If-Match: ${key} is at version ${prev && !prev.deleted ? prev.versionId : 'none'}, not ${p.expectedVersion}`);
    }
    if (p.method === 'DELETE') {
      if (!prev || prev.deleted)
        return {
          type: p.type,
          id: p.id,
          versionId: prev?.versionId ?? 0,
          lastUpdated,
          created: false,
          deleted: true,
          resource: null,
          patientId: prev?.patientId,
        };
      const versionId = prev.versionId + 1;
      const set = { versionId, lastUpdated, deleted: true, tokens: [], strings: [], refs: [], dateRanges: {}, resource: null, resourceJson: null };
      const r = await this.resources.updateOne({ _id: key, versionId: prev.versionId }, { $set: set });
      if (r.matchedCount === 0) throw new ConflictError(`${key} was changed by someone else; try again`, 'version_conflict');
      undo.push(() => this.resources.replaceOne({ _id: key }, storedBody(prev)));
      const h: FhirHistoryDoc = {
        _id: `${key}/_history/${versionId}`,
        type: p.type,
        id: p.id,
        versionId,
        lastUpdated,
        method: 'DELETE',
        deleted: true,
        patientId: prev.patientId,
        resource: null,
      };
      await this.history.create(storedBody(h));
      undo.push(() => this.history.deleteOne({ _id: h._id }));
      return { type: p.type, id: p.id, versionId, lastUpdated, created: false, deleted: true, resource: null, patientId: prev.patientId };
    }
    const versionId = prev ? prev.versionId + 1 : 1;
    const doc = this.#docFor({ ...p, registeredByFacilityId: prev?.registeredByFacilityId ?? p.registeredByFacilityId }, versionId, lastUpdated);
    if (prev) {
      doc.careTeamFacilityIds = prev.careTeamFacilityIds;
      if (prev.compartmentVersion !== undefined) doc.compartmentVersion = prev.compartmentVersion;
      const r = await this.resources.replaceOne({ _id: key, versionId: prev.versionId }, storedBody(doc));
      if (r.matchedCount === 0) throw new ConflictError(`${key} was changed by someone else; try again`, 'version_conflict');
      undo.push(() => this.resources.replaceOne({ _id: key }, storedBody(prev)));
    } else {
      try {
        await this.resources.create(storedBody(doc));
      } catch (err) {
        if ((err as { code?: number }).code === 11000) throw new ConflictError(`${key} was created by someone else; try again`, 'version_conflict');
        throw err;
      }
      undo.push(() => this.resources.deleteOne({ _id: key }));
    }
    const h = historyOf(doc, 'PUT');
    await this.history.create(storedBody(h));
    undo.push(() => this.history.deleteOne({ _id: h._id }));
    return resultOf(doc, !prev || prev.deleted);
  }

  #docFor(p: WritePlan, versionId: number, lastUpdated: Date): FhirResourceDoc {
    if (!p.resource) throw new Error('write plan without a resource');
    const resource: FhirResource = {
      ...p.resource,
      id: p.id,
      meta: { ...(p.resource.meta ?? {}), versionId: String(versionId), lastUpdated: lastUpdated.toISOString() },
    };
    const keys = extractKeys(resource);
    return {
      _id: refKey(p.type, p.id),
      type: p.type,
      id: p.id,
      versionId,
      lastUpdated,
      deleted: false,
      patientId: p.accessPatientId ?? keys.patientId,
      careTeamFacilityIds: [],
      ...(p.type === 'Patient' && p.registeredByFacilityId ? { registeredByFacilityId: p.registeredByFacilityId } : {}),
      tokens: keys.tokens,
      strings: keys.strings,
      refs: keys.refs,
      dateRanges: envelope(keys.dates),
      ...(keys.sortDate !== undefined ? { sortDate: keys.sortDate } : {}),
      resource,
    };
  }
}

function envelope(dates: DateKey[]): Record<string, { lo: number; hi: number }> {
  const out: Record<string, { lo: number; hi: number }> = {};
  for (const d of dates) {
    const cur = out[d.p];
    out[d.p] = cur ? { lo: Math.min(cur.lo, d.lo), hi: Math.max(cur.hi, d.hi) } : { lo: d.lo, hi: d.hi };
  }
  return out;
}

function historyOf(d: FhirResourceDoc, method: WriteMethod): FhirHistoryDoc {
  return {
    _id: `${d._id}/_history/${d.versionId}`,
    type: d.type,
    id: d.id,
    versionId: d.versionId,
    lastUpdated: d.lastUpdated,
    method,
    deleted: d.deleted,
    patientId: d.patientId,
    resource: d.resource,
  };
}

function resultOf(d: FhirResourceDoc, created: boolean): WriteResult {
  return {
    type: d.type,
    id: d.id,
    versionId: d.versionId,
    lastUpdated: d.lastUpdated,
    created,
    deleted: d.deleted,
    patientId: d.patientId,
    resource: d.resource,
  };
}

/** 410 Gone for a deleted resource. */
export class GoneError extends DomainError {
  constructor(message: string) {
    super(410, 'gone', message);
  }
}
