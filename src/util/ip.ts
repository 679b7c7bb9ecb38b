// IP addresses and CIDR blocks, on Node's own net.BlockList: allowlists in detectors, the `ip` filter of
// the embedded store. IPv4-mapped IPv6 (::ffff:a.b.c.d, as Node reports IPv4 clients on dual-stack
// sockets) is read as the IPv4 address it carries.
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

export interface IpBlock {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

function unmap(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address.replace(/%.*$/, ''); // and no IPv6 zone index
}

/** `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, `ipv6/n`; undefined for anything else. */
export function parseIpBlock(text: string): IpBlock | undefined {
  const [raw = '', len, ...rest] = text.trim().split('/');
  if (rest.length) return undefined;
  const address = unmap(raw);
  const kind = isIP(address);
  if (kind === 0) return undefined;
  const width = kind === 6 ? 128 : 32;
  const prefix = len === undefined ? width : /^\d{1,3}$/.test(len) ? Number(len) : Number.NaN;
  if (!(prefix >= 0 && prefix <= width)) return undefined;
  return { address, prefix, family: kind === 6 ? 'ipv6' : 'ipv4' };
}

/** A config field: an IP address or CIDR block. */
export const ipOrCidr = z.string().refine((s) => parseIpBlock(s) !== undefined, {
  message: 'must be an IP address or CIDR block, e.g. 10.0.0.0/8 or 2001:db8::/32',
});

/** A predicate: is `ip` inside any of the blocks? Invalid entries and non-IP values never match. */
export function ipMatcher(blocks: readonly string[]): (ip: string | undefined) => boolean {
  const list = new BlockList();
  let any = false;
  for (const text of blocks) {
    const b = parseIpBlock(text);
    if (!b) continue;
    list.addSubnet(b.address, b.prefix, b.family);
    any = true;
  }
  if (!any) return () => false;
  return (ip) => {
    if (!ip) return false;
    const address = unmap(ip.trim());
    const kind = isIP(address);
    return kind !== 0 && list.check(address, kind === 6 ? 'ipv6' : 'ipv4');
  };
}
