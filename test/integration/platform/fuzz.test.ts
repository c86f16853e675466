/**
 * Fuzz: seeded, bounded in time. ≥ 10,000 generated requests over every operation of
 * /api/openapi.json and the FHIR routes, and ≥ 2,000 socket events (WebSocket, long-polling and
 * raw engine.io polling requests), thrown at a running platform. Asserts: no 5xx, no uncaught
 * error or unhandled rejection in the process, and /healthz answering throughout.
 * HOICHAN_FUZZ_SEED=<n> replays a run; each failure names the seed and the request.
 */
import { io, type Socket } from 'socket.io-client';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

const SEED = Number(process.env.HOICHAN_FUZZ_SEED ?? 20261202);
const MIN_REQUESTS = 10_000;
const MIN_SOCKET_EVENTS = 2_000;
/**
 * Both phases run until their minimum count is reached, however loaded the machine is (a count that
 * depends on CI load is a flaky test); this is only the backstop for a server that stops answering.
 */
const BACKSTOP_MS = 240_000;
const CONCURRENCY = 12;

/** mulberry32: small, seedable, good enough to pick inputs. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Rng = ReturnType<typeof rng>;

const IDS = [
  'pat-demo-hoa',
  'usr-referrer',
  'usr-admin',
  'fac-mocchau',
  'fac-bachmai',
  'study-cxr-1',
  'x0',
  '0',
  '-1',
  '1e309',
  'a'.repeat(70),
  '..',
  '%2e%2e%2f',
  '%00',
  'null',
  'undefined',
  '$ne',
  'Patient',
  'ñ-ờ',
  '__proto__',
  'constructor',
  "'; DROP TABLE x;--",
];
const STRINGS = [
  '',
  ' ',
  'a',
  'x'.repeat(5000),
  '\u0000',
  '\ud800',
  '🙂',
  'Nguyễn Văn A',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '${jndi:ldap://x}',
  '%s%s%n',
  '2026-13-45',
  '1e309',
  'NaN',
  'W/"1"',
  'http://x.example/a|b',
  'null',
];

function hostileValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 8 : 12)) {
    case 0:
      return null;
    case 1:
      return r.pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, 42]);
    case 2:
      return r.chance(0.5);
    case 3:
    case 4:
      return r.pick(STRINGS);
    case 5:
      return r.pick(IDS);
    case 6:
      return new Date(r.int(4e12)).toISOString();
    case 7:
      return r.pick([
        'true',
        'urgent',
        'pulmonology',
        'draft',
        'central',
        'district',
        'specialist',
        'admin',
        'vi',
        'en',
        'tb',
        'nodule',
        'confirmed',
        'rejected',
      ]);
    case 8:
    case 9:
      return Array.from({ length: r.int(4) }, () => hostileValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(4); i > 0; i--)
        o[r.pick(['a', 'id', 'name', 'value', 'resourceType', 'reference', r.pick(['$ne', '$where', 'a.b', '__proto__', 'ok'])])] = hostileValue(r, depth + 1);
      return o;
    }
  }
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  required?: string[];
}

/** A value that follows the schema most of the time, with one part broken now and then. */
/** A hostile value as header text: objects (some without a prototype) as JSON, the rest as String() gives them. */
function asHeader(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

function fromSchema(r: Rng, s: JsonSchema | undefined, depth = 0): unknown {
  if (!s || depth > 5 || r.chance(0.08)) return hostileValue(r);
  if (s.enum?.length) return r.pick(s.enum);
  if (s.anyOf?.length) return fromSchema(r, r.pick(s.anyOf), depth + 1);
  const type = Array.isArray(s.type) ? r.pick(s.type) : s.type;
  switch (type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) if (s.required?.includes(k) || r.chance(0.5)) o[k] = fromSchema(r, v, depth + 1);
      return o;
    }
    case 'array':
      return Array.from({ length: r.int(3) }, () => fromSchema(r, s.items, depth + 1));
    case 'string':
      return r.chance(0.5) ? r.pick(IDS) : r.pick(STRINGS);
    case 'number':
    case 'integer':
      return r.pick([0, 1, 5, -3, 1000000, 0.5]);
    case 'boolean':
      return r.chance(0.5);
    default:
      return hostileValue(r);
  }
}

