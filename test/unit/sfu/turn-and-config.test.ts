import { createHmac } from 'node:crypto';
import { loadSfuConfig, SfuConfigError } from '../../../server/sfu/config';
import { sfuSchemas } from '../../../server/sfu/schemas';
import { iceServersFor, turnCredentials } from '../../../server/sfu/turn';

describe('TURN REST credentials (coturn use-auth-secret)', () => {
  test('username is <expiry>:<userId>, credential is base64 HMAC-SHA1 of it', () => {
    const now = Date.UTC(2026, 0, 1);
    const c = turnCredentials('s3cret', 'usr-1', 3600, now);
    expect(c.username).toBe(`${now / 1000 + 3600}:usr-1`);
    expect(c.credential).toBe(createHmac('sha1', 's3cret').update(c.username).digest('base64'));
  });
  test('ICE servers: STUN as is, TURN with credentials', () => {
    const servers = iceServersFor('usr-1', { urls: ['stun:stun.example.vn:3478', 'turn:turn.example.vn:3478?transport=udp', 'turns:turn.example.vn:5349'], secret: 'x', ttlS: 60 });
    expect(servers[0]).toEqual({ urls: ['stun:stun.example.vn:3478'] });
    expect(servers[1]).toMatchObject({ urls: ['turn:turn.example.vn:3478?transport=udp', 'turns:turn.example.vn:5349'], username: expect.stringMatching(/^\d+:usr-1$/) });
    expect(iceServersFor('u', { urls: [], secret: undefined, ttlS: 60 })).toEqual([]);
  });
});

describe('SFU config', () => {
  test('defaults: loopback in test, 0.0.0.0 otherwise, thresholds 150/250', () => {
    const c = loadSfuConfig({}, 'test');
    expect(c.listenIp).toBe('127.0.0.1');
    expect(c.workers).toBeGreaterThanOrEqual(1);
    expect([c.audioOnlyBelowKbps, c.audioOnlyRecoverAboveKbps]).toEqual([150, 250]);
    expect(loadSfuConfig({}, 'production').listenIp).toBe('0.0.0.0');
  });
  test('bad values name the variable', () => {
    expect(() => loadSfuConfig({ SFU_WORKERS: '0' }, 'test')).toThrow(/SFU_WORKERS/);
    expect(() => loadSfuConfig({ SFU_AUDIO_ONLY_KBPS: '300', SFU_AUDIO_ONLY_RECOVER_KBPS: '200' }, 'test')).toThrow(SfuConfigError);
    expect(() => loadSfuConfig({ TURN_URLS: 'turn:x:3478' }, 'test')).toThrow(/TURN_SECRET/);
    expect(() => loadSfuConfig({ TURN_URLS: 'http://x' }, 'test')).toThrow(/TURN_URLS/);
  });
});

describe('payload schemas', () => {
  test('reject unknown keys and wrong shapes', () => {
    expect(sfuSchemas['sfu:join'].safeParse({ consultId: 'c1' }).success).toBe(true);
    expect(sfuSchemas['sfu:join'].safeParse({ consultId: 'c1', extra: 1 }).success).toBe(false);
    expect(sfuSchemas['sfu:produce'].safeParse({ transportId: 't', kind: 'video', source: 'camera', rtpParameters: {} }).success).toBe(false);
    expect(sfuSchemas['sfu:set-preferred-layers'].safeParse({ consumerId: 'c', spatialLayer: 7 }).success).toBe(false);
    expect(sfuSchemas['sfu:stats'].safeParse({ downlinkKbps: 120, renderedSizes: [{ consumerId: 'c', width: 320, height: 180 }] }).success).toBe(true);
  });
});
