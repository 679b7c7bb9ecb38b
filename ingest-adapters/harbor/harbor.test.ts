import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { harbor } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test') };
const at = new Date('2026-01-10T10:00:00Z');

describe('harbor', () => {
  it('verifies every sample by its Authorization header and refuses others', () => {
    for (const file of listSamples('harbor')) {
      const s = loadSample('harbor', file);
      const raw = Buffer.from(rawBody(s));
      expect(harbor.verify(raw, lowerHeaders(s.headers), config, at), file).toEqual({ ok: true });
      expect(harbor.verify(raw, { authorization: `Bearer ${SECRET}!` }, config, at).ok).toBe(false);
      expect(harbor.verify(raw, {}, config, at).ok).toBe(false);
    }
  });

  it('normalises Default and CloudEvents samples to the same kinds', () => {
    const expected: Record<string, [string, string]> = {
      'DELETE_ARTIFACT__Default.json': ['artifact.delete', 'DELETE_ARTIFACT'],
      'PUSH_ARTIFACT__Default.json': ['artifact.publish', 'PUSH_ARTIFACT'],
      'QUOTA_WARNING__Default.json': ['other', 'QUOTA_WARNING'],
      'SCANNING_COMPLETED__Default.json': ['security.alert', 'SCANNING_COMPLETED'],
      'SCANNING_STOPPED__Default.json': ['other', 'SCANNING_STOPPED'],
      'harbor.artifact.deleted__CloudEvents.json': ['artifact.delete', 'harbor.artifact.deleted'],
      'harbor.artifact.pushed__CloudEvents.json': ['artifact.publish', 'harbor.artifact.pushed'],
      'harbor.quota.warned__CloudEvents.json': ['other', 'harbor.quota.warned'],
      'harbor.scan.completed__CloudEvents.json': ['security.alert', 'harbor.scan.completed'],
      'harbor.scan.stopped__CloudEvents.json': ['other', 'harbor.scan.stopped'],
    };
    expect(Object.keys(expected).sort()).toEqual(listSamples('harbor'));
    for (const file of listSamples('harbor')) {
      const s = loadSample('harbor', file);
      const e = harbor.toEvents(s.body, lowerHeaders(s.headers), at).events[0]!;
      const [kind, action] = expected[file]!;
      expect(e.pipewarden.kind, file).toBe(kind);
      expect(e.event.action, file).toBe(action);
      expect(e.pipewarden.repository, file).toBe('harbor/alpine');
      expect(e['@timestamp'].startsWith('2023-04-03T'), file).toBe(true);
    }
    const push = loadSample('harbor', 'harbor.artifact.pushed__CloudEvents.json');
    expect(harbor.deliveryId({}, push.body)).toBe('66e18103-09c1-41f6-982f-37df223f3eeb');
    const e = harbor.toEvents(push.body, {}, at).events[0]!;
    expect(e.user).toEqual({ name: 'harbor-jobservice', type: 'service' });
  });

  it('marks robot accounts and anonymous pulls', () => {
    const base = loadSample('harbor', 'PUSH_ARTIFACT__Default.json').body as Record<string, unknown>;
    const robot = harbor.toEvents({ ...base, operator: 'robot$ci+deployer' }, {}, at).events[0]!;
    expect(robot.user).toEqual({ name: 'robot$ci+deployer', type: 'robot' });
    const anon = harbor.toEvents({ ...base, type: 'PULL_ARTIFACT', operator: 'anonymous' }, {}, at)
      .events[0]!;
    expect(anon.pipewarden.kind).toBe('access.anonymous');
    expect(anon.user).toBeUndefined();
  });
});
