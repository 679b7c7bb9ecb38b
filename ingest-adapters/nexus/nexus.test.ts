import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { nexus, parseInitiator } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test') };
const at = new Date('2026-01-10T10:00:00Z');

describe('nexus', () => {
  it('verifies every sample by its hex HMAC-SHA1, and refuses tampering, a wrong key or no signature', () => {
    for (const file of listSamples('nexus')) {
      const s = loadSample('nexus', file);
      const raw = Buffer.from(rawBody(s));
      const h = lowerHeaders(s.headers);
      expect(nexus.verify(raw, h, config, at), file).toEqual({ ok: true });
      expect(nexus.verify(Buffer.from(`${raw} `), h, config, at).ok).toBe(false);
      expect(nexus.verify(raw, h, { enabled: true, secret: new Secret('other', 't') }, at).ok).toBe(false);
      expect(
        nexus.verify(
          raw,
          { ...h, 'x-nexus-webhook-signature': `sha1=${h['x-nexus-webhook-signature']}` },
          config,
          at,
        ).ok,
      ).toBe(false);
      const { 'x-nexus-webhook-signature': _, ...unsigned } = h;
      expect(nexus.verify(raw, unsigned, config, at).ok).toBe(false);
    }
  });

  it('normalises every sample to its kind, with the initiator as user and IP, deduplicated by delivery', () => {
    const expected: Record<string, [string, string | undefined, string]> = {
      'asset.json': ['artifact.publish', 'admin', 'asset.created'],
      'audit.json': ['permission.change', 'admin', 'audit.security.user.created'],
      'component.json': ['access.anonymous', undefined, 'component.created'],
    };
    expect(Object.keys(expected)).toEqual(listSamples('nexus'));
    for (const file of listSamples('nexus')) {
      const s = loadSample('nexus', file);
      const h = lowerHeaders(s.headers);
      const e = nexus.toEvents(s.body, h, at).events[0]!;
      const [kind, user, action] = expected[file]!;
      expect(e.pipewarden.kind, file).toBe(kind);
      expect(e.user?.name, file).toBe(user);
      expect(e.event.action, file).toBe(action);
      expect(e.source?.ip).toBe('127.0.0.1');
      expect(e.pipewarden.delivery_id).toBe(h['x-nexus-webhook-delivery']);
      expect(nexus.deliveryId(h, s.body)).toBe(h['x-nexus-webhook-delivery']);
    }
    const c = nexus.toEvents(
      loadSample('nexus', 'component.json').body,
      lowerHeaders(loadSample('nexus', 'component.json').headers),
      at,
    ).events[0]!;
    expect(c.pipewarden).toMatchObject({
      repository: 'npm-proxy',
      artifact: 'npm-proxy/types/angular2@0.0.2',
    });
    expect(c['@timestamp']).toBe('2016-11-14T19:32:13.515Z');
  });

  it('records the user a security.user audit event is about, with its roles (attributes.roles)', () => {
    const s = loadSample('nexus', 'audit.json');
    const h = lowerHeaders(s.headers);
    const e = nexus.toEvents(s.body, h, at).events[0]!;
    expect(e.user).toEqual({
      name: 'admin',
      target: { name: 'testuser', roles: ['nx-admin', 'nx-anonymous'] },
    });
    const audit = (s.body as { audit: Record<string, unknown> }).audit;
    const deleted = nexus.toEvents({ ...(s.body as object), audit: { ...audit, type: 'deleted' } }, h, at)
      .events[0]!;
    expect(deleted.user?.target).toEqual({ name: 'testuser' });
    const role = nexus.toEvents(
      { ...(s.body as object), audit: { ...audit, domain: 'security.role', context: 'nx-admin' } },
      h,
      at,
    ).events[0]!;
    expect(role.user?.target).toBeUndefined();
    for (const file of ['asset.json', 'component.json']) {
      const x = loadSample('nexus', file);
      expect(
        nexus.toEvents(x.body, lowerHeaders(x.headers), at).events[0]!.user?.target,
        file,
      ).toBeUndefined();
    }
  });

  it('parses initiators', () => {
    expect(parseInitiator('admin/10.1.2.3')).toEqual({ user: 'admin', ip: '10.1.2.3', anonymous: false });
    expect(parseInitiator('anonymous/::1')).toEqual({ ip: '::1', anonymous: true });
    expect(parseInitiator('svc/ci/10.1.2.3')).toEqual({ user: 'svc/ci', ip: '10.1.2.3', anonymous: false });
    expect(parseInitiator('*SYSTEM')).toEqual({ user: '*SYSTEM', anonymous: false });
    expect(parseInitiator(42)).toEqual({ anonymous: false });
  });
});
