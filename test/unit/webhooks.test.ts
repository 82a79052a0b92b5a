import { createHmac } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import {
  blockedAddressReason,
  checkWebhookUrl,
  signWebhook,
  webhookKey,
  type LookupAll,
} from '../../src/lib/webhooks';

const table: Record<string, LookupAddress[]> = {
  'hooks.example.com': [
    { address: '93.184.215.14', family: 4 },
    { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
  ],
  localhost: [
    { address: '127.0.0.1', family: 4 },
    { address: '::1', family: 6 },
  ],
  'mixed.example.com': [
    { address: '93.184.215.14', family: 4 },
    { address: '10.1.2.3', family: 4 },
  ],
  'metadata.example.com': [{ address: '169.254.169.254', family: 4 }],
  'v6private.example.com': [{ address: 'fd12:3456::1', family: 6 }],
};
const lookupAll: LookupAll = (host) => {
  const found = table[host];
  return found ? Promise.resolve(found) : Promise.reject(new Error('ENOTFOUND'));
};
const strict = { requireHttps: true, allowPrivateNetworks: false, lookupAll };

describe('webhook signatures (Standard Webhooks)', () => {
  it('matches the example in the specification', () => {
    const key = webhookKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(key).toBeDefined();
    expect(
      signWebhook(key ?? Buffer.alloc(0), 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
    ).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs id.timestamp.body with the key bytes, not the secret text', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    const expected = createHmac('sha256', key).update('a.1.{}').digest('base64');
    expect(signWebhook(key, 'a', 1, '{}')).toBe(`v1,${expected}`);
  });

  it.each(['', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_', 'whsec_not base64!', 'whsec_c2hvcnQ='])(
    'refuses %j as a secret',
    (secret) => {
      expect(webhookKey(secret)).toBeUndefined();
    },
  );
});

describe('webhook address rules', () => {
  it('accepts an https URL whose every address is public', async () => {
    await expect(checkWebhookUrl('https://hooks.example.com/runs?x=1', strict)).resolves.toMatchObject({
      ok: true,
    });
  });

  it.each([
    ['http://hooks.example.com/runs', 'https'],
    ['ftp://hooks.example.com/runs', 'https'],
    ['not a url', 'absolute URL'],
    ['https://user:pw@hooks.example.com/', 'user name'],
    ['https://localhost:8443/', '127.0.0.1'],
    ['https://mixed.example.com/', '10.1.2.3'],
    ['https://metadata.example.com/', '169.254.169.254'],
    ['https://v6private.example.com/', 'fd12:3456::1'],
    ['https://127.0.0.1/', '127.0.0.1'],
    ['https://[::1]/', '::1'],
    ['https://[::ffff:127.0.0.1]/', 'private'],
    ['https://[::ffff:a9fe:a9fe]/', 'private'],
    ['https://[fe80::1]/', 'fe80::1'],
    ['https://0.0.0.0/', '0.0.0.0'],
    ['https://192.168.1.10/', '192.168.1.10'],
    ['https://172.31.0.1/', '172.31.0.1'],
    ['https://100.64.0.1/', '100.64.0.1'],
    ['https://unknown.example.com/', 'could not be resolved'],
  ])('refuses %s', async (url, why) => {
    const result = await checkWebhookUrl(url, strict);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(why);
  });

  it('lets local development reach loopback and http when allowed', async () => {
    const local = { requireHttps: false, allowPrivateNetworks: true, lookupAll };
    await expect(checkWebhookUrl('http://127.0.0.1:9999/hook', local)).resolves.toMatchObject({ ok: true });
    await expect(checkWebhookUrl('http://localhost:9999/hook', local)).resolves.toMatchObject({ ok: true });
  });

  it('tells public addresses from reserved ones', () => {
    expect(blockedAddressReason('8.8.8.8')).toBeUndefined();
    expect(blockedAddressReason('2001:4860:4860::8888')).toBeUndefined();
    expect(blockedAddressReason('172.32.0.1')).toBeUndefined();
    expect(blockedAddressReason('172.15.255.255')).toBeUndefined();
    expect(blockedAddressReason('::ffff:8.8.8.8')).toBeUndefined();
    for (const address of [
      '127.5.5.5',
      '10.0.0.1',
      '::',
      'ff02::1',
      '224.0.0.1',
      '255.255.255.255',
      '64:ff9b::a00:1',
    ]) {
      expect(blockedAddressReason(address)).toEqual(expect.any(String));
    }
  });
});
