import { useId, useState, type SubmitEvent } from 'react';
import type { FacilityDetail, FacilityTier } from '../../../../contracts/api';
import { ActiveBadge, Badge, ErrorNote, Field, Loaded, Page, Panel } from '../../components/ui';
import { useI18n, type MessageKey } from '../../i18n';
import { useSession } from '../../lib/session';
import { useResource, useSubmission } from '../../lib/use-resource';
import { DataTable } from '../../components/DataTable';

const TIERS: FacilityTier[] = ['central', 'provincial', 'district', 'commune'];
export const tierLabel: Record<FacilityTier, MessageKey> = {
  central: 'tier.central',
  provincial: 'tier.provincial',
  district: 'tier.district',
  commune: 'tier.commune',
};

function NewFacilityForm({ onCreated }: { onCreated: (f: FacilityDetail) => void }) {
  const { api } = useSession();
  const { t } = useI18n();
  const id = useId();
  const [form, setForm] = useState({ name: '', tier: 'district' as FacilityTier, province: '', moHCode: '' });
  const { busy, error, run } = useSubmission();
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      onCreated(await api.post<FacilityDetail>('/api/admin/facilities', { ...form, moHCode: form.moHCode || undefined }));
      setForm({ name: '', tier: 'district', province: '', moHCode: '' });
    });
  };
  return (
    <form className="form-grid" onSubmit={(e) => void submit(e)} data-testid="facility-create-form">
      <Field label={t('admin.facilities.name')} htmlFor={`${id}-name`}>
        <input id={`${id}-name`} data-testid="facility-name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
      </Field>
      <Field label={t('admin.facilities.tier')} htmlFor={`${id}-tier`}>
        <select id={`${id}-tier`} data-testid="facility-tier" value={form.tier} onChange={(e) => setForm({ ...form, tier: e.target.value as FacilityTier })}>
          {TIERS.map((tier) => (
            <option key={tier} value={tier}>
              {t(tierLabel[tier])}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t('admin.facilities.province')} htmlFor={`${id}-prov`}>
        <input
          id={`${id}-prov`}
          data-testid="facility-province"
          required
          value={form.province}
          onChange={(e) => setForm({ ...form, province: e.target.value })}
        />
      </Field>
      <Field label={t('admin.facilities.code')} htmlFor={`${id}-code`}>
        <input
          id={`${id}-code`}
          data-testid="facility-code"
          maxLength={20}
          value={form.moHCode}
          onChange={(e) => setForm({ ...form, moHCode: e.target.value })}
        />
      </Field>
      <div className="form-actions">
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="btn btn-primary" data-testid="facility-create-submit" disabled={busy}>
          {t('admin.facilities.create')}
        </button>
      </div>
    </form>
  );
}

export function AdminFacilities() {
  const { api } = useSession();
  const { t } = useI18n();
  const res = useResource<FacilityDetail[]>('/api/admin/facilities');
  const [showForm, setShowForm] = useState(false);
  const rowAction = useSubmission();
  const toggle = async (f: FacilityDetail) => {
    await rowAction.run(async () => {
      const updated = await api.patch<FacilityDetail>(`/api/admin/facilities/${encodeURIComponent(f.id)}`, { active: !f.active });
      res.setData((prev) => prev?.map((x) => (x.id === updated.id ? updated : x)) ?? null);
    });
  };
  return (
    <Page
      title={t('admin.facilities.title')}
      testId="admin-facilities"
      actions={
        <button type="button" className="btn btn-primary" data-testid="facility-new" aria-expanded={showForm} onClick={() => setShowForm((s) => !s)}>
          {showForm ? t('common.close') : t('admin.facilities.new')}
        </button>
      }
    >
      {showForm ? (
        <Panel title={t('admin.facilities.new')}>
          <NewFacilityForm onCreated={(f) => res.setData((prev) => [...(prev ?? []), f])} />
        </Panel>
      ) : null}
      {rowAction.error ? <ErrorNote error={rowAction.error} /> : null}
      <Panel>
        <Loaded res={res} what={t('admin.facilities.title')}>
          {(list) => (
            <DataTable
              testId="facilities-table"
              rows={list}
              rowKey={(f) => f.id}
              rowProps={(f) => ({ testId: `facility-row-${f.id}` })}
              columns={[
                { header: t('admin.facilities.name'), cell: (f) => <strong translate="no">{f.name}</strong> },
                { header: t('admin.facilities.tier'), cell: (f) => <Badge tone={f.tier === 'central' ? 'info' : 'neutral'}>{t(tierLabel[f.tier])}</Badge> },
                { header: t('admin.facilities.province'), cell: (f) => <span translate="no">{f.province}</span> },
                { header: t('admin.facilities.code'), className: 'mono', cell: (f) => <span translate="no">{f.moHCode ?? '—'}</span> },
                { header: t('admin.users.status'), cell: (f) => <ActiveBadge active={f.active} /> },
              ]}
              actions={(f) => (
                <button type="button" className={`btn btn-small ${f.active ? 'btn-danger-outline' : 'btn-secondary'}`} onClick={() => void toggle(f)}>
                  {f.active ? t('admin.users.disable') : t('admin.users.enable')}
                  <span className="sr-only" translate="no">
                    {' '}
                    {f.name}
                  </span>
                </button>
              )}
            />
          )}
        </Loaded>
      </Panel>
    </Page>
  );
}
