import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nexus, parseInitiator } from '../../ingest-adapters/nexus/index.ts';
import { Secret } from '../../src/config/secrets.ts';
import { AdapterInputError, type Headers } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../support/samples.ts';

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

  it('random and mutated bodies and headers never pass unsigned and only fail as bad input', () => {
    const samples = listSamples('nexus').map((f) => loadSample('nexus', f));
    const run = (raw: string, h: Headers) => {
      try {
        nexus.toEvents(JSON.parse(raw), h, at);
      } catch (err) {
        if (!(err instanceof AdapterInputError) && !(err instanceof SyntaxError)) throw err;
      }
    };
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.json()),
        fc.dictionary(fc.constantFrom('x-nexus-webhook-signature', 'x-nexus-webhook-id'), fc.string()),
        (body, h) => {
          expect(nexus.verify(Buffer.from(body), h, config, at).ok).toBe(false);
          run(body, h);
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.jsonValue(),
        fc.nat(),
        fc.option(fc.string()),
        (s, value, pick, id) => {
          const keys = Object.keys(s.body as object);
          const raw = JSON.stringify({ ...(s.body as object), [keys[pick % keys.length]!]: value });
          const h: Headers = {
            ...lowerHeaders(s.headers),
            'x-nexus-webhook-signature': createHmac('sha1', SECRET).update(raw).digest('hex'),
          };
          if (id !== null) h['x-nexus-webhook-id'] = id;
          expect(nexus.verify(Buffer.from(raw), h, config, at).ok).toBe(true);
          run(raw, h);
        },
      ),
      { numRuns: 300 },
    );
  });
});
