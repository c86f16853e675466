import { useState } from 'react';
import type { AuditEntrySummary, AuditVerification } from '../../../../contracts/api';
import type { BreakGlassGrant } from '../../../../contracts/emr-api';
import { useRoleName } from '../../components/Header';
import { Badge, ErrorNote, Loaded, Page, Panel } from '../../components/ui';
import { useI18n } from '../../i18n';
import { useSession } from '../../lib/session';
import { toApiError, useResource } from '../../lib/use-resource';
import { ApiRequestError } from '../../api/client';

export function AuditTable({ entries, testId }: { entries: AuditEntrySummary[]; testId: string }) {
  const { t, dateTime } = useI18n();
  return (
    <div className="table-wrap">
      <table className="table table-compact" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">{t('audit.when')}</th>
            <th scope="col">{t('audit.kind')}</th>
            <th scope="col">{t('audit.user')}</th>
            <th scope="col">{t('audit.patient')}</th>
            <th scope="col">{t('audit.outcome')}</th>
            <th scope="col">{t('audit.reason')}</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.seq} className={e.breakGlass ? 'row-flagged' : undefined}>
              <td className="mono">{e.seq}</td>
              <td className="nowrap">{dateTime(e.recorded)}</td>
              <td>
                {e.kind} <span className="muted">({e.action})</span> {e.breakGlass ? <Badge tone="danger">{t('audit.breakGlass')}</Badge> : null}
              </td>
              <td className="mono small">{e.agentUserId ?? t('audit.system')}</td>
              <td className="mono small">{e.patientId ?? '—'}</td>
              <td>{e.success ? <Badge tone="success">{t('audit.ok')}</Badge> : <Badge tone="danger">{t('audit.failed')}</Badge>}</td>
              <td className="small">{e.reason ?? e.outcomeDesc ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AdminAudit() {
  const { api } = useSession();
  const { t, number, dateTime } = useI18n();
  const [result, setResult] = useState<AuditVerification | null>(null);
  const [checkedAt, setCheckedAt] = useState<Date | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const events = useResource<AuditEntrySummary[]>('/api/admin/audit/events?limit=50');

  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await api.get<AuditVerification>('/api/admin/audit/verify'));
    } catch (err) {
      // 409 carries the verification result of a broken chain.
      const e = toApiError(err);
      if (e instanceof ApiRequestError && e.status === 409) {
        setResult({ ok: false, entries: 0, message: e.message });
      } else setError(e.message);
    } finally {
      setCheckedAt(new Date());
      setBusy(false);
    }
  };

  return (
    <Page title={t('audit.title')} testId="admin-audit">
      <Panel title={t('audit.verifyTitle')}>
        <p className="lead">{t('audit.verifyIntro')}</p>
        <div className="row gap">
          <button type="button" className="btn btn-primary" data-testid="audit-verify" onClick={() => void verify()} disabled={busy}>
            {busy ? t('audit.verifying') : t('audit.verify')}
          </button>
          {checkedAt ? <span className="muted">{t('audit.checkedAt', { time: dateTime(checkedAt) })}</span> : null}
        </div>
        {error ? <ErrorNote error={error} /> : null}
        {result ? (
          <div className={`verify-result ${result.ok ? 'verify-ok' : 'verify-bad'}`} role="status" data-testid="audit-result" data-ok={String(result.ok)}>
            <span className="verify-icon" aria-hidden="true">
              {result.ok ? '✓' : '✕'}
            </span>
            <div>
              <strong>{result.ok ? t('audit.intact') : t('audit.broken')}</strong>
              <p>
                {result.ok ? t('audit.entriesChecked', { n: number(result.entries) }) : null}
                {!result.ok && result.firstBadSeq !== undefined ? t('audit.firstBad', { seq: result.firstBadSeq }) : null}
              </p>
              <p className="muted small">{result.message}</p>
            </div>
          </div>
        ) : null}
      </Panel>
      <Panel title={t('audit.recent')}>
        <Loaded res={events} what={t('audit.recent')}>
          {(list) => <AuditTable entries={list} testId="audit-table" />}
        </Loaded>
      </Panel>
    </Page>
  );
}

/** GET /api/admin/break-glass: `{grants}` — each item a BreakGlassGrant (contracts/emr-api). */
interface BreakGlassList {
  grants: BreakGlassGrant[];
}

function GrantsTable({ grants }: { grants: BreakGlassGrant[] }) {
  const { t, dateTime } = useI18n();
  const roleName = useRoleName();
  return (
    <div className="table-wrap">
      <table className="table" data-testid="break-glass-grants">
        <thead>
          <tr>
            <th scope="col">{t('breakGlass.granted')}</th>
            <th scope="col">{t('audit.user')}</th>
            <th scope="col">{t('audit.patient')}</th>
            <th scope="col">{t('audit.reason')}</th>
            <th scope="col">{t('breakGlass.expires')}</th>
          </tr>
        </thead>
        <tbody>
          {grants.map((g) => (
            <tr key={g.id} className={g.active ? 'row-flagged' : undefined} data-testid={`grant-row-${g.id}`}>
              <td className="nowrap">{dateTime(g.grantedAt)}</td>
              <td>
                <span className="mono small">{g.userId}</span>
                <div className="muted small">
                  {roleName(g.role)} · {g.facilityId}
                </div>
              </td>
              <td className="mono small">{g.patientId}</td>
              <td className="cell-text">{g.reason}</td>
              <td className="nowrap">
                {dateTime(g.expiresAt)} {g.active ? <Badge tone="danger">{t('breakGlass.active')}</Badge> : <Badge tone="neutral">{t('breakGlass.expired')}</Badge>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AdminBreakGlass() {
  const { t } = useI18n();
  const grants = useResource<BreakGlassList>('/api/admin/break-glass?limit=200');
  const events = useResource<AuditEntrySummary[]>('/api/admin/audit/events?breakGlass=true&limit=200');
  return (
    <Page title={t('breakGlass.title')} testId="admin-break-glass">
      <p className="lead">{t('breakGlass.intro')}</p>
      <Panel title={t('breakGlass.grants')} className="panel-flush">
        <Loaded res={grants} what={t('breakGlass.grants')}>
          {(data) => (data.grants.length === 0 ? <p className="state state-empty">{t('breakGlass.none')}</p> : <GrantsTable grants={data.grants} />)}
        </Loaded>
      </Panel>
      <Panel title={t('breakGlass.auditTitle')} className="panel-flush">
        <Loaded res={events} what={t('breakGlass.auditTitle')}>
          {(list) => (list.length === 0 ? <p className="state state-empty">{t('breakGlass.noneAudit')}</p> : <AuditTable entries={list} testId="break-glass-table" />)}
        </Loaded>
      </Panel>
    </Page>
  );
}
