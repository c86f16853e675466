import { useState } from 'react';
import type { ImagingStudyView } from '../../../../contracts/imaging-api';
import { findingLabel, TriageSummary } from '../../components/TriageSummary';
import { Empty, Loaded } from '../../components/ui';
import { XrayViewer } from '../../components/XrayViewer';
import { useI18n, type MessageKey } from '../../i18n';
import { studyPath } from '../../lib/imaging';
import { useResource } from '../../lib/use-resource';
import { useSocketEvent } from '../../lib/use-socket';

function StudyView({ studyId }: { studyId: string }) {
  const { t, dateTime } = useI18n();
  const res = useResource<ImagingStudyView>(studyPath(studyId));
  useSocketEvent('triage:completed', (e) => {
    if (e.studyId === studyId) res.reload();
  });
  useSocketEvent('triage:updated', (e) => {
    if (e.studyId === studyId) res.reload();
  });
  useSocketEvent('triage:progress', (e) => {
    if (e.studyId === studyId) res.reload();
  });
  return (
    <Loaded res={res} what={t('room.imaging')}>
      {(study) => (
        <div className="study" data-testid={`study-${study.id}`}>
          <div className="row gap wrap study-head">
            <strong translate="no">{study.modality ?? study.format.toUpperCase()}</strong>
            <span className="muted small">
              {dateTime(study.uploadedAt)} · {study.width}×{study.height}
            </span>
            <span className="spacer" />
            <TriageSummary triage={study.triage} />
          </div>
          <XrayViewer
            imageUrl={study.previewUrl}
            imageSize={{ width: study.width, height: study.height }}
            alt={t('viewer.alt')}
            heatmaps={(study.triage.findings ?? []).map((f) => ({
              key: f.finding,
              url: f.heatmapUrl,
              label: findingLabel[f.finding] ? t(findingLabel[f.finding] as MessageKey) : f.finding,
            }))}
            lesions={study.triage.lesions ?? []}
            height={420}
          />
        </div>
      )}
    </Loaded>
  );
}

export function ImagingPanel({ studyIds }: { studyIds: string[] }) {
  const { t } = useI18n();
  const [current, setCurrent] = useState(0);
  if (studyIds.length === 0) return <Empty>{t('room.noImaging')}</Empty>;
  const id = studyIds[Math.min(current, studyIds.length - 1)] ?? '';
  return (
    <div className="imaging" data-testid="imaging-panel">
      {studyIds.length > 1 ? (
        <div className="chips" role="group" aria-label={t('room.studies')}>
          {studyIds.map((s, i) => (
            <button key={s} type="button" className="chip" aria-pressed={i === current} onClick={() => setCurrent(i)}>
              {t('room.study', { n: i + 1 })}
            </button>
          ))}
        </div>
      ) : null}
      <StudyView key={id} studyId={id} />
    </div>
  );
}
