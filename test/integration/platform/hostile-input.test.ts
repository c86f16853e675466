/**
 * Each of these was a 500 in a 12,495-request fuzz run: every one must be a clear 4xx in the
 * surface's one error shape ({error, message} under /api, OperationOutcome under /fhir).
 */
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
let referrer: string;
let admin: string;
beforeAll(async () => {
  tp = await startTestPlatform();
  referrer = (await tp.login(DEMO.referrer)).accessToken;
  admin = (await tp.login(DEMO.admin)).accessToken;
});
afterAll(async () => {
  await tp.close();
});

function expectFhir4xx(res: { status: number; body: any }, status = 400) {
  expect(res.status).toBe(status);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].diagnostics).toEqual(expect.any(String));
}
function expectApi4xx(res: { status: number; body: any }, status: number, error?: string) {
  expect(res.status).toBe(status);
  expect(res.body).toEqual(expect.objectContaining({ error: error ?? expect.any(String), message: expect.any(String) }));
}

const patient = (extra: Record<string, unknown> = {}) => ({ resourceType: 'Patient', name: [{ family: 'Nguyễn', given: ['Văn A'] }], ...extra });

describe('FHIR Bundles', () => {
  test.each([
    ['a null entry', [null]],
    ['a string entry', ['x']],
    ['an entry with a null request', [{ request: null, resource: patient() }]],
  ])('a transaction with %s is a 400', async (_n, entry) => {
    const res = await tp.api('POST', '/fhir/R4', { token: referrer, body: { resourceType: 'Bundle', type: 'transaction', entry } });
    expectFhir4xx(res);
  });

  test.each([
    ['a number', 3],
    ['an object', { v: 1 }],
    ['an array', ['W/"1"']],
  ])('ifMatch as %s is a 400', async (_n, ifMatch) => {
    const res = await tp.api('POST', '/fhir/R4', {
      token: referrer,
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: { ...patient(), id: 'p-ifmatch' }, request: { method: 'PUT', url: 'Patient/p-ifmatch', ifMatch } }],
      },
    });
    expectFhir4xx(res);
    expect(res.body.issue[0].diagnostics).toMatch(/If-Match|ifMatch/);
  });
});

describe('keys a document database cannot store', () => {
  test.each([
    ['a $-key on a resource', patient({ $where: 'x' })],
    ['a $-key in a nested element', patient({ name: [{ family: 'A', $ne: 1 }] })],
    ['a dotted key', patient({ 'name.family': 'A' })],
    ['a dotted key in an extension', patient({ extension: [{ url: 'http://x', 'a.b': 1 }] })],
  ])('%s is a 400 naming the key', async (_n, body) => {
    const res = await tp.api('POST', '/fhir/R4/Patient', { token: referrer, body, headers: { 'content-type': 'application/fhir+json' } });
    expectFhir4xx(res);
    expect(res.body.issue[0].expression?.[0]).toEqual(expect.any(String));
  });

  test('a $-key inside a Bundle entry is a 400', async () => {
    const res = await tp.api('POST', '/fhir/R4', {
      token: referrer,
      body: { resourceType: 'Bundle', type: 'batch', entry: [{ resource: patient({ $ne: 1 }), request: { method: 'POST', url: 'Patient' } }] },
    });
    expectFhir4xx(res);
  });

  test('a $-key in an /api body is a 400 too', async () => {
    const res = await tp.api('POST', '/api/auth/login', { body: { email: { $ne: '' }, password: 'x' } });
    expectApi4xx(res, 400);
  });
});

describe('JSON depth', () => {
  const nest = (key: 'extension' | 'contained', depth: number) => {
    let node: Record<string, unknown> = key === 'extension' ? { url: 'http://x', valueString: 'leaf' } : patient();
    for (let i = 0; i < depth; i++) node = key === 'extension' ? { url: 'http://x', extension: [node] } : { ...patient(), contained: [node] };
    return key === 'extension' ? patient({ extension: [node] }) : node;
  };
  // Built as text: JSON.stringify itself overflows the stack on such an object.
  const deepText = (key: 'extension' | 'contained', depth: number) =>
    key === 'extension'
      ? '{"resourceType":"Patient","extension":[' +
        '{"url":"http://x","extension":['.repeat(depth) +
        '{"url":"http://x","valueString":"leaf"}' +
        ']}'.repeat(depth) +
        ']}'
      : '{"resourceType":"Patient","contained":['.repeat(depth) + '{"resourceType":"Patient"}' + ']}'.repeat(depth);
  test.each([['extension' as const], ['contained' as const]])('%s nested 10,000 deep is a 400', async (key) => {
    const res = await tp.api('POST', '/fhir/R4/Patient', { token: referrer, body: deepText(key, 10000), headers: { 'content-type': 'application/fhir+json' } });
    expectFhir4xx(res);
    expect(res.body.issue[0].diagnostics).toMatch(/deep/);
  });
  test('deeply nested /api JSON is a 400', async () => {
    const body = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const res = await tp.api('POST', '/api/auth/login', { body });
    expectApi4xx(res, 400, 'too_deep');
  });
  test('ordinary nesting (a resource with contained resources and extensions) is accepted', async () => {
    const res = await tp.api('POST', '/fhir/R4/Patient', { token: referrer, body: nest('extension', 5), headers: { 'content-type': 'application/fhir+json' } });
    expect(res.status).toBe(201);
  });
});

describe('facilities', () => {
  const facility = (name: string) => ({ name, tier: 'district', province: 'Sơn La' });
  test('a blank name is a 400', async () => {
    expectApi4xx(await tp.api('POST', '/api/admin/facilities', { token: admin, body: facility('   ') }), 400);
  });
  test('a duplicate name is a 409, also when both requests race', async () => {
    const name = `Trạm Y tế xã ${Date.now()}`;
    const results = await Promise.all([1, 2, 3].map(() => tp.api('POST', '/api/admin/facilities', { token: admin, body: facility(name) })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) expectApi4xx(r, 409);
    expectApi4xx(await tp.api('POST', '/api/admin/facilities', { token: admin, body: facility(`  ${name} `) }), 409);
  });
});

describe('multipart bodies', () => {
  const routes = ['/api/imaging/studies', '/api/consults/c-unknown/messages'];
  const raw = async (route: string, contentType: string, body: string) => {
    const res = await fetch(`${tp.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${referrer}`, 'content-type': contentType }, body });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as unknown };
  };
  const part = (boundary: string, filename: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n0000\r\n--${boundary}--\r\n`;
  for (const route of routes) {
    test.each([
      ['no boundary', 'multipart/form-data', part('b0', 'x.png')],
      ['a truncated part', 'multipart/form-data; boundary=b1', part('b1', 'x.png').slice(0, 60)],
      ['a mismatched boundary', 'multipart/form-data; boundary=other', part('b2', 'x.png')],
      ['a 20,000-character file name', 'multipart/form-data; boundary=b3', part('b3', 'a'.repeat(20000) + '.png')],
      ['a NUL in the file name', 'multipart/form-data; boundary=b4', part('b4', 'x\u0000.png')],
    ])(`${route}: %s is a 4xx`, async (_n, type, body) => {
      const res = await raw(route, type, body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body).toEqual(expect.objectContaining({ error: expect.any(String), message: expect.any(String) }));
    });
  }
});

test('after all of that the server still answers', async () => {
  expect((await tp.api('GET', '/healthz')).status).toBe(200);
});
