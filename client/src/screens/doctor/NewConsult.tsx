import { useEffect, useId, useMemo, useState, type SubmitEvent } from 'react';
import { CONSULT_URGENCIES, EMR_SECTION_CODES, type ConsultUrgency, type EmrSectionCode } from '../../../../contracts/consult-api';
import type { EmrPatientListResponse } from '../../../../contracts/emr-api';
import type { ImagingStudyView } from '../../../../contracts/imaging-api';
import { ApiRequestError, type UploadProgress } from '../../api/client';
import { ErrorNote, Field, Page, Panel, ProgressBar } from '../../components/ui';
import { useI18n } from '../../i18n';
import { emrSectionLabel, SPECIALTIES, urgencyLabel } from '../../lib/consult-labels';
import { ACCEPTED_XRAY_TYPES } from '../../lib/imaging';
import { useErrorText } from '../../lib/errors';
import { Link, navigate } from '../../lib/router';
import { useMe, useSession } from '../../lib/session';
import { toApiError, useResource } from '../../lib/use-resource';
import { queueConsultRequest, sendNow, sendWithoutOutbox } from '../../offline/outbox-sender';
import type { OutboxConsultFields } from '../../offline/outbox-state';
import { deleteEntry } from '../../offline/outbox-store';

const DEFAULT_SECTIONS: EmrSectionCode[] = ['problems', 'medications', 'allergies', 'vitals', 'labs', 'imaging'];

function PatientPicker({ id, value, onChange }: { id: string; value: string; onChange: (v: string, label: string) => void }) {
  const { t, date } = useI18n();
  const patients = useResource<EmrPatientListResponse>('/api/emr/patients');
  if (patients.data) {
    return (
      <select
        id={id}
        data-testid="consult-patient"
        required
        value={value}
        onChange={(e) => onChange(e.target.value, patients.data?.patients.find((p) => p.id === e.target.value)?.name ?? e.target.value)}
      >
        <option value="">{t('newConsult.choosePatient')}</option>
        {patients.data.patients.map((p) => (
          <option key={p.id} value={p.id} translate="no">
            {p.name}
            {p.birthDate ? ` · ${date(p.birthDate)}` : ''}
            {p.citizenIdMasked ? ` · ${p.citizenIdMasked}` : ''}
          </option>
        ))}
      </select>
    );
  }
  if (!patients.error)
    return (
      <select id={id} data-testid="consult-patient-loading" disabled value="">
        <option value="">{t('common.loading')}</option>
      </select>
    );
  // The EMR patient list is not reachable: accept the patient's record id directly.
  return (
    <input
      id={id}
      data-testid="consult-patient"
      required
      value={value}
      placeholder={t('newConsult.patientIdPlaceholder')}
      onChange={(e) => onChange(e.target.value, e.target.value)}
    />
  );
}

