/**
 * $summary: an International Patient Summary-style document Bundle built from the patient's
 * compartment: Composition first, then the Patient and every resource the sections cite.
 */
import { randomUUID } from 'node:crypto';
import type { FhirBundle, FhirResource } from '../../contracts/fhir';
import { isJsonObject, type JsonObject } from '../../contracts/json';

const LOINC = 'http://loinc.org';

export interface SummarySection {
  key: string;
  title: string;
  loinc: string;
  display: string;
  select: (resources: FhirResource[]) => FhirResource[];
}

function codes(cc: unknown): string[] {
  if (!isJsonObject(cc)) return [];
  const out: string[] = [];
  if (Array.isArray(cc.coding)) for (const c of cc.coding) if (isJsonObject(c) && typeof c.code === 'string') out.push(c.code);
  return out;
}
function statusCode(cc: unknown): string | undefined {
  return codes(cc)[0];
}
export function textOf(cc: unknown): string {
  if (!isJsonObject(cc)) return '';
  if (typeof cc.text === 'string') return cc.text;
  if (Array.isArray(cc.coding)) for (const c of cc.coding) if (isJsonObject(c) && typeof c.display === 'string') return c.display;
  return codes(cc)[0] ?? '';
}
function categories(r: FhirResource): string[] {
  return Array.isArray(r.category) ? r.category.flatMap(codes) : codes(r.category);
}
/** When it happened, as ms (effective, period start, onset, recorded...), for "latest" and "recent". */
function whenOf(r: FhirResource): number {
  for (const k of [
    'effectiveDateTime',
    'effectiveInstant',
    'occurrenceDateTime',
    'issued',
    'started',
    'authoredOn',
    'recordedDate',
    'onsetDateTime',
    'dateAsserted',
    'date',
    'created',
  ]) {
    const v = r[k];
    if (typeof v === 'string') {
      const t = Date.parse(v);
      if (!Number.isNaN(t)) return t;
    }
  }
  for (const k of ['effectivePeriod', 'period', 'performedPeriod']) {
    const v = r[k];
    if (isJsonObject(v) && typeof v.start === 'string') return Date.parse(v.start) || 0;
  }
  return 0;
}
const byTypes = (rs: FhirResource[], ...types: string[]) => rs.filter((r) => types.includes(r.resourceType));
const newestFirst = (rs: FhirResource[]) => [...rs].sort((a, b) => whenOf(b) - whenOf(a));

/** Latest Observation per code in a category. */
function latestPerCode(rs: FhirResource[], category: string): FhirResource[] {
  const latest = new Map<string, FhirResource>();
  for (const o of newestFirst(
    byTypes(rs, 'Observation').filter((o) => categories(o).includes(category) && o.status !== 'entered-in-error' && o.status !== 'cancelled'),
  )) {
    const key = codes(o.code).join(',') || textOf(o.code);
    if (!latest.has(key)) latest.set(key, o);
  }
  return [...latest.values()];
}

function isAiFinding(o: FhirResource): boolean {
  const meta = isJsonObject(o.meta) ? o.meta : {};
  const tags = Array.isArray(meta.tag) ? meta.tag.filter(isJsonObject) : [];
  const derived = Array.isArray(o.derivedFrom) ? o.derivedFrom.filter(isJsonObject) : [];
  return (
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: FHIR JSON from clients; String() of whatever is there, as before
    tags.some((t) => /ai|triage/i.test(String(t.code ?? '')) || /ai|triage/i.test(String(t.system ?? ''))) ||
    derived.some((d) => typeof d.reference === 'string' && d.reference.startsWith('ImagingStudy/')) ||
    categories(o).includes('imaging')
  );
}

