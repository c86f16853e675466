import { CITIZEN_ID_SYSTEM, type FhirBundle, type FhirResource } from '../../../contracts/fhir';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import { syntheaTransactionBundle } from '../../fixtures/fhir/synthea-bundle';

let tp: TestPlatform;
let token: string;
beforeAll(async () => {
  tp = await startTestPlatform();
  token = (await tp.login(DEMO.referrer)).accessToken;
});
afterAll(async () => {
  await tp.close();
});

const fhir = (method: string, path: string, body?: unknown, t = token, p = tp) =>
  p.api(method, `/fhir/R4${path}`, { token: t, body, headers: { 'content-type': 'application/fhir+json' } });
const countByIdentifier = async (cccd: string) =>
  (await fhir('GET', `/Patient?identifier=${encodeURIComponent(`${CITIZEN_ID_SYSTEM}|${cccd}`)}`)).body.total as number;
const patientEntry = (cccd: string, fullUrl = 'urn:uuid:11111111-1111-4111-a111-111111111111') => ({
  fullUrl,
  resource: {
    resourceType: 'Patient',
    identifier: [{ system: CITIZEN_ID_SYSTEM, value: cccd }],
    name: [{ text: 'Vì Thị Sen' }],
    gender: 'female',
    birthDate: '1990-01-01',
  },
  request: { method: 'POST', url: 'Patient' },
});
const conditionEntry = (subject: string, text = 'Viêm phổi') => ({
  fullUrl: 'urn:uuid:22222222-2222-4222-a222-222222222222',
  resource: {
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { text },
    subject: { reference: subject },
  },
  request: { method: 'POST', url: 'Condition' },
});

describe('transaction: all or nothing', () => {
  test('a valid transaction writes everything and rewrites urn:uuid references', async () => {
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [patientEntry('001090000101'), conditionEntry('urn:uuid:11111111-1111-4111-a111-111111111111')],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['201 Created', '201 Created']);
    const patientId = res.body.entry[0].fullUrl.split('/')[1];
    const cond = await fhir('GET', `/${res.body.entry[1].fullUrl}`);
    expect(cond.body.subject.reference).toBe(`Patient/${patientId}`);
  });

  test('an invalid entry → 400 naming it, nothing written', async () => {
    const bad = conditionEntry('urn:uuid:11111111-1111-4111-a111-111111111111');
    (bad.resource as Record<string, unknown>).onsetDateTime = 'yesterday';
    const res = await fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [patientEntry('001090000102'), bad] });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1].resource.onsetDateTime']);
    expect(await countByIdentifier('001090000102')).toBe(0);
  });

  test('a dangling reference → 422, nothing written', async () => {
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [patientEntry('001090000103'), conditionEntry('urn:uuid:99999999-9999-4999-a999-999999999999')],
    });
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1].resource.subject.reference']);
    const res2 = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [patientEntry('001090000103'), conditionEntry('Patient/not-there')],
    });
    // a patient that does not exist is refused like someone else's patient (no existence oracle)
    expect(res2.status).toBe(403);
    expect(await countByIdentifier('001090000103')).toBe(0);
  });

  test('a write failing after others were written is rolled back (If-Match mismatch on a PUT)', async () => {
    const existing = await fhir('POST', '/Patient', patientEntry('001090000104').resource);
    const before = await fhir('GET', '/Condition?_count=500');
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        patientEntry('001090000105'),
        conditionEntry('urn:uuid:11111111-1111-4111-a111-111111111111'),
        { resource: { ...existing.body, gender: 'other' }, request: { method: 'PUT', url: `Patient/${existing.body.id}`, ifMatch: 'W/"7"' } },
      ],
    });
    expect(res.status).toBe(412);
    expect(await countByIdentifier('001090000105')).toBe(0);
    expect((await fhir('GET', '/Condition?_count=500')).body.total).toBe(before.body.total);
    expect((await fhir('GET', `/Patient/${existing.body.id}`)).body.meta.versionId).toBe('1');
  });
});

