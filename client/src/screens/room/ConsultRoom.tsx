/**
 * The consult room: the consult's header and actions, the live call, the X-ray viewer, and the
 * side panel (shared record, chat, private notes, report). People who are not yet admitted wait
 * until the host lets them in.
 */
import { useCallback, useEffect, useId, useState, type SubmitEvent } from 'react';
import type { ConsultAction, ConsultView, InviteParticipantBody } from '../../../../contracts/consult-api';
import type { Colleague, ColleagueSearchResponse } from '../../../../contracts/directory-api';
import type { ConsultJoinResult, ConsultRoomState, PresentParticipant } from '../../../../contracts/consult-events';
import { AiFlagBadge, Specialty, StatusBadge, UrgencyBadge } from '../../components/ConsultBadges';
import { useRoleName } from '../../components/Header';
import { PatientBanner } from '../../components/RecordView';
import { Badge, ErrorNote, NotAvailable, Panel, Spinner } from '../../components/ui';
import { useI18n, type MessageKey } from '../../i18n';
import { emrSectionLabel } from '../../lib/consult-labels';
import { useSpecialtyName } from '../../lib/specialties';
import { useErrorText } from '../../lib/errors';
import { Link } from '../../lib/router';
import { useMe, useSession } from '../../lib/session';
import { toApiError, useResource, useSubmission } from '../../lib/use-resource';
import { useSocketEvent } from '../../lib/use-socket';
import { ChatPanel } from './ChatPanel';
import { EmrPanel } from './EmrPanel';
import { ImagingPanel } from './ImagingPanel';
import { NotesPanel } from './NotesPanel';
import { ReportPanel } from './ReportPanel';
import { VideoGrid } from './VideoGrid';

type Tab = 'record' | 'chat' | 'notes' | 'report';
const TABS: { key: Tab; label: MessageKey }[] = [
  { key: 'record', label: 'room.record' },
  { key: 'chat', label: 'room.chat' },
  { key: 'notes', label: 'room.notes' },
  { key: 'report', label: 'room.report' },
];

type JoinState = { kind: 'joining' } | { kind: 'joined'; result: ConsultJoinResult } | { kind: 'failed'; message: string };

function useRoomJoin(consultId: string, enabled: boolean) {
  const { socket, connection } = useSession();
  const [join, setJoin] = useState<JoinState>({ kind: 'joining' });
  const [room, setRoom] = useState<ConsultRoomState | null>(null);
  const [waiting, setWaiting] = useState<PresentParticipant[]>([]);

  const doJoin = useCallback(() => {
    if (!socket || connection !== 'connected' || !enabled) return;
    socket.timeout(10_000).emit('consult:join', { consultId }, (err, res) => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime: socket.io passes null as err when the ack arrives in time (its type says Error)
      if (err) setJoin({ kind: 'failed', message: err.message });
      else if (!res.ok) setJoin({ kind: 'failed', message: res.message });
      else {
        setJoin({ kind: 'joined', result: res });
        setRoom(res.room);
        setWaiting(res.room.waiting);
      }
    });
  }, [socket, connection, consultId, enabled]);

  useEffect(() => {
    doJoin();
  }, [doJoin]);
  useEffect(
    () => () => {
      socket?.emit('consult:leave', { consultId });
    },
    [socket, consultId],
  );

  useSocketEvent('consult:admitted', (e) => {
    if (e.consultId !== consultId) return;
    setRoom(e.room);
    setJoin((j) => (j.kind === 'joined' ? { kind: 'joined', result: { ...j.result, admitted: true, room: e.room } } : j));
    doJoin(); // fetch the shared summary now that we are in
  });
  useSocketEvent('consult:waiting', (e) => {
    if (e.consultId === consultId) setWaiting(e.waiting);
  });
  useSocketEvent('consult:participant-joined', (e) => {
    if (e.consultId !== consultId) return;
    setRoom((r) => (r ? { ...r, present: [...r.present.filter((p) => p.userId !== e.participant.userId), e.participant] } : r));
    setWaiting((w) => w.filter((p) => p.userId !== e.participant.userId));
  });
  useSocketEvent('consult:participant-left', (e) => {
    if (e.consultId !== consultId) return;
    setRoom((r) => (r ? { ...r, present: r.present.filter((p) => p.userId !== e.userId) } : r));
    setWaiting((w) => w.filter((p) => p.userId !== e.userId));
  });

  return { join, room, waiting, setWaiting, retry: doJoin };
}

