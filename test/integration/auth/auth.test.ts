import jwt from 'jsonwebtoken';
import { DEMO, startTestPlatform, type TestPlatform } from '../../support/platform';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_ATTEMPTS_PER_IP: '1000' });
});
afterAll(async () => {
  await tp.close();
});

describe('login and /api/me', () => {
  test('the demo specialist logs in and /api/me names them', async () => {
    const pair = await tp.login(DEMO.specialist);
    expect(pair.tokenType).toBe('Bearer');
    expect(pair.expiresIn).toBeLessThanOrEqual(900);
    const me = await tp.api('GET', '/api/me', { token: pair.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: DEMO.specialist, role: 'specialist', facility: { tier: 'central' } });
    const claims = jwt.decode(pair.accessToken) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: 'usr-specialist', role: 'specialist', facility: 'fac-bachmai', iss: 'hoichan', aud: 'hoichan-api' });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBeLessThanOrEqual(900);
  });

  test('wrong password and unknown account give the same 401', async () => {
    const a = await tp.api('POST', '/api/auth/login', { body: { email: DEMO.radiologist, password: 'nope' } });
    const b = await tp.api('POST', '/api/auth/login', { body: { email: 'nobody@x.demo', password: 'nope' } });
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(a.body.message).toBe(b.body.message);
  });

  test('malformed JSON and missing fields are 400 with a message', async () => {
    const bad = await tp.api('POST', '/api/auth/login', { body: '{"email":' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'malformed_json', message: expect.any(String) });
    const missing = await tp.api('POST', '/api/auth/login', { body: { email: DEMO.admin } });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toMatch(/password/);
  });

  test.each([
    ['no token', undefined],
    ['garbage', 'not-a-jwt'],
    [
      'another key',
      jwt.sign({ role: 'admin', facility: 'fac-bachmai' }, 'some-other-secret-0123456789012345678', {
        subject: 'usr-admin',
        issuer: 'hoichan',
        audience: 'hoichan-api',
        expiresIn: 60,
      }),
    ],
    [
      'expired',
      jwt.sign({ role: 'admin', facility: 'fac-bachmai' }, 'test-secret-that-is-long-enough-0123456789', {
        subject: 'usr-admin',
        issuer: 'hoichan',
        audience: 'hoichan-api',
        expiresIn: -10,
      }),
    ],
    [
      'wrong audience',
      jwt.sign({ role: 'admin', facility: 'fac-bachmai' }, 'test-secret-that-is-long-enough-0123456789', {
        subject: 'usr-admin',
        issuer: 'hoichan',
        audience: 'elsewhere',
        expiresIn: 60,
      }),
    ],
    [
      'alg none',
      `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'usr-admin', role: 'admin', facility: 'fac-bachmai', iss: 'hoichan', aud: 'hoichan-api', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url')}.`,
    ],
  ])('%s → 401 with a message', async (_name, token) => {
    const res = await tp.api('GET', '/api/me', { token });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthorized', message: expect.any(String) });
  });
});

describe('refresh tokens', () => {
  test('rotate: each refresh token works once and yields a new pair', async () => {
    const first = await tp.login(DEMO.referrer);
    const second = await tp.api('POST', '/api/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    const me = await tp.api('GET', '/api/me', { token: second.body.accessToken });
    expect(me.body.email).toBe(DEMO.referrer);
  });

  test('reusing an old refresh token revokes the whole family', async () => {
    const first = await tp.login(DEMO.referrer);
    const second = (await tp.api('POST', '/api/auth/refresh', { body: { refreshToken: first.refreshToken } })).body;
    const reuse = await tp.api('POST', '/api/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.message).toMatch(/already used/);
    // the legitimate newest token of the family is now dead too
    const after = await tp.api('POST', '/api/auth/refresh', { body: { refreshToken: second.refreshToken } });
    expect(after.status).toBe(401);
    // other sessions of the same user are unaffected
    const other = await tp.login(DEMO.referrer);
    expect((await tp.api('POST', '/api/auth/refresh', { body: { refreshToken: other.refreshToken } })).status).toBe(200);
  });

  test('logout revokes the session', async () => {
    const pair = await tp.login(DEMO.radiologist);
    const out = await tp.api('POST', '/api/auth/logout', { token: pair.accessToken, body: { refreshToken: pair.refreshToken } });
    expect(out.status).toBe(204);
    expect((await tp.api('POST', '/api/auth/refresh', { body: { refreshToken: pair.refreshToken } })).status).toBe(401);
  });
});

describe('roles', () => {
  test('admin routes need the admin role', async () => {
    const spec = await tp.login(DEMO.specialist);
    const denied = await tp.api('GET', '/api/admin/users', { token: spec.accessToken });
    expect(denied.status).toBe(403);
    const admin = await tp.login(DEMO.admin);
    const ok = await tp.api('GET', '/api/admin/users', { token: admin.accessToken });
    expect(ok.status).toBe(200);
    expect(ok.body.map((u: { email: string }) => u.email)).toEqual(expect.arrayContaining(Object.values(DEMO)));
    expect(JSON.stringify(ok.body)).not.toMatch(/passwordHash|scrypt/);
  });

  test('an admin creates a user who can then log in; disabling them ends their sessions', async () => {
    const admin = await tp.login(DEMO.admin);
    const created = await tp.api('POST', '/api/admin/users', {
      token: admin.accessToken,
      body: { email: 'new.doctor@district.demo', displayName: 'BS. Mới', role: 'referring_doctor', facilityId: 'fac-bacha', password: 'a-long-password-1' },
    });
    expect(created.status).toBe(201);
    const dup = await tp.api('POST', '/api/admin/users', {
      token: admin.accessToken,
      body: { email: 'new.doctor@district.demo', displayName: 'x', role: 'referring_doctor', facilityId: 'fac-bacha', password: 'a-long-password-1' },
    });
    expect(dup.status).toBe(409);
    const badFacility = await tp.api('POST', '/api/admin/users', {
      token: admin.accessToken,
      body: { email: 'x@district.demo', displayName: 'x', role: 'referring_doctor', facilityId: 'nowhere', password: 'a-long-password-1' },
    });
    expect(badFacility.status).toBe(400);
    const pair = await tp.login('new.doctor@district.demo', 'a-long-password-1');
    const disabled = await tp.api('PATCH', `/api/admin/users/${created.body.id}`, { token: admin.accessToken, body: { active: false } });
    expect(disabled.body.active).toBe(false);
    expect((await tp.api('POST', '/api/auth/refresh', { body: { refreshToken: pair.refreshToken } })).status).toBe(401);
    expect((await tp.api('POST', '/api/auth/login', { body: { email: 'new.doctor@district.demo', password: 'a-long-password-1' } })).status).toBe(401);
  });
});

describe('rate limiting', () => {
  test('an account is locked after repeated failures, with Retry-After', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await tp.api('POST', '/api/auth/login', { body: { email: DEMO.admin.toUpperCase(), password: `wrong-${i}` } })).status).toBe(401);
    }
    const locked = await tp.api('POST', '/api/auth/login', { body: { email: DEMO.admin, password: 'demo-password-for-tests' } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('audit of logins', () => {
  test('successful and failed logins are in the chain, which verifies', async () => {
    await tp.platform.audit.flush();
    const entries = await tp.platform.audit.list({}, 1000);
    expect(entries.some((e) => e.kind === 'login' && e.success)).toBe(true);
    expect(entries.some((e) => e.kind === 'login' && !e.success)).toBe(true);
    expect((await tp.platform.audit.verify()).ok).toBe(true);
  });
});
