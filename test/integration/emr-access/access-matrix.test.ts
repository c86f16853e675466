/**
 * The access matrix: role × relationship × operation against the real platform (real FerretDB,
 * real consult feature), each case asserting the decision (HTTP status / what is disclosed) and its
 * audit entry (found by the case's X-Request-Id). The expected decision is written here from the
 * access model (docs/access-model.md), not taken from the implementation.
 */
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../contracts/events';
import { auditEntryModel } from '../../../models/audit-entry';
import { breakGlassGrantModel } from '../../../models/fhir-break-glass';
import type { UserRole } from '../../../models/user';
import { startTestPlatform, type TestPlatform } from '../../support/platform';
import { adminToken, FHIR_JSON, ICD10, insertConsult, newFacility, newPatient, newStaff, type PatientFixture, type Staff } from './fixtures';

const ROLES: UserRole[] = ['referring_doctor', 'specialist', 'radiologist', 'admin'];
const RELATIONSHIPS = [
  'care-team',
  'consult-active-permit',
  'consult-active-deny',
  'consult-closed',
  'break-glass-active',
  'break-glass-expired',
  'none',
] as const;
type Relationship = (typeof RELATIONSHIPS)[number];

/** The model: clinicians in the care team, with active break-glass, or in an open consult the patient consented to. Admins never. */
function recordAllowed(role: UserRole, rel: Relationship): boolean {
  return role !== 'admin' && (rel === 'care-team' || rel === 'consult-active-permit' || rel === 'break-glass-active');
}

interface Subject {
  staff: Staff;
  rel: Relationship;
  patient: PatientFixture;
  consultId?: string;
}

interface Outcome {
  /** What the caller got: allowed or refused (decided from status and body per operation). */
  allowed: boolean;
  detail: string;
}

type Op = {
  name: string;
  /** Expected decision; the record rule unless the operation has its own. */
  expect?: (role: UserRole, rel: Relationship) => boolean;
  /** When refused, is an `access-denied` audit entry expected (false: nothing disclosed, nothing to refuse)? */
  deniedAudit?: boolean;
  run: (s: Subject, headers: Record<string, string>) => Promise<Outcome>;
};

let tp: TestPlatform;
const subjects: Subject[] = [];
const sockets: Socket[] = [];

const call = async (s: Subject, method: string, path: string, headers: Record<string, string>, body?: unknown) =>
  tp.api(method, path, { token: s.staff.token, body, headers: { ...FHIR_JSON, ...headers } });
const byStatus = (res: { status: number; body: unknown }, ok: number, refused = 403): Outcome => {
  if (res.status === ok) return { allowed: true, detail: String(res.status) };
  if (res.status === refused) return { allowed: false, detail: String(res.status) };
  throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
};
const obsBody = (s: Subject) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'Ghi chú ma trận' },
  subject: { reference: `Patient/${s.patient.id}` },
  valueString: 'matrix',
});

