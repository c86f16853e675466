/** The patient record from a summary document Bundle: banner, key sections, and a timeline. */
import { useMemo, useState, type ReactNode } from 'react';
import type { FhirBundle } from '../../../contracts/fhir';
import { useI18n, type MessageKey } from '../i18n';
import { loincKey, unitForCode } from '../lib/clinical-terms';
import { patientFacts, patientName, readSummary, type AiResultView, type QuantityView, type SectionKey, type TimelineItem } from '../lib/fhir-view';
import { Badge } from './ui';

export const sectionLabel: Record<SectionKey, MessageKey> = {
  problems: 'record.problems',
  medications: 'record.medications',
  allergies: 'record.allergies',
  immunizations: 'record.immunizations',
  vitals: 'record.vitals',
  labs: 'record.labs',
  encounters: 'record.encounters',
  imaging: 'record.imaging',
  other: 'record.other',
};

const genderKey: Record<string, MessageKey> = {
  male: 'patient.male',
  female: 'patient.female',
  other: 'patient.otherGender',
  unknown: 'patient.unknownGender',
};

export function PatientBanner({
  name,
  birthDate,
  gender,
  idMasked,
  children,
}: {
  name: string;
  birthDate?: string;
  gender?: string;
  idMasked?: string;
  children?: ReactNode;
}) {
  const { t, date } = useI18n();
  const g = gender ? genderKey[gender] : undefined;
  return (
    <div className="patient-banner" data-testid="patient-banner">
      <div className="patient-avatar" aria-hidden="true" translate="no">
        {name.trim().split(/\s+/).pop()?.charAt(0) ?? '?'}
      </div>
      <div className="patient-id">
        <strong className="patient-name" translate="no">
          {name}
        </strong>
        <span className="patient-facts">
          {birthDate ? (
            <span>
              {t('patient.born')} {date(birthDate)}
            </span>
          ) : null}
          {g ? <span>{t(g)}</span> : null}
          {idMasked ? (
            <span>
              {t('patient.citizenId')}{' '}
              <span className="mono" translate="no">
                {idMasked}
              </span>
            </span>
          ) : null}
        </span>
      </div>
      {children ? <div className="patient-banner-actions">{children}</div> : null}
    </div>
  );
}

const criticalityKey: Record<string, MessageKey> = { high: 'allergy.high', low: 'allergy.low', 'unable-to-assess': 'allergy.unassessed' };
const aiReviewKey: Record<AiResultView['review'], MessageKey> = {
  awaiting: 'record.aiAwaiting',
  confirmed: 'worklist.confirmed',
  rejected: 'worklist.rejected',
};
const aiFindingKey: Record<AiResultView['finding'], MessageKey> = { tb: 'finding.tb', nodule: 'finding.nodule', other: 'record.aiFinding' };

function useQuantityText() {
  const { t, number } = useI18n();
  const unitText = (q: QuantityView) => {
    const unit = unitForCode(q.codes, q.ucum, q.unit);
    return unit ? ('key' in unit ? t(unit.key) : unit.symbol) : '';
  };
  const join = (value: string, u: string) => (u ? (u === '%' ? `${value}${u}` : `${value} ${u}`) : value);
  const value = (q: QuantityView) => number(q.value, { maximumFractionDigits: 2 });
  return {
    one: (q: QuantityView) => join(value(q), unitText(q)),
    /** A panel (blood pressure 148/92 mmHg): values joined, the unit once when all share it. */
    panel: (qs: QuantityView[]) => {
      const units = [...new Set(qs.map(unitText))];
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- units has exactly one element here
      return units.length === 1 ? join(qs.map(value).join('/'), units[0]!) : qs.map((q) => join(value(q), unitText(q))).join(' / ');
    },
  };
}

/** The one line of an imaging study: what it is, and its AI results (score, flag, radiologist's decision). */
function AiResults({ results }: { results: AiResultView[] }) {
  const { t, percent } = useI18n();
  return (
    <span className="row gap wrap" data-testid="record-ai-results">
      <Badge tone="neutral">{t('record.aiFinding')}</Badge>
      {results.map((r, i) => (
        <Badge key={`${r.finding}-${i}`} tone={r.flagged ? 'danger' : 'neutral'}>
          {r.flagged ? '⚑ ' : ''}
          {t(aiFindingKey[r.finding])}
          {r.score !== undefined ? ` ${percent(r.score)}` : ''} · {t(aiReviewKey[r.review])}
        </Badge>
      ))}
    </span>
  );
}

