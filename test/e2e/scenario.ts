// The spine, end to end, over real HTTP: a real signed GitHub sample → 202 → searchable in /api/events
// → the detector's hit → Slack (real @slack/web-api client, local Slack API peer) and email (real SMTP)
// → the alert listed by /api/alerts with both deliveries recorded. Run once per mode.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/api/tokens.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { eventually } from '../support/app.ts';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const SECRET = 'e2e-webhook-secret';
const SLACK_TOKEN = 'xoxb-e2e-token';

export function endToEnd(mode: string, modeConfig: () => Record<string, unknown>): void {
  describe(`end to end (${mode})`, () => {
    let app: RunningApp;
    let slack: SlackServer;
    let smtp: TestSmtpServer;
    let token: string;
    const run = Date.now().toString(36);

    beforeAll(async () => {
      slack = await startSlackServer({ token: SLACK_TOKEN });
      smtp = await startSmtpServer();
      const config = parseConfig(
        {
          ...modeConfig(),
          log: { level: 'warn' },
          alerting: {
            attempts: 2,
            backoffMs: 50,
            throttle: { maxPerWindow: 4 },
            // The same change sent again is a later hit of one incident; email repeats it at once here, so
            // each hit's delivery is checked (incidents have their own tests: incidents*.test.ts).
            route: { repeat_interval: '1ms' },
            slack: { enabled: true, channel: '#sec-alerts', apiUrl: slack.url, minSeverity: 'low' },
            email: {
              enabled: true,
              host: '127.0.0.1',
              port: smtp.port,
              requireTls: false,
              from: 'pipewarden@example.test',
              to: ['soc@example.test'],
              minSeverity: 'medium',
            },
          },
        },
        { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET, PIPEWARDEN_SLACK_TOKEN: SLACK_TOKEN },
      );
      app = await startApp(config, { port: 0, log: createLogger({ level: 'warn' }) });
      ({ token } = await createToken(app.store, 'e2e'));
    });

    afterAll(async () => {
      await app?.stop();
      await slack?.close();
      await smtp?.close();
    });

    async function send(file: string, delivery: string): Promise<Response> {
      const sample = loadSample('github', file);
      // One occurrence per delivery id: a signed body resent under a new id is the same event (issue 10).
      const raw = rawBody({ ...sample, body: { ...(sample.body as object), test_occurrence: delivery } });
      return fetch(`${app.url}/ingest/github`, {
        method: 'POST',
        body: raw,
        headers: signGithub(sample, raw, SECRET, delivery),
      });
    }

    async function api(path: string): Promise<any> {
      const res = await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, path).toBe(200);
      return res.json();
    }

    it('carries a signed webhook to the audit trail, Slack, email and the alert index', async () => {
      const res = await send('branch_protection_rule__deleted.json', `e2e-${run}-1`);
      expect(res.status).toBe(202);
      const { ids } = (await res.json()) as { ids: string[] };

      const events = await eventually(
        async () => {
          const page = await api(
            '/api/events?source=github&kind=config.change&repository=octo-org%2Focto-repo&q=protection',
          );
          return page.items.some((e: any) => e.event.id === ids[0]) ? page : undefined;
        },
        30_000,
        'the event in /api/events',
      );
      const event = events.items.find((e: any) => e.event.id === ids[0]);
      expect(event.event.action).toBe('branch_protection_rule.deleted');
      expect(event.user.name).toBeTruthy();

      const alert = await eventually(
        async () => {
          const page = await api('/api/alerts?detector=pipeline-weakening');
          return page.items.find((a: any) => a.event_ids.includes(ids[0]) && a.status === 'delivered');
        },
        30_000,
        'the delivered alert in /api/alerts',
      );
      expect(alert.deliveries.slack).toMatchObject({ status: 'sent', attempts: 1 });
      expect(alert.deliveries.email).toMatchObject({ status: 'sent', attempts: 1 });
      expect(alert.severity).toBe('high');

      expect(slack.messages).toHaveLength(1);
      // Operators see the same story in /metrics.
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toMatch(/pipewarden_ingest_requests_total\{source="github",result="accepted"\} [1-9]/);
      expect(metrics).toMatch(/pipewarden_hits_total\{detector="pipeline-weakening",severity="high"\} [1-9]/);
      expect(metrics).toMatch(/pipewarden_alert_deliveries_total\{sink="slack",status="sent"\} [1-9]/);
      const msg = slack.messages[0]!;
      expect(msg.channel).toBe('#sec-alerts');
      expect(msg.text).toContain('deleted a branch protection rule');
      expect(JSON.stringify(msg.blocks)).toContain('octo-org/octo-repo');

      const [mail] = await smtp.waitFor(1, 10_000);
      expect(mail!.to).toEqual(['soc@example.test']);
      expect(mail!.subject).toMatch(/HIGH/i);
      expect(mail!.text).toContain('deleted a branch protection rule');
      expect(mail!.html).toContain('octo-org/octo-repo');
    });

    it('does not alert twice for a redelivered webhook', async () => {
      const again = await send('branch_protection_rule__deleted.json', `e2e-${run}-1`);
      expect(again.status).toBe(200);
      expect(await again.json()).toMatchObject({ duplicate: true });
      // Another event under a new delivery id: proves the pipeline is live while we wait.
      await send('push__default.json', `e2e-${run}-2`);
      await eventually(
        async () => (await api('/api/events?kind=code.push')).total > 0,
        30_000,
        'the push event',
      );
      expect(slack.messages).toHaveLength(1);
      expect(smtp.messages).toHaveLength(1);
    });

    it('sends a test alert through every sink on request, and says which one failed', async () => {
      const post = () =>
        fetch(`${app.url}/api/alerts/test`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
      const before = { slack: slack.messages.length, mail: smtp.messages.length };
      const ok = await post();
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({
        ok: true,
        deliveries: { slack: { status: 'sent' }, email: { status: 'sent' } },
      });
      expect(slack.messages.length).toBe(before.slack + 1);
      expect(slack.messages.at(-1)!.text).toContain('pipewarden test alert');
      await smtp.waitFor(before.mail + 1, 10_000);
      slack.failNext(1, 'channel_not_found');
      const bad = await post();
      expect(bad.status).toBe(502);
      const body = (await bad.json()) as { deliveries: Record<string, { status: string; error?: string }> };
      expect(body.deliveries.slack).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/channel_not_found/),
      });
      expect(body.deliveries.email!.status).toBe('sent');
      await smtp.waitFor(before.mail + 2, 10_000);
      // Test alerts are not recorded as alerts.
      const listed = await api('/api/alerts?detector=pipewarden-test');
      expect(listed.total).toBe(0);
    });

    it('delivers by email when Slack refuses, and records the Slack failure', async () => {
      const mailsBefore = smtp.messages.length;
      slack.failNext(1, 'invalid_auth'); // a refusal: not retried, so one call fails
      // The same kind of change, another occurrence (new delivery, new content): a new alert.
      const res = await send('branch_protection_rule__deleted.json', `e2e-${run}-3`);
      expect(res.status).toBe(202);
      const { ids } = (await res.json()) as { ids: string[] };
      const alert = await eventually(
        async () => {
          const page = await api('/api/alerts?status=partial');
          return page.items.find((a: any) => a.event_ids.includes(ids[0]));
        },
        30_000,
        'the partial alert',
      );
      expect(alert.deliveries.slack.status).toBe('failed');
      expect(alert.deliveries.slack.error).toMatch(/invalid_auth/);
      expect(alert.deliveries.email.status).toBe('sent');
      const mails = await smtp.waitFor(mailsBefore + 1, 10_000);
      expect(mails.at(-1)!.subject).toContain('Pipeline safeguard weakened');
    });

    it('holds a flood of alerts past the sink budget and sends one digest for them through the bus', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await send('branch_protection_rule__deleted.json', `e2e-${run}-flood-${i}`);
        expect(res.status).toBe(202);
        ids.push(...((await res.json()) as { ids: string[] }).ids);
      }
      const flood = await eventually(
        async () => {
          const page = await api('/api/alerts?size=100');
          const mine = page.items.filter((a: any) => ids.includes(a.event_ids[0]));
          // An alert is listed from its outbox intent on ('pending'); wait for its outcome.
          return mine.length === 5 && mine.every((a: any) => a.status !== 'pending') && mine;
        },
        30_000,
        'the five flood alerts',
      );
      const heldForSlack = flood.filter((a: any) => a.deliveries.slack.status === 'held');
      expect(heldForSlack.length).toBeGreaterThan(0);
      expect(heldForSlack[0].deliveries.slack.reason).toMatch(/held for the digest/);
      const slackBefore = slack.messages.length;
      // What the sweeper publishes when it finds held alerts (every 5 minutes by default).
      await app.bus.publish(app.config.topics.hits, [{ key: 'digest:slack', value: '{"digest":"slack"}' }]);
      const digest = await eventually(
        async () =>
          slack.messages.slice(slackBefore).find((m) => /alerts held back from slack/.test(m.text ?? '')),
        30_000,
        'the Slack digest',
      );
      expect(digest.text).toContain(`${heldForSlack.length} alerts held back from slack`);
      await app.store.refresh();
      for (const a of heldForSlack) {
        const stored = await app.store.getAlert(a.id);
        expect(stored?.deliveries.slack?.status).toBe('digested');
      }
      expect(slack.messages.length).toBe(slackBefore + 1);
    });
  });
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'pipewarden-e2e-'));
}
