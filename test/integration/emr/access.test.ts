// Test-only consult directory: which (user, patient) pairs take part in a consult.
const consultParticipants = new Set<string>();
jest.mock('../../../server/consults/feature', () => ({
  createConsultFeature: () => ({
    name: 'consults',
    directory: {
      isConsultParticipantForPatient: async (userId: string, patientId: string) => consultParticipants.has(`${userId}:${patientId}`),
      consultPatientIds: async (userId: string) => [...consultParticipants].filter((k) => k.startsWith(`${userId}:`)).map((k) => k.slice(userId.length + 1)),
      callAdmission: async () => null,
    },
  }),
}));

import { DEMO_CITIZEN_ID, DEMO_PATIENT_ID } from '../../../server/emr/demo-patient';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
const tokens: Record<keyof typeof DEMO, string> = { referrer: '', specialist: '', radiologist: '', admin: '' };
beforeAll(async () => {
  tp = await startTestPlatform();
  for (const k of Object.keys(DEMO) as (keyof typeof DEMO)[]) tokens[k] = (await tp.login(DEMO[k])).accessToken;
});
afterAll(async () => {
  await tp.close();
});

type Who = keyof typeof DEMO;
const fhir = (who: Who, method: string, path: string, body?: unknown) =>
  tp.api(method, `/fhir/R4${path}`, { token: tokens[who], body, headers: { 'content-type': 'application/fhir+json' } });
const observation = (patientId: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'Ghi chú' },
  subject: { reference: `Patient/${patientId}` },
  valueString: 'test',
});

/** Every way of reading or writing one patient's record; returns the statuses. */
async function probe(who: Who, patientId: string) {
  const read = (await fhir(who, 'GET', `/Patient/${patientId}`)).status;
  const everything = (await fhir(who, 'GET', `/Patient/${patientId}/$everything`)).status;
  const summary = (await fhir(who, 'GET', `/Patient/${patientId}/$summary`)).status;
  const search = await fhir(who, 'GET', `/Condition?patient=${patientId}`);
  const byIdentifier = await fhir(who, 'GET', `/Patient?identifier=${DEMO_CITIZEN_ID}`);
  const anyPatients = await fhir(who, 'GET', '/Patient?_count=500');
  const write = (await fhir(who, 'POST', '/Observation', observation(patientId))).status;
  const emrSummary = (await tp.api('GET', `/api/emr/patients/${patientId}/summary`, { token: tokens[who] })).status;
  return {
    read,
    everything,
    summary,
    emrSummary,
    search: search.status === 200 ? `200:${search.body.total}` : String(search.status),
    identifierSearchFindsIt: JSON.stringify(byIdentifier.body).includes(patientId),
    listedInPatientSearch: JSON.stringify(anyPatients.body).includes(patientId),
    write,
  };
}

const ALLOWED = { read: 200, everything: 200, summary: 200, emrSummary: 200, write: 201 };
const DENIED = {
  read: 403,
  everything: 403,
  summary: 403,
  emrSummary: 403,
  search: '403',
  identifierSearchFindsIt: false,
  listedInPatientSearch: false,
  write: 403,
};

