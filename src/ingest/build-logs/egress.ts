// Where the log fetchers may send a request (issue 10 item 10). A `repository.full_name` of `../..` once
// steered the GitHub token to another API path, and redirects were followed to any host, loopback
// included. Now: owner and name are checked strictly; the token goes only to the configured API origin;
// a redirect (never with the token) is followed only to the API origin itself, to a host the operator
// lists, or to the vendor's documented log-storage hosts — and then never to a loopback, private,
// link-local or otherwise non-public address. That last check is made again by the connection itself
// (`publicOnlyLookup`): the address connected to is the address checked, so a name that resolves to a
// public address for the check and to a private one a moment later (DNS rebinding) gets nowhere.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ipMatcher } from '../../util/ip.ts';

/** GitHub owner (user or organisation) and repository name, as GitHub allows them. */
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

/** `owner/name` when both parts are what GitHub allows (never `.` or `..`), else undefined. */
export function githubRepo(fullName: unknown): { owner: string; name: string } | undefined {
  if (typeof fullName !== 'string') return undefined;
  const parts = fullName.split('/');
  if (parts.length !== 2) return undefined;
  const [owner, name] = parts as [string, string];
  if (!OWNER.test(owner) || !REPO.test(name) || name === '.' || name === '..') return undefined;
  return { owner, name };
}

/** Addresses a redirect must never reach (unless the operator lists the host itself). */
const NON_PUBLIC = ipMatcher([
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
  '64:ff9b::/96',
]);

export interface RedirectPolicy {
  /** The configured API's origin: the only place the token goes; redirects there are followed. */
  apiOrigin: string;
  /** Hosts (`host` or `host:port`) the operator lists: followed whatever their address. */
  allowHosts: readonly string[];
  /** Vendor patterns (`*.example.com` or exact): followed over https to public addresses only. */
  vendorHosts: readonly string[];
}

export type Lookup = (host: string) => Promise<string[]>;
const systemLookup: Lookup = async (host) => (await dnsLookup(host, { all: true })).map((a) => a.address);

const matchesPattern = (host: string, pattern: string) =>
  pattern.startsWith('*.')
    ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1
    : host === pattern;

/** Whether a redirect to `target` may only reach public addresses (a vendor host, not the API or a listed one). */
export function publicOnly(target: URL, policy: RedirectPolicy): boolean {
  if (target.origin === policy.apiOrigin) return false;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return !policy.allowHosts.some(
    (h) => h.toLowerCase() === host || h.toLowerCase() === target.host.toLowerCase(),
  );
}

/** A connection refused because its host resolved to a non-public address. */
export class NonPublicAddressError extends Error {
  override name = 'NonPublicAddressError';
}

type LookupCallback = (
  err: Error | null,
  address: string | Array<{ address: string; family: number }>,
  family?: number,
) => void;

/**
 * A `lookup` for node:net / node:https that resolves through `lookup` once and refuses a name with any
 * non-public address: the connection is made to an address this very lookup checked.
 */
export function publicOnlyLookup(lookup: Lookup = systemLookup) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    lookup(hostname).then(
      (addresses) => {
        if (!addresses.length) return callback(new Error(`${hostname} does not resolve`), '');
        const bad = addresses.find((a) => NON_PUBLIC(a));
        if (bad)
          return callback(
            new NonPublicAddressError(`${hostname} resolves to ${bad}, a loopback or private address`),
            '',
          );
        if (options.all)
          callback(
            null,
            addresses.map((address) => ({ address, family: isIP(address) })),
          );
        else callback(null, addresses[0]!, isIP(addresses[0]!));
      },
      (err: Error) => callback(err, ''),
    );
  };
}

/** Why a redirect to `target` is refused, or undefined when it may be followed (without the token). */
export async function redirectRefusal(
  target: URL,
  policy: RedirectPolicy,
  lookup: Lookup = systemLookup,
): Promise<string | undefined> {
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return `${target.protocol} is not http(s)`;
  if (target.origin === policy.apiOrigin) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (
    policy.allowHosts.some((h) => h.toLowerCase() === host || h.toLowerCase() === target.host.toLowerCase())
  )
    return undefined;
  if (!policy.vendorHosts.some((p) => matchesPattern(host, p.toLowerCase())))
    return `${target.host} is not a documented log-storage host (add it to redirectHosts to allow it)`;
  if (target.protocol !== 'https:') return `${target.host} is not reached over https`;
  const addresses = isIP(host) ? [host] : await lookup(host).catch(() => [] as string[]);
  if (!addresses.length) return `${target.host} does not resolve`;
  const bad = addresses.find((a) => NON_PUBLIC(a));
  return bad ? `${target.host} resolves to ${bad}, a loopback or private address` : undefined;
}
