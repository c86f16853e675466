import { useEffect, type ReactNode } from 'react';
import type { UserRole } from '../../contracts/api';
import { Header, navByRole } from './components/Header';
import { Spinner } from './components/ui';
import { useI18n } from './i18n';
import { navigate, resolve, usePath, type Route } from './lib/router';
import { useSession } from './lib/session';
import { AdminAudit, AdminBreakGlass } from './screens/admin/Audit';
import { AdminFacilities } from './screens/admin/Facilities';
import { AdminUsers } from './screens/admin/Users';
import { Login } from './screens/Login';
import { MyPatients } from './screens/doctor/MyPatients';
import { PatientRecord } from './screens/doctor/PatientRecord';
import { NewConsult } from './screens/doctor/NewConsult';
import { ConsultList } from './screens/doctor/ConsultList';
import { SpecialistQueue } from './screens/specialist/Queue';
import { ConsultRoom } from './screens/room/ConsultRoom';
import { Worklist } from './screens/radiologist/Worklist';
import { OutboxSender } from './offline/OutboxList';

function only(roles: UserRole[], role: UserRole, node: ReactNode): ReactNode {
  return roles.includes(role) ? node : <Forbidden />;
}

function Forbidden() {
  const { t } = useI18n();
  return (
    <section className="page" data-testid="forbidden">
      <h1>{t('common.forbiddenTitle')}</h1>
      <p>{t('common.forbiddenBody')}</p>
    </section>
  );
}

function NotFound() {
  const { t } = useI18n();
  return (
    <section className="page" data-testid="not-found">
      <h1>{t('common.notFoundTitle')}</h1>
    </section>
  );
}

function routesFor(role: UserRole): Route[] {
  const clinical: UserRole[] = ['referring_doctor', 'specialist', 'radiologist'];
  return [
    { pattern: '/admin/users', render: () => only(['admin'], role, <AdminUsers />) },
    { pattern: '/admin/facilities', render: () => only(['admin'], role, <AdminFacilities />) },
    { pattern: '/admin/break-glass', render: () => only(['admin'], role, <AdminBreakGlass />) },
    { pattern: '/admin/audit', render: () => only(['admin'], role, <AdminAudit />) },
    { pattern: '/patients', render: () => only(clinical, role, <MyPatients />) },
    { pattern: '/patients/:id', render: (p) => only(clinical, role, <PatientRecord patientId={p.id ?? ''} />) },
    { pattern: '/consults/new', render: () => only(['referring_doctor'], role, <NewConsult />) },
    { pattern: '/consults', render: () => only(clinical, role, <ConsultList />) },
    { pattern: '/consults/:id', render: (p) => only(clinical, role, <ConsultRoom consultId={p.id ?? ''} />) },
    { pattern: '/queue', render: () => only(['specialist'], role, <SpecialistQueue />) },
    { pattern: '/worklist', render: () => only(['radiologist'], role, <Worklist />) },
  ];
}

export function App() {
  const { me, restoring } = useSession();
  const { t } = useI18n();
  const path = usePath();

  useEffect(() => {
    if (me && (path === '/' || path === '/login')) navigate(navByRole[me.role][0]?.to ?? '/', { replace: true });
  }, [me, path]);

  if (restoring) return <Spinner />;
  if (!me) return <Login />;
  const page = resolve(routesFor(me.role), path);
  return (
    <div className="app">
      <a href="#main" className="skip-link">
        {t('common.skipToContent')}
      </a>
      <Header />
      {me.role === 'referring_doctor' ? <OutboxSender /> : null}
      <main id="main" tabIndex={-1} className="app-main">
        {page ?? (path === '/' ? <Spinner /> : <NotFound />)}
      </main>
    </div>
  );
}
