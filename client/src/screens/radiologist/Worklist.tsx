/**
 * Radiologist worklist: studies ordered by the server (flags, score, waiting time), each with a
 * thumbnail and the AI scores; the selected study opens in the viewer where each flag is confirmed
 * or rejected, boxes corrected by drawing on the image, with a comment.
 */
import { useEffect, useId, useState } from 'react';
import type {
  LesionBox,
  RadiologistReviewRequest,
  RadiologistReviewResponse,
  ReviewDecision,
  TriageFinding,
  TriageFindingView,
  TriageStatsResponse,
  WorklistItem,
  WorklistResponse,
} from '../../../../contracts/imaging-api';
import { ProtectedImg } from '../../components/ProtectedImg';
import { FindingBadge, findingLabel } from '../../components/TriageSummary';
import { Badge, Empty, ErrorNote, Loaded, Page, Panel } from '../../components/ui';
import { XrayViewer } from '../../components/XrayViewer';
import { useI18n } from '../../i18n';
import { useNames } from '../../lib/names';
import { Link } from '../../lib/router';
import { useSession } from '../../lib/session';
import { useResource, useSubmission } from '../../lib/use-resource';
import { useSocketEvent } from '../../lib/use-socket';

function useFindingName() {
  const { t } = useI18n();
  return (f: TriageFinding) => (findingLabel[f] ? t(findingLabel[f]) : f);
}

function FindingReview({
  item,
  finding,
  boxes,
  onClearBoxes,
  onReviewed,
}: {
  item: WorklistItem;
  finding: TriageFindingView;
  boxes: LesionBox[];
  onClearBoxes: () => void;
  onReviewed: () => void;
}) {
  const { api } = useSession();
  const names = useNames(finding.review ? [finding.review.reviewerId] : []);
  const reviewerName = finding.review ? names.users[finding.review.reviewerId]?.displayName : undefined;
  const { t, dateTime } = useI18n();
  const name = useFindingName();
  const id = useId();
  const [comment, setComment] = useState('');
  const { busy, error, run } = useSubmission();
  const review = async (decision: ReviewDecision) => {
    await run(async () => {
      const body: RadiologistReviewRequest = {
        finding: finding.finding,
        decision,
        ...(boxes.length ? { boxes } : {}),
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      };
      await api.post<RadiologistReviewResponse>(`/api/triage/studies/${encodeURIComponent(item.studyId)}/review`, body);
      setComment('');
      onClearBoxes();
      onReviewed();
    });
  };
  return (
    <div className={`finding-review ${finding.flagged ? 'finding-flagged' : ''}`} data-testid={`review-${finding.finding}`}>
      <div className="row gap wrap">
        <FindingBadge f={finding} />
        <strong>{name(finding.finding)}</strong>
        {finding.review ? (
          <Badge tone={finding.review.decision === 'confirmed' ? 'success' : 'neutral'} testId={`review-state-${finding.finding}`}>
            {finding.review.decision === 'confirmed' ? t('worklist.confirmed') : t('worklist.rejected')} ·{' '}
            <span translate="no" title={finding.review.reviewerId}>
              {reviewerName ?? finding.review.reviewerId}
            </span>{' '}
            · {dateTime(finding.review.reviewedAt)}
          </Badge>
        ) : (
          <Badge tone="warning">{t('worklist.open')}</Badge>
        )}
      </div>
      {boxes.length ? (
        <p className="small">
          {t('worklist.boxesDrawn', { n: boxes.length })}{' '}
          <button type="button" className="btn btn-ghost btn-small" onClick={onClearBoxes}>
            {t('worklist.clearBoxes')}
          </button>
        </p>
      ) : null}
      <label htmlFor={`${id}-c`} className="sr-only">
        {t('worklist.comment')} ({name(finding.finding)})
      </label>
      <textarea
        id={`${id}-c`}
        rows={2}
        maxLength={2000}
        placeholder={t('worklist.comment')}
        value={comment}
        onChange={(e) => setComment(e.target.value)}
        data-testid={`review-comment-${finding.finding}`}
      />
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <div className="row gap">
        <button
          type="button"
          className="btn btn-success btn-small"
          disabled={busy}
          onClick={() => void review('confirmed')}
          data-testid={`review-confirm-${finding.finding}`}
        >
          ✓ {t('worklist.confirm')}
          <span className="sr-only"> {name(finding.finding)}</span>
        </button>
        <button
          type="button"
          className="btn btn-danger-outline btn-small"
          disabled={busy}
          onClick={() => void review('rejected')}
          data-testid={`review-reject-${finding.finding}`}
        >
          ✕ {t('worklist.reject')}
          <span className="sr-only"> {name(finding.finding)}</span>
        </button>
      </div>
    </div>
  );
}

