import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { bitbucket } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test') };
const at = new Date('2024-06-01T10:00:00Z');
const expected: Record<string, string> = {
  'commit-comment-created.json': 'other',
  'issue-created.json': 'other',
  'pull-request-approval-removed.json': 'other',
  'pull-request-comment-created.json': 'other',
  'pull-request-comment-updated.json': 'other',
  'pull-request-declined.json': 'other',
  'pull-request-updated.json': 'other',
  'repo-commit-status-updated.json': 'build',
  'repo-push.json': 'code.push',
};
const samples = listSamples('bitbucket').map((f) => loadSample('bitbucket', f));

describe('bitbucket', () => {
  it('has an expectation for every fixture', () => {
    expect(listSamples('bitbucket')).toEqual(Object.keys(expected).sort());
  });

  it('verifies X-Hub-Signature as SHA-256 and rejects SHA-1, wrong or missing signatures', () => {
    for (const s of samples) {
      expect(bitbucket.verify(Buffer.from(rawBody(s)), lowerHeaders(s.headers), config, at), s.file).toEqual({
        ok: true,
      });
    }
    const body = Buffer.from('{"a":1}');
    const sha1 = `sha1=${createHmac('sha1', SECRET).update(body).digest('hex')}`;
    const good = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    expect(bitbucket.verify(body, { 'x-hub-signature': good }, config, at).ok).toBe(true);
    for (const bad of [sha1, `${good.slice(0, -1)}0`, 'sha256=', '']) {
      expect(bitbucket.verify(body, { 'x-hub-signature': bad }, config, at).ok, bad).toBe(false);
    }
    expect(bitbucket.verify(body, {}, config, at).ok).toBe(false);
    expect(
      bitbucket.verify(body, { 'x-hub-signature': good }, { enabled: true, secret: undefined }, at).ok,
    ).toBe(false);
  });

  it('normalises every fixture with actor, repository and delivery id', () => {
    for (const s of samples) {
      const headers = lowerHeaders(s.headers);
      const e = bitbucket.toEvents(s.body, headers, at).events[0]!;
      expect(e.pipewarden.kind, s.file).toBe(expected[s.file]);
      expect(e.event.action).toBe(headers['x-event-key']);
      expect(e.user?.name).toBe('emmap1');
      expect(e.pipewarden.repository).toBeTruthy();
      expect(bitbucket.deliveryId(headers, s.body)).toBe(headers['x-request-uuid']);
      expect(EVENT_KINDS).toContain(e.pipewarden.kind);
    }
    const status = samples.find((s) => s.file === 'repo-commit-status-updated.json')!;
    const e = bitbucket.toEvents(status.body, lowerHeaders(status.headers), at).events[0]!;
    expect([e.event.outcome, e.pipewarden.job, e['@timestamp']]).toEqual([
      'success',
      'Unit Tests (Python)',
      '2015-11-20T08:01:16.433Z',
    ]);
  });

  it('marks forced pushes', () => {
    const push = samples.find((s) => s.file === 'repo-push.json')!;
    const body = structuredClone(push.body) as { push: { changes: Array<Record<string, unknown>> } };
    body.push.changes[0]!.forced = true;
    const e = bitbucket.toEvents(body, lowerHeaders(push.headers), at).events[0]!;
    expect((e.pipewarden as { forced?: boolean }).forced).toBe(true);
    expect(e.message).toMatch(/force-pushed/);
  });

  it('refuses a body without X-Event-Key or that is not an object', () => {
    expect(() => bitbucket.toEvents({}, {}, at)).toThrow(AdapterInputError);
    expect(() => bitbucket.toEvents([], { 'x-event-key': 'repo:push' }, at)).toThrow(AdapterInputError);
  });
});