const FHIR_TYPES = [
  'Patient',
  'Observation',
  'Condition',
  'Encounter',
  'EpisodeOfCare',
  'CareTeam',
  'Practitioner',
  'Organization',
  'Binary',
  'DocumentReference',
  'MedicationRequest',
  'Consent',
  'Bundle',
  'AuditEvent',
  'patient',
  'NotAType',
  '$everything',
];
const FHIR_PARAMS = [
  'patient',
  'subject',
  'code',
  'category',
  '_id',
  '_lastUpdated',
  'identifier',
  'name',
  'birthdate',
  'date',
  '_count',
  '_include',
  '_revinclude',
  '_sort',
  'status',
  'patient:missing',
  'code:text',
  '_elements',
  '_summary',
  'value-quantity',
];
const FHIR_VALUES = [
  'pat-demo-hoa',
  'Patient/pat-demo-hoa',
  'http://loinc.org|8867-4',
  '|E11',
  'ge2020-01-01',
  'lt',
  'Observation:patient',
  '*',
  '-1',
  '0',
  '100000',
  'true',
  'http://x|',
  'a,b,c',
  '%',
  'urn:vn:cccd|001200000001',
  'eq1e309',
];

function fhirResource(r: Rng, type: string): unknown {
  const base: Record<string, unknown> = { resourceType: r.chance(0.9) ? type : r.pick(FHIR_TYPES) };
  if (r.chance(0.5)) base.id = r.pick(IDS);
  if (r.chance(0.5)) base.subject = { reference: r.pick(['Patient/pat-demo-hoa', 'Patient/x0', 'urn:uuid:1', '', 'Patient/../../x']) };
  if (r.chance(0.3)) base.patient = { reference: 'Patient/pat-demo-hoa' };
  if (r.chance(0.3)) base.name = [{ family: r.pick(STRINGS), given: [r.pick(STRINGS)] }];
  if (r.chance(0.3)) base.identifier = [{ system: r.pick(['urn:vn:cccd', 'http://x', '']), value: r.pick(['001200000001', ...STRINGS]) }];
  if (r.chance(0.3)) base.code = { coding: [{ system: 'http://loinc.org', code: r.pick(['8867-4', '', '\u0000']) }] };
  if (r.chance(0.2)) base.managingOrganization = { reference: r.pick(['Organization/fac-mocchau', 'Organization/x']) };
  if (r.chance(0.2)) base.meta = { versionId: hostileValue(r), security: hostileValue(r) };
  if (r.chance(0.2)) base.extension = [{ url: 'http://x', valueString: 'v', extension: hostileValue(r) }];
  if (r.chance(0.2)) base.contained = [hostileValue(r)];
  if (r.chance(0.2))
    base[r.pick(['status', 'valueQuantity', 'effectiveDateTime', 'birthDate', 'active', 'data', 'securityContext', 'provision'])] = hostileValue(r);
  return base;
}