function ItemRow({ item }: { item: TimelineItem }) {
  const { t, date } = useI18n();
  const quantity = useQuantityText();
  const key = loincKey(item.codes);
  const title = item.chestXray ? t('record.chestXray') : key ? t(key) : null;
  let detail: ReactNode = null;
  if (item.quantity) detail = quantity.one(item.quantity);
  else if (item.components?.length) detail = quantity.panel(item.components);
  else if (item.detail) detail = <span translate="no">{item.detail}</span>;
  return (
    <li className={`tl-item tl-${item.section}`} data-testid={`record-item-${item.section}`} title={item.key}>
      <span className="tl-dot" aria-hidden="true" />
      <div className="tl-main">
        <div className="tl-title">
          {/* A name from the catalogue, or the record's own text (data, not translated). */}
          <strong translate={title ? undefined : 'no'}>{title ?? item.title}</strong>
          {item.ai && !item.aiResults ? <Badge tone="warning">{t('record.aiFinding')}</Badge> : null}
        </div>
        {detail || item.criticality ? (
          <div className="tl-detail">
            {detail}
            {/* eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- checked on the left of the ?: (an index access does not narrow) */}
            {item.criticality && criticalityKey[item.criticality] ? <> · {t(criticalityKey[item.criticality]!)}</> : null}
          </div>
        ) : null}
        {item.aiResults?.length ? <AiResults results={item.aiResults} /> : null}
      </div>
      {item.date ? (
        <time className="tl-date" dateTime={item.date}>
          {date(item.date)}
        </time>
      ) : null}
    </li>
  );
}

const KEY_SECTIONS: SectionKey[] = ['allergies', 'problems', 'medications', 'immunizations'];
const TIMELINE_SECTIONS: SectionKey[] = ['vitals', 'labs', 'encounters', 'other'];

/** The full record (patient screen) or a compact one (consult room side panel). */
export function RecordView({ bundle, compact, sections }: { bundle: FhirBundle; compact?: boolean; sections?: SectionKey[] }) {
  const { t } = useI18n();
  const view = useMemo(() => readSummary(bundle), [bundle]);
  const [filter, setFilter] = useState<SectionKey | 'all'>('all');
  const allowed = (s: SectionKey) => !sections || sections.includes(s) || s === 'other';
  const bySection = (s: SectionKey) => view.items.filter((i) => i.section === s);
  const timeline = view.items.filter((i) => TIMELINE_SECTIONS.includes(i.section) && allowed(i.section) && (filter === 'all' || i.section === filter));
  const name = patientName(view.patient);
  const facts = patientFacts(view.patient);

  return (
    <div className={`record ${compact ? 'record-compact' : ''}`} data-testid="record-view">
      {name && !compact ? <PatientBanner name={name} birthDate={facts.birthDate} gender={facts.gender} /> : null}
      <div className="record-key">
        {KEY_SECTIONS.filter(allowed).map((s) => {
          const items = bySection(s);
          return (
            <section key={s} className={`record-card record-card-${s}`} aria-labelledby={`sec-${s}`} data-testid={`record-section-${s}`}>
              <h3 id={`sec-${s}`}>
                {t(sectionLabel[s])} <span className="count">{items.length}</span>
              </h3>
              {items.length === 0 ? (
                <p className="muted small">{s === 'allergies' ? t('record.noAllergiesRecorded') : t('common.none')}</p>
              ) : (
                <ul className="tl-list">
                  {items.map((i) => (
                    <ItemRow key={i.key} item={i} />
                  ))}
                </ul>
              )}
            </section>
          );
        })}
      </div>
      <section className="record-timeline" aria-labelledby="sec-timeline">
        <div className="record-timeline-head">
          <h3 id="sec-timeline">{t('record.timeline')}</h3>
          {!compact ? (
            <div className="chips" role="group" aria-label={t('record.filter')}>
              {(['all', ...TIMELINE_SECTIONS.filter(allowed)] as const).map((s) => (
                <button key={s} type="button" className="chip" aria-pressed={filter === s} onClick={() => setFilter(s)}>
                  {s === 'all' ? t('record.all') : t(sectionLabel[s])}
                </button>
              ))}
            </div>
          ) : null}
        </div>
        {timeline.length === 0 ? (
          <p className="muted small">{t('common.none')}</p>
        ) : (
          <ul className="tl-list tl-timeline">
            {timeline.map((i) => (
              <ItemRow key={i.key} item={i} />
            ))}
          </ul>
        )}
      </section>
      {allowed('imaging') ? (
        <section className="record-card record-card-imaging" aria-labelledby="sec-imaging" data-testid="record-section-imaging">
          <h3 id="sec-imaging">
            {t(sectionLabel.imaging)} <span className="count">{bySection('imaging').length}</span>
          </h3>
          {bySection('imaging').length === 0 ? (
            <p className="muted small">{t('common.none')}</p>
          ) : (
            <ul className="tl-list">
              {bySection('imaging').map((i) => (
                <ItemRow key={i.key} item={i} />
              ))}
            </ul>
          )}
        </section>
      ) : null}
    </div>
  );
}
