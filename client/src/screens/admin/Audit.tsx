import { useState } from 'react';
import type { AuditEntrySummary, AuditVerification } from '../../../../contracts/api';
import type { BreakGlassGrant } from '../../../../contracts/emr-api';
import { useRoleName } from '../../components/Header';
import { Badge, ErrorNote, Loaded, Page, Panel } from '../../components/ui';
import { useI18n } from '../../i18n';
import { useSession } from '../../lib/session';
import { toApiError, useResource } from '../../lib/use-resource';
import { ApiRequestError } from '../../api/client';
import { DataTable } from '../../components/DataTable';

export function AuditTable({ entries, testId }: { entries: AuditEntrySummary[]; testId: string }) {
  const { t, dateTime } = useI18n();
  return (
    <DataTable
      testId={testId}
      className="table-compact"
      rows={entries}
      rowKey={(e) => e.seq}
      rowProps={(e) => ({ className: e.breakGlass ? 'row-flagged' : undefined })}
      columns={[
        { header: '#', className: 'mono', cell: (e) => e.seq },
        { header: t('audit.when'), className: 'nowrap', cell: (e) => dateTime(e.recorded) },
        {
          header: t('audit.kind'),
          cell: (e) => (
            <>
              {e.kind} <span className="muted">({e.action})</span> {e.breakGlass ? <Badge tone="danger">{t('audit.breakGlass')}</Badge> : null}
            </>
          ),
        },
        { header: t('audit.user'), className: 'mono small', cell: (e) => e.agentUserId ?? t('audit.system') },
        { header: t('audit.patient'), className: 'mono small', cell: (e) => e.patientId ?? '—' },
        { header: t('audit.outcome'), cell: (e) => (e.success ? <Badge tone="success">{t('audit.ok')}</Badge> : <Badge tone="danger">{t('audit.failed')}</Badge>) },
        { header: t('audit.reason'), className: 'small', cell: (e) => e.reason ?? e.outcomeDesc ?? '—' },
      ]}
    />
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
    <DataTable
      testId="break-glass-grants"
      rows={grants}
      rowKey={(g) => g.id}
      rowProps={(g) => ({ testId: `grant-row-${g.id}`, className: g.active ? 'row-flagged' : undefined })}
      columns={[
        { header: t('breakGlass.granted'), className: 'nowrap', cell: (g) => dateTime(g.grantedAt) },
        {
          header: t('audit.user'),
          cell: (g) => (
            <>
              <span className="mono small">{g.userId}</span>
              <div className="muted small">
                {roleName(g.role)} · {g.facilityId}
              </div>
            </>
          ),
        },
        { header: t('audit.patient'), className: 'mono small', cell: (g) => g.patientId },
        { header: t('audit.reason'), className: 'cell-text', cell: (g) => g.reason },
        {
          header: t('breakGlass.expires'),
          className: 'nowrap',
          cell: (g) => (
            <>
              {dateTime(g.expiresAt)} {g.active ? <Badge tone="danger">{t('breakGlass.active')}</Badge> : <Badge tone="neutral">{t('breakGlass.expired')}</Badge>}
            </>
          ),
        },
      ]}
    />
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
