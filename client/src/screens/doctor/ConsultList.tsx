import { OPEN_CONSULT_STATUSES, type ConsultStatus, type ConsultView } from '../../../../contracts/consult-api';
import { AiFlagBadge, Specialty, StatusBadge, UrgencyBadge } from '../../components/ConsultBadges';
import { Empty, Loaded, Page, Panel } from '../../components/ui';
import { useI18n } from '../../i18n';
import { Link } from '../../lib/router';
import { useMe } from '../../lib/session';
import { useResource } from '../../lib/use-resource';
import { useSocketEvent } from '../../lib/use-socket';
import { DataTable } from '../../components/DataTable';
import { OutboxList } from '../../offline/OutboxList';

/** The room is open once someone accepted, while the consult is still open. */
const ROOM_STATES = new Set<ConsultStatus>(OPEN_CONSULT_STATUSES.filter((s) => s !== 'draft' && s !== 'requested'));

export function ConsultList() {
  const { t, dateTime } = useI18n();
  const me = useMe();
  const res = useResource<ConsultView[]>('/api/consults');
  const created = new URLSearchParams(window.location.search).get('created');
  const queued = new URLSearchParams(window.location.search).get('queued');
  useSocketEvent('consult:status', () => res.reload());
  useSocketEvent('consult:report-ready', () => res.reload());
  useSocketEvent('triage:completed', () => res.reload());
  useSocketEvent('triage:updated', () => res.reload());
  const title = me.role === 'referring_doctor' ? t('consults.myRequests') : t('consults.myConsults');
  return (
    <Page
      title={title}
      testId="consult-list"
      actions={
        me.role === 'referring_doctor' ? (
          <Link to="/consults/new" className="btn btn-primary" data-testid="consults-new">
            {t('nav.newConsult')}
          </Link>
        ) : undefined
      }
    >
      {created ? (
        <div className="state state-success" role="status" data-testid="consult-created">
          ✓ {t('consults.created')}
        </div>
      ) : null}
      {me.role === 'referring_doctor' ? <OutboxList onSent={res.reload} justQueued={queued} /> : null}
      <Panel className="panel-flush">
        <Loaded res={res} what={title}>
          {(list) =>
            list.length === 0 ? (
              <Empty>{t('consults.none')}</Empty>
            ) : (
              <DataTable
                testId="consults-table"
                rows={list}
                rowKey={(c) => c.id}
                rowProps={(c) => ({ testId: `consult-row-${c.id}`, className: c.id === created ? 'row-new' : c.overdue ? 'row-overdue' : undefined })}
                columns={[
                  {
                    header: t('consults.patient'),
                    cell: (c) => (
                      <strong translate="no" title={c.patientId}>
                        {c.patient?.name ?? c.patientId}
                      </strong>
                    ),
                  },
                  {
                    header: t('consults.reason'),
                    className: 'cell-text',
                    cell: (c) => (
                      <>
                        <div className="clamp-2" translate="no">
                          {c.reason}
                        </div>
                        <AiFlagBadge consult={c} />
                      </>
                    ),
                  },
                  { header: t('consults.specialty'), cell: (c) => <Specialty value={c.requestedSpecialty} /> },
                  { header: t('consults.urgency'), cell: (c) => <UrgencyBadge urgency={c.urgency} /> },
                  {
                    header: t('consults.status'),
                    cell: (c) => (
                      <>
                        <StatusBadge status={c.status} />
                        {c.scheduledFor ? <div className="small muted">{dateTime(c.scheduledFor)}</div> : null}
                      </>
                    ),
                  },
                  { header: t('consults.when'), className: 'nowrap', cell: (c) => dateTime(c.stateTimes.requested ?? c.createdAt) },
                ]}
                actions={(c) => (
                  <Link
                    to={`/consults/${encodeURIComponent(c.id)}`}
                    className={`btn btn-small ${ROOM_STATES.has(c.status) ? 'btn-primary' : 'btn-secondary'}`}
                    data-testid={`consult-open-${c.id}`}
                  >
                    {ROOM_STATES.has(c.status) ? t('consults.openRoom') : t('consults.open')}
                  </Link>
                )}
              />
            )
          }
        </Loaded>
      </Panel>
    </Page>
  );
}
