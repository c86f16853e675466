/** Small shared building blocks: page frame, state panels, badges, fields. */
import { useId, type ReactNode } from 'react';
import { ApiRequestError } from '../api/client';
import { useI18n } from '../i18n';
import { useErrorText } from '../lib/errors';

export function Page({ title, actions, children, testId }: { title: string; actions?: ReactNode; children: ReactNode; testId: string }) {
  return (
    <section className="page" data-testid={testId} aria-labelledby={`${testId}-title`}>
      <div className="page-head">
        <h1 id={`${testId}-title`}>{title}</h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

export function Panel({
  title,
  children,
  actions,
  className,
  testId,
}: {
  title?: ReactNode;
  children: ReactNode;
  actions?: ReactNode;
  className?: string;
  testId?: string;
}) {
  const id = useId();
  return (
    <section className={`panel ${className ?? ''}`} aria-labelledby={title ? id : undefined} data-testid={testId}>
      {title || actions ? (
        <div className="panel-head">
          {title ? <h2 id={id}>{title}</h2> : <span />}
          {actions}
        </div>
      ) : null}
      <div className="panel-body">{children}</div>
    </section>
  );
}

export function Spinner({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label ?? t('common.loading')}</span>
    </div>
  );
}

/** "This part of the platform is not available on this server yet" — never fake data in its place. */
export function NotAvailable({ what, testId }: { what: string; testId?: string }) {
  const { t } = useI18n();
  return (
    <div className="state state-unavailable" role="note" data-testid={testId ?? 'not-available'}>
      <span className="state-icon" aria-hidden="true">
        ⏳
      </span>
      <div>
        <strong>{t('common.notAvailableTitle')}</strong>
        <p>{t('common.notAvailableBody', { what })}</p>
      </div>
    </div>
  );
}

/** An error panel: an API error in the clinician's words (lib/errors.ts); a string is shown as given (already localised). */
export function ErrorNote({ error, detail: extra, onRetry }: { error: ApiRequestError | Error | string; detail?: string; onRetry?: () => void }) {
  const { t } = useI18n();
  const localised = useErrorText()(error);
  const text = typeof error === 'string' ? error : localised.text;
  const detail = extra ?? localised.detail;
  return (
    <div className="state state-error" role="alert" data-error-code={typeof error === 'string' || !(error instanceof ApiRequestError) ? undefined : error.code}>
      <span className="state-icon" aria-hidden="true">
        !
      </span>
      <div>
        <strong>{t('common.errorTitle')}</strong>
        <p title={detail}>{text}</p>
      </div>
      {onRetry ? (
        <button type="button" className="btn btn-secondary" onClick={onRetry}>
          {t('common.retry')}
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

/** Renders loading / not-available / error around a loaded resource. */
export function Loaded<T>({
  res,
  what,
  children,
}: {
  res: { data: T | null; loading: boolean; error: ApiRequestError | null; notAvailable: boolean; reload: () => void };
  what: string;
  children: (data: T) => ReactNode;
}) {
  if (res.notAvailable) return <NotAvailable what={what} />;
  if (res.error) return <ErrorNote error={res.error} onRetry={res.reload} />;
  if (res.data === null) return res.loading ? <Spinner /> : null;
  return <>{children(res.data)}</>;
}

export type Tone = 'neutral' | 'info' | 'success' | 'warning' | 'danger' | 'critical';

export function Badge({ tone = 'neutral', children, testId, title }: { tone?: Tone; children: ReactNode; testId?: string; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} data-testid={testId} title={title}>
      {children}
    </span>
  );
}

export function Field({ label, hint, children, htmlFor }: { label: string; hint?: string; children: ReactNode; htmlFor: string }) {
  return (
    <div className="field">
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {hint ? <p className="field-hint">{hint}</p> : null}
    </div>
  );
}

export function ProgressBar({ value, label, testId }: { value: number; label: string; testId?: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 100)));
  return (
    <div className="progress" data-testid={testId}>
      <div className="progress-label">
        <span>{label}</span>
        <span>{pct}%</span>
      </div>
      <div className="progress-track" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

/** Active / disabled state of an account or a facility. */
export function ActiveBadge({ active }: { active: boolean }) {
  const { t } = useI18n();
  return active ? <Badge tone="success">{t('admin.users.active')}</Badge> : <Badge tone="neutral">{t('admin.users.disabled')}</Badge>;
}
