/**
 * Limits on the shape of untrusted JSON, checked before anything recursive (validators, the
 * database driver) touches it: nesting depth, and object keys a MongoDB-compatible database
 * cannot store or that mean something to it (`$…`, dotted keys, NUL) or to JavaScript (`__proto__`),
 * and strings with a NUL character, which PostgreSQL's jsonb (under FerretDB) cannot store at all.
 * The walk is iterative, so a body nested 100,000 deep cannot overflow the stack here.
 */

/** Deepest nesting of objects and arrays accepted in a request body (a FHIR resource with
 * contained resources, extensions in extensions and nested Questionnaire items stays far below). */
export const MAX_JSON_DEPTH = 64;

export interface JsonShapeProblem {
  code: 'too_deep' | 'invalid_key' | 'invalid_character';
  /** Dotted path of the offending element, e.g. "name[0].$ne". */
  path: string;
  message: string;
}

function keyProblem(key: string): string | null {
  if (key === '') return 'an empty key';
  if (key.startsWith('$')) return 'a key starting with $';
  if (key.includes('.')) return 'a key containing "."';
  if (key.includes('\u0000')) return 'a key containing a NUL character';
  if (key === '__proto__') return 'the key __proto__';
  return null;
}

function join(path: string, seg: string | number): string {
  return typeof seg === 'number' ? `${path}[${seg}]` : path ? `${path}.${seg}` : seg;
}

/** The first problem in `value`, or null when it is within the limits. `root` prefixes paths. */
export function checkJsonShape(value: unknown, root = '', maxDepth = MAX_JSON_DEPTH): JsonShapeProblem | null {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 0, path: root }];
  while (stack.length) {
    const top = stack.pop();
    if (!top) break;
    const { v, depth, path } = top;
    if (typeof v === 'string' && v.includes('\u0000')) {
      return { code: 'invalid_character', path, message: `${path || 'body'}: a NUL character (U+0000) is not allowed in text` };
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) {
      return { code: 'too_deep', path, message: `${path || 'body'}: JSON is nested too deep (more than ${maxDepth} levels)` };
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, path: join(path, i) });
      continue;
    }
    for (const key of Object.keys(v)) {
      const bad = keyProblem(key);
      const at = join(path, key.length > 64 ? `${key.slice(0, 64)}…` : key);
      if (bad) return { code: 'invalid_key', path: at, message: `${at}: ${bad} is not allowed` };
      stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1, path: at });
    }
  }
  return null;
}
