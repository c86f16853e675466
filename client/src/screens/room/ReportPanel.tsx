import { useEffect, useId, useState, type SubmitEvent } from 'react';
import type { ConsultReportView, ConsultView, ReportBody, ReportVerification } from '../../../../contracts/consult-api';

/** GET /api/consults/:id/report/versions: one entry per signed version. */
interface ReportVersionSummary {
  version: number;
  status: 'final' | 'amended';
  signedAt: string;
  signerId: string;
  kid: string;
}
import { Badge, ErrorNote, Field, NotAvailable, Spinner } from '../../components/ui';
import { useI18n } from '../../i18n';
import { useMe, useSession } from '../../lib/session';
import { useResource, useSubmission } from '../../lib/use-resource';
import { useSocketEvent } from '../../lib/use-socket';

function extensionString(resource: Record<string, unknown>, suffix: string): string {
  const ext = resource.extension;
  if (!Array.isArray(ext)) return '';
  for (const e of ext) {
    if (typeof e === 'object' && e !== null) {
      const { url, valueString } = e as { url?: unknown; valueString?: unknown };
      if (typeof url === 'string' && url.endsWith(suffix) && typeof valueString === 'string') return valueString;
    }
  }
  return '';
}

const checkKey = {
  signature: 'report.checkSignature',
  chain: 'report.checkChain',
  validity: 'report.checkValidity',
  revocation: 'report.checkRevocation',
} as const;

/**
 * Who signed, when, with which certificate, and whether it still verifies (signature, chain to the
 * hospital CA, validity at signing time, revocation list), with a "verify again" button.
 */
