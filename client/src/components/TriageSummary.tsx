/** Scores and flags of one study's AI triage, with the model it came from. */
import type { TriageFindingView, TriageView } from '../../../contracts/imaging-api';
import type { FlaggedFinding } from '../../../contracts/triage-priority';
import { useI18n, type MessageKey } from '../i18n';
import { Badge } from './ui';

export const findingLabel: Record<string, MessageKey> = { tb: 'finding.tb', nodule: 'finding.nodule' };

/** One finding: its score, ⚑ when flagged, and (in the tooltip) the threshold it was compared with. */
export function FindingBadge({ f }: { f: TriageFindingView }) {
  const { t, percent } = useI18n();
  const label = findingLabel[f.finding] ? t(findingLabel[f.finding] as MessageKey) : f.finding;
  return (
    <Badge
      tone={f.flagged ? 'danger' : 'neutral'}
      testId={`finding-${f.finding}`}
      title={[
        f.threshold !== undefined ? t('triage.threshold', { threshold: percent(f.threshold) }) : '',
        t(f.calibrated ? 'triage.calibrated' : 'triage.uncalibrated'),
      ]
        .filter(Boolean)
        .join(' · ')}
    >
      {f.flagged ? '⚑ ' : ''}
      {label} {percent(f.score)}
      {f.flagged && f.threshold !== undefined ? ` (≥ ${percent(f.threshold)})` : ''}
    </Badge>
  );
}

/** A flag's words: the flagged finding by name, its score and the threshold it crossed. */
export function FlagLabel({ flag }: { flag: FlaggedFinding }) {
  const { t, percent } = useI18n();
  const finding = findingLabel[flag.finding] ? t(findingLabel[flag.finding] as MessageKey) : flag.finding;
  return (
    <span data-finding={flag.finding}>
      {flag.threshold !== undefined
        ? t('triage.flagFor', { finding, score: percent(flag.score), threshold: percent(flag.threshold) })
        : `${t('triage.flagged')}: ${finding} ${percent(flag.score)}`}
    </span>
  );
}

/** The flag badge: names the flagged finding (the one furthest into its flagged range: contracts/triage-priority.ts), its score and threshold. */
export function FlagBadge({ flag }: { flag: NonNullable<TriageView['flag']> }) {
  return (
    <Badge tone="critical" testId="ai-flag-raised">
      <FlagLabel flag={flag} />
    </Badge>
  );
}

export function TriageSummary({ triage }: { triage: TriageView }) {
  const { t } = useI18n();
  const stateKey: Record<TriageView['state'], MessageKey> = {
    queued: 'triage.queued',
    running: 'triage.running',
    done: 'triage.done',
    failed: 'triage.failed',
    unavailable: 'triage.unavailable',
    not_scored: 'triage.notScored',
  };
  return (
    <div className="triage-summary" data-testid="triage-summary" data-state={triage.state}>
      {triage.state !== 'done' ? (
        <Badge tone={triage.state === 'failed' ? 'danger' : 'neutral'} testId={`triage-state-${triage.state}`} title={triage.message}>
          {t(stateKey[triage.state])}
        </Badge>
      ) : (
        <>
          {triage.flag ? (
            <FlagBadge flag={triage.flag} />
          ) : triage.anyFlagged ? (
            <Badge tone="critical" testId="ai-flag-raised">
              {t('triage.flagged')}
            </Badge>
          ) : (
            <Badge tone="success">{t('triage.noFlag')}</Badge>
          )}
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
