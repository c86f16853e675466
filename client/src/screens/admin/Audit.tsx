import { useId, useState, type SubmitEvent } from 'react';
import type { AuditEntrySummary, AuditVerification } from '../../../../contracts/api';
import type { BreakGlassReview, BreakGlassReviewListResponse, MarkBreakGlassReviewedBody } from '../../../../contracts/directory-api';
import type { BreakGlassGrant } from '../../../../contracts/emr-api';
import { useRoleName } from '../../components/Header';
import { Badge, ErrorNote, Loaded, Page, Panel } from '../../components/ui';
import { useI18n, type MessageKey } from '../../i18n';
import { useErrorText } from '../../lib/errors';
import { NameWithId, useNames } from '../../lib/names';
import { useSession } from '../../lib/session';
import { toApiError, useResource, useSubmission } from '../../lib/use-resource';
import { ApiRequestError } from '../../api/client';
import { DataTable } from '../../components/DataTable';

const KIND_KEYS: Record<string, MessageKey> = {
  login: 'audit.kind.login',
  logout: 'audit.kind.logout',
  'token-refresh': 'audit.kind.token-refresh',
  'patient-record': 'audit.kind.patient-record',
  'break-glass': 'audit.kind.break-glass',
  consult: 'audit.kind.consult',
  imaging: 'audit.kind.imaging',
  admin: 'audit.kind.admin',
  'access-denied': 'audit.kind.access-denied',
};
const ACTION_KEYS: Record<string, MessageKey> = { C: 'audit.action.C', R: 'audit.action.R', U: 'audit.action.U', D: 'audit.action.D', E: 'audit.action.E' };

export function AuditTable({ entries, testId }: { entries: AuditEntrySummary[]; testId: string }) {
  const { t, dateTime } = useI18n();
  const roleName = useRoleName();
  const names = useNames(
    entries.map((e) => e.agentUserId),
    entries.map((e) => e.patientId),
  );
  return (
    <DataTable
      testId={testId}
      className="table-compact"
      rows={entries}
      rowKey={(e) => e.seq}
      rowProps={(e) => ({ className: e.breakGlass ? 'row-flagged' : undefined })}
      columns={[
        {
          header: '#',
          className: 'mono',
          // one chain per server process: "chain · entry", the full id in the tooltip
          cell: (e) => (e.chain === 0 ? e.seq : <span title={String(e.seq)}>{`${e.chain} · ${e.entryInChain}`}</span>),
        },
        { header: t('audit.when'), className: 'nowrap', cell: (e) => dateTime(e.recorded) },
        {
          header: t('audit.kind'),
          cell: (e) => (
            <>
              {/* eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- checked on the left of each ?: (an index access does not narrow) */}
              {KIND_KEYS[e.kind] ? t(KIND_KEYS[e.kind]!) : <span translate="no">{e.kind}</span>}{' '}
              {/* eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- checked on the left of the ?: (an index access does not narrow) */}
              <span className="muted">({ACTION_KEYS[e.action] ? t(ACTION_KEYS[e.action]!) : e.action})</span>{' '}
              {e.breakGlass ? <Badge tone="danger">{t('audit.breakGlass')}</Badge> : null}
            </>
          ),
        },
        {
          header: t('audit.user'),
          className: 'small',
          cell: (e) => {
            if (!e.agentUserId) return t('audit.system');
            const u = names.users[e.agentUserId];
            return (
              <>
                <NameWithId name={u?.displayName} id={e.agentUserId} />
                {u ? (
                  <div className="muted">
                    {roleName(u.role)} · <span translate="no">{u.facilityName}</span>
                  </div>
                ) : null}
              </>
            );
          },
        },
        {
          header: t('audit.patient'),
          className: 'small',
          cell: (e) => (e.patientId ? <NameWithId name={names.patients[e.patientId]?.name} id={e.patientId} /> : '—'),
        },
        {
          header: t('audit.outcome'),
          cell: (e) => (e.success ? <Badge tone="success">{t('audit.ok')}</Badge> : <Badge tone="danger">{t('audit.failed')}</Badge>),
        },
        // The entry's own words as recorded (free text: a reason a clinician typed, or the server's description).
        { header: t('audit.reason'), className: 'small', cell: (e) => <span translate="no">{e.reason ?? e.outcomeDesc ?? '—'}</span> },
      ]}
    />
  );
}

