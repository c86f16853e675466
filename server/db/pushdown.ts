/**
 * Query shapes FerretDB v1 can hand to its backend.
 *
 * Verified in FerretDB v1.24.2's source and with `explain` (`filterPushdown`): the PostgreSQL
 * backend turns top-level `field: <scalar>` (and `field: {$eq: <scalar>}`) conditions of a filter into
 * `_jsonb->'field' @> '<value>'` (which also matches arrays holding the value); `$and`, `$or`, `$in`,
 * ranges, regexes and dotted paths are skipped and evaluated in Go over what comes back. The SQLite
 * backend pushes down only a filter that is exactly `{_id: <string>}`. FerretDB always re-applies
 * the whole filter afterwards, so hoisting conditions to the top level never changes a result.
 */

type Filter = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Filter => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof RegExp);
const isScalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || v instanceof Date;

/**
 * The same filter, with every equality that must hold (members of `$and`, recursively, and `$or`s of
 * one alternative) moved to the top level where the backend can use it: `{$and: [{type: 'X'}, {$or:
 * [{refs: 'patient|Patient/1'}]}]}` → `{type: 'X', refs: 'patient|Patient/1'}`. A field that appears
 * twice keeps its second condition inside `$and`.
 */
export function pushdownShape(filter: Filter): Filter {
  const top: Filter = {};
  const rest: Filter[] = [];
  const visit = (f: Filter) => {
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) visit(sub);
        continue;
      }
      if (k === '$or' && Array.isArray(v) && v.length === 1 && isPlainObject(v[0])) {
        visit(v[0]);
        continue;
      }
      if (!k.startsWith('$') && !k.includes('.') && isScalar(v) && !(k in top)) {
        top[k] = v;
        continue;
      }
      rest.push({ [k]: v });
    }
  };
  visit(filter);
  return rest.length ? { ...top, $and: rest } : top;
}
