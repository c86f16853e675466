/**
 * People and patients by name, not by id: ids are resolved through GET /api/directory/names
 * (patients for administrators only, audited there). The id stays available on hover (title) and
 * with a copy button.
 */
import { useEffect, useMemo, useState } from 'react';
import type { NamesResponse } from '../../../contracts/directory-api';
import { useI18n } from '../i18n';
import { useSession } from './session';

const EMPTY: NamesResponse = { users: {}, patients: {} };

/** Names for the given ids (users always; patients when `patients` is asked for, i.e. on admin screens). */
export function useNames(userIds: readonly (string | null | undefined)[], patientIds: readonly (string | null | undefined)[] = []): NamesResponse {
  const { api } = useSession();
  const users = useMemo(() => [...new Set(userIds.filter((x): x is string => Boolean(x)))].sort().slice(0, 200).join(','), [userIds]);
  const patients = useMemo(() => [...new Set(patientIds.filter((x): x is string => Boolean(x)))].sort().slice(0, 200).join(','), [patientIds]);
  const [names, setNames] = useState<NamesResponse>(EMPTY);
  useEffect(() => {
    if (!users && !patients) return;
    let live = true;
    const q = new URLSearchParams();
    if (users) q.set('users', users);
    if (patients) q.set('patients', patients);
    api
      .get<NamesResponse>(`/api/directory/names?${q.toString()}`)
      .then((n) => live && setNames(n))
      .catch(() => undefined); // the ids stay shown (hover) when names cannot be had
    return () => {
      live = false;
    };
  }, [api, users, patients]);
  return names;
}

/** A name with its id on hover and a copy-the-id button. */
export function NameWithId({ name, id, testId }: { name: string | undefined; id: string; testId?: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <span className="name-with-id" title={id} data-id={id} data-testid={testId}>
      <span translate="no">{name ?? id}</span>
      <button
        type="button"
        className="btn-copy"
        aria-label={t('names.copyId')}
        title={t('names.copyId')}
        onClick={() => {
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- runtime: navigator.clipboard is undefined outside secure contexts
          void navigator.clipboard?.writeText(id).then(
            () => setCopied(true),
            () => undefined,
          );
        }}
      >
        {copied ? '✓' : '⧉'}
      </button>
    </span>
  );
}