const OPS: Op[] = [
  { name: 'read Patient', run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Patient/${s.patient.id}`, h), 200) },
  { name: 'read Observation', run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Observation/${s.patient.observationId}`, h), 200) },
  { name: 'vread Observation', run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Observation/${s.patient.observationId}/_history/1`, h), 200) },
  { name: 'history Observation', run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Observation/${s.patient.observationId}/_history`, h), 200) },
  {
    name: 'read deleted Observation (410 only after the check)',
    run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Observation/${s.patient.deletedObservationId}`, h), 410),
  },
  { name: 'read Binary by securityContext', run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Binary/${s.patient.binaryId}`, h), 200) },
  {
    name: 'search Observation?patient=',
    run: async (s, h) => {
      const r = await call(s, 'GET', `/fhir/R4/Observation?patient=${s.patient.id}`, h);
      if (r.status === 200 && r.body.total < 2) throw new Error(`allowed search found ${r.body.total}`);
      return byStatus(r, 200);
    },
  },
  {
    name: 'search Condition?patient=&code= (matching)',
    run: async (s, h) => {
      const r = await call(s, 'GET', `/fhir/R4/Condition?patient=${s.patient.id}&code=${encodeURIComponent(`${ICD10}|E11`)}`, h);
      if (r.status === 200 && r.body.total !== 1) throw new Error(`matching search found ${r.body.total}`);
      return byStatus(r, 200);
    },
  },
  {
    name: 'search Condition?patient=&code= (not matching: same refusal, no oracle)',
    run: async (s, h) => {
      const r = await call(s, 'GET', `/fhir/R4/Condition?patient=${s.patient.id}&code=${encodeURIComponent(`${ICD10}|Z99`)}`, h);
      if (r.status === 200 && r.body.total !== 0) throw new Error(`non-matching search found ${r.body.total}`);
      return byStatus(r, 200);
    },
  },
  { name: 'search Patient?_id=', run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Patient?_id=${s.patient.id}`, h), 200) },
  {
    name: 'search Patient?identifier=<CCCD> (filtered, never refused)',
    deniedAudit: false,
    run: async (s, h) => {
      const r = await call(
        s,
        'GET',
        `/fhir/R4/Patient?identifier=${encodeURIComponent(`http://fhir.ehealth.gov.vn/core/sid/citizen_id|${s.patient.cccd}`)}`,
        h,
      );
      if (r.status !== 200) throw new Error(`identifier search ${r.status}`);
      return { allowed: r.body.total === 1, detail: `total ${r.body.total}` };
    },
  },
  { name: '$everything', run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Patient/${s.patient.id}/$everything`, h), 200) },
  { name: '$summary', run: async (s, h) => byStatus(await call(s, 'GET', `/fhir/R4/Patient/${s.patient.id}/$summary`, h), 200) },
  { name: 'GET /api/emr/patients/:id/summary', run: async (s, h) => byStatus(await call(s, 'GET', `/api/emr/patients/${s.patient.id}/summary`, h), 200) },
  { name: 'create Observation', run: async (s, h) => byStatus(await call(s, 'POST', '/fhir/R4/Observation', h, obsBody(s)), 201) },
  {
    name: 'update Observation',
    run: async (s, h) => byStatus(await call(s, 'PUT', `/fhir/R4/Observation/${s.patient.updatableId}`, h, { ...obsBody(s), id: s.patient.updatableId }), 200),
  },
  {
    name: 'batch entry',
    run: async (s, h) => {
      const r = await call(s, 'POST', '/fhir/R4', h, {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ resource: obsBody(s), request: { method: 'POST', url: 'Observation' } }],
      });
      if (r.status !== 200) throw new Error(`batch ${r.status}`);
      const status = String(r.body.entry[0].response.status);
      return byStatus({ status: Number.parseInt(status, 10), body: r.body }, 201);
    },
  },
  {
    name: 'transaction',
    run: async (s, h) =>
      byStatus(
        await call(s, 'POST', '/fhir/R4', h, {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ resource: obsBody(s), request: { method: 'POST', url: 'Observation' } }],
        }),
        200,
      ),
  },
  {
    name: 'care team (GET /api/emr/patients/:id/care-team)',
    expect: (role, rel) => role !== 'admin' && rel === 'care-team',
    run: async (s, h) => byStatus(await call(s, 'GET', `/api/emr/patients/${s.patient.id}/care-team`, h), 200),
  },
  {
    name: 'patient list (GET /api/emr/patients)',
    expect: (role, rel) => role !== 'admin' && (rel === 'care-team' || rel === 'break-glass-active'),
    deniedAudit: false,
    run: async (s, h) => {
      const r = await call(s, 'GET', '/api/emr/patients', h);
      if (r.status !== 200) throw new Error(`list ${r.status}`);
      return { allowed: (r.body.patients as { id: string }[]).some((p) => p.id === s.patient.id), detail: 'list' };
    },
  },
];

/** Consult operations, for the consult relationships. */
const CONSULT_OPS: Op[] = [
  { name: 'GET /api/consults/:id', run: async (s, h) => byStatus(await call(s, 'GET', `/api/consults/${s.consultId}`, h), 200) },
  { name: 'GET /api/consults/:id/messages', run: async (s, h) => byStatus(await call(s, 'GET', `/api/consults/${s.consultId}/messages`, h), 200) },
  { name: 'GET /api/consults/:id/fhir', run: async (s, h) => byStatus(await call(s, 'GET', `/api/consults/${s.consultId}/fhir`, h), 200) },
];

const socketOf = new Map<string, Socket<ServerToClientEvents, ClientToServerEvents>>();