function fhirBundle(r: Rng): unknown {
  const entry = Array.from({ length: r.int(6) }, () => {
    if (r.chance(0.1)) return hostileValue(r);
    const type = r.pick(FHIR_TYPES);
    return {
      fullUrl: r.pick(['urn:uuid:a', 'urn:uuid:b', 'http://x/Patient/1', undefined]),
      resource: r.chance(0.85) ? fhirResource(r, type) : hostileValue(r),
      request: r.chance(0.9)
        ? {
            method: r.pick(['POST', 'PUT', 'DELETE', 'GET', 'PATCH', 'post', hostileValue(r)]),
            url: r.pick([type, `${type}/${r.pick(IDS)}`, `${type}?identifier=x`, '', hostileValue(r)]),
            ifMatch: r.chance(0.2) ? hostileValue(r) : undefined,
            ifNoneExist: r.chance(0.1) ? 'identifier=urn:vn:cccd|1' : undefined,
          }
        : hostileValue(r),
    };
  });
  return {
    resourceType: r.chance(0.95) ? 'Bundle' : 'Patient',
    type: r.pick(['transaction', 'batch', 'batch', 'searchset', hostileValue(r)]),
    entry: r.chance(0.95) ? entry : hostileValue(r),
  };
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function multipart(r: Rng): { type: string; body: string } {
  const boundary = `fz${r.int(1e9)}`;
  const filename = r.pick(['x.png', 'a'.repeat(r.pick([10, 300, 20000])), 'x\u0000.dcm', '../../x', '']);
  const part = `--${boundary}\r\nContent-Disposition: form-data; name="${r.pick(['file', 'patientId', 'text', 'x'])}"; filename="${filename}"\r\nContent-Type: ${r.pick(['image/png', 'application/dicom', 'text/plain'])}\r\n\r\n${r.pick(['\x89PNG\r\n\x1a\n0000', 'not an image', 'DICM', ''])}\r\n`;
  const field = `--${boundary}\r\nContent-Disposition: form-data; name="${r.pick(['patientId', 'text', 'consultId'])}"\r\n\r\n${r.pick(IDS)}\r\n`;
  const end = `--${boundary}--\r\n`;
  const full = r.chance(0.5) ? field + part + end : part + field + end;
  switch (r.int(5)) {
    case 0:
      return { type: 'multipart/form-data', body: full };
    case 1:
      return { type: `multipart/form-data; boundary=${boundary}`, body: full.slice(0, r.int(full.length)) };
    case 2:
      return { type: 'multipart/form-data; boundary=other', body: full };
    default:
      return { type: `multipart/form-data; boundary=${boundary}`, body: full };
  }
}

function fill(r: Rng, template: string): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    if (name === 'type') return encodeURIComponent(r.pick(FHIR_TYPES));
    if (name === 'finding') return r.pick(['tb', 'nodule', 'x', '..']);
    if (name === 'operation') return r.pick(['$everything', '$summary', '$validate', 'x']);
    if (name === 'vid') return r.pick(['1', '2', '0', '-1', 'x', '99999999999999999999']);
    return encodeURIComponent(r.pick(IDS));
  });
}

/** encodeURIComponent, except that a lone surrogate becomes the invalid UTF-8 it would be (%ED%A0%80). */
function enc(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return '%ED%A0%80';
  }
}

function query(r: Rng, params: string[]): string {
  const parts: string[] = [];
  for (let i = r.int(4); i > 0; i--)
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- the value comes off the wire; String() keeps the test honest if it is not a string
    parts.push(`${enc(r.pick(params))}=${enc(String(r.chance(0.5) ? r.pick(FHIR_VALUES) : r.pick([...STRINGS.slice(0, 12), ...IDS.slice(0, 8)])))}`);
  if (r.chance(0.05)) parts.push('a=1&a=2&a[b]=3&__proto__[x]=1');
  return parts.length ? `?${parts.join('&')}` : '';
}

interface Operation {
  method: string;
  path: string;
  schema?: JsonSchema;
  multipart: boolean;
  queryParams: string[];
}

