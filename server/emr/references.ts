/**
 * References inside resources: finding them (with their paths), rewriting them (urn:uuid → Type/id
 * in a Bundle), and checking that each literal `Type/id` resolves. Organization/<facilityId> and
 * Practitioner/<userId> resolve to the platform's facilities and users.
 */
import type { Connection } from 'mongoose';
import type { FhirResource } from '../../contracts/fhir';
import { facilityModel } from '../../models/facility';
import { userModel } from '../../models/user';
import type { ResourceStore } from './resource-store';

export interface FoundReference {
  /** FHIRPath-like location, e.g. "Observation.subject". */
  path: string;
  reference: string;
  holder: { reference?: unknown };
}

const LITERAL = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

export function parseLiteral(ref: string): { type: string; id: string } | null {
  const m = LITERAL.exec(ref);
  return m ? { type: m[1] ?? '', id: m[2] ?? '' } : null;
}

/** Every `{reference: "..."}` inside a resource (not inside contained resources' own ids). */
export function findReferences(resource: FhirResource, base: string = resource.resourceType): FoundReference[] {
  const out: FoundReference[] = [];
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      node.forEach((n, i) => walk(n, `${path}[${i}]`));
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const obj = node as Record<string, unknown>;
    if (typeof obj.reference === 'string') out.push({ path, reference: obj.reference, holder: obj });
    for (const [k, v] of Object.entries(obj)) if (k !== 'reference' && typeof v === 'object') walk(v, `${path}.${k}`);
  };
  for (const [k, v] of Object.entries(resource)) if (typeof v === 'object') walk(v, `${base}.${k}`);
  return out;
}

export interface ReferenceProblem {
  path: string;
  message: string;
}

export class ReferenceResolver {
  constructor(
    private readonly store: ResourceStore,
    private readonly conn: Connection,
  ) {}

  /**
   * Problems with the references of these resources. `local` holds "Type/id" keys being written in
   * the same request (they resolve); `urn:` references must already have been rewritten.
   */
  async check(items: { resource: FhirResource; base: string }[], local: Set<string>): Promise<ReferenceProblem[]> {
    const problems: ReferenceProblem[] = [];
    const wanted = new Map<string, string[]>(); // key → paths
    for (const { resource, base } of items) {
      const containedIds = new Set(Array.isArray(resource.contained) ? (resource.contained as { id?: string }[]).map((c) => `#${c.id}`) : []);
      for (const r of findReferences(resource, base)) {
        const ref = r.reference;
        if (ref.startsWith('#')) {
          if (!containedIds.has(ref) && ref !== '#') problems.push({ path: `${r.path}.reference`, message: `${ref} names no contained resource` });
          continue;
        }
        if (ref.startsWith('urn:')) {
          problems.push({ path: `${r.path}.reference`, message: `${ref} does not resolve to an entry of this Bundle` });
          continue;
        }
        if (/^https?:\/\//.test(ref)) continue; // a reference to another server
        const lit = parseLiteral(ref);
        if (!lit) {
          problems.push({ path: `${r.path}.reference`, message: `'${ref}' is not a valid reference (Type/id)` });
          continue;
        }
        const key = `${lit.type}/${lit.id}`;
        if (local.has(key)) continue;
        wanted.set(key, [...(wanted.get(key) ?? []), `${r.path}.reference`]);
      }
    }
    if (!wanted.size) return problems;
    const found = await this.store.existing([...wanted.keys()]);
    const orgIds = [...wanted.keys()].filter((k) => !found.has(k) && k.startsWith('Organization/')).map((k) => k.slice(13));
    const practitionerIds = [...wanted.keys()].filter((k) => !found.has(k) && k.startsWith('Practitioner/')).map((k) => k.slice(13));
    if (orgIds.length)
      for (const f of await facilityModel(this.conn)
        .find({ _id: { $in: orgIds } }, { _id: 1 })
        .lean())
        found.add(`Organization/${f._id}`);
    if (practitionerIds.length)
      for (const u of await userModel(this.conn)
        .find({ _id: { $in: practitionerIds } }, { _id: 1 })
        .lean())
        found.add(`Practitioner/${u._id}`);
    for (const [key, paths] of wanted) {
      if (!found.has(key)) for (const path of paths) problems.push({ path, message: `${key} does not exist` });
    }
    return problems;
  }

  /** Resolves a conditional reference "Type?identifier=system|value" to "Type/id" when exactly one matches. */
  async resolveConditional(ref: string): Promise<string | null> {
    const m = /^([A-Z][A-Za-z]+)\?identifier=([^&]+)$/.exec(ref);
    if (!m) return null;
    const value = decodeURIComponent(m[2] ?? '');
    const token = value.includes('|') ? `identifier|${value}` : `identifier||${value}`;
    const docs = await this.store.resources.find({ type: m[1], deleted: false, tokens: token }, { id: 1 }).limit(2).lean<{ id: string }[]>();
    return docs.length === 1 && docs[0] ? `${m[1]}/${docs[0].id}` : null;
  }
}
