/**
 * The consult view carries the caller's allowedActions, decided by the state machine on the
 * server (the client renders only those): each party sees its own, never another's.
 */
import type { ConsultView } from '../../../contracts/consult-api';
import { findDemoPatient, getConsult, loginParty, requestConsult, transition, type ConsultParty } from '../../support/consult-flow';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
let referrer: ConsultParty;
let specialist: ConsultParty;
let radiologist: ConsultParty;

beforeAll(async () => {
  tp = await startTestPlatform();
  referrer = await loginParty(tp, DEMO.referrer);
  specialist = await loginParty(tp, DEMO.specialist);
  radiologist = await loginParty(tp, DEMO.radiologist);
});
afterAll(() => tp.close());

const sorted = (v: ConsultView) => [...v.allowedActions].sort();

test('requested: the requester may cancel, the candidate specialist may accept or decline, and each view says so', async () => {
  const patientId = await findDemoPatient(tp, referrer);
  const consult = await requestConsult(tp, referrer, patientId);
  expect(consult.allowedActions).toContain('cancel');
  expect(consult.allowedActions).not.toContain('accept');
  const asSpecialist = await getConsult(tp, specialist, consult.id);
  expect(asSpecialist.allowedActions).toEqual(expect.arrayContaining(['accept', 'decline']));
  expect(asSpecialist.allowedActions).not.toContain('cancel');
});

test('accepted: the requester can still cancel (the server allows it, so the room offers it); the specialist can schedule or start', async () => {
  const patientId = await findDemoPatient(tp, referrer);
  const consult = await requestConsult(tp, referrer, patientId);
  const accepted = await transition(tp, specialist, consult.id, 'accept', 'accepted');
  expect(accepted.allowedActions).toEqual(expect.arrayContaining(['schedule', 'start']));
  expect(accepted.allowedActions).not.toContain('accept');
  const asReferrer = await getConsult(tp, referrer, consult.id);
  expect(asReferrer.allowedActions).toContain('cancel');
  expect(asReferrer.allowedActions).not.toContain('start');
  // One party's view is never another's: the lists differ.
  expect(sorted(asReferrer)).not.toEqual(sorted(accepted));
  // A radiologist who is not a participant cannot read it at all.
  const res = await tp.api('GET', `/api/consults/${consult.id}`, { token: radiologist.token });
  expect([403, 404]).toContain(res.status);
});
