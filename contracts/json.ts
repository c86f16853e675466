/** Narrowing parsed JSON (FHIR resources and their elements) that arrives as `unknown`; used by server and client alike. */

/** A JSON object: not null, not an array. */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
