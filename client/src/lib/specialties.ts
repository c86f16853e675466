/** The specialty code list (codes stored on users and consult requests) with vi/en labels. */
import { useI18n } from '../i18n';
import { specialtyKey } from './consult-labels';

export { SPECIALTIES, specialtyKey } from './consult-labels';

/** Label of a specialty code in the UI language; an unknown (free-text) specialty is shown as written. */
export function useSpecialtyName(): (code: string) => string {
  const { t } = useI18n();
  return (code: string) => {
    const key = specialtyKey(code);
    return key ? t(key) : code;
  };
}
