/**
 * FHIR search → a query on the extracted keys. Supported: the indexed parameters of
 * search-params.ts, `_id`, `_lastUpdated`, date prefixes eq/ge/le/gt/lt, comma = OR, repeated = AND,
 * `_count`, `_offset`, `_sort` (date, -date, _lastUpdated, -_lastUpdated), `_total` (none, estimate, accurate).
 */
import { InvalidInputError } from '../platform/errors';
import { dateRange, normaliseText, searchParamType } from './search-params';

export type SearchQuery = Record<string, string | string[] | undefined>;

export interface ParsedSearch {
  filter: Record<string, unknown>;
  sort: Record<string, 1 | -1>;
  count: number;
  offset: number;
  /** The query string of the parameters that define the result set (for paging links). */
  canonical: [string, string][];
  /** `_total=none`: the client does not want the total, so a full page is not counted. */
  total: 'none' | 'accurate';
}

const CONTROL = new Set(['_count', '_offset', '_sort', '_format', '_pretty', '_summary', '_elements', '_total', '_include', '_revinclude']);
export const MAX_COUNT = 500;
export const DEFAULT_COUNT = 50;

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function dateCondition(raw: string, where: string): Record<string, unknown> {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb)?(.+)$/.exec(raw);
  const prefix = m?.[1] ?? 'eq';
  const range = m?.[2] ? dateRange(m[2]) : null;
  if (!range) throw new InvalidInputError(`${where}: '${raw}' is not a FHIR date`, [where]);
  switch (prefix) {
    case 'eq':
      return { lo: { $gte: range.lo }, hi: { $lte: range.hi } };
    case 'gt':
    case 'sa':
      return { hi: { $gt: range.hi } };
    case 'lt':
    case 'eb':
      return { lo: { $lt: range.lo } };
    case 'ge':
      return { hi: { $gte: range.lo } };
    case 'le':
      return { lo: { $lte: range.hi } };
    default:
      throw new InvalidInputError(`${where}: the '${prefix}' prefix is not supported`, [where]);
  }
}

function lastUpdatedCondition(raw: string): Record<string, unknown> {
  const c = dateCondition(raw, '_lastUpdated');
  const out: Record<string, unknown> = {};
  const lo = c.lo as Record<string, number> | undefined;
  const hi = c.hi as Record<string, number> | undefined;
  if (lo?.$gte !== undefined) out.$gte = new Date(lo.$gte);
  if (lo?.$lt !== undefined) out.$lt = new Date(lo.$lt);
  if (lo?.$lte !== undefined) out.$lte = new Date(lo.$lte);
  if (hi?.$lte !== undefined) out.$lte = new Date(hi.$lte);
  if (hi?.$gt !== undefined) out.$gt = new Date(hi.$gt);
  if (hi?.$gte !== undefined) out.$gte = new Date(hi.$gte);
  return { lastUpdated: out };
}

function intParam(v: string | undefined, name: string, def: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidInputError(`${name} must be a non-negative integer`, [name]);
  return Math.min(n, max);
}

/** One parameter value (comma-separated alternatives) → a condition. */
function condition(type: string, code: string, value: string): Record<string, unknown> {
  const ptype = searchParamType(type, code);
  const alternatives = value.split(',').filter((v) => v !== '');
  if (!alternatives.length) throw new InvalidInputError(`${code}: empty value`, [code]);
  switch (ptype) {
    case 'token':
      return {
        $or: alternatives.map((v) => {
          const bar = v.indexOf('|');
          if (bar < 0) return { tokens: `${code}||${v}` };
          const system = v.slice(0, bar);
          const val = v.slice(bar + 1);
          if (!val) return { tokens: { $regex: `^${escapeRegex(`${code}|${system}|`)}` } };
          return { tokens: system ? `${code}|${system}|${val}` : `${code}||${val}` };
        }),
      };
    case 'string':
      return { $or: alternatives.map((v) => ({ strings: { $regex: `^${escapeRegex(`${code}|${normaliseText(v)}`)}` } })) };
    case 'reference':
      return {
        $or: alternatives.map((v) => {
          const ref = v.includes('/') ? v : `${code === 'encounter' ? 'Encounter' : 'Patient'}/${v}`;
          return { refs: `${code}|${ref}` };
        }),
      };
    case 'date':
      return {
        $or: alternatives.map((v) => {
          const c = dateCondition(v, code);
          return Object.fromEntries(Object.entries(c).map(([k, cond]) => [`dateRanges.${code}.${k}`, cond]));
        }),
      };
    default:
      throw new InvalidInputError(`Search parameter '${code}' is not supported for ${type}`, [code]);
  }
}

export function parseSearch(type: string, query: SearchQuery): ParsedSearch {
  const and: Record<string, unknown>[] = [{ type }, { deleted: false }];
  const canonical: [string, string][] = [];
  for (const [rawKey, rawVal] of Object.entries(query)) {
    if (rawVal === undefined) continue;
    const values = Array.isArray(rawVal) ? rawVal : [rawVal];
    const key = rawKey.split(':')[0] ?? rawKey;
    if (CONTROL.has(key)) continue;
    for (const v of values) {
      if (typeof v !== 'string') throw new InvalidInputError(`${rawKey}: must be a string`, [rawKey]);
      canonical.push([rawKey, v]);
      if (key === '_id') and.push({ id: { $in: v.split(',') } });
      else if (key === '_lastUpdated') and.push(lastUpdatedCondition(v));
      else and.push(condition(type, key, v));
    }
  }
  const one = (k: string) => {
    const v = query[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const count = intParam(one('_count'), '_count', DEFAULT_COUNT, MAX_COUNT);
  const offset = intParam(one('_offset'), '_offset', 0, Number.MAX_SAFE_INTEGER);
  const sortParam = one('_sort');
  let sort: Record<string, 1 | -1> = { _id: 1 };
  if (sortParam) {
    const desc = sortParam.startsWith('-');
    const field = desc ? sortParam.slice(1) : sortParam;
    const dir = desc ? -1 : 1;
    if (field === 'date' || field === 'birthdate') sort = { sortDate: dir, _id: 1 };
    else if (field === '_lastUpdated') sort = { lastUpdated: dir, _id: 1 };
    else if (field === '_id') sort = { _id: dir };
    else throw new InvalidInputError(`_sort=${sortParam} is not supported (date, -date, _lastUpdated, -_lastUpdated)`, ['_sort']);
    canonical.push(['_sort', sortParam]);
  }
  // `estimate` may be answered accurately; `none` saves the count (FerretDB v1 counts by reading every match)
  const totalParam = one('_total');
  if (totalParam !== undefined && !['none', 'estimate', 'accurate'].includes(totalParam))
    throw new InvalidInputError(`_total=${totalParam}: expected none, estimate or accurate`, ['_total']);
  if (totalParam !== undefined) canonical.push(['_total', totalParam]);
  return { filter: { $and: and }, sort, count, offset, canonical, total: totalParam === 'none' ? 'none' : 'accurate' };
}
