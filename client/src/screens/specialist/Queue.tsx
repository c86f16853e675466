import { useId, useState, type SubmitEvent } from 'react';
import type { ConsultAiState, ConsultQueueItem, ConsultView, TransitionBody } from '../../../../contracts/consult-api';
import { AiFlagBadge, SlaTimer, Specialty, StatusBadge, UrgencyBadge, useNow } from '../../components/ConsultBadges';
import { Empty, ErrorNote, Loaded, Page, Panel } from '../../components/ui';
import { useI18n, type MessageKey } from '../../i18n';
import { SPECIALTIES } from '../../lib/consult-labels';
import { useErrorText } from '../../lib/errors';
import { Link } from '../../lib/router';
import { useMe, useSession } from '../../lib/session';
import { toApiError, useResource } from '../../lib/use-resource';
import { useSocketEvent } from '../../lib/use-socket';
import { DataTable } from '../../components/DataTable';

function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function ScheduleForm({ item, onDone, onCancel }: { item: ConsultView; onDone: (c: ConsultView) => void; onCancel: () => void }) {
  const { api } = useSession();
  const { t } = useI18n();
  const errorText = useErrorText();
  const id = useId();
  const initial = item.preferredTime ? new Date(item.preferredTime) : new Date(Date.now() + 60 * 60_000);
  const [when, setWhen] = useState(toLocalInput(initial));
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const body: TransitionBody = { scheduledFor: new Date(when).toISOString() };
      onDone(await api.post<ConsultView>(`/api/consults/${encodeURIComponent(item.id)}/schedule`, body));
    } catch (err) {
      setError(errorText(toApiError(err)).text);
    }
  };
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)} data-testid={`schedule-form-${item.id}`}>
      <label htmlFor={`${id}-when`}>{t('queue.scheduleAt')}</label>
      <input id={`${id}-when`} type="datetime-local" required value={when} onChange={(e) => setWhen(e.target.value)} data-testid="schedule-time" />
      <button type="submit" className="btn btn-primary btn-small" data-testid="schedule-confirm">
        {t('queue.confirmSchedule')}
      </button>
      <button type="button" className="btn btn-ghost btn-small" onClick={onCancel}>
        {t('common.cancel')}
      </button>
      {error ? (
        <span className="form-error" role="alert">
          {error}
        </span>
      ) : null}
    </form>
  );
}

/** What the queue says while a consult has no AI score (`scored` always has one: the badge shows it). */
const AI_STATE_TEXT: Record<ConsultAiState, MessageKey> = {
  none: 'queue.noAi',
  pending: 'queue.aiPending',
  scored: 'queue.aiPending',
  not_scored: 'queue.aiNotScored',
  failed: 'queue.aiFailed',
};

function waitText(t: ReturnType<typeof useI18n>['t'], minutes: number): string {
  if (minutes < 60) return t('queue.waitMinutes', { n: Math.max(0, Math.round(minutes)) });
  const h = Math.floor(minutes / 60);
  return t('queue.waitHours', { h, m: Math.round(minutes % 60) });
}