describe('access matrix over HTTP (demo patient: care team fac-mocchau, Consent permits consultation)', () => {
  test('care-team facility (referrer at fac-mocchau): full access', async () => {
    expect(await probe('referrer', DEMO_PATIENT_ID)).toMatchObject({ ...ALLOWED, identifierSearchFindsIt: true, listedInPatientSearch: true });
  });

  test.each(['specialist', 'radiologist', 'admin'] as const)(
    'no relationship (%s at fac-bachmai): nothing readable or writable, nothing leaks through search',
    async (who) => {
      const before = (await fhir('referrer', 'GET', `/Observation?patient=${DEMO_PATIENT_ID}&_count=0`)).body.total;
      expect(await probe(who, DEMO_PATIENT_ID)).toEqual(DENIED);
      expect((await fhir('referrer', 'GET', `/Observation?patient=${DEMO_PATIENT_ID}&_count=0`)).body.total).toBe(before);
      const denied = await fhir(who, 'GET', `/Patient/${DEMO_PATIENT_ID}`);
      expect(denied.body).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [{ code: 'forbidden', diagnostics: expect.stringMatching(/care team|admin role/) }],
      });
    },
  );

  test('consult participant + Consent permit → access; Consent deny → 403; no Consent → 403; admin participant → 403', async () => {
    consultParticipants.add(`usr-radiologist:${DEMO_PATIENT_ID}`);
    consultParticipants.add(`usr-admin:${DEMO_PATIENT_ID}`);
    try {
      expect(await probe('radiologist', DEMO_PATIENT_ID)).toMatchObject({ ...ALLOWED, identifierSearchFindsIt: true });
      expect((await fhir('admin', 'GET', `/Patient/${DEMO_PATIENT_ID}`)).status).toBe(403);
      // the patient withdraws consent: a deny provision
      const consent = (await fhir('referrer', 'GET', '/Consent/consent-demo-hoa')).body;
      const denyRes = await fhir('referrer', 'PUT', '/Consent/consent-demo-hoa', {
        ...consent,
        provision: { type: 'deny', purpose: consent.provision.purpose },
      });
      expect(denyRes.status).toBe(200);
      expect(await probe('radiologist', DEMO_PATIENT_ID)).toMatchObject({
        read: 403,
        everything: 403,
        summary: 403,
        write: 403,
        identifierSearchFindsIt: false,
      });
      expect((await fhir('radiologist', 'GET', `/Patient/${DEMO_PATIENT_ID}`)).body.issue[0].diagnostics).toMatch(/Consent denies/);
      // no consent at all
      expect((await fhir('referrer', 'DELETE', '/Consent/consent-demo-hoa')).status).toBe(204);
      expect((await fhir('radiologist', 'GET', `/Patient/${DEMO_PATIENT_ID}`)).body.issue[0].diagnostics).toMatch(/no Consent/);
      // consent restored
      const { id: _id, meta: _meta, ...rest } = consent;
      expect((await fhir('referrer', 'PUT', '/Consent/consent-demo-hoa', rest)).status).toBe(201);
      expect((await fhir('radiologist', 'GET', `/Patient/${DEMO_PATIENT_ID}`)).status).toBe(200);
    } finally {
      consultParticipants.clear();
    }
    expect((await fhir('radiologist', 'GET', `/Patient/${DEMO_PATIENT_ID}`)).status).toBe(403);
  });

  test('break-glass: a reason is required; the grant gives time-limited access, is flagged in the audit and listed for admins', async () => {
    const short = await tp.api('POST', '/api/emr/break-glass', { token: tokens.specialist, body: { patientId: DEMO_PATIENT_ID, reason: 'urgent' } });
    expect(short.status).toBe(400);
    const adminTry = await tp.api('POST', '/api/emr/break-glass', {
      token: tokens.admin,
      body: { patientId: DEMO_PATIENT_ID, reason: 'I want to look at this record' },
    });
    expect(adminTry.status).toBe(403);
    const unknown = await tp.api('POST', '/api/emr/break-glass', {
      token: tokens.specialist,
      body: { patientId: 'nobody', reason: 'Cấp cứu: suy hô hấp, cần xem tiền sử' },
    });
    expect(unknown.status).toBe(404);
    const grant = await tp.api('POST', '/api/emr/break-glass', {
      token: tokens.specialist,
      body: { patientId: DEMO_PATIENT_ID, reason: 'Cấp cứu: suy hô hấp, cần xem tiền sử dị ứng' },
    });
    expect(grant.status).toBe(201);
    const minutes = (Date.parse(grant.body.expiresAt) - Date.parse(grant.body.grantedAt)) / 60000;
    expect(minutes).toBe(60);
    expect(await probe('specialist', DEMO_PATIENT_ID)).toMatchObject({ ...ALLOWED, identifierSearchFindsIt: true, listedInPatientSearch: true });
    // only for that user
    expect((await fhir('radiologist', 'GET', `/Patient/${DEMO_PATIENT_ID}`)).status).toBe(403);

    const list = await tp.api('GET', '/api/admin/break-glass', { token: tokens.admin });
    expect(list.status).toBe(200);
    expect(list.body.grants[0]).toMatchObject({
      userId: 'usr-specialist',
      patientId: DEMO_PATIENT_ID,
      reason: expect.stringMatching(/suy hô hấp/),
      active: true,
    });
    expect((await tp.api('GET', '/api/admin/break-glass', { token: tokens.specialist })).status).toBe(403);

    await tp.platform.audit.flush();
    const flagged = await tp.platform.audit.list({ breakGlass: true, patientId: DEMO_PATIENT_ID });
    expect(flagged.some((e) => e.action === 'E' && JSON.stringify(e.event).includes('suy hô hấp'))).toBe(true);
    expect(flagged.some((e) => e.action === 'R' && e.agentUserId === 'usr-specialist')).toBe(true);

    // expiry: once the grant has run out, access ends
    const { breakGlassGrantModel } = await import('../../../models/fhir-break-glass');
    await breakGlassGrantModel(tp.platform.db.database.connection).updateMany(
      { userId: 'usr-specialist' },
      { $set: { expiresAt: new Date(Date.now() - 1000) } },
    );
    expect((await fhir('specialist', 'GET', `/Patient/${DEMO_PATIENT_ID}`)).status).toBe(403);
  });

  test('an Encounter naming another facility (serviceProvider) grants nothing; an explicit care-team grant does, and its revocation ends it', async () => {
    const created = await fhir('referrer', 'POST', '/Patient', { resourceType: 'Patient', name: [{ text: 'Sùng A Páo' }], gender: 'male' });
    const pid = created.body.id as string;
    expect((await fhir('specialist', 'GET', `/Patient/${pid}`)).status).toBe(403);
    const enc = await fhir('referrer', 'POST', '/Encounter', {
      resourceType: 'Encounter',
      status: 'planned',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR', display: 'virtual' },
      subject: { reference: `Patient/${pid}` },
      serviceProvider: { reference: 'Organization/fac-bachmai' },
    });
    expect(enc.status).toBe(201);
    expect((await fhir('specialist', 'GET', `/Patient/${pid}`)).status).toBe(403);
    // the grant: only staff of a facility in the team; the specialist cannot grant themselves
    const self = await tp.api('POST', `/api/emr/patients/${pid}/care-team`, {
      token: tokens.specialist,
      body: { facilityId: 'fac-bachmai', reason: 'I would like to see this patient' },
    });
    expect(self.status).toBe(403);
    const grant = await tp.api('POST', `/api/emr/patients/${pid}/care-team`, {
      token: tokens.referrer,
      body: { facilityId: 'fac-bachmai', reason: 'Chuyển tuyến: điều trị lao tại Bạch Mai' },
    });
    expect(grant.status).toBe(201);
    expect((await fhir('specialist', 'GET', `/Patient/${pid}`)).status).toBe(200);
    expect((await fhir('admin', 'GET', `/Patient/${pid}`)).status).toBe(403); // admins never, even at a care-team facility
    const members = await tp.api('GET', `/api/emr/patients/${pid}/care-team`, { token: tokens.specialist });
    expect(members.body.members).toEqual([
      expect.objectContaining({ facilityId: 'fac-mocchau', basis: 'registration' }),
      expect.objectContaining({ facilityId: 'fac-bachmai', basis: 'grant', grantedBy: 'usr-referrer' }),
    ]);
    expect((await tp.api('DELETE', `/api/emr/patients/${pid}/care-team/fac-mocchau`, { token: tokens.specialist })).status).toBe(409);
    expect((await tp.api('DELETE', `/api/emr/patients/${pid}/care-team/fac-bachmai`, { token: tokens.referrer })).status).toBe(204);
    expect((await fhir('specialist', 'GET', `/Patient/${pid}`)).status).toBe(403);
    await tp.platform.audit.flush();
    const entries = await tp.platform.audit.list({ patientId: pid }, 200);
    expect(entries.some((e) => e.action === 'C' && JSON.stringify(e.event).includes('care team grant: Organization/fac-bachmai'))).toBe(true);
    expect(entries.some((e) => e.action === 'D' && JSON.stringify(e.event).includes('grant revoked'))).toBe(true);
  });

  test('every read, write and denial of patient data is audited with the patient id; the chain verifies', async () => {
    await tp.platform.audit.flush();
    const entries = await tp.platform.audit.list({ patientId: DEMO_PATIENT_ID }, 1000);
    expect(entries.some((e) => e.kind === 'patient-record' && e.action === 'R' && e.agentUserId === 'usr-referrer')).toBe(true);
    expect(entries.some((e) => e.kind === 'patient-record' && e.action === 'C' && e.agentUserId === 'usr-referrer')).toBe(true);
    expect(entries.some((e) => e.kind === 'access-denied' && !e.success && e.agentUserId === 'usr-admin')).toBe(true);
    expect(entries.some((e) => e.kind === 'access-denied' && e.action === 'C' && e.agentUserId === 'usr-specialist')).toBe(true);
    expect((await tp.platform.audit.verify()).ok).toBe(true);
  });

  test('a search naming no patient pages and counts only what the caller may read, whichever match sorts first', async () => {
    const patient = { resourceType: 'Patient', identifier: [{ system: 'urn:hoichan:test:shared', value: 'same-number' }], name: [{ family: 'Trùng' }] };
    const mine = await fhir('referrer', 'POST', '/Patient', patient);
    const theirs = await fhir('specialist', 'POST', '/Patient', patient); // registered at another facility: not readable by the referrer
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    for (const sort of ['_id', '-_id']) {
      // _count=1: the unreadable patient is the first match in one of the two orders
      const page = await fhir('referrer', 'GET', `/Patient?identifier=urn:hoichan:test:shared|same-number&_count=1&_sort=${sort}`);
      expect(page.status).toBe(200);
      expect(page.body.total).toBe(1);
      expect(page.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([mine.body.id]);
      expect(page.body.link.map((l: { relation: string }) => l.relation)).toEqual(['self']);
    }
  });

  test('/api/emr/patients lists only accessible patients', async () => {
    const mine = await tp.api('GET', '/api/emr/patients', { token: tokens.referrer });
    expect(mine.body.patients.find((p: { id: string }) => p.id === DEMO_PATIENT_ID)).toMatchObject({
      name: 'Nguyễn Thị Hoa',
      citizenIdMasked: '********2345',
      access: 'care-team',
    });
    const theirs = await tp.api('GET', '/api/emr/patients', { token: tokens.radiologist });
    expect(theirs.body.patients.some((p: { id: string }) => p.id === DEMO_PATIENT_ID)).toBe(false);
  });
});
