import { useEffect, useState } from 'react';
import type { ConsultStatus, ConsultUrgency, ConsultView } from '../../../contracts/consult-api';
import { useI18n } from '../i18n';
import { specialtyKey, statusLabel, statusTone, urgencyLabel, urgencyTone } from '../lib/consult-labels';
import { FlagLabel } from './TriageSummary';
import { Badge } from './ui';

export function StatusBadge({ status }: { status: ConsultStatus }) {
  const { t } = useI18n();
  return (
    <Badge tone={statusTone[status]} testId="consult-status">
      {t(statusLabel[status])}
    </Badge>
  );
}

export function UrgencyBadge({ urgency }: { urgency: ConsultUrgency }) {
  const { t } = useI18n();
  return (
    <Badge tone={urgencyTone[urgency]} testId={`urgency-${urgency}`}>
      {urgency === 'emergency' ? '▲ ' : urgency === 'urgent' ? '● ' : ''}
      {t(urgencyLabel[urgency])}
    </Badge>
  );
}

/**
 * The AI triage of a consult's X-rays: the flagged finding by name, with its score and the threshold
 * it crossed; "no AI flag" once scored with nothing flagged; nothing before any X-ray is scored.
 * (`aiFlagSeverity` only orders the queue: the findings' scores are on different scales.)
 */
export function AiFlagBadge({ consult }: { consult: Pick<ConsultView, 'aiFlag' | 'aiFlagSeverity'> }) {
  const { t } = useI18n();
  if (consult.aiFlag) {
    return (
      <Badge tone="danger" testId="ai-flag" title={t('queue.aiFlagHint')}>
        <FlagLabel flag={consult.aiFlag} />
      </Badge>
    );
  }
  if (consult.aiFlagSeverity === null) return null;
  return (
    <Badge tone="neutral" testId="ai-flag" title={t('queue.aiFlagHint')}>
      <span data-finding="">{t('queue.aiNoFlag')}</span>
    </Badge>
  );
}

export function Specialty({ value }: { value: string }) {
  const { t } = useI18n();
  const key = specialtyKey(value);
  return <>{key ? t(key) : value}</>;
}

export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}

function hms(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Time left to the acceptance deadline; red and "overdue" once it has passed. */
export function SlaTimer({ deadline, overdue, now }: { deadline: string | null; overdue: boolean; now: number }) {
  const { t } = useI18n();
  if (!deadline) return <span className="muted">—</span>;
  const left = new Date(deadline).getTime() - now;
  const late = overdue || left < 0;
  const soon = !late && left < 5 * 60_000;
  return (
    <span className={`sla ${late ? 'sla-overdue' : soon ? 'sla-soon' : ''}`} data-testid="sla-timer" data-overdue={String(late)} role="timer" aria-live="off">
      {late ? t('queue.overdueBy', { time: hms(left) }) : t('queue.timeLeft', { time: hms(left) })}
    </span>
  );
}
