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
