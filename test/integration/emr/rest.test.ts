import { CITIZEN_ID_SYSTEM } from '../../../contracts/fhir';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
let token: string; // referrer at fac-mocchau
const FHIR = { 'content-type': 'application/fhir+json' };

beforeAll(async () => {
  tp = await startTestPlatform();
  token = (await tp.login(DEMO.referrer)).accessToken;
});
afterAll(async () => {
  await tp.close();
});

const fhir = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  tp.api(method, `/fhir/R4${path}`, { token, body, headers: { ...FHIR, ...headers } });

function patient(cccd: string, extra: Record<string, unknown> = {}) {
  return {
    resourceType: 'Patient',
    identifier: [{ system: CITIZEN_ID_SYSTEM, value: cccd }],
    name: [{ family: 'Trần', given: ['Văn', 'Nam'], text: 'Trần Văn Nam' }],
    gender: 'male',
    birthDate: '1975-08-20',
    managingOrganization: { reference: 'Organization/fac-mocchau' },
    ...extra,
  };
}

describe('metadata', () => {
  test('CapabilityStatement is public', async () => {
    const res = await tp.api('GET', '/fhir/R4/metadata');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    expect(res.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
  });
  test('everything else needs a token', async () => {
    const res = await tp.api('GET', '/fhir/R4/Patient');
    expect(res.status).toBe(401);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('CRUD, versions and If-Match', () => {
  test('create → read → update with If-Match → 412 on a stale version → vread → history → delete', async () => {
    const created = await fhir('POST', '/Patient', patient('001075000001'));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.headers.get('location')).toMatch(new RegExp(`/fhir/R4/Patient/${id}/_history/1$`));
    expect(created.headers.get('etag')).toBe('W/"1"');
    expect(created.body.meta).toMatchObject({ versionId: '1', lastUpdated: expect.any(String) });

    const read = await fhir('GET', `/Patient/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.name[0].text).toBe('Trần Văn Nam');

    const updated = await fhir('PUT', `/Patient/${id}`, { ...read.body, gender: 'other' }, { 'if-match': 'W/"1"' });
    expect(updated.status).toBe(200);
    expect(updated.body.meta.versionId).toBe('2');
    const stale = await fhir('PUT', `/Patient/${id}`, { ...read.body, gender: 'unknown' }, { 'if-match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');

    const v1 = await fhir('GET', `/Patient/${id}/_history/1`);
    expect(v1.body.gender).toBe('male');
    const hist = await fhir('GET', `/Patient/${id}/_history`);
    expect(hist.body).toMatchObject({ resourceType: 'Bundle', type: 'history', total: 2 });
    expect(hist.body.entry.map((e: { resource: { meta: { versionId: string } } }) => e.resource.meta.versionId)).toEqual(['2', '1']);

    const del = await fhir('DELETE', `/Patient/${id}`);
    expect(del.status).toBe(204);
    expect((await fhir('GET', `/Patient/${id}`)).status).toBe(410);
    expect((await fhir('GET', '/Patient/does-not-exist')).status).toBe(404);
  });

  test('an unknown-but-valid resource type (Claim) is stored and returned intact', async () => {
    const p = await fhir('POST', '/Patient', patient('001075000002'));
    const claim = {
      resourceType: 'Claim',
      status: 'active',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/claim-type', code: 'institutional' }] },
      use: 'claim',
      patient: { reference: `Patient/${p.body.id}` },
      created: '2025-01-02',
      provider: { reference: 'Organization/fac-mocchau' },
      priority: { coding: [{ code: 'normal' }] },
      insurance: [{ sequence: 1, focal: true, coverage: { display: 'BHYT' } }],
      item: [{ sequence: 1, productOrService: { text: 'Khám bệnh' }, net: { value: 39000, currency: 'VND' } }],
      extension: [{ url: 'http://example.org/x', valueString: 'kept' }],
    };
    const created = await fhir('POST', '/Claim', claim);
    expect(created.status).toBe(201);
    const read = await fhir('GET', `/Claim/${created.body.id}`);
    const { id: _id, meta: _meta, ...rest } = read.body;
    expect(rest).toEqual(claim);
  });
});

describe('validation', () => {
  test('malformed JSON → 400 OperationOutcome', async () => {
    const res = await fhir('POST', '/Patient', '{"resourceType":');
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
  // PostgreSQL's jsonb (under FerretDB) cannot hold a NUL character: refused at the door on both
  // storage paths (this file runs on SQLite and on PostgreSQL), never a 500 from the database.
  test('a NUL character in text, in a search value or in an id → 400 OperationOutcome', async () => {
    const inText = await fhir('POST', '/Patient', patient('001075000099', { name: [{ family: 'Trần\u0000', given: ['Nam'] }] }));
    expect(inText.status).toBe(400);
    expect(inText.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'invalid', expression: ['name[0].family'] }] });
    for (const path of ['/Consent?patient=%00', '/Observation?code=a%00b', '/Patient/%00', '/Patient?name:contains=%00x']) {
      const res = await fhir('GET', path);
      expect([path, res.status, res.body.resourceType]).toEqual([path, 400, 'OperationOutcome']);
    }
  });
  test('wrong types and missing required elements name the path', async () => {
    const res = await fhir('POST', '/Patient', patient('001075000003', { birthDate: 'last tuesday', active: 'yes' }));
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(expect.arrayContaining(['Patient.birthDate', 'Patient.active']));
    const obs = await fhir('POST', '/Observation', { resourceType: 'Observation', code: { text: 'x' } });
    expect(obs.status).toBe(400);
    expect(obs.body.issue[0].expression).toEqual(['Observation.status']);
  });
  test('unknown resource type → 404 on the URL, 400 in the body', async () => {
    expect((await fhir('POST', '/Nonsense', { resourceType: 'Nonsense' })).status).toBe(404);
    const res = await fhir('POST', '/', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Nonsense' }, request: { method: 'POST', url: 'Nonsense' } }],
    });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[0].resource.resourceType']);
  });
  test("dangling references → 422 naming the reference; a patient that does not exist → 403 like anyone else's", async () => {
    const p = await fhir('POST', '/Patient', patient('001080000099'));
    const res = await fhir('POST', '/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: `Patient/${p.body.id}` },
      encounter: { reference: 'Encounter/nobody-here' },
    });
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['Observation.encounter.reference']);
    const nobody = await fhir('POST', '/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: 'Patient/nobody-here' },
    });
    expect(nobody.status).toBe(403);
  });
});

describe('search', () => {
  let pid: string;
  beforeAll(async () => {
    const p = await fhir(
      'POST',
      '/Patient',
      patient('001080000010', { name: [{ family: 'Lò', given: ['Thị', 'Mai'] }], gender: 'female', birthDate: '1980-02-29' }),
    );
    pid = p.body.id;
    const obs = (code: string, when: string, cat = 'vital-signs', status = 'final') => ({
      resourceType: 'Observation',
      status,
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: cat }] }],
      code: { coding: [{ system: 'http://loinc.org', code }] },
      subject: { reference: `Patient/${pid}` },
      effectiveDateTime: when,
      valueQuantity: { value: 1 },
    });
    for (const [code, when] of [
      ['8867-4', '2024-01-10T08:00:00Z'],
      ['8867-4', '2024-03-10T08:00:00Z'],
      ['8310-5', '2024-02-10T08:00:00Z'],
    ] as const) {
      expect((await fhir('POST', '/Observation', obs(code, when))).status).toBe(201);
    }
    expect((await fhir('POST', '/Observation', obs('2345-7', '2024-04-01', 'laboratory', 'preliminary'))).status).toBe(201);
  });

  test('Patient by identifier system|value, name (diacritics-insensitive prefix), birthdate, gender', async () => {
    const byId = await fhir('GET', `/Patient?identifier=${encodeURIComponent(`${CITIZEN_ID_SYSTEM}|001080000010`)}`);
    expect(byId.body.total).toBe(1);
    expect(byId.body.entry[0].resource.id).toBe(pid);
    const dbg = await fhir('GET', '/Patient?name=lo&birthdate=1980-02-29');
    if (dbg.status !== 200) console.log(JSON.stringify(dbg.body));
    expect(dbg.body.total).toBe(1);
    expect((await fhir('GET', '/Patient?name=Mai&gender=female')).body.total).toBe(1);
    expect((await fhir('GET', '/Patient?name=Mai&gender=male')).body.total).toBe(0);
    expect((await fhir('GET', '/Patient?birthdate=ge1980-01-01&birthdate=le1980-12-31&name=mai')).body.total).toBe(1);
  });

  test('clinical: patient/subject, code, category, status, date prefixes, _sort, _count and paging', async () => {
    const q = (s: string) => fhir('GET', `/Observation?patient=${pid}${s}`);
    expect((await q('')).body.total).toBe(4);
    expect((await fhir('GET', `/Observation?subject=Patient/${pid}`)).body.total).toBe(4);
    expect((await q('&code=http://loinc.org|8867-4')).body.total).toBe(2);
    expect((await q('&code=8310-5,2345-7')).body.total).toBe(2);
    expect((await q('&category=laboratory')).body.total).toBe(1);
    expect((await q('&status=preliminary')).body.total).toBe(1);
    expect((await q('&date=ge2024-02-01')).body.total).toBe(3);
    expect((await q('&date=lt2024-02-10')).body.total).toBe(1);
    expect((await q('&date=2024-03')).body.total).toBe(1);
    expect((await q('&date=gt2024-01-10&date=le2024-03-10')).body.total).toBe(2);
    const sorted = await q('&_sort=-date');
    expect(sorted.body.entry.map((e: { resource: { effectiveDateTime: string } }) => e.resource.effectiveDateTime)).toEqual([
      '2024-04-01',
      '2024-03-10T08:00:00Z',
      '2024-02-10T08:00:00Z',
      '2024-01-10T08:00:00Z',
    ]);
    const page1 = await q('&_sort=date&_count=3');
    expect(page1.body.entry).toHaveLength(3);
    const next = page1.body.link.find((l: { relation: string }) => l.relation === 'next');
    expect(next).toBeDefined();
    const page2 = await tp.api('GET', new URL(next.url).pathname + new URL(next.url).search, { token });
    expect(page2.body.entry).toHaveLength(1);
    expect(page2.body.entry[0].resource.effectiveDateTime).toBe('2024-04-01');
    expect(page2.body.link.find((l: { relation: string }) => l.relation === 'next')).toBeUndefined();
    expect((await q('&unknown-param=1')).status).toBe(400);
  });

  test('_total=none: a full page is not counted and its next link keeps the mode; a page that ends the set has its total', async () => {
    const q = (s: string) => fhir('GET', `/Observation?patient=${pid}${s}`);
    const page1 = await q('&_sort=date&_count=3&_total=none');
    expect(page1.status).toBe(200);
    expect(page1.body.total).toBeUndefined();
    expect(page1.body.entry).toHaveLength(3);
    const next = page1.body.link.find((l: { relation: string }) => l.relation === 'next');
    expect(new URL(next.url).searchParams.get('_total')).toBe('none');
    const page2 = await tp.api('GET', new URL(next.url).pathname + new URL(next.url).search, { token });
    expect(page2.body.entry.map((e: { resource: { effectiveDateTime: string } }) => e.resource.effectiveDateTime)).toEqual(['2024-04-01']);
    expect(page2.body.total).toBe(4);
    expect(page2.body.link.map((l: { relation: string }) => l.relation)).toEqual(['self', 'previous']);
    // a page exactly as long as the set: no next page, the total without counting
    const exact = await q('&_count=4&_total=none');
    expect(exact.body.total).toBe(4);
    expect(exact.body.link.map((l: { relation: string }) => l.relation)).toEqual(['self']);
    expect((await q('&_count=4')).body.link.map((l: { relation: string }) => l.relation)).toEqual(['self']);
    expect((await q('&_total=estimate&_count=2')).body.total).toBe(4);
    expect((await q('&_total=sometimes')).status).toBe(400);
  });
});

describe('conditional create (If-None-Exist)', () => {
  const observation = (patientId: string, idValue: string) => ({
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: 'urn:hoichan:test:lab', value: idValue }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }], text: 'Heart rate' },
    subject: { reference: `Patient/${patientId}` },
    valueQuantity: { value: 88, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  });

  test('a retry finds what the first try stored; several matches are 412; no criterion is 400; the search keeps its access rule', async () => {
    const p = await fhir('POST', '/Patient', patient('001075000777'));
    expect(p.status).toBe(201);
    const pid = p.body.id as string;
    const cond = { 'if-none-exist': 'identifier=urn:hoichan:test:lab|hr-1' };

    const first = await fhir('POST', '/Observation', observation(pid, 'hr-1'), cond);
    expect(first.status).toBe(201);
    const retry = await fhir('POST', '/Observation', observation(pid, 'hr-1'), { 'if-none-exist': 'Observation?identifier=urn:hoichan:test:lab|hr-1' });
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    const found = await fhir('GET', '/Observation?identifier=urn:hoichan:test:lab|hr-1');
    expect(found.body.total).toBe(1);

    for (let i = 0; i < 2; i++) expect((await fhir('POST', '/Observation', observation(pid, 'hr-dup'))).status).toBe(201);
    const ambiguous = await fhir('POST', '/Observation', observation(pid, 'hr-dup'), { 'if-none-exist': 'identifier=urn:hoichan:test:lab|hr-dup' });
    expect(ambiguous.status).toBe(412);
    expect(ambiguous.body.resourceType).toBe('OperationOutcome');
    expect((await fhir('GET', '/Observation?identifier=urn:hoichan:test:lab|hr-dup')).body.total).toBe(2);

    for (const bad of ['', '?', '_count=1']) {
      const res = await fhir('POST', '/Observation', observation(pid, 'hr-2'), { 'if-none-exist': bad });
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }

    // A stranger's condition that names the patient is refused like their search would be (no existence oracle).
    const stranger = (await tp.login(DEMO.specialist)).accessToken;
    const refused = await tp.api('POST', '/fhir/R4/Observation', {
      token: stranger,
      body: observation(pid, 'hr-1'),
      headers: { ...FHIR, 'if-none-exist': `patient=Patient/${pid}&identifier=urn:hoichan:test:lab|hr-1` },
    });
    expect(refused.status).toBe(403);

    const cap = await tp.api('GET', '/fhir/R4/metadata');
    const obsCap = (cap.body.rest[0].resource as { type: string; conditionalCreate?: boolean }[]).find((r) => r.type === 'Observation');
    expect(obsCap?.conditionalCreate).toBe(true);
  });
});

describe('storage', () => {
  test('a resource stored by an earlier version (nested body, no resourceJson) still reads, searches, exports and updates', async () => {
    const p = await fhir('POST', '/Patient', patient('001075000777'));
    const patientId = p.body.id as string;
    const obs = await fhir('POST', '/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }], text: 'Mạch' },
      subject: { reference: `Patient/${patientId}` },
      valueQuantity: { value: 88, unit: '/min' },
    });
    expect(obs.status).toBe(201);
    const id = obs.body.id as string;
    // rewrite both stored copies into the old shape, as an earlier server left them
    const db = tp.platform.db.database.connection.db!;
    const oldBody = { ...obs.body, valueQuantity: { value: 91, unit: '/min' } };
    await db
      .collection<{ _id: string }>('fhir_resources')
      .updateOne({ _id: `Observation/${id}` }, { $set: { resource: oldBody }, $unset: { resourceJson: '' } });
    await db
      .collection<{ _id: string }>('fhir_history')
      .updateOne({ _id: `Observation/${id}/_history/1` }, { $set: { resource: oldBody }, $unset: { resourceJson: '' } });
    const raw = await db.collection<{ _id: string }>('fhir_resources').findOne({ _id: `Observation/${id}` });
    expect(raw).not.toHaveProperty('resourceJson');

    expect((await fhir('GET', `/Observation/${id}`)).body.valueQuantity.value).toBe(91);
    expect((await fhir('GET', `/Observation/${id}/_history/1`)).body.valueQuantity.value).toBe(91);
    const found = await fhir('GET', `/Observation?patient=${patientId}&code=http://loinc.org|8867-4`);
    expect(found.body.entry.map((e: { resource: { valueQuantity: { value: number } } }) => e.resource.valueQuantity.value)).toEqual([91]);
    const everything = await fhir('GET', `/Patient/${patientId}/$everything`);
    expect(everything.body.entry.some((e: { resource: { id: string } }) => e.resource.id === id)).toBe(true);

    const updated = await fhir('PUT', `/Observation/${id}`, { ...oldBody, valueQuantity: { value: 95, unit: '/min' } }, { 'if-match': 'W/"1"' });
    expect(updated.status).toBe(200);
    expect((await fhir('GET', `/Observation/${id}`)).body.valueQuantity.value).toBe(95);
    const stored = await db.collection<{ _id: string; resourceJson?: string }>('fhir_resources').findOne({ _id: `Observation/${id}` });
    expect(JSON.parse(stored?.resourceJson ?? '{}').valueQuantity.value).toBe(95);
    expect(stored).not.toHaveProperty('resource');
  });
});