describe('batch: each entry on its own', () => {
  test('per-entry status', async () => {
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        patientEntry('001090000201'),
        { resource: { resourceType: 'Observation', code: { text: 'x' } }, request: { method: 'POST', url: 'Observation' } },
        conditionEntry('Patient/not-there'),
        { request: { method: 'DELETE', url: 'Condition/not-there' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    expect(res.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['201 Created', '400', '403', '404']);
    expect(res.body.entry[1].response.outcome.issue[0].expression).toEqual(['Bundle.entry[1].resource.status']);
    expect(await countByIdentifier('001090000201')).toBe(1);
  });
});

describe('same person, one record (citizen ID)', () => {
  test('a Bundle whose Patient has a known CCCD links to the existing Patient and says so', async () => {
    const first = await fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [patientEntry('001090000301')] });
    const existingId = first.body.entry[0].fullUrl.split('/')[1];
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [patientEntry('001090000301'), conditionEntry('urn:uuid:11111111-1111-4111-a111-111111111111', 'Sốt xuất huyết')],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-hoichan-linked-patients')).toBe(`Patient/${existingId}`);
    expect(res.body.entry[0].response.outcome.issue[0]).toMatchObject({
      severity: 'information',
      diagnostics: expect.stringMatching(/already exists.*linked/),
    });
    expect(res.body.entry[0].fullUrl).toBe(`Patient/${existingId}`);
    expect(await countByIdentifier('001090000301')).toBe(1);
    const cond = await fhir('GET', `/${res.body.entry[1].fullUrl}`);
    expect(cond.body.subject.reference).toBe(`Patient/${existingId}`);
  });
});

/** Canonical JSON ignoring ids and meta; references keep only their target type (urn:uuid resolved through `urnTypes`). */
function comparable(resources: FhirResource[], urnTypes: Map<string, string> = new Map()): string[] {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (typeof v !== 'object' || v === null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'id' || k === 'meta') continue;
      out[k] = k === 'reference' && typeof x === 'string' ? `${urnTypes.get(x) ?? x.replace(/\/.*$/, '')}/*` : strip(x);
    }
    return out;
  };
  return resources.map((r) => JSON.stringify(strip(r))).sort();
}

