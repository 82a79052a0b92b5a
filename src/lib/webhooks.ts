import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Webhooks after the Standard Webhooks specification (standardwebhooks.com): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, signed with HMAC-SHA256 under the secret's key bytes
 * (the base64 after `whsec_`), sent as `webhook-signature: v1,<base64>`.
 *
 * And the rule on where they may go: an address on the public internet only, unless private networks
 * are allowed, judged on every address the host name resolves to, both when the run is started and at
 * the moment of connecting (so a name that resolves differently later cannot reach inside).
 */

export const webhookSecretPrefix = 'whsec_';

/** The key bytes of a `whsec_<base64>` secret, or undefined when it is not one. */
export function webhookKey(secret: string): Buffer | undefined {
  if (!secret.startsWith(webhookSecretPrefix)) return undefined;
  const encoded = secret.slice(webhookSecretPrefix.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined;
  const key = Buffer.from(encoded, 'base64');
  return key.length >= 16 ? key : undefined;
}

/** The `webhook-signature` header value for one message. */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return `v1,${signature}`;
}

/**
 * Ranges no webhook may reach unless private networks are allowed: "this network", loopback, private,
 * carrier-grade NAT, link-local (cloud metadata lives at 169.254.169.254), benchmarking, documentation,
 * multicast and reserved space, and their IPv6 counterparts.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address an IPv6 address carries (mapped, compatible or NAT64), if it carries one. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const high = Number.parseInt(hex[1] ?? '0', 16);
    const low = Number.parseInt(hex[2] ?? '0', 16);
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  return undefined;
}

/** Why this address may not receive webhooks, or undefined when it may. */
export function blockedAddressReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return blockedAddressReason(v4) && `${address} is a private or reserved address`;
    return blocked.check(address, 'ipv6') ? `${address} is a private or reserved address` : undefined;
  }
  return blocked.check(address, 'ipv4') ? `${address} is a private or reserved address` : undefined;
}

export type LookupAll = (hostname: string) => Promise<LookupAddress[]>;

export const systemLookupAll: LookupAll = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses);
    });
  });

export interface WebhookRules {
  requireHttps: boolean;
  allowPrivateNetworks: boolean;
  lookupAll?: LookupAll;
}

export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Checks a webhook URL: its form, its scheme, and every address its host resolves to. */
export async function checkWebhookUrl(raw: string, rules: WebhookRules): Promise<WebhookUrlCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'must be an absolute URL such as https://example.com/hooks/runs' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, reason: 'must be an https URL' };
  }
  if (rules.requireHttps && url.protocol !== 'https:') {
    return {
      ok: false,
      reason: 'must be an https URL: webhooks carry run details and are sent over TLS only',
    };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      ok: false,
      reason: 'must not carry a user name or password; the signature authenticates the sender',
    };
  }
  if (url.hash !== '') return { ok: false, reason: 'must not have a #fragment' };
  if (rules.allowPrivateNetworks) return { ok: true, url };
  const addresses = await resolveAll(url.hostname, rules.lookupAll ?? systemLookupAll);
  if (!addresses.ok) return addresses;
  for (const address of addresses.list) {
    const reason = blockedAddressReason(address);
    if (reason) {
      return {
        ok: false,
        reason: `must reach a public address; ${url.hostname} resolves to ${address}, a loopback, private, link-local or reserved address`,
      };
    }
  }
  return { ok: true, url };
}

async function resolveAll(
  hostname: string,
  lookupAll: LookupAll,
): Promise<{ ok: true; list: string[] } | { ok: false; reason: string }> {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare) !== 0) return { ok: true, list: [bare] };
  try {
    const found = await lookupAll(bare);
    if (found.length === 0) return { ok: false, reason: `host ${bare} has no address` };
    return { ok: true, list: found.map((a) => a.address) };
  } catch {
    return { ok: false, reason: `host ${bare} could not be resolved` };
  }
}

/**
 * A `lookup` for node:http(s) that resolves every address and refuses the connection when any of them
 * is blocked: the check happens at the moment of connecting, to the addresses actually used.
 */
export function guardedLookup(allowPrivateNetworks: boolean, lookupAll: LookupAll = systemLookupAll) {
  return (
    hostname: string,
    options: { family?: number | string; all?: boolean },
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    lookupAll(hostname).then(
      (addresses) => {
        if (!allowPrivateNetworks) {
          const bad = addresses.find((a) => blockedAddressReason(a.address));
          if (bad) {
            callback(
              Object.assign(
                new Error(`${hostname} resolves to ${bad.address}, which webhooks may not reach`),
                {
                  code: 'EWEBHOOKBLOCKED',
                },
              ),
              '',
            );
            return;
          }
        }
        if (addresses.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
          return;
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]?.address ?? '', addresses[0]?.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}
