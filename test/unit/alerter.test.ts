// The alerter with the real Slack and email sinks against local protocol peers and a real SQLite store:
// routing, minimum severity, retries only where they can help, and redelivery that sends nothing twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import { createEmailSink, emailSinkConfigSchema } from '../../src/alerting/sinks/email.ts';
import { createSlackSink, slackSinkConfigSchema } from '../../src/alerting/sinks/slack.ts';
import type { Hit, Sink } from '../../src/alerting/types.ts';
import { withEnv } from '../../src/config/secrets.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

let slack: SlackServer;
let smtp: TestSmtpServer;
let store: SqliteStore;
let sinks: Sink[];

function hit(id: string, detector = 'failed-logins', severity: Hit['severity'] = 'high'): Hit {
  return {
    id,
    '@timestamp': '2024-06-01T10:00:00.000Z',
    detected_at: '2024-06-01T10:00:01.000Z',
    detector,
    title: `${detector} fired`,
    severity,
    summary: `summary of ${id}`,
    description: 'd',
    runbook: `detectors/${detector}/README.md#runbook`,
    key: 'alice',
    event_ids: ['e1'],
    source: 'github',
    context: {},
  };
}

beforeAll(async () => {
  slack = await startSlackServer({ token: 'xoxb-alerter' });
  smtp = await startSmtpServer();
  store = new SqliteStore({ path: ':memory:' });
  await store.init();
  const env = { PIPEWARDEN_SLACK_TOKEN: 'xoxb-alerter' };
  sinks = [
    createSlackSink(
      withEnv(env, () =>
        slackSinkConfigSchema.parse({
          enabled: true,
          channel: '#soc',
          apiUrl: slack.url,
          minSeverity: 'low',
          detectors: ['failed-logins'],
        }),
      ),
    ) as Sink,
    createEmailSink(
      withEnv(env, () =>
        emailSinkConfigSchema.parse({
          enabled: true,
          host: '127.0.0.1',
          port: smtp.port,
          requireTls: false,
          from: 'pw@example.test',
          to: ['soc@example.test'],
          minSeverity: 'high',
        }),
      ),
    ) as Sink,
  ];
});
afterAll(async () => {
  await Promise.allSettled(sinks.map((s) => s.close?.()));
  await slack.close();
  await smtp.close();
  await store.close();
});

const alerter = () =>
  new Alerter(sinks, store, { attempts: 3, backoffMs: 5, log: createLogger({ level: 'silent' }) });

describe('alerter', () => {
  it('routes by detector and by minimum severity, and records why a sink was skipped', async () => {
    const a = await alerter().handle(hit('route-1', 'out-of-hours-deploys', 'medium'));
    expect(a.status).toBe('delivered');
    expect(a.deliveries.slack).toMatchObject({
      status: 'skipped',
      reason: 'out-of-hours-deploys is not routed to slack',
    });
    expect(a.deliveries.email).toMatchObject({
      status: 'skipped',
      reason: 'below email minimum severity high',
    });
    expect(await store.getAlert('route-1')).toMatchObject({ status: 'delivered' });
  });

  it('retries a rate-limited send and records the attempts; does not retry a refusal', async () => {
    slack.failNext(1, 'ratelimit');
    const a = await alerter().handle(hit('retry-1'));
    expect(a.deliveries.slack).toMatchObject({ status: 'sent', attempts: 2 });
    expect(a.deliveries.email).toMatchObject({ status: 'sent', attempts: 1 });
    slack.failNext(1, 'invalid_auth');
    const b = await alerter().handle(hit('refused-1'));
    expect(b.status).toBe('partial');
    expect(b.deliveries.slack).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: expect.stringMatching(/invalid_auth/),
    });
  });

  it('on redelivery sends only what failed, and nothing once delivered', async () => {
    const slackBefore = slack.messages.length;
    const mailBefore = smtp.messages.length;
    const again = await alerter().handle(hit('refused-1'));
    expect(again.status).toBe('delivered');
    expect(again.deliveries.slack).toMatchObject({ status: 'sent', attempts: 2 });
    expect(slack.messages.length).toBe(slackBefore + 1);
    expect(smtp.messages.length).toBe(mailBefore); // email had gone out the first time
    await alerter().handle(hit('refused-1'));
    expect(slack.messages.length).toBe(slackBefore + 1);
  });
});

describe('runbook links', () => {
  it('turns a runbook path into a link under runbookBaseUrl, in Slack and in email', async () => {
    const a = new Alerter(sinks, store, {
      attempts: 1,
      backoffMs: 1,
      runbookBaseUrl: 'https://git.example/acme/pipewarden/blob/main/',
      log: createLogger({ level: 'silent' }),
    });
    const slackBefore = slack.messages.length;
    const mailBefore = smtp.messages.length;
    await a.handle(hit('runbook-1'));
    const url = 'https://git.example/acme/pipewarden/blob/main/detectors/failed-logins/README.md#runbook';
    expect(JSON.stringify(slack.messages[slackBefore]!.blocks)).toContain(`<${url}|open runbook>`);
    const mails = await smtp.waitFor(mailBefore + 1);
    expect(mails.at(-1)!.html).toContain(`<a href="${url}">`);
    // The stored alert keeps the path: the link is a rendering of it.
    expect((await store.getAlert('runbook-1'))?.runbook).toBe('detectors/failed-logins/README.md#runbook');
  });

  it('keeps an absolute runbook URL as it is', async () => {
    const a = new Alerter(sinks, store, {
      attempts: 1,
      backoffMs: 1,
      runbookBaseUrl: 'https://git.example/x/',
      log: createLogger({ level: 'silent' }),
    });
    const before = slack.messages.length;
    await a.handle({ ...hit('runbook-2'), runbook: 'https://wiki.example/runbooks/logins' });
    expect(JSON.stringify(slack.messages[before]!.blocks)).toContain(
      '<https://wiki.example/runbooks/logins|open runbook>',
    );
  });
});

