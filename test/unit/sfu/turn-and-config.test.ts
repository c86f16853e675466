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
    const servers = iceServersFor('usr-1', {
      urls: ['stun:stun.example.vn:3478', 'turn:turn.example.vn:3478?transport=udp', 'turns:turn.example.vn:5349'],
      secret: 'x',
      ttlS: 60,
    });
    expect(servers[0]).toEqual({ urls: ['stun:stun.example.vn:3478'] });
    expect(servers[1]).toMatchObject({
      urls: ['turn:turn.example.vn:3478?transport=udp', 'turns:turn.example.vn:5349'],
      username: expect.stringMatching(/^\d+:usr-1$/),
    });
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

describe('announced address (what ICE candidates carry)', () => {
  const nic = (address: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4') =>
    ({ address, internal, family, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: null }) as never;
  const machine = {
    lo: [nic('127.0.0.1', true)],
    docker0: [nic('fe80::1', false, 'IPv6')],
    veth0: [nic('169.254.3.4'), nic('10.20.0.2')],
    eth1: [nic('192.168.1.5')],
  };

  test('default: listen on all interfaces, announce the first non-internal, non-link-local IPv4', () => {
    const c = loadSfuConfig({}, 'production', machine);
    expect(c.listenIp).toBe('0.0.0.0');
    expect(c.announcedAddress).toBe('10.20.0.2');
    expect(c.announcedAddressSource).toBe('first non-internal IPv4 (veth0)');
  });
  test('SFU_ANNOUNCED_ADDRESS wins (IP or host name); a specific SFU_LISTEN_IP is announced as it is', () => {
    expect(loadSfuConfig({ SFU_ANNOUNCED_ADDRESS: '203.0.113.7' }, 'production', machine).announcedAddress).toBe('203.0.113.7');
    expect(loadSfuConfig({ SFU_ANNOUNCED_ADDRESS: 'sfu.benhvien.vn' }, 'production', machine).announcedAddress).toBe('sfu.benhvien.vn');
    const c = loadSfuConfig({ SFU_LISTEN_IP: '192.168.1.5' }, 'production', machine);
    expect([c.announcedAddress, c.announcedAddressSource]).toEqual(['192.168.1.5', 'SFU_LISTEN_IP']);
    expect(loadSfuConfig({}, 'test', machine).announcedAddress).toBe('127.0.0.1');
  });
  test('a machine with loopback only falls back to 127.0.0.1 and says why', () => {
    const c = loadSfuConfig({}, 'development', { lo: [nic('127.0.0.1', true)] });
    expect(c.announcedAddress).toBe('127.0.0.1');
    expect(c.announcedAddressSource).toMatch(/no non-internal IPv4.*SFU_ANNOUNCED_ADDRESS/);
  });
  test('an unroutable address stops the start, naming the variable', () => {
    for (const bad of ['0.0.0.0', '::', '255.255.255.255', '239.1.2.3', '0.1.2.3']) {
      expect(() => loadSfuConfig({ SFU_ANNOUNCED_ADDRESS: bad }, 'production', machine)).toThrow(
        /SFU_ANNOUNCED_ADDRESS: .*(browsers cannot send|broadcast|multicast|unspecified)/,
      );
    }
    expect(() => loadSfuConfig({ SFU_LISTEN_IP: 'not-an-ip' }, 'production', machine)).toThrow(/SFU_LISTEN_IP/);
    expect(() => loadSfuConfig({ SFU_LISTEN_IP: '224.0.0.1' }, 'production', machine)).toThrow(/SFU_LISTEN_IP: .*multicast/);
  });
});
