/**
 * The platform's FHIR output checked by a validator it did not write: the `fhir.resources` R4
 * (4.0.1) models (test/support/fhir_validate.py, run with $HOICHAN_PY, from
 * ml/training/requirements-ci.txt). Every kind of FHIR the platform hands out is collected from
 * a real platform (the $summary document, $everything, searches, history, a transaction
 * response, the CapabilityStatement, OperationOutcomes, the AI triage resources, the consult
 * with its signed report, stored AuditEvents) and must pass, including the document rule that
 * every reference inside a $summary resolves to an entry of the Bundle.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { auditEntryModel } from '../../../models/audit-entry';
import { CITIZEN_ID_SYSTEM, type FhirResource } from '../../../contracts/fhir';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';
import { loginParty, requestConsult, transition, DEMO_PATIENT_ID, type ConsultParty } from '../../support/consult-flow';
import { syntheaTransactionBundle } from '../../fixtures/fhir/synthea-bundle';

jest.setTimeout(180_000);

const REPO = path.resolve(__dirname, '..', '..', '..');
const PYTHON = process.env.HOICHAN_PY ?? 'python3';
const VALIDATOR = path.join(REPO, 'test', 'support', 'fhir_validate.py');

interface ValidatorResult {
  fhirVersion: string;
  results: { index: number; resourceType: string | null; errors: string[] }[];
}

/** Runs the outside validator over the outputs; one list of errors per output. */
function validate(outputs: unknown[]): ValidatorResult {
  const run = spawnSync(PYTHON, [VALIDATOR], { input: JSON.stringify(outputs), encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
  if (run.error || run.status !== 0) {
    throw new Error(
      `the FHIR validator did not run (HOICHAN_PY=${PYTHON}): ${run.error?.message ?? run.stderr.trim()}\n` +
        'Point HOICHAN_PY at a Python with ml/training/requirements-ci.txt installed (scripts/setup.sh --test makes one).',
    );
  }
  return JSON.parse(run.stdout) as ValidatorResult;
}

let tp: TestPlatform;
let referrer: ConsultParty;
let specialist: ConsultParty;
const outputs: { label: string; body: unknown }[] = [];

const fhir = (method: string, p: string, token: string, body?: unknown) =>
  tp.api(method, `/fhir/R4${p}`, { token, body, headers: { 'content-type': 'application/fhir+json' } });

/** Keeps a FHIR answer for the validator, after checking the status it should have. */
async function collect(label: string, status: number, answer: Promise<{ status: number; body: any }>): Promise<any> {
  const res = await answer;
  expect({ label, status: res.status }).toEqual({ label, status });
  outputs.push({ label, body: res.body });
  return res.body;
}

beforeAll(async () => {
  tp = await startTestPlatform();
  referrer = await loginParty(tp, DEMO.referrer);
  specialist = await loginParty(tp, DEMO.specialist);
});
afterAll(async () => {
  await tp?.close();
});

test('the validator itself rejects what R4 forbids (so a pass means something)', () => {
  const bad = validate([
    { resourceType: 'Patient', birthDate: '1990-13-01', nickname: 'x' },
    { resourceType: 'Observation', code: { text: 'no status' } },
    {
      resourceType: 'Bundle',
      type: 'document',
      identifier: { value: 'x' },
      timestamp: '2026-01-01T00:00:00Z',
      entry: [
        {
          fullUrl: 'urn:uuid:5b3c3e4e-0000-4000-8000-000000000001',
          resource: {
            resourceType: 'Composition',
            status: 'final',
            type: { text: 'summary' },
            date: '2026-01-01',
            author: [{ display: 'x' }],
            title: 't',
            subject: { reference: 'Patient/not-in-the-bundle' },
          },
        },
      ],
    },
  ]);
  expect(bad.fhirVersion).toBe('4.0.1');
  const [patient, observation, document] = bad.results.map((r) => r.errors.join('\n'));
  expect(patient).toMatch(/birthDate/);
  expect(patient).toMatch(/nickname/);
  expect(observation).toMatch(/status/);
  expect(document).toMatch(/Patient\/not-in-the-bundle.*resolves to no entry/);
});

test('every kind of FHIR output passes the R4 models, and the $summary document is self-contained', async () => {
  // A Synthea-shaped patient imported as a transaction (Encounters, Observations, Claims, ...).
  const { bundle } = syntheaTransactionBundle({ seed: 7, encounters: 4 });
  const imported = await collect('transaction-response', 200, fhir('POST', '', referrer.token, bundle));
  const patientRef = (imported.entry as { response: { location: string } }[]).map((e) => e.response.location).find((l) => l.startsWith('Patient/'));
  expect(patientRef).toBeDefined();
  const patientId = patientRef!.split('/')[1]!;

  for (const id of [patientId, DEMO_PATIENT_ID]) {
    await collect(`$summary ${id}`, 200, fhir('GET', `/Patient/${id}/$summary`, referrer.token));
    await collect(`$everything ${id}`, 200, fhir('GET', `/Patient/${id}/$everything`, referrer.token));
  }
  const patient = (await collect('Patient read', 200, fhir('GET', `/Patient/${patientId}`, referrer.token))) as FhirResource;
  const cccd = (patient.identifier as { system: string; value: string }[]).find((i) => i.system === CITIZEN_ID_SYSTEM)?.value;
  expect(cccd).toBeDefined();
  await collect('Patient?identifier', 200, fhir('GET', `/Patient?identifier=${encodeURIComponent(`${CITIZEN_ID_SYSTEM}|${cccd}`)}`, referrer.token));
  await collect('Observation?patient&category', 200, fhir('GET', `/Observation?patient=${patientId}&category=vital-signs`, referrer.token));
  await collect('Encounter?patient&_total=none', 200, fhir('GET', `/Encounter?patient=${patientId}&_count=2&_total=none`, referrer.token));
  await collect('Patient history', 200, fhir('GET', `/Patient/${patientId}/_history`, referrer.token));
  await collect('CapabilityStatement', 200, tp.api('GET', '/fhir/R4/metadata'));
  await collect('OperationOutcome 404', 404, fhir('GET', '/Observation/does-not-exist', referrer.token));
  await collect(
    'OperationOutcome 400',
    400,
    fhir('POST', '/Observation', referrer.token, { resourceType: 'Observation', status: 'final', code: {}, valueQuantity: 'x' }),
  );
  await collect('OperationOutcome 403', 403, fhir('GET', `/Patient/${patientId}/$summary`, specialist.token));

  // The AI triage of a chest X-ray, filed in the shared record.
  const form = new FormData();
  form.append('patientId', DEMO_PATIENT_ID);
  form.append('file', new Blob([new Uint8Array(readFileSync(path.join(REPO, 'test', 'fixtures', 'cxr', 'tbx11k_tb0020.png')))]), 'cxr.png');
  const uploaded = await fetch(`${tp.url}/api/imaging/studies`, { method: 'POST', headers: { authorization: `Bearer ${referrer.token}` }, body: form });
  const study = (await uploaded.json()) as {
    fhir: { sync: string; imagingStudyId: string; diagnosticReportId: string; observationIds: Record<string, string> };
  };
  expect({ status: uploaded.status, sync: study.fhir.sync }).toEqual({ status: 201, sync: 'synced' });
  await collect('ImagingStudy', 200, fhir('GET', `/ImagingStudy/${study.fhir.imagingStudyId}`, referrer.token));
  await collect('AI DiagnosticReport', 200, fhir('GET', `/DiagnosticReport/${study.fhir.diagnosticReportId}`, referrer.token));
  for (const [finding, id] of Object.entries(study.fhir.observationIds))
    await collect(`AI Observation ${finding}`, 200, fhir('GET', `/Observation/${id}`, referrer.token));

  // A consult with its signed report: ServiceRequest, Task, DiagnosticReport, Provenance.
  const consult = await requestConsult(tp, referrer, DEMO_PATIENT_ID);
  await transition(tp, specialist, consult.id, 'accept', 'accepted');
  await transition(tp, specialist, consult.id, 'start', 'in_progress');
  const report = await tp.api('POST', `/api/consults/${consult.id}/report`, {
    token: specialist.token,
    body: {
      findings: 'Thâm nhiễm thùy trên phổi phải, có hang nhỏ.',
      recommendation: 'Xét nghiệm AFB đờm x2, GeneXpert; cách ly hô hấp.',
      impression: 'Nghi lao phổi',
      diagnosisCodes: [{ code: 'A15.0', display: 'Lao phổi' }],
    },
  });
  expect(report.status).toBe(201);
  await collect('consult Bundle', 200, tp.api('GET', `/api/consults/${consult.id}/fhir`, { token: referrer.token }));

  // AuditEvents as stored (the canonical JSON the hash chain covers).
  const stored = await auditEntryModel(tp.platform.db.database.connection)
    .collection.find({}, { projection: { eventJson: 1, event: 1 } })
    .sort({ _id: -1 })
    .limit(25)
    .toArray();
  expect(stored.length).toBeGreaterThan(10);
  for (const e of stored) outputs.push({ label: `AuditEvent ${String(e._id)}`, body: typeof e.eventJson === 'string' ? JSON.parse(e.eventJson) : e.event });

  const verdict = validate(outputs.map((o) => o.body));
  expect(verdict.fhirVersion).toBe('4.0.1');
  const failures = verdict.results.filter((r) => r.errors.length).map((r) => `${outputs[r.index]!.label}:\n  ${r.errors.slice(0, 20).join('\n  ')}`);
  expect(failures).toEqual([]);
  // What was checked, so a silently empty collection cannot pass.
  expect(verdict.results).toHaveLength(outputs.length);
  expect(outputs.map((o) => (o.body as { resourceType?: string }).resourceType)).toEqual(
    expect.arrayContaining(['Bundle', 'Patient', 'CapabilityStatement', 'OperationOutcome', 'ImagingStudy', 'DiagnosticReport', 'Observation', 'AuditEvent']),
  );
});