function XrayPicker({
  file,
  onFile,
  progress,
  study,
}: {
  file: File | null;
  onFile: (f: File | null) => void;
  progress: number | null;
  study: ImagingStudyView | null;
}) {
  const { t, bytes } = useI18n();
  const id = useId();
  const preview = useMemo(() => (file && file.type.startsWith('image/') ? URL.createObjectURL(file) : null), [file]);
  useEffect(() => () => (preview ? URL.revokeObjectURL(preview) : undefined), [preview]);
  return (
    <div className="xray-picker">
      <div className="field">
        <label htmlFor={id}>{t('newConsult.xray')}</label>
        <input id={id} type="file" accept={ACCEPTED_XRAY_TYPES} data-testid="consult-xray" onChange={(e) => onFile(e.target.files?.[0] ?? null)} />
        <p className="field-hint">{t('newConsult.xrayHint')}</p>
      </div>
      {file ? (
        <div className="xray-file">
          {preview ? <img src={preview} alt={t('newConsult.xrayPreview')} className="xray-thumb" /> : <div className="xray-thumb xray-thumb-dicom">DICOM</div>}
          <div className="grow">
            <div>
              <strong translate="no">{file.name}</strong> <span className="muted">({bytes(file.size)})</span>
            </div>
            {progress !== null ? <ProgressBar value={progress} label={t('newConsult.uploading')} testId="upload-progress" /> : null}
            {study ? (
              <p className="small" data-testid="upload-done">
                ✓ {t('newConsult.uploaded')} · <span className="mono">{study.sha256.slice(0, 12)}…</span>
              </p>
            ) : null}
          </div>
          {progress === null ? (
            <button type="button" className="btn btn-ghost btn-small" onClick={() => onFile(null)}>
              {t('newConsult.removeFile')}
            </button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

export function NewConsult() {
  const { api } = useSession();
  const me = useMe();
  const { t } = useI18n();
  const errorText = useErrorText();
  const id = useId();
  const initialPatient = new URLSearchParams(window.location.search).get('patient') ?? '';
  const [patientId, setPatientId] = useState(initialPatient);
  /** The picked patient as shown in the picker, for the outbox list (the EMR may be out of reach later). */
  const [patientLabel, setPatientLabel] = useState('');
  const [reason, setReason] = useState('');
  const [question, setQuestion] = useState('');
  const [urgency, setUrgency] = useState<ConsultUrgency>('routine');
  const [specialty, setSpecialty] = useState('pulmonology');
  const [sections, setSections] = useState<EmrSectionCode[]>(DEFAULT_SECTIONS);
  const [preferred, setPreferred] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [study, setStudy] = useState<ImagingStudyView | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const toggleSection = (s: EmrSectionCode) => setSections((prev) => (prev.includes(s) ? prev.filter((x) => x !== s) : [...prev, s]));

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const consult: OutboxConsultFields = {
        patientId: patientId.trim(),
        reason: reason.trim(),
        clinicalQuestion: question.trim(),
        urgency,
        requestedSpecialty: specialty.trim(),
        sharedSections: sections,
        preferredTime: preferred ? new Date(preferred).toISOString() : undefined,
        submit: true,
      };
      const init = {
        userId: me.id,
        consult,
        patientLabel: patientLabel || consult.patientId,
        files: file ? [{ file, ...(study ? { studyId: study.id } : {}) }] : [],
      };
      const hooks = {
        onProgress: (p: UploadProgress) => setProgress(p.total ? p.loaded / p.total : 0),
        onUploaded: (_i: number, uploaded: ImagingStudyView) => {
          setProgress(1);
          setStudy(uploaded);
        },
      };
      // Kept in the browser before anything is sent: a link that drops now loses nothing.
      const entry = await queueConsultRequest(init).catch(() => null);
      if (!entry) {
        // No IndexedDB here: send it straight away, as before the outbox.
        if (file && !study) setProgress(0);
        const direct = await sendWithoutOutbox(api, init, hooks);
        if (direct.state === 'sent' && direct.consultId) navigate(`/consults?created=${encodeURIComponent(direct.consultId)}`);
        else if (direct.error) throw new ApiRequestError(direct.error.status, direct.error.code, direct.error.message);
        return;
      }
      if (!navigator.onLine) {
        navigate(`/consults?queued=${encodeURIComponent(entry.id)}`);
        return;
      }
      if (file && !study) setProgress(0);
      const done = await sendNow(api, entry.id, hooks);
      if (done?.state === 'sent' && done.consultId) {
        await deleteEntry(done.id);
        navigate(`/consults?created=${encodeURIComponent(done.consultId)}`);
      } else if (done?.state === 'failed' && done.error) {
        // Refused (a 4xx): the doctor corrects the form; the uploaded X-ray is kept (study state).
        await deleteEntry(done.id);
        const apiErr = new ApiRequestError(done.error.status, done.error.code, done.error.message);
        setError(apiErr.notAvailable ? t('newConsult.apiMissing') : errorText(apiErr).text);
        setProgress(null);
      } else {
        // No answer: it stays in the outbox and is sent when the link returns.
        navigate(`/consults?queued=${encodeURIComponent(entry.id)}`);
      }
    } catch (err) {
      const apiErr = toApiError(err);
      setError(errorText(apiErr).text);
      setProgress(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title={t('newConsult.title')} testId="new-consult">
      <form onSubmit={(e) => void submit(e)} className="consult-form" data-testid="new-consult-form">
        <Panel title={t('newConsult.patientAndQuestion')}>
          <div className="form-grid">
            <Field label={t('newConsult.patient')} htmlFor={`${id}-patient`}>
              <PatientPicker
                id={`${id}-patient`}
                value={patientId}
                onChange={(v, label) => {
                  setPatientId(v);
                  setPatientLabel(label);
                }}
              />
            </Field>
            <Field label={t('newConsult.specialty')} htmlFor={`${id}-spec`}>
              <select id={`${id}-spec`} data-testid="consult-specialty" value={specialty} onChange={(e) => setSpecialty(e.target.value)}>
                {SPECIALTIES.map((s) => (
                  <option key={s.value} value={s.value}>
                    {t(s.label)}
                  </option>
                ))}
              </select>
            </Field>
            <div className="field">
              <span className="field-label" id={`${id}-urg`}>
                {t('newConsult.urgency')}
              </span>
              <div className="seg" role="radiogroup" aria-labelledby={`${id}-urg`} data-testid="consult-urgency">
                {CONSULT_URGENCIES.map((u) => (
                  <label key={u} className={`seg-${u}`}>
                    <input
                      type="radio"
                      name={`${id}-urgency`}
                      value={u}
                      checked={urgency === u}
                      onChange={() => setUrgency(u)}
                      data-testid={`consult-urgency-${u}`}
                    />
                    {t(urgencyLabel[u])}
                  </label>
                ))}
              </div>
            </div>
            <Field label={t('newConsult.preferredTime')} htmlFor={`${id}-time`} hint={t('newConsult.preferredTimeHint')}>
              <input
                id={`${id}-time`}
                type="datetime-local"
                data-testid="consult-preferred-time"
                value={preferred}
                onChange={(e) => setPreferred(e.target.value)}
              />
            </Field>
            <div className="span-all">
              <Field label={t('newConsult.reason')} htmlFor={`${id}-reason`}>
                <textarea
                  id={`${id}-reason`}
                  data-testid="consult-reason"
                  required
                  maxLength={2000}
                  rows={3}
                  value={reason}
                  onChange={(e) => setReason(e.target.value)}
                />
              </Field>
            </div>
            <div className="span-all">
              <Field label={t('newConsult.question')} htmlFor={`${id}-question`} hint={t('newConsult.questionHint')}>
                <textarea
                  id={`${id}-question`}
                  data-testid="consult-question"
                  required
                  maxLength={4000}
                  rows={3}
                  value={question}
                  onChange={(e) => setQuestion(e.target.value)}
                />
              </Field>
            </div>
          </div>
        </Panel>
        <div className="two-col">
          <Panel title={t('newConsult.sharedSections')}>
            <fieldset className="plain-fieldset">
              <legend className="sr-only">{t('newConsult.sharedSections')}</legend>
              <p className="field-hint">{t('newConsult.sharedSectionsHint')}</p>
              <div className="check-grid">
                {EMR_SECTION_CODES.map((s) => (
                  <label key={s} className="check">
                    <input type="checkbox" checked={sections.includes(s)} onChange={() => toggleSection(s)} data-testid={`consult-section-${s}`} />
                    {t(emrSectionLabel[s])}
                  </label>
                ))}
              </div>
            </fieldset>
          </Panel>
          <Panel title={t('newConsult.imaging')}>
            <XrayPicker
              file={file}
              onFile={(f) => {
                setFile(f);
                setStudy(null);
                setProgress(null);
              }}
              progress={progress}
              study={study}
            />
          </Panel>
        </div>
        {error ? <ErrorNote error={error} /> : null}
        <div className="form-actions">
          <Link to="/consults" className="btn btn-ghost">
            {t('common.cancel')}
          </Link>
          <button
            type="submit"
            className="btn btn-primary"
            data-testid="consult-submit"
            disabled={busy || !patientId.trim() || !reason.trim() || !question.trim()}
          >
            {busy ? t('newConsult.sending') : t('newConsult.submit')}
          </button>
        </div>
      </form>
    </Page>
  );
}