function WaitingList({ consultId, waiting, onAdmitted }: { consultId: string; waiting: PresentParticipant[]; onAdmitted: (userId: string) => void }) {
  const { socket } = useSession();
  const { t } = useI18n();
  const roleName = useRoleName();
  const [error, setError] = useState<string | null>(null);
  if (waiting.length === 0) return null;
  const admit = (userId: string) => {
    socket?.emit('consult:admit', { consultId, userId }, (res) => {
      if (res.ok) onAdmitted(userId);
      else setError(t('error.generic'));
    });
  };
  return (
    <div className="waiting-list" role="region" aria-label={t('room.waitingRoom')} data-testid="waiting-list">
      <strong>{t('room.waitingCount', { n: waiting.length })}</strong>
      <ul>
        {waiting.map((p) => (
          <li key={p.userId}>
            <span>
              <span translate="no">{p.displayName}</span> <span className="muted small">({roleName(p.role)})</span>
            </span>
            <button type="button" className="btn btn-primary btn-small" onClick={() => admit(p.userId)} data-testid={`admit-${p.userId}`}>
              {t('room.admit')}
              <span className="sr-only" translate="no">
                {' '}
                {p.displayName}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** Host only: invite a colleague of one's own hospital (a radiologist, ...) found by name. */
function InviteForm({ consultId, onInvited }: { consultId: string; onInvited: () => void }) {
  const { api } = useSession();
  const { t } = useI18n();
  const roleName = useRoleName();
  const specialtyName = useSpecialtyName();
  const id = useId();
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<Colleague[] | null>(null);
  const [chosen, setChosen] = useState<Colleague | null>(null);
  const { error, run } = useSubmission();
  useEffect(() => {
    const q = query.trim();
    if (!open || q.length < 1 || chosen) {
      setFound(null);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      api
        .get<ColleagueSearchResponse>(`/api/directory/colleagues?q=${encodeURIComponent(q)}`)
        .then((r) => live && setFound(r.colleagues))
        .catch(() => live && setFound([]));
    }, 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, open, query, chosen]);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    if (!chosen) return;
    await run(async () => {
      const body: InviteParticipantBody = { userId: chosen.id, role: chosen.role === 'radiologist' ? 'radiologist' : 'invited' };
      await api.post<ConsultView>(`/api/consults/${encodeURIComponent(consultId)}/participants`, body);
      setQuery('');
      setChosen(null);
      setOpen(false);
      onInvited();
    });
  };
  if (!open)
    return (
      <button type="button" className="btn btn-secondary" onClick={() => setOpen(true)} data-testid="room-invite">
        {t('room.invite')}
      </button>
    );
  return (
    <form className="inline-form invite-form" onSubmit={(e) => void submit(e)} data-testid="invite-form">
      <label htmlFor={`${id}-user`}>{t('room.inviteUser')}</label>
      <input
        id={`${id}-user`}
        required
        autoComplete="off"
        placeholder={t('room.inviteSearch')}
        value={chosen ? chosen.displayName : query}
        onChange={(e) => {
          setChosen(null);
          setQuery(e.target.value);
        }}
        data-testid="invite-user"
      />
      {found && !chosen ? (
        found.length === 0 ? (
          <span className="muted small" data-testid="invite-none">
            {t('room.inviteNone')}
          </span>
        ) : (
          <ul className="invite-results" aria-label={t('room.inviteUser')}>
            {found.map((c) => (
              <li key={c.id}>
                <button type="button" className="btn btn-ghost btn-small" title={c.id} onClick={() => setChosen(c)} data-testid={`invite-option-${c.id}`}>
                  <strong translate="no">{c.displayName}</strong>{' '}
                  <span className="muted small">
                    {roleName(c.role)}
                    {c.specialty ? ` · ${specialtyName(c.specialty)}` : ''}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )
      ) : null}
      <button type="submit" className="btn btn-primary btn-small" disabled={!chosen} data-testid="invite-submit">
        {t('room.inviteSend')}
      </button>
      <button type="button" className="btn btn-ghost btn-small" onClick={() => setOpen(false)}>
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

/** How the room shows each action the server allows (the rest are done elsewhere: the report panel, the queue's schedule form). */
const ROOM_ACTIONS: Partial<Record<ConsultAction, { label: MessageKey; tone: string }>> = {
  accept: { label: 'queue.accept', tone: 'btn-primary' },
  start: { label: 'room.start', tone: 'btn-primary' },
  close: { label: 'room.close', tone: 'btn-secondary' },
  cancel: { label: 'room.cancelRequest', tone: 'btn-danger-outline' },
};

function roomActions(c: ConsultView): { action: ConsultAction; label: MessageKey; tone: string }[] {
  return c.allowedActions.flatMap((action) => {
    const shown = ROOM_ACTIONS[action];
    return shown ? [{ action, ...shown }] : [];
  });
}

export function ConsultRoom({ consultId }: { consultId: string }) {
  const errorText = useErrorText();
  const { api } = useSession();
  const me = useMe();
  const { t, dateTime } = useI18n();
  const res = useResource<ConsultView>(`/api/consults/${encodeURIComponent(consultId)}`);
  const consult = res.data;
  const { join, room, waiting, setWaiting } = useRoomJoin(consultId, consult !== null);
  const [tab, setTab] = useState<Tab>('record');
  const [actionError, setActionError] = useState<string | null>(null);

  useSocketEvent('consult:status', (e) => {
    if (e.consultId === consultId) res.reload();
  });

  if (res.notAvailable) return <NotAvailable what={t('room.title')} />;
  if (res.error) return <ErrorNote error={res.error} onRetry={res.reload} />;
  if (!consult) return <Spinner />;

  const act = async (action: ConsultAction) => {
    setActionError(null);
    try {
      const updated = await api.post<ConsultView>(`/api/consults/${encodeURIComponent(consultId)}/${action}`, {});
      res.setData(() => updated);
    } catch (err) {
      setActionError(errorText(toApiError(err)).text);
      res.reload();
    }
  };

  const joined = join.kind === 'joined' ? join.result : null;
  // The waiting-room text says what the consult's state is: nobody accepted it yet, the host has not
  // opened the room yet, or the host is in and has been told.
  const hostName = res.data?.participants.find((p) => p.userId === res.data?.assignedSpecialistId)?.displayName;
  const hostPresent = Boolean(room?.hostId && room.present.some((p) => p.userId === room.hostId));
  const waitingText =
    !res.data?.assignedSpecialistId || res.data.status === 'requested'
      ? t('room.waitNoHost')
      : hostPresent
        ? t('room.waitHostIn', { name: hostName ?? '' })
        : t('room.waitHostAway', { name: hostName ?? '' });
  const admitted = joined?.admitted ?? false;
  const host = joined?.host ?? false;

  return (
    <section className="room" data-testid="consult-room" aria-labelledby="room-title">
      <header className="room-head">
        <div className="room-title-row">
          <h1 id="room-title" className="sr-only">
            {t('room.title')}
          </h1>
          <PatientBanner
            name={consult.patient?.name ?? consult.patientId}
            birthDate={consult.patient?.birthDate}
            gender={consult.patient?.gender}
            idMasked={consult.patient?.citizenIdMasked}
          >
            <div className="row gap wrap">
              <UrgencyBadge urgency={consult.urgency} />
              <StatusBadge status={consult.status} />
              <AiFlagBadge consult={consult} />
              {host ? <Badge tone="info">{t('call.host')}</Badge> : null}
            </div>
          </PatientBanner>
          <div className="room-actions">
            {host ? <InviteForm consultId={consultId} onInvited={res.reload} /> : null}
            {roomActions(consult).map((a) => (
              <button key={a.action} type="button" className={`btn ${a.tone}`} onClick={() => void act(a.action)} data-testid={`room-${a.action}`}>
                {t(a.label)}
              </button>
            ))}
          </div>
        </div>
        <div className="room-question">
          <div>
            <span className="label">{t('consults.reason')}</span>
            <p translate="no">{consult.reason}</p>
          </div>
          <div>
            <span className="label">{t('newConsult.question')}</span>
            <p translate="no">{consult.clinicalQuestion}</p>
          </div>
          <div className="room-meta small">
            <span>
              <Specialty value={consult.requestedSpecialty} />
            </span>
            {consult.scheduledFor ? <span>{t('queue.scheduledFor', { time: dateTime(consult.scheduledFor) })}</span> : null}
            <span>{consult.sharedSections.map((s) => t(emrSectionLabel[s])).join(' · ')}</span>
          </div>
        </div>
        {actionError ? <ErrorNote error={actionError} /> : null}
        {host ? <WaitingList consultId={consultId} waiting={waiting} onAdmitted={(uid) => setWaiting((w) => w.filter((p) => p.userId !== uid))} /> : null}
      </header>

      {join.kind === 'failed' ? <ErrorNote error={t('error.room')} detail={join.message} /> : null}
      {joined && !admitted ? (
        <div className="state state-unavailable waiting-room" role="status" data-testid="waiting-room">
          <span className="state-icon" aria-hidden="true">
            ⏸
          </span>
          <div>
            <strong>{t('room.inWaitingRoom')}</strong>
            <p data-testid="waiting-room-text">{waitingText}</p>
          </div>
        </div>
      ) : null}

      <div className="room-grid">
        <div className="room-main">
          <Panel
            title={t('call.title')}
            actions={
              room ? (
                <span className="muted small" data-testid="present-count">
                  {t('room.present', { n: room.present.length })}
                </span>
              ) : undefined
            }
          >
            <VideoGrid consultId={consultId} canJoin={admitted} present={room?.present ?? []} />
          </Panel>
          <Panel title={t('room.imaging')}>
            <ImagingPanel studyIds={consult.imagingStudyIds} />
          </Panel>
        </div>
        <aside className="room-side panel" aria-label={t('room.sidePanel')}>
          <div className="tabs" role="tablist" aria-label={t('room.sidePanel')}>
            {TABS.map((tb) => (
              <button
                key={tb.key}
                type="button"
                role="tab"
                id={`tab-${tb.key}`}
                aria-selected={tab === tb.key}
                aria-controls={`tabpanel-${tb.key}`}
                tabIndex={tab === tb.key ? 0 : -1}
                className="tab"
                onClick={() => setTab(tb.key)}
                onKeyDown={(e) => {
                  const i = TABS.findIndex((x) => x.key === tab);
                  if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                    const next = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
                    if (next) {
                      setTab(next.key);
                      document.getElementById(`tab-${next.key}`)?.focus();
                    }
                  }
                }}
                data-testid={`room-tab-${tb.key}`}
              >
                {t(tb.label)}
              </button>
            ))}
          </div>
          {TABS.map((tb) => (
            <div
              key={tb.key}
              className="tab-panel"
              role="tabpanel"
              tabIndex={0}
              id={`tabpanel-${tb.key}`}
              aria-labelledby={`tab-${tb.key}`}
              hidden={tab !== tb.key}
            >
              {tb.key === 'record' ? (
                admitted ? (
                  <EmrPanel consult={consult} initial={joined?.summary ?? null} />
                ) : (
                  <p className="muted">{t('room.recordAfterAdmission')}</p>
                )
              ) : null}
              {tb.key === 'chat' ? <ChatPanel consultId={consultId} /> : null}
              {tb.key === 'notes' ? <NotesPanel consultId={consultId} /> : null}
              {tb.key === 'report' ? <ReportPanel consult={consult} onSigned={res.reload} /> : null}
            </div>
          ))}
        </aside>
      </div>
      <p className="room-back">
        <Link to={me.role === 'specialist' ? '/queue' : me.role === 'radiologist' ? '/worklist' : '/consults'}>← {t('room.back')}</Link>
      </p>
    </section>
  );
}
