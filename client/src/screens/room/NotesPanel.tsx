import { useId, useState, type SubmitEvent } from 'react';
import type { ConsultNoteView } from '../../../../contracts/consult-api';
import { ErrorNote, Loaded } from '../../components/ui';
import { useI18n } from '../../i18n';
import { useSession } from '../../lib/session';
import { useResource, useSubmission } from '../../lib/use-resource';

export function NotesPanel({ consultId }: { consultId: string }) {
  const { api } = useSession();
  const { t, dateTime } = useI18n();
  const id = useId();
  const res = useResource<ConsultNoteView[]>(`/api/consults/${encodeURIComponent(consultId)}/notes`);
  const [text, setText] = useState('');
  const { busy, error, run } = useSubmission();
  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const note = await api.post<ConsultNoteView>(`/api/consults/${encodeURIComponent(consultId)}/notes`, { text: text.trim() });
      res.setData((prev) => [...(prev ?? []), note]);
      setText('');
    });
  };
  return (
    <div className="notes" data-testid="notes-panel">
      <p className="muted small">{t('notes.private')}</p>
      <form onSubmit={(e) => void save(e)} className="stack">
        <label htmlFor={`${id}-note`} className="sr-only">
          {t('notes.new')}
        </label>
        <textarea
          id={`${id}-note`}
          rows={3}
          maxLength={8000}
          value={text}
          placeholder={t('notes.placeholder')}
          onChange={(e) => setText(e.target.value)}
          data-testid="note-input"
        />
        <div className="row">
          <span className="spacer" />
          <button type="submit" className="btn btn-secondary btn-small" disabled={busy || !text.trim()} data-testid="note-save">
            {t('notes.save')}
          </button>
        </div>
      </form>
      {error ? <ErrorNote error={error} /> : null}
      <Loaded res={res} what={t('room.notes')}>
        {(notes) => (
          <ul className="note-list">
            {[...notes].reverse().map((n) => (
              <li key={n.id} data-testid="note-item">
                <time className="muted small" dateTime={n.createdAt}>
                  {dateTime(n.createdAt)}
                </time>
                <p>{n.text}</p>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </div>
  );
}