beforeAll(async () => {
  tp = await startTestPlatform();
  const admin = await adminToken(tp);
  const ownerFacility = await newFacility(tp, admin, 'district');
  const owner = await newStaff(tp, admin, 'referring_doctor', ownerFacility);
  const conn = tp.platform.db.database.connection;
  for (const role of ROLES) {
    const facility = await newFacility(tp, admin, role === 'referring_doctor' ? 'district' : 'central');
    const staff = await newStaff(tp, admin, role, facility, role === 'specialist' ? 'pulmonology' : role === 'radiologist' ? 'radiology' : undefined);
    for (const rel of RELATIONSHIPS) {
      const consent = rel === 'consult-active-deny' ? 'deny' : rel === 'care-team' || rel.startsWith('break-glass') ? 'none' : 'permit';
      const patient = await newPatient(tp, owner, consent);
      const s: Subject = { staff, rel, patient };
      if (rel === 'care-team') {
        const g = await tp.api('POST', `/api/emr/patients/${patient.id}/care-team`, {
          token: owner.token,
          body: { facilityId: facility, reason: 'Chuyển tuyến điều trị (matrix)' },
        });
        if (g.status !== 201) throw new Error(`grant ${g.status}`);
      }
      if (rel === 'consult-active-permit' || rel === 'consult-active-deny') s.consultId = await insertConsult(tp, patient.id, owner, staff, 'accepted');
      if (rel === 'consult-closed') s.consultId = await insertConsult(tp, patient.id, owner, staff, 'closed-long-ago');
      if (rel.startsWith('break-glass')) {
        const now = Date.now();
        const expired = rel === 'break-glass-expired';
        if (role === 'admin') {
          // The API refuses admins; the policy must refuse them even if a grant existed.
          await breakGlassGrantModel(conn).create({
            _id: randomUUID(),
            userId: staff.id,
            role,
            facilityId: facility,
            patientId: patient.id,
            reason: 'matrix: admin grant',
            grantedAt: new Date(now - 1000),
            expiresAt: new Date(expired ? now - 500 : now + 3_600_000),
          });
        } else {
          const bg = await tp.api('POST', '/api/emr/break-glass', {
            token: staff.token,
            body: { patientId: patient.id, reason: 'Cấp cứu: cần xem tiền sử (matrix)' },
          });
          if (bg.status !== 201) throw new Error(`break-glass ${bg.status}`);
          if (expired) await breakGlassGrantModel(conn).updateMany({ userId: staff.id, patientId: patient.id }, { $set: { expiresAt: new Date(now - 500) } });
        }
      }
      subjects.push(s);
    }
  }
  for (const s of subjects) {
    if (socketOf.has(s.staff.id)) continue;
    const sock: Socket<ServerToClientEvents, ClientToServerEvents> = io(tp.url, {
      path: '/socket.io',
      auth: { token: s.staff.token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    sockets.push(sock);
    await new Promise<void>((resolve, reject) => {
      sock.on('session:ready', () => resolve());
      sock.on('connect_error', reject);
    });
    socketOf.set(s.staff.id, sock);
  }
}, 240_000);

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await tp.close();
});

interface Case {
  op: string;
  s: Subject;
  expected: boolean;
  deniedAudit: boolean;
  requestId: string;
  run: () => Promise<Outcome>;
}

test('role × relationship × operation: every decision as the model says, every one audited (≥ 500 cases)', async () => {
  const cases: Case[] = [];
  for (const s of subjects) {
    const ops = [...OPS, ...(s.consultId ? CONSULT_OPS : [])];
    for (const op of ops) {
      const requestId = `mx-${randomUUID()}`;
      cases.push({
        op: op.name,
        s,
        expected: (op.expect ?? recordAllowed)(s.staff.role, s.rel),
        deniedAudit: op.deniedAudit ?? true,
        requestId,
        run: () => op.run(s, { 'x-request-id': requestId }),
      });
    }
    if (s.consultId) {
      // socket: consult:join (the room) follows the same rule
      const sock = socketOf.get(s.staff.id);
      cases.push({
        op: 'socket consult:join',
        s,
        expected: recordAllowed(s.staff.role, s.rel),
        deniedAudit: true,
        requestId: '',
        run: async () => {
          const ack = (await sock?.timeout(5000).emitWithAck('consult:join', { consultId: s.consultId as string })) as {
            ok: boolean;
            error?: string;
            message?: string;
          };
          if (ack.ok) await sock?.emitWithAck('consult:leave', { consultId: s.consultId as string });
          return { allowed: ack.ok, detail: ack.message ?? 'ok' };
        },
      });
    }
  }
  expect(cases.length).toBeGreaterThanOrEqual(500);

  const results: { c: Case; got: Outcome | Error }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++] as Case;
      results.push({ c, got: await c.run().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))) });
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  await tp.platform.audit.flush();

  const entries = await auditEntryModel(tp.platform.db.database.connection)
    .find({ agentUserId: { $in: [...new Set(subjects.map((s) => s.staff.id))] } }, { event: 1, patientId: 1, success: 1, agentUserId: 1 })
    .lean<{ event: { meta?: { tag?: { code?: string }[] } }; patientId?: string; success: boolean; agentUserId?: string }[]>();
  const byRequest = new Map<string, typeof entries>();
  for (const e of entries) {
    const id = e.event.meta?.tag?.[0]?.code;
    if (id) byRequest.set(id, [...(byRequest.get(id) ?? []), e]);
  }

  const failures: string[] = [];
  for (const { c, got } of results) {
    const label = `${c.s.staff.role} × ${c.s.rel} × ${c.op}`;
    if (got instanceof Error) {
      failures.push(`${label}: ${got.message}`);
      continue;
    }
    if (got.allowed !== c.expected) {
      failures.push(`${label}: expected ${c.expected ? 'allow' : 'deny'}, got ${got.allowed ? 'allow' : 'deny'} (${got.detail})`);
      continue;
    }
    const mine = c.requestId ? (byRequest.get(c.requestId) ?? []) : entries.filter((e) => e.agentUserId === c.s.staff.id);
    const forPatient = mine.filter((e) => e.patientId === c.s.patient.id);
    if (c.expected && !forPatient.some((e) => e.success)) failures.push(`${label}: allowed but no audit entry of the disclosure`);
    if (!c.expected && c.deniedAudit && !forPatient.some((e) => !e.success)) failures.push(`${label}: refused but no access-denied audit entry`);
    if (!c.expected && c.requestId && forPatient.some((e) => e.success)) failures.push(`${label}: refused but audited as a disclosure`);
  }
  expect(failures).toEqual([]);
}, 240_000);