function SignatureDetails({ consultId, version, signerName, signedAt }: { consultId: string; version: number; signerName?: string; signedAt: string }) {
  const { t, dateTime, date } = useI18n();
  const res = useResource<ReportVerification>(`/api/consults/${encodeURIComponent(consultId)}/report/verify?version=${version}`);
  const v = res.data;
  const name = v?.signerName ?? signerName;
  return (
    <div className="signature-details" data-testid="report-signature">
      <div className="row gap wrap">
        {res.loading && !v ? (
          <Badge tone="neutral">{t('report.verifying')}</Badge>
        ) : !v ? (
          <Badge tone="danger">{t('report.verifyFailed')}</Badge>
        ) : v.valid ? (
          <Badge tone="success" testId="report-verified" title={v.kid ?? undefined}>
            ✓ {t('report.signatureValid')}
          </Badge>
        ) : (
          <Badge tone="danger" testId="report-invalid" title={v.problem}>
            ✕ {t('report.signatureInvalid')}
          </Badge>
        )}
        <button type="button" className="btn btn-ghost btn-small" onClick={res.reload} disabled={res.loading} data-testid="report-reverify">
          ↻ {t('report.reverify')}
        </button>
        {v?.checkedAt ? <span className="muted small">{t('report.checkedAt', { time: dateTime(v.checkedAt) })}</span> : null}
      </div>
      <dl className="signature-facts small">
        <dt>{t('report.signer')}</dt>
        <dd data-testid="report-signer">
          <span translate="no">{name ?? '—'}</span>
        </dd>
        <dt>{t('report.signedWhen')}</dt>
        <dd data-testid="report-signed-when">{dateTime(v?.signedAt ?? signedAt)}</dd>
        {v?.certificate ? (
          <>
            <dt>{t('report.certificate')}</dt>
            <dd data-testid="report-certificate" title={v.certificate.subject}>
              <span translate="no">{v.certificate.commonName ?? v.certificate.subject}</span>
              {v.certificate.organisation ? (
                <>
                  {' · '}
                  <span translate="no">{v.certificate.organisation}</span>
                </>
              ) : null}
              <div className="muted">
                {t('report.certIssuer')} <span translate="no">{v.certificate.issuer.replace(/^CN=/, '').split(',')[0]}</span>
              </div>
              <div className="muted">
                {t('report.certValid', { from: date(v.certificate.notBefore), to: date(v.certificate.notAfter) })} · {t('report.certSerial')}{' '}
                <span className="mono" translate="no">
                  {v.certificate.serialNumber}
                </span>
              </div>
            </dd>
          </>
        ) : v?.legacy ? (
          <>
            <dt>{t('report.certificate')}</dt>
            <dd data-testid="report-certificate">{t('report.legacyKey')}</dd>
          </>
        ) : null}
        {v?.checks ? (
          <>
            <dt>{t('report.checks')}</dt>
            <dd>
              <ul className="check-list" data-testid="report-checks">
                {(Object.keys(checkKey) as (keyof typeof checkKey)[]).map((k) =>
                  // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- v.checks is checked above; the callback loses the narrowing
                  v.checks![k] === null ? null : (
                    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- as above
                    <li key={k} className={v.checks![k] ? 'check-ok' : 'check-bad'}>
                      {/* eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- as above */}
                      {v.checks![k] ? '✓' : '✕'} {t(checkKey[k])}
                    </li>
                  ),
                )}
              </ul>
            </dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}

export function ReportPanel({ consult, onSigned }: { consult: ConsultView; onSigned: () => void }) {
  const { api } = useSession();
  const me = useMe();
  const { t } = useI18n();
  const id = useId();
  // Ask which signed versions exist first: before the first report there is nothing to GET (no 404 in the console).
  const versions = useResource<ReportVersionSummary[]>(`/api/consults/${encodeURIComponent(consult.id)}/report/versions`);
  const hasReport = (versions.data?.length ?? 0) > 0;
  const res = useResource<ConsultReportView>(hasReport ? `/api/consults/${encodeURIComponent(consult.id)}/report` : null);
  const [findings, setFindings] = useState('');
  const [recommendation, setRecommendation] = useState('');
  const [impression, setImpression] = useState('');
  const { busy, error, run } = useSubmission();
  const [editing, setEditing] = useState(false);
  useSocketEvent('consult:report-ready', (e) => {
    if (e.consultId === consult.id) {
      versions.reload();
      res.reload();
    }
  });

  const report = res.data;
  useEffect(() => {
    if (!report) return;
    setFindings(extensionString(report.resource, 'consult-findings'));
    setRecommendation(extensionString(report.resource, 'consult-recommendation'));
    const conclusion = report.resource.conclusion;
    setImpression(typeof conclusion === 'string' && conclusion !== extensionString(report.resource, 'consult-findings') ? conclusion : '');
  }, [report]);

  const isAuthor = me.role === 'specialist' && consult.assignedSpecialistId === me.id;
  const canWrite =
    isAuthor && (consult.status === 'in_progress' || consult.status === 'accepted' || consult.status === 'scheduled' || consult.status === 'reported');

  if (res.notAvailable || versions.notAvailable) return <NotAvailable what={t('room.report')} />;
  if ((versions.loading && !versions.data) || (res.loading && !report && !res.error)) return <Spinner />;
  if (versions.error) return <ErrorNote error={versions.error} onRetry={versions.reload} />;
  if (res.error) return <ErrorNote error={res.error} onRetry={res.reload} />;

  const sign = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const body: ReportBody = {
        findings: findings.trim(),
        recommendation: recommendation.trim(),
        ...(impression.trim() ? { impression: impression.trim() } : {}),
      };
      const signed = await api.post<ConsultReportView>(`/api/consults/${encodeURIComponent(consult.id)}/report`, body);
      res.setData(() => signed);
      versions.reload();
      setEditing(false);
      onSigned();
    });
  };

  const showEditor = canWrite && (!report || editing);
  return (
    <div className="report" data-testid="report-panel">
      {report ? (
        <div className="report-signed" data-testid="report-signed">
          <div className="row gap wrap">
            <Badge tone="info">{t('report.version', { v: report.version })}</Badge>
            <Badge tone={report.status === 'final' ? 'success' : 'warning'}>{report.status === 'final' ? t('report.final') : t('report.amended')}</Badge>
          </div>
          <SignatureDetails
            key={report.version}
            consultId={consult.id}
            version={report.version}
            signedAt={report.signedAt}
            {...(report.signerName ? { signerName: report.signerName } : {})}
          />
          {!showEditor ? (
            <dl className="report-view">
              <dt>{t('report.findings')}</dt>
              <dd translate="no">{findings || '—'}</dd>
              {impression ? (
                <>
                  <dt>{t('report.impression')}</dt>
                  <dd translate="no">{impression}</dd>
                </>
              ) : null}
              <dt>{t('report.recommendation')}</dt>
              <dd translate="no">{recommendation || '—'}</dd>
            </dl>
          ) : null}
          {canWrite && !editing ? (
            <button type="button" className="btn btn-secondary btn-small" onClick={() => setEditing(true)} data-testid="report-amend">
              {t('report.amend')}
            </button>
          ) : null}
        </div>
      ) : !canWrite ? (
        <p className="muted">{t('report.none')}</p>
      ) : null}
      {showEditor ? (
        <form onSubmit={(e) => void sign(e)} className="stack" data-testid="report-form">
          <Field label={t('report.findings')} htmlFor={`${id}-f`}>
            <textarea
              id={`${id}-f`}
              rows={5}
              required
              maxLength={20000}
              value={findings}
              onChange={(e) => setFindings(e.target.value)}
              data-testid="report-findings"
            />
          </Field>
          <Field label={t('report.impression')} htmlFor={`${id}-i`} hint={t('report.optional')}>
            <textarea
              id={`${id}-i`}
              rows={2}
              maxLength={4000}
              value={impression}
              onChange={(e) => setImpression(e.target.value)}
              data-testid="report-impression"
            />
          </Field>
          <Field label={t('report.recommendation')} htmlFor={`${id}-r`}>
            <textarea
              id={`${id}-r`}
              rows={4}
              required
              maxLength={20000}
              value={recommendation}
              onChange={(e) => setRecommendation(e.target.value)}
              data-testid="report-recommendation"
            />
          </Field>
          <p className="small muted">{t('report.signNotice')}</p>
          {error ? <ErrorNote error={error} /> : null}
          <div className="row gap">
            <span className="spacer" />
            {editing ? (
              <button type="button" className="btn btn-ghost" onClick={() => setEditing(false)}>
                {t('common.cancel')}
              </button>
            ) : null}
            <button type="submit" className="btn btn-primary" disabled={busy || !findings.trim() || !recommendation.trim()} data-testid="report-sign">
              🔏 {t('report.sign')}
            </button>
          </div>
        </form>
      ) : null}
    </div>
  );
}
