import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
}, 120_000);
afterAll(async () => {
  await tp?.close();
});

describe('GET /api/openapi.json', () => {
  it('is public and documents every route of the running platform', async () => {
    const res = await tp.api('GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, { summary: string; requestBody?: any; security?: unknown[] }>> };
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ key: `${m.toUpperCase()} ${p}`, op })));
    expect(ops.filter((o) => !o.op.summary).map((o) => o.key)).toEqual([]);
    const keys = ops.map((o) => o.key);
    for (const k of [
      'POST /api/auth/login',
      'POST /api/consults',
      'POST /api/consults/{id}/report',
      'GET /api/triage/worklist',
      'POST /api/imaging/studies',
      'POST /api/uploads',
      'PATCH /api/uploads/{id}',
      'POST /api/uploads/{id}/complete',
      'GET /fhir/R4/{type}/{id}',
      'GET /fhir/R4/metadata',
      'POST /api/emr/break-glass',
      'GET /api/admin/audit/verify',
      'GET /healthz',
    ]) {
      expect(keys).toContain(k);
    }
    // the request schemas are the ones the routes validate with
    const create = doc.paths['/api/consults']!.post!.requestBody.content['application/json'].schema;
    expect(create.required).toEqual(expect.arrayContaining(['patientId']));
    const upload = doc.paths['/api/imaging/studies']!.post!.requestBody.content['multipart/form-data'].schema;
    expect(upload.required).toEqual(expect.arrayContaining(['patientId', 'file']));
    expect(doc.paths['/api/auth/login']!.post!.security).toEqual([]);
  });

  it('matches the routes that answer: each documented /api operation is routed (no "No route for")', async () => {
    const { accessToken } = await tp.login(DEMO.admin);
    const doc = (await tp.api('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    for (const [p, methods] of Object.entries(doc.paths)) {
      for (const m of Object.keys(methods)) {
        if (m !== 'get') continue; // reads only: no side effects on the test database
        const url = p.replace(/\{[^}]+\}/g, 'x0');
        const res = await tp.api('GET', url, { token: accessToken });
        expect({ url, message: (res.body as { message?: string })?.message ?? '' }).not.toEqual({ url, message: expect.stringMatching(/^No route for/) });
      }
    }
  }, 60_000);
});