function generate(r: Rng, ops: Operation[], tokens: string[]): FuzzRequest {
  const headers: Record<string, string> = {};
  const auth = r.int(10);
  if (auth < 7) headers.authorization = `Bearer ${r.pick(tokens)}`;
  else if (auth === 7)
    headers.authorization = r.pick([
      'Bearer x.y.z',
      'Basic YTpi',
      'Bearer ',
      `Bearer ${'a'.repeat(5000)}`,
      'bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3ItYWRtaW4ifQ.',
    ]);
  if (r.chance(0.05)) headers['if-match'] = asHeader(hostileValue(r));
  if (r.chance(0.05)) headers['idempotency-key'] = r.pick(['k1', 'k2', 'x'.repeat(300), ' ', 'ключ']);
  if (r.chance(0.03)) headers['x-request-id'] = r.pick(['abc', 'x'.repeat(100), '../../']);
  // FHIR routes get their own generator a third of the time (they are most of the attack surface).
  if (r.chance(0.33)) {
    const type = r.pick(FHIR_TYPES);
    const id = r.pick(IDS);
    const ct = r.pick(['application/fhir+json', 'application/json', 'application/fhir+json; charset=utf-8', 'text/plain', 'application/xml']);
    switch (r.int(8)) {
      case 0:
        return { method: 'POST', path: '/fhir/R4', headers: { ...headers, 'content-type': ct }, body: JSON.stringify(fhirBundle(r)) };
      case 1:
        return { method: 'GET', path: `/fhir/R4/${encodeURIComponent(type)}${query(r, FHIR_PARAMS)}`, headers };
      case 2:
        return {
          method: 'POST',
          path: `/fhir/R4/${encodeURIComponent(type)}`,
          headers: { ...headers, 'content-type': ct },
          body: r.chance(0.1) ? '{"resourceType":' : JSON.stringify(fhirResource(r, type)),
        };
      case 3:
        return {
          method: 'PUT',
          path: `/fhir/R4/${encodeURIComponent(type)}/${encodeURIComponent(id)}`,
          headers: { ...headers, 'content-type': ct },
          body: JSON.stringify(fhirResource(r, type)),
        };
      case 4:
        return {
          method: r.pick(['GET', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']),
          path: `/fhir/R4/${encodeURIComponent(type)}/${encodeURIComponent(id)}`,
          headers,
        };
      case 5:
        return {
          method: 'GET',
          path: `/fhir/R4/${encodeURIComponent(type)}/${encodeURIComponent(id)}/_history${r.chance(0.5) ? `/${r.pick(['1', '0', 'x', '2'])}` : ''}`,
          headers,
        };
      case 6:
        return {
          method: 'GET',
          path: `/fhir/R4/Patient/${encodeURIComponent(r.pick(IDS))}/${r.pick(['$everything', '$summary', '$x'])}${query(r, ['_since', '_type', '_count'])}`,
          headers,
        };
      default:
        return {
          method: 'GET',
          path: r.pick(['/fhir/R4/metadata', '/fhir/R4/', '/fhir/R4//Patient', '/fhir/R4/Patient/%ZZ', '/fhir/R4/Patient?_count=99999999999999999999']),
          headers,
        };
    }
  }
  const op = r.pick(ops);
  const path = fill(r, op.path) + (op.queryParams.length || r.chance(0.1) ? query(r, op.queryParams.length ? op.queryParams : ['x']) : '');
  if (op.multipart || r.chance(0.02)) {
    const mp = multipart(r);
    return { method: op.method, path, headers: { ...headers, 'content-type': mp.type }, body: mp.body };
  }
  if (op.method === 'GET' || op.method === 'DELETE') return { method: op.method, path, headers };
  let body: string;
  switch (r.int(12)) {
    case 0:
      body = '{"a":'.repeat(200) + '1' + '}'.repeat(200);
      break;
    case 1:
      body = r.pick(['{', '[', 'nul', '"x"', '1', '{"a":1,}', '\u0000', '{"__proto__":{"admin":true}}']);
      break;
    case 2:
      body = JSON.stringify(hostileValue(r));
      break;
    default:
      body = JSON.stringify(fromSchema(r, op.schema));
  }
  return {
    method: op.method,
    path,
    headers: {
      ...headers,
      'content-type': r.chance(0.9)
        ? 'application/json'
        : r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/merge-patch+json']),
    },
    body,
  };
}

/** Header values as bytes on the wire: UTF-8 sent raw (fetch takes Latin-1 strings), no CR/LF/NUL. */
function wireHeaders(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    // eslint-disable-next-line no-control-regex -- strips NUL from fuzzed header values, on purpose
    Object.entries(h).map(([k, v]) => [k, Buffer.from(v.replace(/[\r\n\u0000]/g, ' ').replace(/[\ud800-\udfff]/g, '?'), 'utf8').toString('latin1')]),
  );
}

let tp: TestPlatform;
const processErrors: string[] = [];
const onRejection = (reason: unknown) => processErrors.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
const onException = (err: Error) => processErrors.push(`uncaughtException: ${err.stack ?? String(err)}`);
beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  tp = await startTestPlatform({ SFU_WORKERS: '1' });
});
afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  await tp?.close();
});

