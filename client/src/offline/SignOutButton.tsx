/**
 * Sign-out on a shared clinic computer: the doctor's sent outbox entries are removed at once, and
 * when requests (with their X-rays) are still waiting to be sent, the doctor chooses: keep them in
 * this browser for their next sign-in, or discard them, before the session ends.
 */
import { useState } from 'react';
import { useI18n } from '../i18n';
import { useMe, useSession } from '../lib/session';
import { atSignOut } from './outbox-state';
import { allEntries, deleteEntry } from './outbox-store';

export function SignOutButton() {
  const me = useMe();
  const { logout } = useSession();
  const { t } = useI18n();
  const [unsent, setUnsent] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);

  const signOut = async (discard: readonly string[]) => {
    setBusy(true);
    try {
      for (const id of discard) await deleteEntry(id);
    } finally {
      setBusy(false);
    }
    setUnsent(null);
    await logout();
  };

  const start = async () => {
    // No IndexedDB (private window, blocked storage): nothing is kept, so there is nothing to ask.
    const entries = await allEntries().catch(() => []);
    const { removeNow, unsent: waiting } = atSignOut(entries, me.id);
    for (const id of removeNow) await deleteEntry(id).catch(() => undefined);
    if (waiting.length) setUnsent(waiting.map((e) => e.id));
    else await logout();
  };

  return (
    <>
      <button type="button" className="btn btn-ghost" data-testid="logout" onClick={() => void start()}>
        {t('header.logout')}
      </button>
      {unsent ? (
        <div className="signout-backdrop">
          <div
            role="alertdialog"
            aria-modal="true"
            aria-labelledby="signout-title"
            aria-describedby="signout-text"
            className="signout-dialog"
            data-testid="signout-unsent"
            onKeyDown={(e) => {
              if (e.key === 'Escape') setUnsent(null);
            }}
          >
            <h2 id="signout-title">{t('signout.unsentTitle', { n: unsent.length })}</h2>
            <p id="signout-text">{t('signout.unsentText')}</p>
            <div className="signout-actions">
              <button type="button" className="btn" data-testid="signout-keep" disabled={busy} autoFocus onClick={() => void signOut([])}>
                {t('signout.keep')}
              </button>
              <button type="button" className="btn btn-danger" data-testid="signout-discard" disabled={busy} onClick={() => void signOut(unsent)}>
                {t('signout.discard')}
              </button>
              <button type="button" className="btn btn-ghost" data-testid="signout-cancel" disabled={busy} onClick={() => setUnsent(null)}>
                {t('signout.cancel')}
              </button>
            </div>
          </div>
        </div>
      ) : null}
    </>
  );
}