export function SpecialistQueue() {
  const { api } = useSession();
  const me = useMe();
  const { t, dateTime } = useI18n();
  const errorText = useErrorText();
  const [specialty, setSpecialty] = useState<string>(me.specialty ?? '');
  const path = specialty ? `/api/consults/queue?specialty=${encodeURIComponent(specialty)}` : '/api/consults/queue';
  const res = useResource<ConsultQueueItem[]>(path);
  const mine = useResource<ConsultView[]>('/api/consults');
  const now = useNow(1000);
  const [scheduling, setScheduling] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [flash, setFlash] = useState<string | null>(null);

  const reloadAll = () => {
    res.reload();
    mine.reload();
  };
  useSocketEvent('consult:requested', (e) => {
    setFlash(e.consultId);
    reloadAll();
  });
  useSocketEvent('consult:status', reloadAll);
  useSocketEvent('consult:overdue', reloadAll);
  useSocketEvent('triage:completed', reloadAll);
  useSocketEvent('triage:updated', reloadAll);

  const accept = async (c: ConsultView) => {
    setActionError(null);
    try {
      await api.post<ConsultView>(`/api/consults/${encodeURIComponent(c.id)}/accept`, {});
      reloadAll();
    } catch (err) {
      setActionError(errorText(toApiError(err)).text);
    }
  };

  const accepted = (mine.data ?? []).filter(
    (c) => c.assignedSpecialistId === me.id && (c.status === 'accepted' || c.status === 'scheduled' || c.status === 'in_progress'),
  );

  return (
    <Page
      title={t('queue.title')}
      testId="specialist-queue"
      actions={
        <div className="row gap">
          <label htmlFor="queue-specialty" className="muted">
            {t('queue.specialtyFilter')}
          </label>
          <select id="queue-specialty" data-testid="queue-specialty" value={specialty} onChange={(e) => setSpecialty(e.target.value)} className="select-inline">
            <option value="">{t('queue.allSpecialties')}</option>
            {SPECIALTIES.map((s) => (
              <option key={s.value} value={s.value}>
                {t(s.label)}
              </option>
            ))}
          </select>
        </div>
      }
    >
      {actionError ? <ErrorNote error={actionError} /> : null}
      <Panel title={t('queue.waiting')} className="panel-flush" testId="queue-panel">
        <Loaded res={res} what={t('queue.title')}>
          {(list) =>
            list.length === 0 ? (
              <Empty>{t('queue.empty')}</Empty>
            ) : (
              <DataTable
                testId="queue-table"
                className="queue-table"
                rows={list}
                rowKey={(c) => c.id}
                rowProps={(c) => ({
                  testId: `queue-row-${c.id}`,
                  className: [c.overdue ? 'row-overdue' : '', flash === c.id ? 'row-new' : ''].filter(Boolean).join(' '),
                  data: { overdue: String(c.overdue) },
                })}
                columns={[
                  { header: t('consults.urgency'), cell: (c) => <UrgencyBadge urgency={c.urgency} /> },
                  {
                    header: t('consults.patient'),
                    cell: (c) => (
                      <>
                        <strong translate="no" title={c.patientId}>
                          {c.patient?.name ?? c.patientId}
                        </strong>
                        <div className="small muted">
                          <Specialty value={c.requestedSpecialty} />
                        </div>
                      </>
                    ),
                  },
                  {
                    header: t('consults.reason'),
                    className: 'cell-text',
                    cell: (c) => (
                      <div className="clamp-2" title={c.clinicalQuestion} translate="no">
                        {c.reason}
                      </div>
                    ),
                  },
                  {
                    header: t('queue.ai'),
                    cell: (c) =>
                      c.aiFlagSeverity !== null ? (
                        <AiFlagBadge consult={c} />
                      ) : (
                        <span className="muted small" data-testid="ai-state">
                          {t(AI_STATE_TEXT[c.aiState])}
                        </span>
                      ),
                  },
                  { header: t('queue.waitingFor'), className: 'nowrap', cell: (c) => waitText(t, c.waitingMinutes) },
                  { header: t('queue.sla'), className: 'nowrap', cell: (c) => <SlaTimer deadline={c.slaDeadline} overdue={c.overdue} now={now} /> },
                ]}
                actions={(c) => (
                  <>
                    <Link to={`/consults/${encodeURIComponent(c.id)}`} className="btn btn-small btn-ghost">
                      {t('queue.details')}
                    </Link>
                    <button type="button" className="btn btn-small btn-primary" data-testid={`queue-accept-${c.id}`} onClick={() => void accept(c)}>
                      {t('queue.accept')}
                      <span className="sr-only" translate="no">
                        {' '}
                        {c.patient?.name ?? ''}
                      </span>
                    </button>
                  </>
                )}
              />
            )
          }
        </Loaded>
      </Panel>
      <Panel title={t('queue.mine')} className="panel-flush" testId="queue-mine">
        {accepted.length === 0 ? (
          <Empty>{t('queue.mineEmpty')}</Empty>
        ) : (
          <ul className="card-list">
            {accepted.map((c) => (
              <li key={c.id} className="card-row" data-testid={`mine-row-${c.id}`}>
                <div className="grow">
                  <div className="row gap wrap">
                    <strong translate="no" title={c.patientId}>
                      {c.patient?.name ?? c.patientId}
                    </strong>
                    <UrgencyBadge urgency={c.urgency} />
                    <StatusBadge status={c.status} />
                    <AiFlagBadge consult={c} />
                  </div>
                  <div className="small muted">
                    <span translate="no">{c.reason}</span>
                    {c.scheduledFor ? ` · ${t('queue.scheduledFor', { time: dateTime(c.scheduledFor) })}` : ''}
                  </div>
                  {scheduling === c.id ? (
                    <ScheduleForm
                      item={c}
                      onCancel={() => setScheduling(null)}
                      onDone={() => {
                        setScheduling(null);
                        reloadAll();
                      }}
                    />
                  ) : null}
                </div>
                <div className="cell-actions">
                  {c.status === 'accepted' && scheduling !== c.id ? (
                    <button type="button" className="btn btn-small btn-secondary" data-testid={`queue-schedule-${c.id}`} onClick={() => setScheduling(c.id)}>
                      {t('queue.schedule')}
                    </button>
                  ) : null}
                  <Link to={`/consults/${encodeURIComponent(c.id)}`} className="btn btn-small btn-primary" data-testid={`queue-room-${c.id}`}>
                    {t('consults.openRoom')}
                  </Link>
                </div>
              </li>
            ))}
          </ul>
        )}
      </Panel>
    </Page>
  );
}