test(
  `fuzz (seed ${SEED}): ≥ ${MIN_REQUESTS} requests and ≥ ${MIN_SOCKET_EVENTS} socket events, no 5xx, /healthz up throughout`,
  async () => {
    const started = Date.now();
    const deadline = started + BACKSTOP_MS;
    const tokens = await Promise.all([DEMO.referrer, DEMO.specialist, DEMO.radiologist, DEMO.admin].map(async (e) => (await tp.login(e)).accessToken));
    const doc = (await tp.api('GET', '/api/openapi.json')).body as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: JsonSchema }> }; parameters?: { in: string; name: string }[] }>>;
    };
    const ops: Operation[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([m, op]) => ({
        method: m.toUpperCase(),
        path,
        schema: op.requestBody?.content['application/json']?.schema,
        multipart: Boolean(op.requestBody?.content['multipart/form-data']),
        queryParams: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      })),
    );
    expect(ops.length).toBeGreaterThan(40);
    const listening = tp.platform.httpServer;

    // /healthz every 250 ms, for the whole run.
    const health: { at: number; status: number; ms: number }[] = [];
    let running = true;
    const prober = (async () => {
      while (running) {
        const t0 = Date.now();
        const status = await fetch(`${tp.url}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
          (r) => r.status,
          () => 0,
        );
        health.push({ at: t0, status, ms: Date.now() - t0 });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    // HTTP
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const cost = new Map<string, { n: number; ms: number }>();
    let sent = 0;
    const r = rng(SEED);
    const worker = async () => {
      while (Date.now() < deadline && (sent < MIN_REQUESTS || (Date.now() < started + 20_000 && sent < MIN_REQUESTS * 3))) {
        const req = generate(r, ops, tokens);
        const n = ++sent;
        let status = 0;
        // eslint-disable-next-line no-useless-assignment -- kept for readability of the fixture
        let text = '';
        const t0 = Date.now();
        try {
          const res = await fetch(`${tp.url}${req.path}`, {
            method: req.method,
            headers: wireHeaders(req.headers),
            body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body,
            signal: AbortSignal.timeout(30_000),
          });
          status = res.status;
          text = await res.text();
        } catch (err) {
          text = String((err as Error).cause ?? err);
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const kind = `${req.method} ${req.path.split('?')[0]!.split('/').slice(0, 4).join('/')}`;
        const k = cost.get(kind) ?? { n: 0, ms: 0 };
        k.n++;
        k.ms += Date.now() - t0;
        cost.set(kind, k);
        if (status >= 500 || status === 0)
          failures.push(`#${n} ${req.method} ${req.path.slice(0, 200)} → ${status} ${text.slice(0, 300)} body=${(req.body ?? '').slice(0, 300)}`);
      }
    };

    // Sockets: connect (WebSocket or polling), send a burst of known and unknown events with random
    // payloads, go; plus raw engine.io polling requests with garbage.
    const socketEvents = { sent: 0, raw: 0 };
    const s = rng(SEED + 1);
    const EVENTS = [
      'session:ping',
      'consult:join',
      'consult:leave',
      'consult:admit',
      'consult:message',
      'sfu:join',
      'sfu:create-transport',
      'sfu:connect-transport',
      'sfu:produce',
      'sfu:consume',
      'sfu:pause',
      'sfu:resume',
      'sfu:stats',
      'sfu:restart-ice',
      'sfu:set-preferred-layers',
      'record:subscribe',
      'x',
      'constructor',
      '__proto__',
      'hasOwnProperty',
      'a'.repeat(1000),
    ];
    const socketLoop = async () => {
      while (Date.now() < deadline && socketEvents.sent < MIN_SOCKET_EVENTS * 1.25) {
        if (s.chance(0.25)) {
          // raw engine.io: handshake, then garbage POSTs and polls on the session
          const hs = await fetch(`${tp.url}/socket.io/?EIO=4&transport=polling`).then(
            (x) => x.text(),
            () => '',
          );
          const sid = /"sid":"([^"]+)"/.exec(hs)?.[1] ?? 'nosid';
          for (let i = 0; i < 5; i++) {
            const body = s.pick([
              '40',
              '40{"token":"x"}',
              `42["session:ping"]`,
              '42["disconnect"]',
              '42["error",{}]',
              '42[{"$ne":1}]',
              '452-["x",{"_placeholder":true,"num":0}]',
              '\u0000\u0001',
              '4'.repeat(s.int(200)),
              '1',
              '2probe',
              `40${JSON.stringify({ token: s.pick(tokens) })}`,
              '',
            ]);
            const url = `${tp.url}/socket.io/?EIO=${s.pick(['4', '3', 'x'])}&transport=${s.pick(['polling', 'polling', 'websocket', 'x'])}&sid=${s.chance(0.8) ? sid : s.pick(IDS)}`;
            const res = await fetch(url, {
              method: s.pick(['POST', 'GET', 'POST', 'PUT']),
              body: undefined,
              ...(s.chance(0.7) ? { method: 'POST', body } : {}),
              signal: AbortSignal.timeout(3000),
            }).catch(() => null);
            socketEvents.raw++;
            socketEvents.sent++;
            if (res && res.status >= 500) failures.push(`socket.io raw ${url} → ${res.status}`);
            await res?.arrayBuffer().catch(() => undefined);
          }
          continue;
        }
        const sock: Socket = io(tp.url, {
          path: '/socket.io',
          auth: { token: s.chance(0.9) ? s.pick(tokens) : 'garbage' },
          transports: [s.chance(0.5) ? 'polling' : 'websocket'],
          reconnection: false,
          forceNew: true,
          timeout: 5000,
        });
        const ok = await new Promise<boolean>((resolve) => {
          sock.once('session:ready', () => resolve(true));
          sock.once('connect_error', () => resolve(false));
          setTimeout(() => resolve(false), 5000);
        });
        if (ok) {
          const burst = 20 + s.int(60);
          for (let i = 0; i < burst && sock.connected; i++) {
            const event = s.pick(EVENTS);
            const args = Array.from({ length: s.int(3) }, () =>
              s.chance(0.5)
                ? fromSchema(s, {
                    type: 'object',
                    properties: {
                      consultId: { type: 'string' },
                      userId: { type: 'string' },
                      text: { type: 'string' },
                      transportId: { type: 'string' },
                      direction: { enum: ['send', 'recv', 'x'] },
                    },
                  })
                : hostileValue(s),
            );
            try {
              if (s.chance(0.7)) sock.timeout(2000).emit(event, ...args, () => undefined);
              else sock.emit(event, ...args);
            } catch {
              /* a name the client itself refuses */
            }
            socketEvents.sent++;
            if (s.chance(0.1)) await new Promise((res) => setTimeout(res, 20));
          }
          await new Promise((res) => setTimeout(res, 100));
        }
        sock.disconnect();
      }
    };

    await Promise.all([...Array.from({ length: CONCURRENCY }, worker), socketLoop()]);
    running = false;
    await prober;
    const elapsed = Date.now() - started;
    const summary = `seed ${SEED}: ${sent} requests, ${socketEvents.sent} socket events (${socketEvents.raw} raw polling requests) in ${(elapsed / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`;
    process.stdout.write(`${summary}\n`);
    if (process.env.HOICHAN_FUZZ_COST) process.stdout.write(`${JSON.stringify([...cost].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15))}\n`);

    expect({ summary, failures: failures.slice(0, 25), count: failures.length }).toEqual({ summary, failures: [], count: 0 });
    expect(processErrors).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect(socketEvents.sent).toBeGreaterThanOrEqual(MIN_SOCKET_EVENTS);
    // No restart: the same server is listening, and /healthz answered 200 every time, within 5 s.
    expect(tp.platform.httpServer).toBe(listening);
    expect(listening.listening).toBe(true);
    expect(health.length).toBeGreaterThan(10);
    expect(health.filter((h) => h.status !== 200)).toEqual([]);
    expect((await tp.api('GET', '/healthz')).status).toBe(200);
  },
  BACKSTOP_MS + 60_000,
);
