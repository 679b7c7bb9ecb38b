import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { bitbucketAuditLine, bitbucketServer } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test') };
const at = new Date('2024-06-01T10:00:00Z');
const samples = listSamples('bitbucket-server').map((f) => loadSample('bitbucket-server', f));
const expected: Record<string, string> = {
  'pr-comment-added.json': 'other',
  'pr-comment-edited.json': 'other',
  'pr-deleted.json': 'other',
  'pr-modified.json': 'other',
  'pr-reviewer-approved.json': 'other',
  'pr-reviewer-unapproved.json': 'other',
  'repo-comment-added.json': 'other',
  'repo-comment-edited.json': 'other',
  'repo-modified.json': 'config.change',
};

describe('bitbucket-server', () => {
  it('has an expectation for every fixture', () => {
    expect(listSamples('bitbucket-server')).toEqual(Object.keys(expected).sort());
  });

  it('verifies the SHA-256 X-Hub-Signature and refuses anything else', () => {
    for (const s of samples) {
      expect(
        bitbucketServer.verify(Buffer.from(rawBody(s)), lowerHeaders(s.headers), config, at),
        s.file,
      ).toEqual({ ok: true });
    }
    const body = Buffer.from('{}');
    const good = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    expect(bitbucketServer.verify(Buffer.from('{ }'), { 'x-hub-signature': good }, config, at).ok).toBe(
      false,
    );
    expect(
      bitbucketServer.verify(body, { 'x-hub-signature': good.replace('sha256', 'sha1') }, config, at).ok,
    ).toBe(false);
    expect(bitbucketServer.verify(body, {}, config, at).ok).toBe(false);
    expect(
      bitbucketServer.verify(body, { 'x-hub-signature': good }, { enabled: true, secret: undefined }, at).ok,
    ).toBe(false);
  });

  it('normalises every fixture with actor, project/repo, event time and delivery id', () => {
    for (const s of samples) {
      const headers = lowerHeaders(s.headers);
      const e = bitbucketServer.toEvents(s.body, headers, at).events[0]!;
      expect(e.pipewarden.kind, s.file).toBe(expected[s.file]);
      expect(e.event.action).toBe(headers['x-event-key']);
      expect(['gopher', 'tux']).toContain(e.user?.name);
      expect(e['@timestamp'].startsWith('2019-0')).toBe(true);
      expect(bitbucketServer.deliveryId(headers, s.body)).toBe(headers['x-request-id']);
    }
    const pr = samples.find((s) => s.file === 'pr-comment-added.json')!;
    expect(bitbucketServer.toEvents(pr.body, lowerHeaders(pr.headers), at).events[0]!['@timestamp']).toBe(
      '2019-03-01T09:08:35.000Z',
    );
  });

  it('maps pushes, secret detection and ping', () => {
    const push = {
      eventKey: 'repo:refs_changed',
      date: '2024-01-01T00:00:00+0000',
      actor: { name: 'alice', slug: 'alice' },
      repository: { slug: 'r', project: { key: 'P' } },
      changes: [{ ref: { displayId: 'main' }, type: 'DELETE', toHash: '0'.repeat(40) }],
    };
    const e = bitbucketServer.toEvents(push, {}, at).events[0]!;
    expect([e.pipewarden.kind, e.event.type[0], e.pipewarden.repository, e.pipewarden.branch]).toEqual([
      'code.push',
      'deletion',
      'P/r',
      'main',
    ]);
    expect(
      bitbucketServer.toEvents({ ...push, eventKey: 'repo:secret_detected' }, {}, at).events[0]!.pipewarden
        .kind,
    ).toBe('security.alert');
    expect(bitbucketServer.toEvents({}, { 'x-event-key': 'diagnostics:ping' }, at)).toEqual({
      events: [],
      reply: { pong: true },
    });
    expect(() => bitbucketServer.toEvents({}, {}, at)).toThrow(AdapterInputError);
  });

  it('reads Data Center audit-log lines that carry logins, with user and IP', () => {
    const failed = JSON.stringify({
      timestamp: '2024-03-01T10:00:00.000Z',
      author: { name: 'alice', type: 'user' },
      auditType: { category: 'Authentication', action: 'User login failed' },
      source: '198.51.100.8',
    });
    expect(bitbucketAuditLine.read(failed, at, { transport: 'syslog' }) !== undefined).toBe(true);
    const e = bitbucketAuditLine.read(failed, at, { transport: 'syslog' })!;
    expect([e.pipewarden.kind, e.user?.name, e.source?.ip, e.event.outcome]).toEqual([
      'login.failure',
      'alice',
      '198.51.100.8',
      'failure',
    ]);
    const ok = failed.replace('User login failed', 'User logged in');
    expect(bitbucketAuditLine.read(ok, at, { transport: 'syslog' })!.pipewarden.kind).toBe('login.success');
    // A Java Instant timestamp is in seconds (it used to be read as milliseconds: January 1970).
    const instant = JSON.stringify({
      ...JSON.parse(failed),
      timestamp: { epochSecond: 1700000000, nano: 0 },
    });
    expect(bitbucketAuditLine.read(instant, at, { transport: 'syslog' })!['@timestamp']).toBe(
      '2023-11-14T22:13:20.000Z',
    );
    expect(bitbucketAuditLine.read('{"message":"x"}', at, { transport: 'syslog' }) !== undefined).toBe(false);
    expect(bitbucketAuditLine.read('{"auditType":1,"author":2', at, { transport: 'syslog' })).toBeNull();
    expect(bitbucketServer.lines).toContain(bitbucketAuditLine);
  });
});
