import { useId, useState, type SubmitEvent } from 'react';
import type { FacilityDetail, UserRole, UserSummary } from '../../../../contracts/api';
import { roleLabel } from '../../components/Header';
import { ActiveBadge, ErrorNote, Field, Loaded, Page, Panel } from '../../components/ui';
import { useI18n } from '../../i18n';
import { useSession } from '../../lib/session';
import { SPECIALTIES, useSpecialtyName } from '../../lib/specialties';
import { useResource, useSubmission } from '../../lib/use-resource';
import { DataTable } from '../../components/DataTable';

const ROLES: UserRole[] = ['referring_doctor', 'specialist', 'radiologist', 'admin'];

function NewUserForm({ facilities, onCreated }: { facilities: FacilityDetail[]; onCreated: (u: UserSummary) => void }) {
  const { api } = useSession();
  const { t } = useI18n();
  const id = useId();
  const [form, setForm] = useState({
    email: '',
    displayName: '',
    role: 'referring_doctor' as UserRole,
    facilityId: facilities[0]?.id ?? '',
    specialty: '',
    locale: 'vi' as 'vi' | 'en',
    password: '',
  });
  const { busy, error, run } = useSubmission();
  const set = <K extends keyof typeof form>(k: K, v: (typeof form)[K]) => setForm((f) => ({ ...f, [k]: v }));

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const created = await api.post<UserSummary>('/api/admin/users', { ...form, specialty: form.specialty || undefined });
      onCreated(created);
      setForm((f) => ({ ...f, email: '', displayName: '', specialty: '', password: '' }));
    });
  };

  return (
    <form className="form-grid" onSubmit={(e) => void submit(e)} data-testid="user-create-form">
      <Field label={t('admin.users.email')} htmlFor={`${id}-email`}>
        <input id={`${id}-email`} data-testid="user-email" type="email" required value={form.email} onChange={(e) => set('email', e.target.value)} />
      </Field>
      <Field label={t('admin.users.name')} htmlFor={`${id}-name`}>
        <input id={`${id}-name`} data-testid="user-name" required value={form.displayName} onChange={(e) => set('displayName', e.target.value)} />
      </Field>
      <Field label={t('admin.users.role')} htmlFor={`${id}-role`}>
        <select id={`${id}-role`} data-testid="user-role" value={form.role} onChange={(e) => set('role', e.target.value as UserRole)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(roleLabel[r])}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t('admin.users.facility')} htmlFor={`${id}-fac`}>
        <select id={`${id}-fac`} data-testid="user-facility" value={form.facilityId} onChange={(e) => set('facilityId', e.target.value)}>
          {facilities.map((f) => (
            <option translate="no" key={f.id} value={f.id}>
              {f.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t('admin.users.specialty')} htmlFor={`${id}-spec`}>
        <select id={`${id}-spec`} data-testid="user-specialty" value={form.specialty} onChange={(e) => set('specialty', e.target.value)}>
          <option value="">—</option>
          {SPECIALTIES.map((sp) => (
            <option key={sp.value} value={sp.value}>
              {t(sp.label)}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t('admin.users.locale')} htmlFor={`${id}-loc`}>
        <select id={`${id}-loc`} value={form.locale} onChange={(e) => set('locale', e.target.value === 'en' ? 'en' : 'vi')}>
          <option value="vi">Tiếng Việt</option>
          <option value="en">English</option>
        </select>
      </Field>
      <Field label={t('admin.users.password')} hint={t('admin.users.passwordHint')} htmlFor={`${id}-pw`}>
        <input
          id={`${id}-pw`}
          data-testid="user-password"
          type="password"
          autoComplete="new-password"
          minLength={10}
          required
          value={form.password}
          onChange={(e) => set('password', e.target.value)}
        />
      </Field>
      <div className="form-actions">
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="btn btn-primary" data-testid="user-create-submit" disabled={busy}>
          {t('admin.users.create')}
        </button>
      </div>
    </form>
  );
}

export function AdminUsers() {
  const { api } = useSession();
  const { t } = useI18n();
  const specialtyName = useSpecialtyName();
  const users = useResource<UserSummary[]>('/api/admin/users');
  const facilities = useResource<FacilityDetail[]>('/api/admin/facilities');
  const [showForm, setShowForm] = useState(false);
  const rowAction = useSubmission();
  const facilityName = (fid: string) => facilities.data?.find((f) => f.id === fid)?.name ?? fid;

  const toggleActive = async (u: UserSummary) => {
    await rowAction.run(async () => {
      const updated = await api.patch<UserSummary>(`/api/admin/users/${encodeURIComponent(u.id)}`, { active: !u.active });
      users.setData((prev) => prev?.map((x) => (x.id === updated.id ? updated : x)) ?? null);
    });
  };

  return (
    <Page
      title={t('admin.users.title')}
      testId="admin-users"
      actions={
        <button type="button" className="btn btn-primary" data-testid="user-new" aria-expanded={showForm} onClick={() => setShowForm((s) => !s)}>
          {showForm ? t('common.close') : t('admin.users.new')}
        </button>
      }
    >
      {showForm && facilities.data ? (
        <Panel title={t('admin.users.new')}>
          <NewUserForm facilities={facilities.data} onCreated={(u) => users.setData((prev) => [...(prev ?? []), u])} />
        </Panel>
      ) : null}
      {rowAction.error ? <ErrorNote error={rowAction.error} /> : null}
      <Panel>
        <Loaded res={users} what={t('admin.users.title')}>
          {(list) => (
            <DataTable
              testId="users-table"
              rows={list}
              rowKey={(u) => u.id}
              rowProps={(u) => ({ testId: `user-row-${u.email}` })}
              columns={[
                {
                  header: t('admin.users.name'),
                  cell: (u) => (
                    <>
                      <strong translate="no" title={u.id}>
                        {u.displayName}
                      </strong>
                      {u.specialty ? <div className="muted small">{specialtyName(u.specialty)}</div> : null}
                    </>
                  ),
                },
                { header: t('admin.users.email'), cell: (u) => <span translate="no">{u.email}</span> },
                { header: t('admin.users.role'), cell: (u) => t(roleLabel[u.role]) },
                { header: t('admin.users.facility'), cell: (u) => <span translate="no">{facilityName(u.facilityId)}</span> },
                { header: t('admin.users.status'), cell: (u) => <ActiveBadge active={u.active} /> },
              ]}
              actions={(u) => (
                <button
                  type="button"
                  className={`btn btn-small ${u.active ? 'btn-danger-outline' : 'btn-secondary'}`}
                  data-testid={`user-toggle-${u.email}`}
                  onClick={() => void toggleActive(u)}
                >
                  {u.active ? t('admin.users.disable') : t('admin.users.enable')}
                  <span className="sr-only" translate="no">
                    {' '}
                    {u.displayName}
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
