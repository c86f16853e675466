import { Router } from 'express';
import { z } from 'zod';
import { buildOpenApi, declaredRoutes } from '../../../server/http/openapi';

const info = { title: 't', version: '1', description: 'd' };

function router() {
  const r = Router();
  r.get('/', (_req, res) => res.json([]));
  r.post('/', (_req, res) => res.json({}));
  r.get('/:id/heatmap/:finding.png', (_req, res) => res.end());
  r.patch('/:id', (_req, res) => res.json({}));
  return r;
}

describe('OpenAPI document built from the routers', () => {
  it('lists every declared route, with path parameters, schemas and roles from the docs', () => {
    const body = z.object({ patientId: z.string().min(1), urgency: z.enum(['routine', 'urgent']).default('routine') }).strict();
    const { document, undocumented } = buildOpenApi(
      [
        {
          path: '/api/things',
          router: router(),
          docs: {
            'GET /': { summary: 'list', query: z.object({ limit: z.coerce.number().int().max(10).optional(), patient: z.string() }) },
            'POST /': { summary: 'create', body, status: 201, roles: ['referring_doctor'] },
            'GET /:id/heatmap/:finding.png': { summary: 'heatmap', produces: 'image/png' },
          },
        },
      ],
      info,
    );
    const paths = document.paths as Record<string, Record<string, any>>;
    expect(Object.keys(paths).sort()).toEqual(['/api/things', '/api/things/{id}', '/api/things/{id}/heatmap/{finding}.png']);
    expect(undocumented).toEqual(['PATCH /api/things/{id}']);
    expect(paths['/api/things/{id}']!.patch.summary).toBe('');

    const create = paths['/api/things']!.post;
    expect(Object.keys(create.responses)).toEqual(['201', '4XX']);
    expect(create['x-roles']).toEqual(['referring_doctor']);
    const schema = create.requestBody.content['application/json'].schema;
    expect(schema.properties.patientId).toEqual({ type: 'string', minLength: 1 });
    expect(schema.properties.urgency.enum).toEqual(['routine', 'urgent']);
    expect(schema.required).toEqual(['patientId']);
    expect(schema.additionalProperties).toBe(false);

    const list = paths['/api/things']!.get.parameters as Array<{ name: string; in: string; required: boolean }>;
    expect(list.map((p) => [p.name, p.in, p.required])).toEqual([
      ['limit', 'query', false],
      ['patient', 'query', true],
    ]);
    const heat = paths['/api/things/{id}/heatmap/{finding}.png']!.get;
    expect(heat.parameters.map((p: { name: string }) => p.name)).toEqual(['id', 'finding']);
    expect(Object.keys(heat.responses['200'].content)).toEqual(['image/png']);
  });

  it('refuses documentation for a route that does not exist (a renamed route cannot leave stale docs)', () => {
    expect(() => buildOpenApi([{ path: '/api/things', router: router(), docs: { 'GET /:id': { summary: 'gone' } } }], info)).toThrow(
      /"GET \/:id", which no route declares/,
    );
  });

  it('reads the routes declared on a router, not its middleware', () => {
    const r = router();
    r.use((_req, _res, next) => next());
    expect(declaredRoutes(r)).toEqual([
      { method: 'GET', path: '/' },
      { method: 'POST', path: '/' },
      { method: 'GET', path: '/:id/heatmap/:finding.png' },
      { method: 'PATCH', path: '/:id' },
    ]);
  });
});
