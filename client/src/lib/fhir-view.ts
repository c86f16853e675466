/**
 * Reading FHIR R4 JSON for display. Resources arrive as `FhirResource` (contracts/fhir.ts) whose
 * elements are `unknown`; these helpers narrow them safely and never invent values.
 */
import type { FhirBundle, FhirResource } from '../../../contracts/fhir';
import { isJsonObject, type JsonObject } from '../../../contracts/json';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The display text of a CodeableConcept (text, else the first coding's display, else its code). */
export function conceptText(cc: unknown): string | undefined {
  if (!isJsonObject(cc)) return undefined;
  const text = str(cc.text);
  if (text) return text;
  for (const c of arr(cc.coding)) {
    if (isJsonObject(c)) {
      const d = str(c.display) ?? str(c.code);
      if (d) return d;
    }
  }
  return undefined;
}

export function codingCodes(cc: unknown): string[] {
  if (!isJsonObject(cc)) return [];
  return arr(cc.coding)
    .filter(isJsonObject)
    .map((c) => str(c.code))
    .filter((c): c is string => c !== undefined);
}

function quantityText(q: unknown): string | undefined {
  if (!isJsonObject(q)) return undefined;
  const v = num(q.value);
  if (v === undefined) return undefined;
  const unit = str(q.unit) ?? str(q.code);
  return unit ? `${v} ${unit}` : String(v);
}

function quantityOf(o: JsonObject): QuantityView | undefined {
  const q = o.valueQuantity;
  if (!isJsonObject(q)) return undefined;
  const value = num(q.value);
  if (value === undefined) return undefined;
  const ucum = str(q.code);
  const unit = str(q.unit);
  return { value, ...(ucum ? { ucum } : {}), ...(unit ? { unit } : {}), codes: codingCodes(o.code) };
}

/** The value of an Observation (or one component) as text. */
export function observationValue(o: JsonObject): string | undefined {
  const q = quantityText(o.valueQuantity);
  if (q) return q;
  const cc = conceptText(o.valueCodeableConcept);
  if (cc) return cc;
  const s = str(o.valueString);
  if (s) return s;
  if (typeof o.valueBoolean === 'boolean') return String(o.valueBoolean);
  const n = num(o.valueInteger);
  if (n !== undefined) return String(n);
  const comps = arr(o.component)
    .filter(isJsonObject)
    .map((c) => {
      const v = observationValue(c);
      return v ? v : undefined;
    })
    .filter((v): v is string => v !== undefined);
  return comps.length ? comps.join(' / ') : undefined;
}

/** The clinically relevant date of a resource (onset, effective, recorded, period start, ...). */
export function resourceDate(r: FhirResource): string | undefined {
  const period = isJsonObject(r.period) ? str(r.period.start) : undefined;
  const effPeriod = isJsonObject(r.effectivePeriod) ? str(r.effectivePeriod.start) : undefined;
  return (
    str(r.effectiveDateTime) ??
    effPeriod ??
    str(r.onsetDateTime) ??
    str(r.recordedDate) ??
    str(r.occurrenceDateTime) ??
    str(r.authoredOn) ??
    str(r.started) ??
    period ??
    str(r.issued) ??
    str(r.date) ??
    str(r.dateAsserted) ??
    r.meta?.lastUpdated
  );
}

export function categoryCodes(r: FhirResource): string[] {
  return arr(r.category).flatMap((c) => codingCodes(c));
}

export type SectionKey = 'problems' | 'medications' | 'allergies' | 'immunizations' | 'vitals' | 'labs' | 'encounters' | 'imaging' | 'other';

export interface QuantityView {
  value: number;
  /** UCUM code and the record's unit text (lib/clinical-terms.ts writes them as clinicians do). */
  ucum?: string;
  unit?: string;
  codes: string[];
}

/** The AI result of one finding on one study (from the AI Observation derived from the ImagingStudy). */
export interface AiResultView {
  finding: 'tb' | 'nodule' | 'other';
  score?: number;
  flagged: boolean;
  /** preliminary = awaiting a radiologist; final = confirmed; amended = rejected. */
  review: 'awaiting' | 'confirmed' | 'rejected';
}

export interface TimelineItem {
  key: string;
  section: SectionKey;
  resourceType: string;
  /** The record's own text (shown when no catalogue name exists for `codes`). */
  title: string;
  /** Codes of the resource's `code` (LOINC for vitals and labs). */
  codes: string[];
  detail?: string;
  /** An Observation's value as a number with its unit (vitals, labs); components for a panel. */
  quantity?: QuantityView;
  components?: QuantityView[];
  /** AllergyIntolerance.criticality (low | high | unable-to-assess). */
  criticality?: string;
  status?: string;
  date?: string;
  /** An AI triage result (Observation with the platform's AI tag/method). */
  ai?: boolean;
  /** An imaging study: a chest X-ray (by modality or description), and its AI results folded into its one line. */
  chestXray?: boolean;
  aiResults?: AiResultView[];
}

function isAi(r: FhirResource): boolean {
  const tags = r.meta?.tag ?? [];
  if (tags.some((t) => /ai|triage/i.test(`${t.code ?? ''} ${t.system ?? ''}`))) return true;
  const method = conceptText(r.method);
  return method ? /ai|triage|model/i.test(method) : false;
}

function sectionOf(r: FhirResource): SectionKey {
  switch (r.resourceType) {
    case 'Condition':
      return 'problems';
    case 'MedicationStatement':
    case 'MedicationRequest':
      return 'medications';
    case 'AllergyIntolerance':
      return 'allergies';
    case 'Immunization':
      return 'immunizations';
    case 'Encounter':
      return 'encounters';
    case 'ImagingStudy':
      return 'imaging';
    case 'DiagnosticReport':
      return categoryCodes(r).some((c) => /RAD|imaging/i.test(c)) || isAi(r) ? 'imaging' : 'labs';
    case 'Observation': {
      if (isAi(r)) return 'imaging';
      const cats = categoryCodes(r);
      if (cats.includes('vital-signs')) return 'vitals';
      if (cats.includes('imaging')) return 'imaging';
      return 'labs';
    }
    default:
      return 'other';
  }
}

function statusOf(r: FhirResource): string | undefined {
  return conceptText(r.clinicalStatus) ?? str(r.status);
}

function titleOf(r: FhirResource): string {
  switch (r.resourceType) {
    case 'MedicationStatement':
    case 'MedicationRequest':
      return (
        conceptText(r.medicationCodeableConcept) ?? (isJsonObject(r.medicationReference) ? str(r.medicationReference.display) : undefined) ?? r.resourceType
      );
    case 'Immunization':
      return conceptText(r.vaccineCode) ?? r.resourceType;
    case 'Encounter':
      return conceptText(arr(r.type)[0]) ?? (isJsonObject(r.class) ? (str(r.class.display) ?? str(r.class.code)) : undefined) ?? r.resourceType;
    case 'ImagingStudy':
      return (
        str(r.description) ??
        arr(r.modality)
          .filter(isJsonObject)
          .map((m) => str(m.code))
          .filter(Boolean)
          .join(', ')
      );
    default:
      return conceptText(r.code) ?? str(r.description) ?? r.resourceType;
  }
}

function detailOf(r: FhirResource): string | undefined {
  switch (r.resourceType) {
    case 'Observation':
      return observationValue(r);
    case 'AllergyIntolerance': {
      const reactions = arr(r.reaction)
        .filter(isJsonObject)
        .flatMap((x) => arr(x.manifestation).map((m) => conceptText(m)))
        .filter((x): x is string => x !== undefined);
      return reactions.join(', ') || undefined;
    }
    case 'MedicationStatement':
    case 'MedicationRequest': {
      const dosage = arr(r.dosage ?? r.dosageInstruction).filter(isJsonObject);
      return (
        dosage
          .map((d) => str(d.text))
          .filter(Boolean)
          .join('; ') || undefined
      );
    }
    case 'DiagnosticReport':
      return str(r.conclusion);
    case 'Encounter':
      return arr(r.reasonCode).map(conceptText).filter(Boolean).join(', ') || undefined;
    default:
      return undefined;
  }
}

export interface SummaryView {
  patient: FhirResource | null;
  composition: FhirResource | null;
  items: TimelineItem[];
}

function refId(v: unknown, type: string): string | undefined {
  const ref = isJsonObject(v) ? str(v.reference) : undefined;
  return ref?.startsWith(`${type}/`) ? ref.slice(type.length + 1) : undefined;
}

function aiResultOf(r: FhirResource): AiResultView {
  const text = conceptText(r.code) ?? '';
  const finding = /tubercul|\btb\b/i.test(text) ? 'tb' : /nodule/i.test(text) ? 'nodule' : 'other';
  const q = isJsonObject(r.valueQuantity) ? num(r.valueQuantity.value) : undefined;
  const flagged = arr(r.interpretation).some((i) => codingCodes(i).includes('POS'));
  const review = r.status === 'final' ? 'confirmed' : r.status === 'amended' ? 'rejected' : 'awaiting';
  return { finding, ...(q !== undefined ? { score: q } : {}), flagged, review };
}

/**
 * Splits a summary document Bundle into the patient and timeline items, newest first. Imaging
 * keeps one line per study: the AI Observations derived from a study and the AI DiagnosticReport
 * on it are folded into that study's line (never rows of their own above the vitals).
 */
export function readSummary(bundle: FhirBundle): SummaryView {
  const resources = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
  const patient = resources.find((r) => r.resourceType === 'Patient') ?? null;
  const composition = resources.find((r) => r.resourceType === 'Composition') ?? null;
  const skip = new Set(['Patient', 'Composition', 'Practitioner', 'Organization', 'Consent', 'Device', 'Provenance']);
  const studies = new Set(resources.filter((r) => r.resourceType === 'ImagingStudy' && r.id).map((r) => String(r.id)));
  const aiByStudy = new Map<string, AiResultView[]>();
  const folded = new Set<FhirResource>();
  for (const r of resources) {
    // Observations derived from a study (the AI scores) and reports on a study join the study's line.
    if (r.resourceType === 'Observation') {
      const study = arr(r.derivedFrom)
        .map((d) => refId(d, 'ImagingStudy'))
        .find((id): id is string => id !== undefined && studies.has(id));
      if (!study) continue;
      aiByStudy.set(study, [...(aiByStudy.get(study) ?? []), aiResultOf(r)]);
      folded.add(r);
    } else if (r.resourceType === 'DiagnosticReport' && arr(r.imagingStudy).some((d) => studies.has(refId(d, 'ImagingStudy') ?? ''))) folded.add(r);
  }
  const items = resources
    .filter((r) => !skip.has(r.resourceType) && !folded.has(r))
    .map<TimelineItem>((r, i) => {
      const quantity = r.resourceType === 'Observation' ? quantityOf(r) : undefined;
      const components =
        r.resourceType === 'Observation'
          ? arr(r.component)
              .filter(isJsonObject)
              .map(quantityOf)
              .filter((q): q is QuantityView => q !== undefined)
          : [];
      const isStudy = r.resourceType === 'ImagingStudy';
      const modalities = isStudy
        ? arr(r.modality)
            .filter(isJsonObject)
            .map((m) => str(m.code))
        : [];
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- runtime input: FHIR JSON from the server; the id is not guaranteed a string
      const ai = r.resourceType === 'ImagingStudy' && r.id ? aiByStudy.get(String(r.id)) : undefined;
      return {
        key: `${r.resourceType}/${r.id ?? i}`,
        section: sectionOf(r),
        resourceType: r.resourceType,
        title: titleOf(r),
        codes: codingCodes(r.code),
        detail: detailOf(r),
        ...(quantity ? { quantity } : {}),
        ...(components.length && !quantity ? { components } : {}),
        ...(r.resourceType === 'AllergyIntolerance' && str(r.criticality) ? { criticality: str(r.criticality) } : {}),
        status: statusOf(r),
        date: resourceDate(r),
        ai: isAi(r) || undefined,
        ...(isStudy && (modalities.some((m) => m === 'CR' || m === 'DX') || /chest/i.test(str(r.description) ?? '')) ? { chestXray: true } : {}),
        ...(ai ? { aiResults: ai } : {}),
      };
    });
  items.sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
  return { patient, composition, items };
}

export function patientName(p: FhirResource | null): string | undefined {
  if (!p) return undefined;
  const n = arr(p.name).filter(isJsonObject)[0];
  if (!n) return undefined;
  const text = str(n.text);
  if (text) return text;
  const given = arr(n.given).filter((g): g is string => typeof g === 'string');
  return [str(n.family), ...given].filter(Boolean).join(' ') || undefined;
}

export function patientFacts(p: FhirResource | null): { birthDate?: string; gender?: string } {
  if (!p) return {};
  return { birthDate: str(p.birthDate), gender: str(p.gender) };
}