export const SUMMARY_SECTIONS: SummarySection[] = [
  {
    key: 'problems',
    title: 'Active problems / Vấn đề sức khỏe đang điều trị',
    loinc: '11450-4',
    display: 'Problem list - Reported',
    select: (rs) =>
      byTypes(rs, 'Condition').filter((c) => {
        const s = statusCode(c.clinicalStatus);
        return (
          (s === undefined || ['active', 'recurrence', 'relapse'].includes(s)) &&
          statusCode(c.verificationStatus) !== 'entered-in-error' &&
          statusCode(c.verificationStatus) !== 'refuted'
        );
      }),
  },
  {
    key: 'medications',
    title: 'Current medications / Thuốc đang dùng',
    loinc: '10160-0',
    display: 'History of Medication use Narrative',
    select: (rs) => [
      ...byTypes(rs, 'MedicationStatement').filter((m) => ['active', 'intended', 'on-hold'].includes(String(m.status))),
      ...byTypes(rs, 'MedicationRequest').filter((m) => ['active', 'on-hold'].includes(String(m.status))),
    ],
  },
  {
    key: 'allergies',
    title: 'Allergies and intolerances / Dị ứng',
    loinc: '48765-2',
    display: 'Allergies and adverse reactions Document',
    select: (rs) =>
      byTypes(rs, 'AllergyIntolerance').filter(
        (a) => !['inactive', 'resolved'].includes(statusCode(a.clinicalStatus) ?? '') && statusCode(a.verificationStatus) !== 'entered-in-error',
      ),
  },
  {
    key: 'immunizations',
    title: 'Immunizations / Tiêm chủng',
    loinc: '11369-6',
    display: 'History of Immunization Narrative',
    select: (rs) => newestFirst(byTypes(rs, 'Immunization').filter((i) => i.status === 'completed')),
  },
  {
    key: 'vitals',
    title: 'Vital signs (latest) / Dấu hiệu sinh tồn (gần nhất)',
    loinc: '8716-3',
    display: 'Vital signs',
    select: (rs) => latestPerCode(rs, 'vital-signs'),
  },
  {
    key: 'results',
    title: 'Laboratory results (latest) / Kết quả xét nghiệm (gần nhất)',
    loinc: '30954-2',
    display: 'Relevant diagnostic tests/laboratory data Narrative',
    select: (rs) => latestPerCode(rs, 'laboratory'),
  },
  {
    key: 'encounters',
    title: 'Recent encounters / Lượt khám gần đây',
    loinc: '46240-8',
    display: 'History of Hospitalizations+Outpatient visits Narrative',
    select: (rs) => newestFirst(byTypes(rs, 'Encounter')).slice(0, 10),
  },
  {
    key: 'imaging',
    title: 'Imaging and AI findings / Chẩn đoán hình ảnh và kết quả AI',
    loinc: '18748-4',
    display: 'Diagnostic imaging study',
    select: (rs) => [
      ...newestFirst(byTypes(rs, 'ImagingStudy')).slice(0, 10),
      ...newestFirst(
        byTypes(rs, 'DiagnosticReport').filter(
          (d) => categories(d).some((c) => ['RAD', 'imaging', 'LP29684-5'].includes(c)) || (Array.isArray(d.imagingStudy) && d.imagingStudy.length > 0),
        ),
      ).slice(0, 10),
      ...newestFirst(byTypes(rs, 'Observation').filter(isAiFinding)).slice(0, 20),
    ],
  },
];

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

function lineOf(r: FhirResource): string {
  const what =
    textOf(r.code) ||
    textOf(r.medicationCodeableConcept) ||
    textOf(r.vaccineCode) ||
    textOf(r.type) ||
    textOf(Array.isArray(r.type) ? r.type[0] : undefined) ||
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: FHIR JSON from clients; String() of whatever is there, as before
    String(r.description ?? r.resourceType);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- runtime input: FHIR JSON from clients; String() of whatever is there, as before
  const q = isJsonObject(r.valueQuantity) ? ` ${String(r.valueQuantity.value ?? '')} ${String(r.valueQuantity.unit ?? '')}`.trimEnd() : '';
  return `${what}${q}`;
}

/** Every `reference` string inside a resource (any depth). */
function referencesIn(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) referencesIn(x, out);
  else if (isJsonObject(v)) {
    if (typeof v.reference === 'string') out.push(v.reference);
    for (const [k, x] of Object.entries(v)) if (k !== 'reference' && typeof x === 'object' && x !== null) referencesIn(x, out);
  }
  return out;
}

/** A copy of `v` where references that are not in `keep` become display-only references. */
function withoutDangling(v: unknown, keep: (ref: string) => boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => withoutDangling(x, keep));
  if (!isJsonObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) out[k] = typeof x === 'object' && x !== null ? withoutDangling(x, keep) : x;
  if (typeof v.reference === 'string' && !keep(v.reference)) {
    delete out.reference;
    if (typeof out.display !== 'string') out.display = `${v.reference.split('/')[0] ?? 'Resource'} (not part of this summary)`;
  }
  return out;
}

