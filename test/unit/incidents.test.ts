// Incidents instead of repeats: the real @slack/web-api client against the local Slack server (chat.update
// and thread replies), email through a real SMTP peer, a SQLite store on disk reopened to cross a restart.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import { groupKey, IncidentTracker } from '../../src/alerting/incidents.ts';
import { Router } from '../../src/alerting/routing.ts';
import { createSinks, implicitReceivers } from '../../src/alerting/sinks/index.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

let slack: SlackServer;
let smtp: TestSmtpServer;
const dir = mkdtempSync(join(tmpdir(), 'pw-incidents-'));

function hit(n: number, at: string, key = 'alice'): Hit {
  return {
    id: `hit-${key}-${n}`,
    '@timestamp': at,
    detected_at: at,
    detector: 'failed-logins',
    title: 'Many failed logins',
    severity: n === 3 ? 'critical' : 'high',
    summary: `${n * 10} failed logins for ${key}`,
    description: 'd',
    runbook: 'https://example.org/runbook',
    key,
    event_ids: [`e${n}`],
    source: 'jenkins',
    context: { rule: 'brute-force' },
  };
}

beforeAll(async () => {
  slack = await startSlackServer({ token: 'xoxb-incidents' });
  smtp = await startSmtpServer();
});
afterAll(async () => {
  await slack.close();
  await smtp.close();
});

function alerterOn(store: SqliteStore, now: () => Date) {
  const config = parseConfig(
    {
      alerting: {
        slack: { enabled: true, channel: '#sec', apiUrl: slack.url, minSeverity: 'low' },
        email: {
          enabled: true,
          host: '127.0.0.1',
          port: smtp.port,
          requireTls: false,
          from: 'pw@example.test',
          to: ['soc@example.test'],
          minSeverity: 'low',
        },
        route: { group_interval: '1h', repeat_interval: '4h' },
      },
    },
    { PIPEWARDEN_SLACK_TOKEN: 'xoxb-incidents' },
  );
  const sinks = createSinks(config.alerting);
  const alerter = new Alerter(sinks, store, {
    attempts: 1,
    backoffMs: 0,
    router: new Router(config.alerting.route, implicitReceivers(config.alerting)),
    incidents: new IncidentTracker(store, {
      groupBy: config.alerting.route.group_by,
      groupIntervalMs: config.alerting.route.group_interval,
      repeatIntervalMs: config.alerting.route.repeat_interval,
    }),
    log: createLogger({ level: 'silent' }),
    now,
  });
  return { alerter, close: () => Promise.allSettled(sinks.map((s) => s.close?.())) };
}

describe('incidents', () => {
  it('groups by detector, rule and key by default', () => {
    const g = groupKey(hit(1, '2026-01-01T00:00:00Z'), ['detector', 'rule', 'key']);
    expect(g).toBe('detector=failed-logins\u0000rule=brute-force\u0000key=alice');
  });

  it('first hit notifies; later ones edit the Slack message, reply in its thread, and email waits for repeat_interval; across a restart', async () => {
    const path = join(dir, 'store.sqlite');
    let clock = new Date('2026-05-01T10:00:00Z');
    let store = new SqliteStore({ path });
    await store.init();
    let a = alerterOn(store, () => clock);
    const first = await a.alerter.handle(hit(1, '2026-05-01T10:00:00Z'));
    expect(first.deliveries.slack).toMatchObject({ status: 'sent', ref: { channel: '#sec' } });
    expect(slack.messages).toHaveLength(1);
    await smtp.waitFor(1, 10_000);
    const ts = first.deliveries.slack!.ref!.ts!;

    clock = new Date('2026-05-01T10:10:00Z');
    const second = await a.alerter.handle(hit(2, '2026-05-01T10:10:00Z'));
    expect(second.incident_id).toBe(first.incident_id);
    expect(second.deliveries.slack).toMatchObject({ status: 'sent', update: true });
    expect(second.deliveries.email).toMatchObject({ status: 'skipped' });
    expect(second.deliveries.email?.reason).toMatch(
      /counted into incident inc-.* \(2 hits\); email repeats it at most every 240 min/,
    );
    // a redelivered hit is not counted twice, and sends nothing again
    await a.alerter.handle(hit(2, '2026-05-01T10:10:00Z'));
    await a.close();
    await store.close();

    // restart: a new store handle and alerter on the same file continue the incident
    clock = new Date('2026-05-01T10:20:00Z');
    store = new SqliteStore({ path });
    await store.init();
    a = alerterOn(store, () => clock);
    const third = await a.alerter.handle(hit(3, '2026-05-01T10:20:00Z'));
    expect(third.incident_id).toBe(first.incident_id);
    expect(slack.updates.map((u) => u.ts)).toEqual([ts, ts]);
    const replies = slack.messages.filter((m) => m.thread_ts === ts);
    expect(replies.map((r) => r.text)).toEqual([
      expect.stringMatching(/^Hit 2 at .*: 20 failed logins for alice/),
      expect.stringMatching(/^Hit 3 at .*: 30 failed logins for alice/),
    ]);
    // the edited message shows the count, first and last times and the worst severity so far
    const shown = JSON.stringify(slack.current.get(`#sec ${ts}`)?.blocks);
    expect(shown).toContain('*Hits*\\n3 (first <!date^1777629600');
    expect(shown).toContain('last <!date^1777630800');
    expect(slack.messages).toHaveLength(3); // the first message and two thread replies
    expect(smtp.messages).toHaveLength(1);

    // past repeat_interval, email sends one update naming the count
    clock = new Date('2026-05-01T14:30:00Z');
    const fourth = await a.alerter.handle(hit(4, '2026-05-01T10:50:00Z'));
    expect(fourth.deliveries.email).toMatchObject({ status: 'sent' });
    await smtp.waitFor(2, 10_000);
    expect(smtp.messages[1]!.text).toMatch(/Hits: 4 in incident inc-/);

    // past group_interval after the last hit: a new incident, a new message
    clock = new Date('2026-05-01T16:00:00Z');
    const later = await a.alerter.handle(hit(5, '2026-05-01T16:00:00Z'));
    expect(later.incident_id).not.toBe(first.incident_id);
    expect(later.deliveries.slack?.update).toBeUndefined();
    expect(slack.messages.filter((m) => m.thread_ts === undefined)).toHaveLength(2);
    await a.close();
    await store.close();
  });
});
