import { useState } from 'react';
import type { EmrPatientListResponse } from '../../../../contracts/emr-api';
import { Badge, Empty, Loaded, Page, Panel } from '../../components/ui';
import { useI18n, type MessageKey } from '../../i18n';
import { Link } from '../../lib/router';
import { useMe } from '../../lib/session';
import { useResource } from '../../lib/use-resource';
import { DataTable } from '../../components/DataTable';

const accessLabel: Record<'care-team' | 'consult' | 'break-glass', MessageKey> = {
  'care-team': 'patients.access.careTeam',
  consult: 'patients.access.consult',
  'break-glass': 'patients.access.breakGlass',
};
const genderKey: Record<string, MessageKey> = {
  male: 'patient.male',
  female: 'patient.female',
  other: 'patient.otherGender',
  unknown: 'patient.unknownGender',
};

export function MyPatients() {
  const { t, date, dateTime } = useI18n();
  const me = useMe();
  const res = useResource<EmrPatientListResponse>('/api/emr/patients');
  const [q, setQ] = useState('');
  return (
    <Page
      title={t('patients.title')}
      testId="my-patients"
      actions={
        me.role === 'referring_doctor' ? (
          <Link to="/consults/new" className="btn btn-primary" data-testid="patients-new-consult">
            {t('nav.newConsult')}
          </Link>
        ) : undefined
      }
    >
      <Panel className="panel-flush">
        <div className="toolbar">
          <label htmlFor="patient-search" className="sr-only">
            {t('patients.search')}
          </label>
          <input
            id="patient-search"
            type="search"
            data-testid="patient-search"
            placeholder={t('patients.search')}
            value={q}
            onChange={(e) => setQ(e.target.value)}
          />
        </div>
        <Loaded res={res} what={t('patients.title')}>
          {(data) => {
            const list = data.patients.filter((p) => !q || p.name.toLowerCase().includes(q.toLowerCase()) || (p.citizenIdMasked ?? '').includes(q));
            if (list.length === 0) return <Empty>{t('patients.none')}</Empty>;
            return (
              <DataTable
                testId="patients-table"
                rows={list}
                rowKey={(p) => p.id}
                rowProps={(p) => ({ testId: `patient-row-${p.id}` })}
                columns={[
                  {
                    header: t('patients.name'),
                    cell: (p) => (
                      <Link to={`/patients/${encodeURIComponent(p.id)}`} className="strong-link" translate="no">
                        {p.name}
                      </Link>
                    ),
                  },
                  { header: t('patients.birthDate'), cell: (p) => (p.birthDate ? date(p.birthDate) : '—') },
                  {
                    header: t('patients.gender'),
                    cell: (p) => {
                      const g = p.gender ? genderKey[p.gender] : undefined;
                      return g ? t(g) : '—';
                    },
                  },
                  { header: t('patient.citizenId'), className: 'mono', cell: (p) => p.citizenIdMasked ?? '—' },
                  {
                    header: t('patients.access'),
                    cell: (p) => (
                      <Badge tone={p.access === 'break-glass' ? 'danger' : p.access === 'consult' ? 'info' : 'neutral'}>{t(accessLabel[p.access])}</Badge>
                    ),
                  },
                  { header: t('patients.updated'), className: 'nowrap', cell: (p) => dateTime(p.lastUpdated) },
                ]}
                actions={(p) => (
                  <>
                    <Link to={`/patients/${encodeURIComponent(p.id)}`} className="btn btn-small btn-secondary" data-testid={`patient-open-${p.id}`}>
                      {t('patients.openRecord')}
                      <span className="sr-only" translate="no">
                        {' '}
                        {p.name}
                      </span>
                    </Link>
                    {me.role === 'referring_doctor' ? (
                      <Link
                        to={`/consults/new?patient=${encodeURIComponent(p.id)}`}
                        className="btn btn-small btn-primary"
                        data-testid={`patient-consult-${p.id}`}
                      >
                        {t('patients.requestConsult')}
                        <span className="sr-only" translate="no">
                          {' '}
                          {p.name}
                        </span>
                      </Link>
                    ) : null}
                  </>
                )}
              />
            );
          }}
        </Loaded>
      </Panel>
    </Page>
  );
}
