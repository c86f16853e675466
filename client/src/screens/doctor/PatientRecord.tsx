import { useId, useState, type SubmitEvent } from 'react';
import type { BreakGlassGrant, BreakGlassRequest, EmrPatientSummaryResponse } from '../../../../contracts/emr-api';
import { RecordView } from '../../components/RecordView';
import { ErrorNote, Field, NotAvailable, Page, Panel, Spinner } from '../../components/ui';
import { useI18n } from '../../i18n';
import { Link } from '../../lib/router';
import { useMe, useSession } from '../../lib/session';
import { useResource, useSubmission } from '../../lib/use-resource';

function BreakGlassForm({ patientId, onGranted }: { patientId: string; onGranted: (g: BreakGlassGrant) => void }) {
  const { api } = useSession();
  const { t } = useI18n();
  const id = useId();
  const [reason, setReason] = useState('');
  const { busy, error, run } = useSubmission();
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const body: BreakGlassRequest = { patientId, reason: reason.trim() };
      onGranted(await api.post<BreakGlassGrant>('/api/emr/break-glass', body));
    });
  };
  return (
    <form onSubmit={(e) => void submit(e)} className="break-glass-form" data-testid="break-glass-form">
      <p>{t('record.breakGlassIntro')}</p>
      <Field label={t('record.breakGlassReason')} hint={t('record.breakGlassHint')} htmlFor={`${id}-reason`}>
        <textarea id={`${id}-reason`} data-testid="break-glass-reason" minLength={10} required value={reason} onChange={(e) => setReason(e.target.value)} />
      </Field>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" className="btn btn-danger" data-testid="break-glass-submit" disabled={busy || reason.trim().length < 10}>
        {t('record.breakGlassSubmit')}
      </button>
    </form>
  );
}

export function PatientRecord({ patientId }: { patientId: string }) {
  const { t, dateTime } = useI18n();
  const me = useMe();
  const res = useResource<EmrPatientSummaryResponse>(`/api/emr/patients/${encodeURIComponent(patientId)}/summary`);
  const [grant, setGrant] = useState<BreakGlassGrant | null>(null);

  let body;
  if (res.notAvailable) body = <NotAvailable what={t('record.title')} />;
  else if (res.error?.status === 403)
    body = (
      <Panel title={t('record.noAccessTitle')}>
        <p className="lead" title={res.error.message}>
          {t('record.noAccessBody')}
        </p>
        <BreakGlassForm
          patientId={patientId}
          onGranted={(g) => {
            setGrant(g);
            res.reload();
          }}
        />
      </Panel>
    );
  else if (res.error) body = <ErrorNote error={res.error} onRetry={res.reload} />;
  else if (!res.data) body = <Spinner />;
  else body = <RecordView bundle={res.data} />;

  return (
    <Page
      title={t('record.title')}
      testId="patient-record"
      actions={
        <>
          <Link to="/patients" className="btn btn-ghost">
            {t('record.back')}
          </Link>
          {me.role === 'referring_doctor' ? (
            <Link to={`/consults/new?patient=${encodeURIComponent(patientId)}`} className="btn btn-primary" data-testid="record-new-consult">
              {t('patients.requestConsult')}
            </Link>
          ) : null}
        </>
      }
    >
      {grant ? (
        <div className="state state-unavailable" role="status" data-testid="break-glass-active">
          <strong>{t('record.breakGlassActive', { until: dateTime(grant.expiresAt) })}</strong>
        </div>
      ) : null}
      {body}
    </Page>
  );
}
