/**
 * Who may enter the test call. TEMPORARY until the consult feature (issue 4) lands:
 * `server/consults/feature.ts` is still a stub whose `callAdmission` returns null, so the tests
 * replace only that function (jest.mock in the test file) with this roster; everything else is the
 * real platform (JWT login, socket.io handshake, the sfu feature, mediasoup, Chromium).
 * When `/api/consults` exists: create the consult as the referrer, have the specialist accept it
 * and admit the others from the waiting room, and delete this file and the jest.mock block.
 */
export const mockCallRoster = new Map<string, Map<string, { admitted: boolean; host: boolean; displayName: string }>>();

export function admitToCall(consultId: string, userId: string, opts: { host?: boolean; admitted?: boolean; displayName?: string } = {}): void {
  let consult = mockCallRoster.get(consultId);
  if (!consult) mockCallRoster.set(consultId, (consult = new Map()));
  consult.set(userId, { admitted: opts.admitted ?? true, host: opts.host ?? false, displayName: opts.displayName ?? userId });
}

export async function mockCallAdmission(userId: string, consultId: string) {
  const consult = mockCallRoster.get(consultId);
  if (!consult) return null;
  const p = consult.get(userId);
  return { participant: !!p, admitted: !!p?.admitted, host: !!p?.host, displayName: p?.displayName ?? userId, status: 'in_progress' };
}