describe('Synthea-style import, $summary, $everything round trip', () => {
  const { bundle, expect: ex } = syntheaTransactionBundle({ seed: 7, citizenId: '001061004455' });
  let patientId: string;

  test('imports hundreds of resources incl. Claim/ExplanationOfBenefit in one transaction', async () => {
    const res = await fhir('POST', '', bundle);
    expect(res.status).toBe(200);
    expect(res.body.entry).toHaveLength(ex.resources);
    expect(res.body.entry.every((e: { response: { status: string } }) => e.response.status === '201 Created')).toBe(true);
    patientId = res.body.entry[0].fullUrl.split('/')[1];
    expect((await fhir('GET', `/ExplanationOfBenefit?patient=${patientId}&_count=0`)).body.total).toBeGreaterThan(30);
  });

  test('$summary lists its active conditions, current medications, allergies and immunizations', async () => {
    const res = await fhir('GET', `/Patient/${patientId}/$summary`);
    expect(res.status).toBe(200);
    const doc = res.body as FhirBundle;
    expect(doc.type).toBe('document');
    const composition = doc.entry?.[0]?.resource as FhirResource & { section: { title: string; entry?: { reference: string }[] }[] };
    expect(composition.resourceType).toBe('Composition');
    const byRef = new Map(
      (doc.entry ?? []).map((e) => [
        `${e.resource?.resourceType}/${e.resource?.id}`,
        e.resource as FhirResource & { code?: { text?: string }; medicationCodeableConcept?: { text?: string } },
      ]),
    );
    const section = (prefix: string) => composition.section.find((s) => s.title.startsWith(prefix))?.entry?.map((e) => byRef.get(e.reference)) ?? [];
    expect(
      section('Active problems')
        .map((c) => c?.code?.text)
        .sort(),
    ).toEqual([...ex.activeConditions].sort());
    expect(
      section('Current medications')
        .map((m) => m?.medicationCodeableConcept?.text)
        .sort(),
    ).toEqual([...ex.activeMedications].sort());
    expect(section('Allergies').map((a) => a?.code?.text)).toEqual(ex.allergies);
    expect(section('Immunizations')).toHaveLength(ex.immunizations);
    expect(section('Vital signs').length).toBe(4); // latest per code
    expect(section('Laboratory').length).toBe(2);
  });

  test('$summary is a self-contained document: every reference inside it resolves to an entry of the Bundle (IPS rule)', async () => {
    const doc = (await fhir('GET', `/Patient/${patientId}/$summary`)).body as FhirBundle;
    const base = `${tp.url}/fhir/R4/`;
    const fullUrls = new Set((doc.entry ?? []).map((e) => e.fullUrl));
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.reference === 'string') refs.push(o.reference);
        Object.values(o).forEach(walk);
      }
    };
    for (const e of doc.entry ?? []) walk(e.resource);
    expect(refs.length).toBeGreaterThan(20);
    // relative references resolve against the entry's base (FHIR Bundle reference resolution); urn:uuid ones against fullUrl as is
    const unresolved = refs.filter((r) => !fullUrls.has(r.startsWith('urn:') ? r : `${base}${r}`));
    expect(unresolved).toEqual([]);
    expect(new Set((doc.entry ?? []).map((e) => e.fullUrl)).size).toBe(doc.entry?.length); // no entry twice
    // the Encounters the cited Observations and Conditions happened in are part of the document
    const types = (doc.entry ?? []).map((e) => e.resource?.resourceType);
    expect(types.filter((t) => t === 'Encounter').length).toBeGreaterThan(0);
    // what lies outside the compartment (the Practitioner of a MedicationRequest) keeps its display only
    const med = (doc.entry ?? [])
      .map((e) => e.resource as FhirResource & { requester?: { reference?: string; display?: string } })
      .find((r) => r.resourceType === 'MedicationRequest');
    expect(med?.requester?.reference).toBeUndefined();
    expect(med?.requester?.display).toBeTruthy();
  });

  test('$everything, re-imported into an empty database, reproduces the same resources (ignoring ids and meta)', async () => {
    const everything = await fhir('GET', `/Patient/${patientId}/$everything`);
    expect(everything.status).toBe(200);
    const exported = (everything.body as FhirBundle).entry?.map((e) => e.resource as FhirResource) ?? [];
    expect(exported.length).toBe(ex.resources);
    const tp2 = await startTestPlatform();
    try {
      const token2 = (await tp2.login(DEMO.referrer)).accessToken;
      const tx = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: (everything.body as FhirBundle).entry?.map((e) => ({
          fullUrl: e.fullUrl,
          resource: e.resource,
          request: { method: 'POST', url: e.resource?.resourceType },
        })),
      };
      const imported = await fhir('POST', '', tx, token2, tp2);
      expect(imported.status).toBe(200);
      const newId = imported.body.entry[0].fullUrl.split('/')[1];
      const again = await fhir('GET', `/Patient/${newId}/$everything`, undefined, token2, tp2);
      const reexported = (again.body as FhirBundle).entry?.map((e) => e.resource as FhirResource) ?? [];
      expect(comparable(reexported)).toEqual(comparable(exported));
      const urnTypes = new Map((bundle.entry ?? []).map((e) => [e.fullUrl ?? '', e.resource?.resourceType ?? '']));
      expect(comparable(exported)).toEqual(comparable(bundle.entry?.map((e) => e.resource as FhirResource) ?? [], urnTypes));
    } finally {
      await tp2.close();
    }
  }, 240_000);
});