function StudyDetail({ item, onReviewed }: { item: WorklistItem; onReviewed: () => void }) {
  const { t } = useI18n();
  const name = useFindingName();
  const [target, setTarget] = useState<TriageFinding>(item.findings.find((f) => f.flagged)?.finding ?? item.findings[0]?.finding ?? 'tb');
  const [boxes, setBoxes] = useState<Record<string, LesionBox[]>>({});
  const id = useId();
  return (
    <div className="study-detail" data-testid="worklist-detail">
      <div className="study-detail-viewer">
        <XrayViewer
          imageUrl={item.previewUrl}
          imageSize={{ width: item.width, height: item.height }}
          alt={t('viewer.alt')}
          heatmaps={item.findings.map((f) => ({ key: f.finding, url: f.heatmapUrl, label: name(f.finding) }))}
          lesions={item.lesions}
          boxes={Object.values(boxes).flat()}
          onDrawBox={(b) => setBoxes((prev) => ({ ...prev, [target]: [...(prev[target] ?? []), b] }))}
          height={440}
          testId="worklist-viewer"
        />
      </div>
      <div className="study-detail-side">
        {item.findings.length > 1 ? (
          <div className="row gap small">
            <label htmlFor={`${id}-target`}>{t('worklist.boxFor')}</label>
            <select id={`${id}-target`} className="select-inline" value={target} onChange={(e) => setTarget(e.target.value === 'nodule' ? 'nodule' : 'tb')}>
              {item.findings.map((f) => (
                <option key={f.finding} value={f.finding}>
                  {name(f.finding)}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <p className="small muted">{t('worklist.drawHint')}</p>
        <div className="finding-reviews">
          {item.findings.map((f) => (
            <FindingReview
              key={f.finding}
              item={item}
              finding={f}
              boxes={boxes[f.finding] ?? []}
              onClearBoxes={() => setBoxes((prev) => ({ ...prev, [f.finding]: [] }))}
              onReviewed={onReviewed}
            />
          ))}
        </div>
        {item.consultId ? (
          <Link to={`/consults/${encodeURIComponent(item.consultId)}`} className="btn btn-secondary btn-small">
            {t('worklist.openConsult')}
          </Link>
        ) : null}
      </div>
    </div>
  );
}

function Stats({ version }: { version: number }) {
  const { t, percent } = useI18n();
  const name = useFindingName();
  const res = useResource<TriageStatsResponse>('/api/triage/stats');
  const { reload } = res;
  useSocketEvent('worklist:updated', (e) => {
    if (e.reason === 'reviewed') reload();
  });
  // Every own decision reloads the figures at once (not only when the socket event arrives).
  useEffect(() => {
    if (version > 0) reload();
  }, [version, reload]);
  if (!res.data) return null;
  return (
    <div className="stats-row" data-testid="triage-stats">
      {res.data.findings.map((f) => (
        <div key={f.finding} className="stat">
          <span className="stat-label">{t('worklist.ppv', { finding: name(f.finding) })}</span>
          <strong className="stat-value">{f.ppv === null ? '—' : percent(f.ppv)}</strong>
          <span className="muted small" data-testid={`stats-${f.finding}`}>
            {t('worklist.ppvDetail', { c: f.confirmed, n: f.flagsReviewed, m: f.missedLesions })} ·{' '}
            {t('worklist.decisions', { d: f.flagsReviewed + f.negativesReviewed })}
          </span>
        </div>
      ))}
    </div>
  );
}

export function Worklist() {
  const { t, number } = useI18n();
  const name = useFindingName();
  const [view, setView] = useState<'open' | 'reviewed'>('open');
  const res = useResource<WorklistResponse>(`/api/triage/worklist?status=${view}`);
  const [selected, setSelected] = useState<string | null>(null);
  const [decisions, setDecisions] = useState(0);
  const onReviewed = () => {
    setDecisions((n) => n + 1);
    res.reload();
  };
  useSocketEvent('worklist:updated', () => res.reload());
  useSocketEvent('triage:completed', () => res.reload());
  const items = res.data?.items ?? [];
  useEffect(() => {
    if ((!selected || !items.some((i) => i.studyId === selected)) && items[0]) setSelected(items[0].studyId);
  }, [items, selected]);
  const item = items.find((i) => i.studyId === selected) ?? null;

  return (
    <Page title={t('worklist.title')} testId="worklist">
      <Stats version={decisions} />
      <div className="chips" role="group" aria-label={t('worklist.view')}>
        {(['open', 'reviewed'] as const).map((v) => (
          <button
            key={v}
            type="button"
            className="chip"
            aria-pressed={view === v}
            onClick={() => {
              setView(v);
              setSelected(null);
            }}
            data-testid={`worklist-view-${v}`}
          >
            {v === 'open' ? t('worklist.viewOpen') : t('worklist.viewReviewed')}
          </button>
        ))}
      </div>
      <div className="worklist-grid">
        <Panel title={t('worklist.studies')} className="panel-flush">
          <Loaded res={res} what={t('worklist.title')}>
            {(data) =>
              data.items.length === 0 ? (
                <Empty>{view === 'open' ? t('worklist.empty') : t('worklist.emptyReviewed')}</Empty>
              ) : (
                <ul className="worklist-list" aria-label={t('worklist.studies')}>
                  {data.items.map((i) => (
                    <li key={i.studyId}>
                      <button
                        type="button"
                        className={`worklist-item ${i.studyId === selected ? 'selected' : ''} ${i.anyFlagged ? 'flagged' : ''}`}
                        aria-pressed={i.studyId === selected}
                        onClick={() => setSelected(i.studyId)}
                        data-testid={`worklist-item-${i.studyId}`}
                      >
                        <ProtectedImg src={i.previewUrl} alt="" className="worklist-thumb" />
                        <span className="worklist-info">
                          <strong translate={i.patient?.name ? 'no' : undefined}>{i.patient?.name || t('worklist.unknownPatient')}</strong>
                          <span className="row gap wrap">
                            {i.findings.map((f) => (
                              <FindingBadge key={f.finding} f={f} />
                            ))}
                          </span>
                          <span className="muted small">
                            {t('worklist.waiting', { n: number(Math.round(i.waitingMinutes)) })} ·{' '}
                            {i.reviewStatus === 'open' ? t('worklist.open') : t('worklist.reviewed')}
                          </span>
                        </span>
                        {i.anyFlagged ? (
                          <span className="flag-mark" aria-label={t('triage.flagged')}>
                            ⚑
                          </span>
                        ) : null}
                      </button>
                    </li>
                  ))}
                </ul>
              )
            }
          </Loaded>
        </Panel>
        <Panel
          title={
            item ? (
              <>
                <span translate={item.patient?.name ? 'no' : undefined}>{item.patient?.name || t('worklist.unknownPatient')}</span> ·{' '}
                {item.findings
                  .filter((f) => f.flagged)
                  .map((f) => name(f.finding))
                  .join(', ') || t('triage.noFlag')}
              </>
            ) : (
              t('worklist.detail')
            )
          }
        >
          {item ? (
            <StudyDetail key={item.studyId} item={item} onReviewed={onReviewed} />
          ) : res.error ? (
            <ErrorNote error={res.error} />
          ) : (
            <Empty>{t('worklist.select')}</Empty>
          )}
        </Panel>
      </div>
    </Page>
  );
}
