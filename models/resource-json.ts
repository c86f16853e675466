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
  schema.pre(['find', 'findOne'], function () {
    const projection = this.projection() as Record<string, unknown> | undefined;
    if (!projection || !('resource' in projection)) return;
    const include = projection.resource;
    this.projection({ ...projection, resourceJson: include === 0 || include === false ? 0 : 1 });
  });
  schema.post(['find', 'findOne'], function (result: unknown) {
    if (Array.isArray(result)) for (const d of result) decode(d);
    else decode(result);
  });
}

function decode(d: unknown): void {
  if (typeof d !== 'object' || d === null) return;
  const doc = d as { resource?: unknown; resourceJson?: unknown };
  if (typeof doc.resourceJson === 'string') doc.resource = JSON.parse(doc.resourceJson) as FhirResource;
  delete doc.resourceJson;
}

/** The document as stored: the body as `resourceJson` (null for a deletion), no nested `resource`. */
export function storedBody<T extends { resource?: FhirResource | null }>(doc: T): Omit<T, 'resource'> & { resourceJson: string | null } {
  const { resource, ...rest } = doc;
  return { ...rest, resourceJson: resource ? JSON.stringify(resource) : null };
}
