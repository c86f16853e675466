import type { UserRole } from '../../../contracts/api';
import { useI18n, type Lang, type MessageKey } from '../i18n';
import { Link, usePath } from '../lib/router';
import { useMe, useSession } from '../lib/session';
import { SignOutButton } from '../offline/SignOutButton';

export const roleLabel: Record<UserRole, MessageKey> = {
  referring_doctor: 'role.referring_doctor',
  specialist: 'role.specialist',
  radiologist: 'role.radiologist',
  admin: 'role.admin',
};

/** A consult participant's role (contracts/consult-api CONSULT_PARTICIPANT_ROLES). */
export const participantRoleLabel: Record<string, MessageKey> = {
  requester: 'participant.requester',
  specialist: 'participant.specialist',
  radiologist: 'role.radiologist',
  invited: 'participant.invited',
};

/** A role name from the server (a user role or a consult participant role) in the reader's language. */
export function useRoleName(): (role: string) => string {
  const { t } = useI18n();
  return (role) => (role in roleLabel ? t(roleLabel[role as UserRole]) : participantRoleLabel[role] ? t(participantRoleLabel[role]) : role);
}

interface NavItem {
  to: string;
  label: MessageKey;
  testId: string;
}

export const navByRole: Record<UserRole, NavItem[]> = {
  referring_doctor: [
    { to: '/patients', label: 'nav.patients', testId: 'nav-patients' },
    { to: '/consults/new', label: 'nav.newConsult', testId: 'nav-new-consult' },
    { to: '/consults', label: 'nav.myRequests', testId: 'nav-my-requests' },
  ],
  specialist: [
    { to: '/queue', label: 'nav.queue', testId: 'nav-queue' },
    { to: '/consults', label: 'nav.myConsults', testId: 'nav-my-consults' },
  ],
  radiologist: [
    { to: '/worklist', label: 'nav.worklist', testId: 'nav-worklist' },
    { to: '/consults', label: 'nav.myConsults', testId: 'nav-my-consults' },
  ],
  admin: [
    { to: '/admin/users', label: 'nav.users', testId: 'nav-admin-users' },
    { to: '/admin/facilities', label: 'nav.facilities', testId: 'nav-admin-facilities' },
    { to: '/admin/break-glass', label: 'nav.breakGlass', testId: 'nav-admin-break-glass' },
    { to: '/admin/audit', label: 'nav.audit', testId: 'nav-admin-audit' },
  ],
};

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  const options: { value: Lang; label: string; short: string }[] = [
    { value: 'vi', label: 'Tiếng Việt', short: 'VI' },
    { value: 'en', label: 'English', short: 'EN' },
  ];
  return (
    <div className="lang-switch" role="group" aria-label={t('header.language')} data-testid="lang-switch">
      {/* Language names are written in their own language: not translated. */}
      {options.map((o) => (
        <button
          key={o.value}
          type="button"
          lang={o.value}
          translate="no"
          className={lang === o.value ? 'active' : ''}
          aria-pressed={lang === o.value}
          aria-label={`${o.short} – ${o.label}`}
          title={o.label}
          data-testid={`lang-${o.value}`}
          onClick={() => setLang(o.value)}
        >
          {o.short}
        </button>
      ))}
    </div>
  );
}

export function Header() {
  const me = useMe();
  const { connection } = useSession();
  const { t } = useI18n();
  const path = usePath();
  const items = navByRole[me.role];
  return (
    <header className="app-header" data-testid="app-header">
      <div className="header-top">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            +
          </span>
          <span className="brand-text">
            <strong>{t('app.name')}</strong>
            <small>{t('app.tagline')}</small>
          </span>
        </Link>
        <div className="header-user">
          <span className={`conn conn-${connection}`} data-testid="connection-state" title={t(`conn.${connection}`)}>
            <span className="conn-dot" aria-hidden="true" />
            <span className="sr-only">{t(`conn.${connection}`)}</span>
          </span>
          <div className="user-block">
            <span className="user-name" data-testid="header-user" translate="no">
              {me.displayName}
            </span>
            <span className="user-meta">
              <span data-testid="header-role">{t(roleLabel[me.role])}</span>
              {me.facility ? (
                <>
                  {' · '}
                  <span data-testid="header-facility" translate="no">
                    {me.facility.name}
                  </span>
                </>
              ) : null}
            </span>
          </div>
          <LanguageSwitch />
          <SignOutButton />
        </div>
      </div>
      <nav className="app-nav" aria-label={t('header.nav')}>
        <ul>
          {items.map((i) => {
            const current = path === i.to || (i.to !== '/consults' && path.startsWith(`${i.to}/`));
            return (
              <li key={i.to}>
                <Link to={i.to} data-testid={i.testId} aria-current={current ? 'page' : undefined} className={current ? 'current' : ''}>
                  {t(i.label)}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
    </header>
  );
}