describe('alert budget and digests', () => {
  const THROTTLE = { enabled: true, maxPerWindow: 3, windowMinutes: 10, neverHold: 'critical' as const };
  let clock = Date.parse('2024-06-02T09:00:00Z');
  const throttled = () =>
    new Alerter(sinks, store, {
      attempts: 1,
      backoffMs: 1,
      throttle: THROTTLE,
      consoleUrl: 'https://pipewarden.example/',
      log: createLogger({ level: 'silent' }),
      now: () => new Date(clock),
    });

  it("holds what is over a sink's budget, never a critical alert, and a redelivery stays held", async () => {
    const a = throttled();
    const slackBefore = slack.messages.length;
    const results = [];
    for (let i = 0; i < 6; i++) {
      clock += 1_000;
      results.push(await a.handle(hit(`flood-${i}`, 'failed-logins', i === 5 ? 'medium' : 'high')));
    }
    expect(results.map((r) => r.deliveries.slack!.status)).toEqual([
      'sent',
      'sent',
      'sent',
      'held',
      'held',
      'held',
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'delivered',
      'delivered',
      'delivered',
      'held',
      'held',
      'held',
    ]);
    expect(results[3]!.deliveries.slack!.reason).toMatch(/slack sent 3 alerts in the last 10 min; held/);
    expect(slack.messages.length).toBe(slackBefore + 3);

    clock += 1_000;
    const critical = await a.handle(hit('flood-critical', 'failed-logins', 'critical'));
    expect(critical.deliveries.slack!.status).toBe('sent');
    expect(slack.messages.length).toBe(slackBefore + 4);

    const again = await a.handle(hit('flood-4'));
    expect(again.deliveries.slack!.status).toBe('held');
    expect(slack.messages.length).toBe(slackBefore + 4);
    const listed = await store.searchAlerts({ status: 'held', size: 50 });
    expect(listed.items.map((x) => x.id).sort()).toEqual(['flood-3', 'flood-4', 'flood-5']);
  });

  it('sends one digest per sink for what it held, marks them digested, and never sends it twice', async () => {
    const a = throttled();
    const slackBefore = slack.messages.length;
    const mailBefore = smtp.messages.length;
    expect(await a.digest('slack')).toBe(3);
    expect(slack.messages.length).toBe(slackBefore + 1);
    // email (minimum severity high) held the two high alerts over its budget, not the medium one
    expect(await a.digest('email')).toBe(2);
    const mails = await smtp.waitFor(mailBefore + 1);
    expect(mails.at(-1)!.subject).toContain('2 alerts held back from email');
    const digest = slack.messages.at(-1)!;
    expect(digest.text).toContain('3 alerts held back from slack');
    expect(JSON.stringify(digest.blocks)).toContain('failed-logins ×3 (worst high)');
    // issue 13: held alerts stay listable after their digest, as status=digested, and the digest says so
    expect(JSON.stringify(digest.blocks)).toContain('https://pipewarden.example/api/alerts?status=digested');
    for (const id of ['flood-3', 'flood-4', 'flood-5']) {
      const stored = await store.getAlert(id);
      expect(stored?.status, id).toBe('digested');
      expect(stored?.deliveries.slack).toMatchObject({
        status: 'digested',
        digest: expect.stringMatching(/^digest-/),
      });
    }
    const record = await store.getAlert(String((await store.getAlert('flood-3'))!.deliveries.slack!.digest));
    expect(record).toMatchObject({ detector: 'alert-digest', status: 'delivered', context: { held: 3 } });
    expect(await a.digest('slack')).toBe(0);
    expect(await a.digest('email')).toBe(0);
    expect(slack.messages.length).toBe(slackBefore + 1);
    expect(smtp.messages.length).toBe(mailBefore + 1);
  });

  it('keeps alerts held when the digest cannot be sent, and sends it on the next try', async () => {
    const a = throttled();
    for (let i = 0; i < 4; i++) {
      clock += 1_000;
      await a.handle(hit(`again-${i}`));
    }
    expect((await store.getAlert('again-3'))?.deliveries.slack?.status).toBe('held');
    slack.failNext(1, 'invalid_auth');
    expect(await a.digest('slack')).toBe(0);
    expect((await store.getAlert('again-3'))?.deliveries.slack?.status).toBe('held');
    expect(await a.digest('slack')).toBe(1);
    expect((await store.getAlert('again-3'))?.deliveries.slack?.status).toBe('digested');
  });

  it('frees the budget as the window slides', async () => {
    const a = throttled();
    for (let i = 0; i < 3; i++) {
      clock += 1_000;
      expect((await a.handle(hit(`slide-${i}`))).deliveries.slack!.status).toBe('sent');
    }
    clock += 1_000;
    expect((await a.handle(hit('slide-held'))).deliveries.slack!.status).toBe('held');
    clock += 10 * 60_000 - 3_000; // the first send leaves the window
    expect((await a.handle(hit('slide-3'))).deliveries.slack!.status).toBe('sent');
    expect((await a.handle(hit('slide-4'))).deliveries.slack!.status).toBe('held');
  });
});
