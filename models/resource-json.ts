import type { Schema } from 'mongoose';
import type { FhirResource } from '../contracts/fhir';

/**
 * How the FHIR resource body of `fhir_resources` and `fhir_history` is stored: as JSON text in
 * `resourceJson`, not as a nested document. FerretDB v1 converts every document it returns from the
 * backend's JSON to BSON in Go, field by field; for a FHIR resource (deep objects and arrays) that
 * conversion was most of the cost of a search, a compartment read or a `count`, while one string
 * field costs a copy, and JSON.parse in Node is cheap. The search keys stay top-level fields, so
 * the backend still answers filters from its indexes.
 *
 * Writes store `resourceJson` (`storedBody`); reads see `resource` as before: a query that selects
 * `resource` also selects `resourceJson`, and what comes back has `resourceJson` parsed into
 * `resource` and removed. Documents written earlier (a nested `resource`, no `resourceJson`) read
 * unchanged, so existing data folders keep working without a migration.
 */
export function storeResourceAsJson(schema: Schema): void {
  schema.add({ resourceJson: { type: String } });
  readFieldFromJson(schema, 'resource', 'resourceJson');
}

/**
 * Reads of `schema` see `field` whether it is stored nested or as JSON text in `jsonField`: a query
 * that selects (or leaves out) `field` does the same with `jsonField`, and what comes back (find,
 * findOne, cursors) has `jsonField` parsed into `field` and removed. FHIR bodies and audit events
 * (models/audit-entry.ts) are stored this way.
 */
export function readFieldFromJson(schema: Schema, field: string, jsonField: string): void {
  schema.pre(['find', 'findOne'], function () {
    const projection = this.projection() as Record<string, unknown> | undefined;
    if (!projection || !(field in projection)) return;
    const include = projection[field];
    this.projection({ ...projection, [jsonField]: include === 0 || include === false ? 0 : 1 });
  });
  const decode = (d: unknown): void => {
    if (typeof d !== 'object' || d === null) return;
    const doc = d as Record<string, unknown>;
    const text = doc[jsonField];
    if (typeof text === 'string') doc[field] = JSON.parse(text) as unknown;
    Reflect.deleteProperty(doc, jsonField);
  };
  schema.post(['find', 'findOne'], function (result: unknown) {
    if (Array.isArray(result)) for (const d of result) decode(d);
    else decode(result);
  });
}

/** The document as stored: the body as `resourceJson` (null for a deletion), no nested `resource`. */
export function storedBody<T extends { resource?: FhirResource | null }>(doc: T): Omit<T, 'resource'> & { resourceJson: string | null } {
  const { resource, ...rest } = doc;
  return { ...rest, resourceJson: resource ? JSON.stringify(resource) : null };
}
