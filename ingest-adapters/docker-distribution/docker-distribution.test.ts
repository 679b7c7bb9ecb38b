import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { dockerDistribution, stripPort } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test') };
const at = new Date('2026-01-10T10:00:00Z');

describe('docker-distribution', () => {
  it('accepts the configured Authorization value, as a token or the whole header, and nothing else', () => {
    const body = Buffer.from('{}');
    for (const file of listSamples('docker-distribution')) {
      const s = loadSample('docker-distribution', file);
      expect(dockerDistribution.verify(Buffer.from(rawBody(s)), lowerHeaders(s.headers), config, at)).toEqual(
        { ok: true },
      );
    }
    expect(
      dockerDistribution.verify(
        body,
        { authorization: 'Bearer abc' },
        { enabled: true, secret: new Secret('Bearer abc', 't') },
        at,
      ).ok,
    ).toBe(true);
    for (const a of [undefined, '', SECRET.slice(1), `Bearer ${SECRET}x`, `Basic ${SECRET}`]) {
      const h = a === undefined ? {} : { authorization: a };
      expect(dockerDistribution.verify(body, h, config, at).ok, String(a)).toBe(false);
    }
    expect(
      dockerDistribution.verify(
        body,
        { authorization: `Bearer ${SECRET}` },
        { enabled: true, secret: undefined },
        at,
      ).ok,
    ).toBe(false);
  });

  it('turns each envelope entry into an event: anonymous pull, IP without port, user agent', () => {
    const s = loadSample('docker-distribution', 'manifest-pull.json');
    const { events } = dockerDistribution.toEvents(s.body, lowerHeaders(s.headers), at);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      '@timestamp': '2016-03-09T22:44:26.402Z',
      source: { ip: '192.168.64.11' },
      user_agent: { original: 'curl/7.38.0' },
      event: { action: 'pull', provider: 'docker-distribution' },
      pipewarden: {
        kind: 'access.anonymous',
        repository: 'hello-world',
        artifact: 'hello-world:latest',
        delivery_id: '320678d8-ca14-430f-8bb6-4ca139cd83f7',
      },
    });
    expect(events[0]!.user).toBeUndefined();
    const env = s.body as { events: Array<Record<string, unknown>> };
    const two = {
      events: [
        { ...env.events[0], actor: { name: 'ci' }, action: 'push' },
        { ...env.events[0], id: 'x2', action: 'delete', actor: { name: 'ops' } },
      ],
    };
    const out = dockerDistribution.toEvents(two, {}, at).events;
    expect(out.map((e) => [e.pipewarden.kind, e.user?.name])).toEqual([
      ['artifact.publish', 'ci'],
      ['artifact.delete', 'ops'],
    ]);
    expect(dockerDistribution.deliveryId({}, two)).toBe(
      dockerDistribution.deliveryId({}, structuredClone(two)),
    );
    expect(dockerDistribution.deliveryId({}, two)).not.toBe(dockerDistribution.deliveryId({}, s.body));
  });

  it('strips ports from IPv4 and IPv6 addresses', () => {
    expect(stripPort('10.0.0.1:5000')).toBe('10.0.0.1');
    expect(stripPort('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(stripPort('::1')).toBe('::1');
    expect(stripPort('registry.local:5000')).toBeUndefined();
  });
});
