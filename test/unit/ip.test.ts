// IP and CIDR matching for allowlists and the embedded store's `ip` filter.
import { describe, expect, it } from 'vitest';
import { ipMatcher, ipOrCidr, parseIpBlock } from '../../src/util/ip.ts';

describe('parseIpBlock', () => {
  it('reads addresses and blocks of both families, and IPv4-mapped IPv6 as IPv4', () => {
    expect(parseIpBlock('10.1.2.3')).toEqual({ address: '10.1.2.3', prefix: 32, family: 'ipv4' });
    expect(parseIpBlock(' 10.0.0.0/8 ')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseIpBlock('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(parseIpBlock('::ffff:192.0.2.7')).toEqual({ address: '192.0.2.7', prefix: 32, family: 'ipv4' });
  });

  it('refuses what is not an address or block', () => {
    for (const bad of ['', 'example.com', '10.0.0.0/33', '10.0.0.0/8/1', '::/129', '10.0.0.0/x', '300.1.1.1'])
      expect(parseIpBlock(bad), bad).toBeUndefined();
    expect(ipOrCidr.safeParse('10.0.0.0/33').success).toBe(false);
    expect(ipOrCidr.safeParse('fe80::/10').success).toBe(true);
  });
});

describe('ipMatcher', () => {
  const inList = ipMatcher(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', 'not-an-ip']);
  it('matches inside the blocks and exact addresses, across notations', () => {
    expect(inList('10.255.0.1')).toBe(true);
    expect(inList('192.0.2.7')).toBe(true);
    expect(inList('::ffff:10.1.1.1')).toBe(true);
    expect(inList('2001:0db8:0000::1')).toBe(true);
    expect(inList('2001:DB8::abcd')).toBe(true);
  });
  it('does not match outside them, nor missing or non-IP values', () => {
    expect(inList('11.0.0.1')).toBe(false);
    expect(inList('192.0.2.8')).toBe(false);
    expect(inList('2001:db9::1')).toBe(false);
    expect(inList(undefined)).toBe(false);
    expect(inList('unknown')).toBe(false);
    expect(ipMatcher([])('10.0.0.1')).toBe(false);
  });
});
