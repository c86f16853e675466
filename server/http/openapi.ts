/**
 * The OpenAPI 3.1 document served at /api/openapi.json.
 *
 * Paths come from the routers themselves (every route declared on a mounted router), so the
 * document cannot list a route that does not exist or miss one that does; each router module
 * adds what the code cannot say (summary, roles, body and query schemas) in an `ApiDocs` map
 * next to its routes. Request schemas are the zod schemas the routes validate with.
 */
import type { Router } from 'express';
import { z } from 'zod';

export interface ApiOperationDoc {
  summary: string;
  /** Roles the service admits; omitted = any signed-in user (the record access policy still applies). */
  roles?: readonly string[];
  /** JSON request body, as validated. */
  body?: z.ZodType;
  /** multipart/form-data fields, as validated; `file` names the binary part. */
  multipart?: { fields: z.ZodType; file: string };
  query?: z.ZodType;
  /** Success status (default 200). */
  status?: number;
  /** Response media type when it is not JSON (image/png, application/dicom, ...). */
  produces?: string;
  /** FHIR routes answer application/fhir+json and OperationOutcome errors. */
  fhir?: boolean;
  /** No bearer token needed. */
  public?: boolean;
}

/** Keyed by "METHOD /path" exactly as declared on the router, relative to its mount. */
export type ApiDocs = Readonly<Record<string, ApiOperationDoc>>;

export interface DocumentedMount {
  path: string;
  router: Router;
  docs?: ApiDocs;
}

interface RouteLayer {
  route?: { path: unknown; methods: Record<string, boolean> };
}

/** Method + path of every route declared directly on a router. */
export function declaredRoutes(router: Router): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  for (const layer of (router as unknown as { stack: RouteLayer[] }).stack) {
    if (!layer.route || typeof layer.route.path !== 'string') continue;
    for (const [method, on] of Object.entries(layer.route.methods))
      if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: layer.route.path });
  }
  return out;
}

function joinPath(mount: string, route: string): string {
  const full = route === '/' ? mount : `${mount.replace(/\/$/, '')}${route}`;
  return full.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

function queryParameters(schema: z.ZodType): unknown[] {
  const json = schemaOf(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({ name, in: 'query', required: (json.required ?? []).includes(name), schema: s }));
}

const errorResponse = (fhir: boolean) =>
  fhir
    ? { description: 'FHIR OperationOutcome', content: { 'application/fhir+json': { schema: { $ref: '#/components/schemas/OperationOutcome' } } } }
    : { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };

export interface OpenApiBuild {
  document: Record<string, unknown>;
  /** Routes with no entry in their router's docs. */
  undocumented: string[];
}

/**
 * Builds the document from the mounted routers. A docs entry that names no declared route is a
 * programming error and throws, so a renamed route cannot leave stale documentation behind.
 */
export function buildOpenApi(mounts: readonly DocumentedMount[], info: { title: string; version: string; description: string }): OpenApiBuild {
  const paths: Record<string, Record<string, unknown>> = {};
  const undocumented: string[] = [];
  for (const mount of mounts) {
    const routes = declaredRoutes(mount.router);
    const keys = new Set(routes.map((r) => `${r.method} ${r.path}`));
    for (const key of Object.keys(mount.docs ?? {})) {
      if (!keys.has(key)) throw new Error(`OpenAPI docs of ${mount.path} name "${key}", which no route declares`);
    }
    for (const { method, path } of routes) {
      const doc = mount.docs?.[`${method} ${path}`];
      const full = joinPath(mount.path, path);
      if (!doc) undocumented.push(`${method} ${full}`);
      const params = [...full.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      const fhir = doc?.fhir ?? false;
      const okType = doc?.produces ?? (fhir ? 'application/fhir+json' : 'application/json');
      const op: Record<string, unknown> = {
        summary: doc?.summary ?? '',
        tags: [mount.path],
        parameters: [...params, ...(doc?.query ? queryParameters(doc.query) : [])],
        responses: {
          [String(doc?.status ?? 200)]: { description: 'Success', content: { [okType]: {} } },
          '4XX': errorResponse(fhir),
        },
        ...(doc?.public ? { security: [] } : {}),
        ...(doc?.roles ? { 'x-roles': doc.roles, description: `Roles: ${doc.roles.join(', ')}.` } : {}),
      };
      if (doc?.body) op.requestBody = { required: true, content: { [fhir ? 'application/fhir+json' : 'application/json']: { schema: schemaOf(doc.body) } } };
      if (doc?.multipart) {
        const fields = schemaOf(doc.multipart.fields) as { properties?: Record<string, unknown>; required?: string[] };
        op.requestBody = {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                properties: { ...fields.properties, [doc.multipart.file]: { type: 'string', contentMediaType: 'application/octet-stream' } },
                required: [...(fields.required ?? []), doc.multipart.file],
              },
            },
          },
        };
      }
      (paths[full] ??= {})[method.toLowerCase()] = op;
    }
  }
  return {
    undocumented,
    document: {
      openapi: '3.1.0',
      info,
      servers: [{ url: '/' }],
      security: [{ bearer: [] }],
      paths,
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'Access token from POST /api/auth/login (15 minutes); refresh with POST /api/auth/refresh.',
          },
        },
        schemas: {
          Error: {
            type: 'object',
            required: ['error', 'message'],
            properties: { error: { type: 'string', description: 'machine-readable code' }, message: { type: 'string' }, details: {} },
          },
          OperationOutcome: {
            type: 'object',
            required: ['resourceType', 'issue'],
            properties: { resourceType: { const: 'OperationOutcome' }, issue: { type: 'array', items: { type: 'object' } } },
          },
        },
      },
    },
  };
}
