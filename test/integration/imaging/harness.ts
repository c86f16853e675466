/**
 * The real platform (FerretDB, auth, audit, realtime) plus the imaging feature mounted on a second
 * HTTP server with a stand-in PatientRecords (FakeRecords) — needed until the EMR lands. Uses the
 * real TriageEngine (onnxruntime worker threads) unless told otherwise.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { requireAuth } from '../../../server/auth/middleware';
import { secretFromConfigOrDataDir } from '../../../server/auth/secrets';
import { AccessTokens } from '../../../server/auth/tokens';
import { createHttpApp } from '../../../server/http/app';
import { createImagingFeature, type ImagingFeatureOptions } from '../../../server/imaging/feature';
import { PlatformMetrics } from '../../../server/observability/metrics';
import type { Feature, FeatureContext } from '../../../server/platform/feature';
import { processSharedState } from '../../../server/platform/shared-state';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../contracts/events';
import { apiClient, startTestPlatform, type TestPlatform } from '../../support/platform';
import { FakeRecords } from './fake-records';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const DICOM = path.join(REPO, 'test', 'fixtures', 'dicom');
export const CXR = path.join(REPO, 'test', 'fixtures', 'cxr');

export const PATIENT_MOCCHAU = 'pat-mocchau-1';
export const PATIENT_BACHA = 'pat-bacha-1';

export interface ImagingHarness {
  tp: TestPlatform;
  records: FakeRecords;
  feature: Feature;
  /** Base URL of the server with the imaging routes. */
  url: string;
  api: TestPlatform['api'];
  upload(token: string, file: Uint8Array | Blob, fields: Record<string, string>, filename?: string): Promise<{ status: number; body: any; headers: Headers }>;
  socket(token: string): Promise<Socket<ServerToClientEvents, ClientToServerEvents>>;
  close(): Promise<void>;
}

export async function startImagingHarness(options: ImagingFeatureOptions = {}, env: Record<string, string> = {}): Promise<ImagingHarness> {
  // The platform's own imaging feature (stub EMR) must not load a second model set.
  const tp = await startTestPlatform({ HOICHAN_TRIAGE_WEIGHTS_DIR: path.join(REPO, 'no-such-weights'), ...env });
  const { config, logger, events, realtime, audit } = tp.platform;
  const accessTokens = new AccessTokens({
    secret: secretFromConfigOrDataDir(config.auth.jwtSecret, config.dataDir, 'jwt-secret'),
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    ttlS: config.auth.accessTokenTtlS,
  });
  const metrics = new PlatformMetrics();
  const ctx: FeatureContext = {
    // The harness's own imaging feature loads the models as a server would (ml/weights unless told otherwise).
    config: { ...config, imaging: { ...config.imaging, triageWeightsDir: process.env.HOICHAN_TRIAGE_WEIGHTS_DIR } },
    logger,
    metrics,
    conn: tp.platform.db.database.connection,
    audit,
    accessTokens,
    requireAuth: requireAuth(accessTokens),
    events,
    realtime,
    shared: processSharedState(),
  };
  const records = new FakeRecords();
  records.addPatient({ id: PATIENT_MOCCHAU, name: 'Nguyễn Thị Hoa', birthDate: '1961-04-02', gender: 'female', careTeamFacilityIds: ['fac-mocchau'] });
  records.addPatient({ id: PATIENT_BACHA, name: 'Lò Văn Sáng', birthDate: '1975-09-30', gender: 'male', careTeamFacilityIds: ['fac-bacha'] });
  records.grantConsult('usr-radiologist', PATIENT_MOCCHAU);
  const feature = await createImagingFeature(ctx, { records }, { fhirRetryMs: 0, ...options });
  const app = createHttpApp({
    logger,
    metrics,
    jsonBodyLimit: config.http.jsonBodyLimit,
    isDatabaseReachable: () => tp.platform.db.database.isReachable(),
    mounts: feature.mounts ?? [],
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sockets: Socket[] = [];

  const api = apiClient(url);

  return {
    tp,
    records,
    feature,
    url,
    api,
    async upload(token, file, fields, filename = 'image.dcm') {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append('file', file instanceof Blob ? file : new Blob([new Uint8Array(file)]), filename);
      const res = await fetch(`${url}/api/imaging/studies`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* keep text */
      }
      return { status: res.status, body, headers: res.headers };
    },
    async socket(token) {
      const s: Socket<ServerToClientEvents, ClientToServerEvents> = connectSocket(tp.url, {
        path: '/socket.io',
        auth: { token },
        transports: ['websocket'],
        forceNew: true,
      });
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('session:ready', () => resolve());
        s.once('connect_error', reject);
      });
      return s;
    },
    async close() {
      for (const s of sockets) s.disconnect();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await feature.close?.();
      await tp.close();
    },
  };
}

/** Every file under a folder (relative paths, with sizes), to prove nothing was left behind. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      const p = path.join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${path.relative(root, p)}:${st.size}`);
    }
  };
  walk(root);
  return out.sort();
}
