// What is specific to Gitea / Forgejo: their two header families, and the mapping of each event to its kind.
// The generic properties (random bodies, verify without the secret) run in test/unit/adapter-properties.test.ts.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { gitea } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test') };
const at = new Date('2026-01-10T10:00:00Z');
const sign = (raw: string | Buffer) => createHmac('sha256', SECRET).update(raw).digest('hex');
const eventOf = (file: string) => {
  const s = loadSample('gitea', file);
  return gitea.toEvents(s.body, lowerHeaders(s.headers), at).events[0]!;
};

describe('gitea', () => {
  it('verifies every sample by its hex HMAC-SHA256, under Gitea or Forgejo header names', () => {
    for (const file of listSamples('gitea')) {
      const s = loadSample('gitea', file);
      const raw = Buffer.from(rawBody(s));
      expect(gitea.verify(raw, lowerHeaders(s.headers), config, at), file).toEqual({ ok: true });
    }
    const raw = Buffer.from('{"ref":"refs/heads/main"}');
    expect(gitea.verify(raw, { 'x-gitea-signature': sign(raw) }, config, at).ok).toBe(true);
    expect(gitea.verify(raw, { 'x-forgejo-signature': sign(raw) }, config, at).ok).toBe(true);
    expect(gitea.verify(raw, { 'x-forgejo-signature': sign(raw).toUpperCase() }, config, at).ok).toBe(true);
  });

  it('refuses a missing, wrong, truncated, prefixed or foreign signature, a tampered body, and no secret', () => {
    const raw = Buffer.from('{"ref":"refs/heads/main"}');
    const good = sign(raw);
    const refused = [
      {},
      { 'x-gitea-signature': '' },
      { 'x-gitea-signature': good.slice(0, -2) },
      { 'x-gitea-signature': `sha256=${good}` },
      { 'x-gitea-signature': createHmac('sha256', `${SECRET}x`).update(raw).digest('hex') },
      { 'x-gitea-signature': createHmac('sha1', SECRET).update(raw).digest('hex') },
      // GitHub's header alone is not enough: the Gitea or Forgejo signature must be there.
      { 'x-hub-signature-256': `sha256=${good}` },
    ];
    for (const h of refused) expect(gitea.verify(raw, h, config, at).ok, JSON.stringify(h)).toBe(false);
    expect(
      gitea.verify(Buffer.from('{"ref":"refs/heads/evil"}'), { 'x-gitea-signature': good }, config, at).ok,
    ).toBe(false);
    expect(
      gitea.verify(raw, { 'x-gitea-signature': good }, { enabled: false, secret: undefined }, at).ok,
    ).toBe(false);
  });

  it('maps every sample to its kind with actor, repository, branch and delivery id', () => {
    const expected: Record<string, [string, string, string[]]> = {
      'create.json': ['code.push', 'create', ['creation']],
      'delete.json': ['code.push', 'delete', ['deletion']],
      'push.json': ['code.push', 'push', ['creation']],
      'release__published.forgejo.json': ['other', 'release.published', ['info']],
      'repository__created.json': ['config.change', 'repository.created', ['creation']],
    };
    expect(Object.keys(expected).sort()).toEqual(listSamples('gitea'));
    for (const file of listSamples('gitea')) {
      const s = loadSample('gitea', file);
      const e = eventOf(file);
      const [kind, action, type] = expected[file]!;
      expect(e.pipewarden.kind, file).toBe(kind);
      expect(e.event.action, file).toBe(action);
      expect(e.event.type, file).toEqual(type);
      expect(e.event.provider, file).toBe('gitea');
      expect(e.user?.name, file).toBe('example');
      expect(e.pipewarden.delivery_id, file).toBe(lowerHeaders(s.headers)['x-gitea-delivery']);
      expect(gitea.deliveryId(lowerHeaders(s.headers), s.body), file).toBe(e.pipewarden.delivery_id);
      // The same delivery always yields the same id.
      expect(eventOf(file).event.id, file).toBe(e.event.id);
    }
    const push = eventOf('push.json');
    expect(push.pipewarden).toMatchObject({
      repository: 'example/example',
      branch: 'master',
      commit: '67b56589a45103f891bdee7c0546e5d40bc02001',
      visibility: 'public',
    });
    expect(eventOf('delete.json').pipewarden.branch).toBe('example3');
    expect(eventOf('repository__created.json').organization).toEqual({ name: 'example3', id: '3' });
  });

  it('takes the Forgejo headers alone, preferring the specific event type', () => {
    const s = loadSample('gitea', 'push.json');
    const raw = Buffer.from(rawBody(s));
    const forgejo = {
      'x-forgejo-event': 'push',
      'x-forgejo-event-type': 'push',
      'x-forgejo-delivery': 'd-1',
      'x-forgejo-signature': sign(raw),
    };
    expect(gitea.verify(raw, forgejo, config, at).ok).toBe(true);
    expect(gitea.deliveryId(forgejo, s.body)).toBe('d-1');
    expect(gitea.toEvents(s.body, forgejo, at).events[0]!.pipewarden.kind).toBe('code.push');
    // Forgejo names a review "pull_request_approved" in X-Forgejo-Event, its type in X-Forgejo-Event-Type.
    const review = gitea.toEvents(
      { action: 'reviewed', sender: { login: 'rev' } },
      { 'x-forgejo-event': 'pull_request_approved', 'x-forgejo-event-type': 'pull_request_review_approved' },
      at,
    ).events[0]!;
    expect(review.event.action).toBe('pull_request_review_approved.reviewed');
    expect(review.pipewarden.kind).toBe('other');
  });

  it('maps package events (no public sample: built from modules/structs/hook.go) and build states', () => {
    const sender = loadSample('gitea', 'push.json').body as { sender: unknown };
    const pkg = (action: string) =>
      gitea.toEvents(
        {
          action,
          package: { id: 7, type: 'container', name: 'app', version: '1.2.3', html_url: 'http://gitea/p/7' },
          sender: sender.sender,
        },
        { 'x-gitea-event': 'package' },
        at,
      ).events[0]!;
    expect(pkg('created').pipewarden).toMatchObject({
      kind: 'artifact.publish',
      artifact: 'container:app:1.2.3',
    });
    expect(pkg('deleted').pipewarden.kind).toBe('artifact.delete');
    const status = (state: string) =>
      gitea.toEvents({ state, sha: 'abc' }, { 'x-gitea-event': 'status' }, at).events[0]!;
    expect(status('success').event.outcome).toBe('success');
    expect(status('failure').event.outcome).toBe('failure');
    expect(status('success').pipewarden.kind).toBe('build');
    // Prototype member names are unknown events, not lookups.
    expect(gitea.toEvents({}, { 'x-gitea-event': 'toString' }, at).events[0]!.pipewarden.kind).toBe('other');
  });

  it('refuses a body without an event header or that is not an object', () => {
    expect(() => gitea.toEvents({}, {}, at)).toThrow(AdapterInputError);
    expect(() => gitea.toEvents([1], { 'x-gitea-event': 'push' }, at)).toThrow(AdapterInputError);
    expect(() => gitea.toEvents('x', { 'x-gitea-event': 'push' }, at)).toThrow(AdapterInputError);
  });
});