/**
 * The document rule (FHIR Bundle type "document", IPS): every reference inside the Bundle resolves to
 * an entry of it. Resources of the patient's compartment that a cited resource refers to (the
 * Encounter of an Observation, the Observations of a DiagnosticReport, ...) are added, transitively;
 * references to what is not in the compartment (Practitioner, Organization, Medication) keep only
 * their display text.
 */
function closeOverReferences(cited: Map<string, FhirResource>, compartment: FhirResource[], patient: FhirResource): FhirResource[] {
  const available = new Map(compartment.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const patientKey = `Patient/${patient.id}`;
  const queue = [...cited.values()];
  while (queue.length) {
    const r = queue.shift() as FhirResource;
    for (const ref of referencesIn(r)) {
      if (ref === patientKey || cited.has(ref)) continue;
      const target = available.get(ref);
      if (target) {
        cited.set(ref, target);
        queue.push(target);
      }
    }
  }
  const keep = (ref: string) => ref === patientKey || cited.has(ref);
  return [...cited.values()].map((r) => (referencesIn(r).every(keep) ? r : (withoutDangling(r, keep) as FhirResource)));
}

/**
 * The part of a compartment a $summary is made of: the Patient, the resources its sections cite and
 * what they refer to. `buildSummary(patient, summaryMembers(patient, c))` equals
 * `buildSummary(patient, c)`, so this is what is kept per patient (fhir_summaries).
 */
export function summaryMembers(patient: FhirResource, compartment: FhirResource[]): FhirResource[] {
  const cited = new Map<string, FhirResource>();
  for (const s of SUMMARY_SECTIONS)
    for (const r of s.select(compartment)) if (!(r.resourceType === 'Patient' && r.id === patient.id)) cited.set(`${r.resourceType}/${r.id}`, r);
  const available = new Map(compartment.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const queue = [...cited.values()];
  while (queue.length) {
    for (const ref of referencesIn(queue.shift())) {
      const target = cited.has(ref) ? undefined : available.get(ref);
      if (target && !(target.resourceType === 'Patient' && target.id === patient.id)) {
        cited.set(ref, target);
        queue.push(target);
      }
    }
  }
  return [patient, ...cited.values()];
}

export function buildSummary(patient: FhirResource, compartment: FhirResource[], baseUrl: string, now = new Date()): FhirBundle {
  const fullUrl = (r: FhirResource) => `${baseUrl}/${r.resourceType}/${r.id}`;
  const cited = new Map<string, FhirResource>();
  const sections = SUMMARY_SECTIONS.map((s) => {
    const items = s.select(compartment);
    for (const r of items) if (!(r.resourceType === 'Patient' && r.id === patient.id)) cited.set(`${r.resourceType}/${r.id}`, r);
    const div = items.length
      ? `<div xmlns="http://www.w3.org/1999/xhtml"><ul>${items.map((r) => `<li>${escapeHtml(lineOf(r))}</li>`).join('')}</ul></div>`
      : `<div xmlns="http://www.w3.org/1999/xhtml">No information / Không có thông tin</div>`;
    return {
      title: s.title,
      code: { coding: [{ system: LOINC, code: s.loinc, display: s.display }] },
      text: { status: 'generated', div },
      ...(items.length
        ? { entry: items.map((r) => ({ reference: `${r.resourceType}/${r.id}` })) }
        : { emptyReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/list-empty-reason', code: 'unavailable', display: 'Unavailable' }] } }),
    };
  });
  const composition: FhirResource = {
    resourceType: 'Composition',
    id: randomUUID(),
    status: 'final',
    type: { coding: [{ system: LOINC, code: '60591-5', display: 'Patient summary Document' }] },
    subject: { reference: `Patient/${patient.id}` },
    date: now.toISOString(),
    author: [{ display: 'hoichan shared EMR' }],
    title: 'Patient Summary / Tóm tắt bệnh án',
    section: sections,
  };
  const members = closeOverReferences(cited, compartment, patient);
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'document',
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` },
    timestamp: now.toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${composition.id}`, resource: composition },
      { fullUrl: fullUrl(patient), resource: withoutDangling(patient, (ref) => ref === `Patient/${patient.id}` || cited.has(ref)) as FhirResource },
      ...members.map((r) => ({ fullUrl: fullUrl(r), resource: r })),
    ],
  };
}