export function AdminAudit() {
  const { api } = useSession();
  const errorText = useErrorText();
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
      } else setError(errorText(e).text);
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
              <strong title={result.message}>{result.ok ? t('audit.intact') : t('audit.broken')}</strong>
              <p>
                {result.ok ? t('audit.entriesChecked', { n: number(result.entries) }) : null}
                {!result.ok && result.firstBadSeq !== undefined ? t('audit.firstBad', { seq: result.firstBadSeq }) : null}
              </p>
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

/** "Mark reviewed" with a note (POST /api/directory/break-glass-reviews/:grantId, audited), or who reviewed it. */
function ReviewCell({
  grant,
  review,
  onReviewed,
}: {
  grant: BreakGlassGrant;
  review: BreakGlassReview | undefined;
  onReviewed: (r: BreakGlassReview) => void;
}) {
  const { api } = useSession();
  const { t, dateTime } = useI18n();
  const [note, setNote] = useState('');
  const { busy, error, run } = useSubmission();
  const id = useId();
  if (review)
    return (
      <div data-testid={`grant-reviewed-${grant.id}`}>
        <Badge tone="success">✓ {t('breakGlass.reviewedBy', { name: review.reviewerName, time: dateTime(review.reviewedAt) })}</Badge>
        <div className="muted small" translate="no">
          {review.note}
        </div>
      </div>
    );
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const body: MarkBreakGlassReviewedBody = { note: note.trim() };
      onReviewed(await api.post<BreakGlassReview>(`/api/directory/break-glass-reviews/${encodeURIComponent(grant.id)}`, body));
    });
  };
  return (
    <form className="stack-tight" onSubmit={(e) => void submit(e)} data-testid={`grant-review-${grant.id}`}>
      <label htmlFor={`${id}-note`} className="sr-only">
        {t('breakGlass.reviewNote')}
      </label>
      <textarea
        id={`${id}-note`}
        rows={2}
        maxLength={2000}
        required
        placeholder={t('breakGlass.reviewNote')}
        value={note}
        onChange={(e) => setNote(e.target.value)}
        data-testid="grant-review-note"
      />
      <button type="submit" className="btn btn-secondary btn-small" disabled={busy || note.trim().length < 3} data-testid="grant-review-submit">
        {t('breakGlass.markReviewed')}
      </button>
      {error ? (
        <span className="form-error" role="alert">
          {error}
        </span>
      ) : null}
    </form>
  );
}

function GrantsTable({ grants }: { grants: BreakGlassGrant[] }) {
  const { t, dateTime } = useI18n();
  const roleName = useRoleName();
  const names = useNames(
    grants.map((g) => g.userId),
    grants.map((g) => g.patientId),
  );
  const reviews = useResource<BreakGlassReviewListResponse>('/api/directory/break-glass-reviews');
  const byGrant = new Map((reviews.data?.reviews ?? []).map((r) => [r.grantId, r]));
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
              <NameWithId name={names.users[g.userId]?.displayName} id={g.userId} testId={`grant-user-${g.id}`} />
              <div className="muted small">
                {roleName(g.role)} · <span translate="no">{names.users[g.userId]?.facilityName ?? g.facilityId}</span>
              </div>
            </>
          ),
        },
        { header: t('audit.patient'), cell: (g) => <NameWithId name={names.patients[g.patientId]?.name} id={g.patientId} testId={`grant-patient-${g.id}`} /> },
        { header: t('audit.reason'), className: 'cell-text', cell: (g) => <span translate="no">{g.reason}</span> },
        {
          header: t('breakGlass.expires'),
          className: 'nowrap',
          cell: (g) => (
            <>
              {dateTime(g.expiresAt)}{' '}
              {g.active ? <Badge tone="danger">{t('breakGlass.active')}</Badge> : <Badge tone="neutral">{t('breakGlass.expired')}</Badge>}
            </>
          ),
        },
        {
          header: t('breakGlass.review'),
          cell: (g) =>
            reviews.data ? (
              <ReviewCell grant={g} review={byGrant.get(g.id)} onReviewed={(r) => reviews.setData((prev) => ({ reviews: [r, ...(prev?.reviews ?? [])] }))} />
            ) : null,
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
          {(list) =>
            list.length === 0 ? <p className="state state-empty">{t('breakGlass.noneAudit')}</p> : <AuditTable entries={list} testId="break-glass-table" />
          }
        </Loaded>
      </Panel>
    </Page>
  );
}
