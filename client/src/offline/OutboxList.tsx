/** The doctor's outbox on the consult list: requests kept in this browser and where each stands. */
import { useEffect, useState } from 'react';
import { Badge, Panel, type Tone } from '../components/ui';
import { useI18n, type MessageKey } from '../i18n';
import { Link } from '../lib/router';
import { useMe, useSession } from '../lib/session';
import { startOutboxSender } from './outbox-sender';
import type { OutboxEntry, OutboxState } from './outbox-state';
import { allEntries, deleteEntry, onOutboxChange } from './outbox-store';

const stateLabel: Record<OutboxState, MessageKey> = {
  queued: 'outbox.state.queued',
  sending: 'outbox.state.sending',
  sent: 'outbox.state.sent',
  failed: 'outbox.state.failed',
};
const stateTone: Record<OutboxState, Tone> = { queued: 'warning', sending: 'info', sent: 'success', failed: 'danger' };

/** This doctor's outbox entries, kept current (this tab's sender and other tabs). */
export function useOutbox(userId: string): OutboxEntry[] {
  const [entries, setEntries] = useState<OutboxEntry[]>([]);
  useEffect(() => {
    let live = true;
    const load = () =>
      void allEntries()
        .then((all) => {
          if (live) setEntries(all.filter((e) => e.userId === userId));
        })
        .catch(() => undefined);
    const off = onOutboxChange(load);
    load();
    return () => {
      live = false;
      off();
    };
  }, [userId]);
  return entries;
}

/** Runs the page's outbox sender while a referring doctor is signed in (rendered once, in App). */
export function OutboxSender() {
  const { api } = useSession();
  const me = useMe();
  useEffect(() => (me.role === 'referring_doctor' ? startOutboxSender(api, me.id) : undefined), [api, me.id, me.role]);
  return null;
}

/**
 * `onSent`: an entry reached 'sent' (the consult list reloads to show it). `justQueued`: the entry the
 * form just kept for later; a notice says so while it waits.
 */
export function OutboxList({ onSent, justQueued }: { onSent?: () => void; justQueued?: string | null }) {
  const { t, dateTime } = useI18n();
  const me = useMe();
  const entries = useOutbox(me.id);
  const sentCount = entries.filter((e) => e.state === 'sent').length;
  useEffect(() => {
    if (sentCount > 0) onSent?.();
  }, [sentCount, onSent]);
  if (entries.length === 0) return null;
  const waiting = entries.find((e) => e.id === justQueued && (e.state === 'queued' || e.state === 'sending'));
  return (
    <>
      {waiting ? (
        <div className="state state-warning" role="status" data-testid="consult-queued">
          {t('outbox.queuedNotice')}
        </div>
      ) : null}
      <Panel title={t('outbox.title')}>
        <p className="field-hint">{t('outbox.hint')}</p>
        <ul className="outbox-list" data-testid="outbox">
          {entries.map((e) => (
            <li key={e.id} className="outbox-item" data-testid="outbox-entry" data-state={e.state}>
              <div className="grow">
                <strong translate="no">{e.patientLabel}</strong>
                <div className="clamp-2" translate="no">
                  {e.consult.reason}
                </div>
                <div className="small muted">
                  {dateTime(new Date(e.createdAt).toISOString())}
                  {e.files.length ? ` · ${t('outbox.xrays', { n: e.files.length })}` : ''}
                </div>
                {e.state === 'failed' && e.error ? (
                  <p className="small outbox-error" data-testid="outbox-error">
                    {t('outbox.refused')} <span translate="no">{e.error.message}</span>
                  </p>
                ) : null}
                {e.state === 'queued' && e.attempts > 0 ? <p className="small muted">{t('outbox.willRetry')}</p> : null}
              </div>
              <Badge tone={stateTone[e.state]} testId="outbox-state">
                {t(stateLabel[e.state])}
              </Badge>
              {e.state === 'sent' && e.consultId ? (
                <Link to={`/consults/${encodeURIComponent(e.consultId)}`} className="btn btn-ghost btn-small">
                  {t('consults.open')}
                </Link>
              ) : null}
              {e.state === 'sent' || e.state === 'failed' ? (
                <button type="button" className="btn btn-ghost btn-small" data-testid="outbox-dismiss" onClick={() => void deleteEntry(e.id)}>
                  {t('outbox.dismiss')}
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      </Panel>
    </>
  );
}
