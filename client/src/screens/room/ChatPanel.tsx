import { useEffect, useId, useRef, useState, type SubmitEvent } from 'react';
import type { ConsultMessageView } from '../../../../contracts/consult-api';
import { ErrorNote, Loaded, ProgressBar } from '../../components/ui';
import { useI18n } from '../../i18n';
import { postMessageWithFile } from '../../lib/attachments';
import { useMe, useSession } from '../../lib/session';
import { useResource, useSubmission } from '../../lib/use-resource';
import { useSocketEvent } from '../../lib/use-socket';

function AttachmentImage({ consultId, attId, name }: { consultId: string; attId: string; name: string }) {
  const { api } = useSession();
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let u: string | null = null;
    let cancelled = false;
    api
      .blobUrl(`/api/consults/${encodeURIComponent(consultId)}/attachments/${encodeURIComponent(attId)}`)
      .then((x) => {
        if (cancelled) URL.revokeObjectURL(x);
        else setUrl((u = x));
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
      if (u) URL.revokeObjectURL(u);
    };
  }, [api, consultId, attId]);
  return url ? (
    <a href={url} target="_blank" rel="noreferrer" className="chat-image-link">
      <img src={url} alt={name} className="chat-image" />
    </a>
  ) : (
    <span className="muted small">{name}</span>
  );
}

export function ChatPanel({ consultId }: { consultId: string }) {
  const { api } = useSession();
  const me = useMe();
  const { t, time, bytes } = useI18n();
  const id = useId();
  const res = useResource<ConsultMessageView[]>(`/api/consults/${encodeURIComponent(consultId)}/messages`);
  const [text, setText] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const { busy, error, run } = useSubmission();
  const listRef = useRef<HTMLOListElement | null>(null);
  const fileRef = useRef<HTMLInputElement | null>(null);

  const add = (m: ConsultMessageView) => res.setData((prev) => (prev?.some((x) => x.id === m.id) ? prev : [...(prev ?? []), m]));
  useSocketEvent('consult:message', (m) => {
    if (m.consultId === consultId) add(m);
  });
  useEffect(() => {
    listRef.current?.lastElementChild?.scrollIntoView({ block: 'end' });
  }, [res.data?.length]);

  const send = async (e: SubmitEvent) => {
    e.preventDefault();
    if (!text.trim() && !file) return;
    await run(async () => {
      if (file) {
        // A file may take minutes on a district link: resumable, with progress.
        setProgress(0);
        try {
          add(await postMessageWithFile(api, consultId, text.trim(), file, (p) => setProgress(p.total ? p.loaded / p.total : 0)));
        } finally {
          setProgress(null);
        }
      } else {
        const form = new FormData();
        form.append('text', text.trim());
        add(await api.request<ConsultMessageView>('POST', `/api/consults/${encodeURIComponent(consultId)}/messages`, form));
      }
      setText('');
      setFile(null);
      if (fileRef.current) fileRef.current.value = '';
    });
  };

  return (
    <div className="chat" data-testid="chat-panel">
      <Loaded res={res} what={t('room.chat')}>
        {(messages) =>
          messages.length === 0 ? (
            <p className="muted small chat-empty">{t('chat.empty')}</p>
          ) : (
            <ol className="chat-list" ref={listRef} aria-live="polite" aria-label={t('room.chat')}>
              {messages.map((m) => (
                <li key={m.id} className={`chat-msg ${m.authorId === me.id ? 'chat-mine' : ''}`} data-testid="chat-message">
                  <div className="chat-meta">
                    <strong translate="no">{m.authorName}</strong> <time dateTime={m.createdAt}>{time(m.createdAt)}</time>
                  </div>
                  {m.text ? (
                    <div className="chat-text" translate="no">
                      {m.text}
                    </div>
                  ) : null}
                  {m.attachment ? (
                    m.attachment.contentType.startsWith('image/') ? (
                      <AttachmentImage consultId={consultId} attId={m.attachment.id} name={m.attachment.filename} />
                    ) : (
                      <span className="chat-file">
                        📄 <span translate="no">{m.attachment.filename}</span> <span className="muted">({bytes(m.attachment.size)})</span>
                      </span>
                    )
                  ) : null}
                </li>
              ))}
            </ol>
          )
        }
      </Loaded>
      {progress !== null ? <ProgressBar value={progress} label={t('chat.uploading')} testId="chat-upload-progress" /> : null}
      {error ? <ErrorNote error={error} /> : null}
      <form className="chat-form" onSubmit={(e) => void send(e)}>
        <label htmlFor={`${id}-text`} className="sr-only">
          {t('chat.message')}
        </label>
        <textarea
          id={`${id}-text`}
          rows={2}
          maxLength={4000}
          placeholder={t('chat.placeholder')}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
          data-testid="chat-input"
        />
        <div className="chat-actions">
          <label htmlFor={`${id}-file`} className="btn btn-ghost btn-small file-btn">
            📎 {file ? file.name : t('chat.attach')}
          </label>
          <input
            id={`${id}-file`}
            ref={fileRef}
            type="file"
            accept="image/png,image/jpeg,application/pdf"
            className="sr-only"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            data-testid="chat-attach"
          />
          <span className="spacer" />
          <button type="submit" className="btn btn-primary btn-small" disabled={busy || (!text.trim() && !file)} data-testid="chat-send">
            {t('chat.send')}
          </button>
        </div>
      </form>
    </div>
  );
}
