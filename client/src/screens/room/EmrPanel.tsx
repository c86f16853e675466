import { useEffect, useState } from 'react';
import type { ConsultView } from '../../../../contracts/consult-api';
import type { EmrPatientSummaryResponse } from '../../../../contracts/emr-api';
import type { FhirBundle } from '../../../../contracts/fhir';
import { RecordView } from '../../components/RecordView';
import { Empty } from '../../components/ui';
import { useI18n } from '../../i18n';
import { useSession } from '../../lib/session';
import { useSocketEvent } from '../../lib/use-socket';

/** The shared EMR summary; refreshed whenever the server says the record changed. */
export function EmrPanel({ consult, initial }: { consult: ConsultView; initial: FhirBundle | null }) {
  const { api } = useSession();
  const { t, time } = useI18n();
  const [bundle, setBundle] = useState<FhirBundle | null>(initial);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const [lastChange, setLastChange] = useState<string | null>(null);
  useEffect(() => setBundle(initial), [initial]);

  useSocketEvent('record:updated', (e) => {
    if (e.patientId !== consult.patientId) return;
    setLastChange(`${e.resourceType} · ${e.change}`);
    api
      .get<EmrPatientSummaryResponse>(`/api/emr/patients/${encodeURIComponent(consult.patientId)}/summary`)
      .then((b) => {
        setBundle(b);
        setUpdatedAt(new Date());
      })
      .catch(() => undefined);
  });

  return (
    <div className="emr-panel" data-testid="emr-panel">
      {updatedAt ? (
        <div className="live-update" role="status" data-testid="emr-updated">
          ● {t('room.recordUpdated', { time: time(updatedAt) })} {lastChange ? <span className="muted small">({lastChange})</span> : null}
        </div>
      ) : null}
      {bundle ? (
        <RecordView bundle={bundle} compact sections={consult.sharedSections.length ? consult.sharedSections : undefined} />
      ) : (
        <Empty>{t('room.noRecord')}</Empty>
      )}
    </div>
  );
}
