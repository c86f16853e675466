/** Scores and flags of one study's AI triage, with the model it came from. */
import type { TriageFindingView, TriageView } from '../../../contracts/imaging-api';
import { useI18n, type MessageKey } from '../i18n';
import { Badge } from './ui';

export const findingLabel: Record<string, MessageKey> = { tb: 'finding.tb', nodule: 'finding.nodule' };

export function FindingBadge({ f }: { f: TriageFindingView }) {
  const { t, percent } = useI18n();
  const label = findingLabel[f.finding] ? t(findingLabel[f.finding] as MessageKey) : f.finding;
  return (
    <Badge tone={f.flagged ? 'danger' : 'neutral'} testId={`finding-${f.finding}`}>
      {f.flagged ? '⚑ ' : ''}
      {label} {percent(f.score)}
    </Badge>
  );
}

export function TriageSummary({ triage }: { triage: TriageView }) {
  const { t } = useI18n();
  const stateKey: Record<TriageView['state'], MessageKey> = { queued: 'triage.queued', running: 'triage.running', done: 'triage.done', failed: 'triage.failed', unavailable: 'triage.unavailable' };
  return (
    <div className="triage-summary" data-testid="triage-summary" data-state={triage.state}>
      {triage.state !== 'done' ? (
        <Badge tone={triage.state === 'failed' ? 'danger' : 'neutral'}>{t(stateKey[triage.state])}</Badge>
      ) : (
        <>
          {triage.anyFlagged ? <Badge tone="critical" testId="ai-flag-raised">{t('triage.flagged')}</Badge> : <Badge tone="success">{t('triage.noFlag')}</Badge>}
          {(triage.findings ?? []).map((f) => (
            <FindingBadge key={f.finding} f={f} />
          ))}
        </>
      )}
      {triage.model ? (
        <span className="muted small" title={triage.model.sha256}>
          {t('triage.model', { name: triage.model.name, version: triage.model.version })}
        </span>
      ) : null}
      <span className="muted small">{t('triage.assistOnly')}</span>
    </div>
  );
}
