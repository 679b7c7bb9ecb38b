// Alert content an analyst can act on (issue 13, item 6): Slack shows what email shows (the rule, the set
// of users a spraying hit targets, a secret's job and line), email links to the console, a digest names
// what it held, and an alert with no sink configured is `undelivered`.
import { describe, expect, it } from 'vitest';
import { detectors } from '../../detectors/index.ts';
import { renderEmail } from '../../src/alerting/sinks/email.ts';
import { renderSlackMessage } from '../../src/alerting/sinks/slack.ts';
import { buildDigest, overallStatus } from '../../src/alerting/throttle.ts';
import type { AlertRecord, Hit } from '../../src/alerting/types.ts';
import { makeHit } from '../../src/detect/engine.ts';
import type { PipewardenEvent } from '../../src/event.ts';

const spraying: Hit = {
  id: 'hit-spray',
  '@timestamp': '2026-05-01T10:00:00Z',
  detected_at: '2026-05-01T10:00:01Z',
  detector: 'failed-logins',
  title: 'Failed logins',
  severity: 'high',
  summary: '5 different users failed to log in from 203.0.113.7 within 30 min (password spraying?)',
  description: 'd',
  runbook: 'https://example.org/runbook',
  key: '203.0.113.7',
  event_ids: ['e1'],
  source: 'jenkins',
  source_ip: '203.0.113.7',
  context: {
    rule: 'password-spraying',
    targets: '5 users from 203.0.113.7',
    users: 'alice, bob, carol, dave, erin',
    count: 5,
  },
};

const secret: Hit = {
  ...spraying,
  id: 'hit-secret',
  detector: 'secrets-in-build-logs',
  title: 'Secret in a build log',
  summary: 'An AWS access key id in a build log',
  key: 'acme/web',
  context: { rule: 'aws-access-key-id', job: 'acme/web #42', line: 118, fingerprint: 'fp-1' },
};

const text = (h: Hit) => JSON.stringify(renderSlackMessage(h, { channel: '#c' }).blocks);

describe('alert content', () => {
  it('Slack names the rule and the set a spraying hit targets, not a last user as actor', () => {
    const t = text(spraying);
    expect(t).toContain('*Rule*\\n`password-spraying`');
    expect(t).toContain('*Targets*\\n5 users from 203.0.113.7');
    expect(t).not.toContain('*Actor*');
    expect(t).toContain('*users*: alice, bob, carol, dave, erin');
    expect(t).toContain('*count*: 5');
  });

  it("Slack shows a secret's job and line, as email does", () => {
    const t = text(secret);
    expect(t).toContain('*job*: acme/web #42');
    expect(t).toContain('*line*: 118');
    const mail = renderEmail(secret, { from: 'a@example.org', to: ['b@example.org'] });
    expect(mail.text).toContain('job: acme/web #42');
    expect(mail.text).toContain('line: 118');
  });

  it('links to the object at the vendor where the event carries one', () => {
    const h = { ...secret, link: 'https://jenkins.example.org/job/web/42/' };
    expect(text(h)).toContain('<https://jenkins.example.org/job/web/42/|open at jenkins>');
    const mail = renderEmail(h, { from: 'a@example.org', to: ['b@example.org'] });
    expect(mail.text).toContain('At jenkins: https://jenkins.example.org/job/web/42/');
  });

  it("the engine carries the event's build URL, environment and organisation onto the hit", () => {
    const event = {
      '@timestamp': '2026-05-01T10:00:00Z',
      message: 'm',
      event: { id: 'ev1', kind: 'event', ingested: '2026-05-01T10:00:01Z' },
      organization: { name: 'acme' },
      pipewarden: {
        kind: 'deploy',
        source: 'jenkins',
        environment: 'production',
        build_url: 'https://jenkins.example.org/job/web/42/',
      },
    } as unknown as PipewardenEvent;
    const h = makeHit(detectors[0]!, event, 'k', { summary: 's' }, 0, new Date('2026-05-01T10:00:02Z'));
    expect(h).toMatchObject({
      environment: 'production',
      organization: 'acme',
      link: 'https://jenkins.example.org/job/web/42/',
    });
    const evil = {
      ...event,
      pipewarden: { ...event.pipewarden, build_url: 'javascript:alert(1)' },
    } as PipewardenEvent;
    expect(makeHit(detectors[0]!, evil, 'k', { summary: 's' }, 0, new Date()).link).toBeUndefined();
  });

  it('email links to the console like Slack', () => {
    const mail = renderEmail(spraying, {
      from: 'a@example.org',
      to: ['b@example.org'],
      consoleUrl: 'https://pw.example.org/',
    });
    expect(mail.text).toContain('Alert and events: https://pw.example.org/#/alert/hit-spray');
    expect(mail.html).toContain('<a href="https://pw.example.org/#/alert/hit-spray">');
  });

  it('a digest names the top detectors, repositories and actors it held, and where to list them', () => {
    const held = (id: string, repository: string, actor: string): AlertRecord => ({
      ...spraying,
      id,
      repository,
      actor,
      status: 'held',
      deliveries: {},
    });
    const d = buildDigest(
      'slack',
      [held('a', 'acme/web', 'alice'), held('b', 'acme/web', 'bob'), held('c', 'acme/api', 'alice')],
      new Date('2026-05-01T11:00:00Z'),
      'https://pw.example.org',
    );
    expect(d.summary).toContain('failed-logins ×3 (worst high)');
    expect(d.summary).toContain('Top repositories: acme/web ×2, acme/api ×1.');
    expect(d.summary).toContain('Top actors: alice ×2, bob ×1.');
    expect(d.summary).toContain('GET https://pw.example.org/api/alerts?status=digested');
  });

  it('an alert no sink could take is undelivered; one only digested is digested', () => {
    expect(overallStatus({})).toBe('undelivered');
    const at = '2026-05-01T10:00:00Z';
    expect(overallStatus({ slack: { status: 'digested', attempts: 0, at } })).toBe('digested');
    expect(overallStatus({ slack: { status: 'sent', attempts: 1, at } })).toBe('delivered');
  });
});
