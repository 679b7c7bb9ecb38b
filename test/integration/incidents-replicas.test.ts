// Incidents with two alert replicas on real Kafka and Elasticsearch: one message per receiver per incident
// update. Three incidents of four hits each go through two alert processes in one consumer group; Slack gets
// one message per incident and one edit plus one thread reply per later hit, email one mail per incident
// (repeat_interval holds the rest), whichever replica handled which partition.
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Hit } from '../../src/alerting/types.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { eventually, TEST_GROUP_PREFIX } from '../support/app.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const run = `inc${Date.now().toString(36)}`;
const SLACK_TOKEN = 'xoxb-replicas-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEYS = ['alice', 'bob', 'carol'];
const PER_INCIDENT = 4;

function hit(key: string, n: number): Hit {
  const at = new Date(Date.UTC(2026, 4, 1, 10, n)).toISOString();
  return {
    id: `${run}-${key}-${n}`,
    '@timestamp': at,
    detected_at: at,
    detector: 'failed-logins',
    title: 'Many failed logins',
    severity: 'high',
    summary: `${n + 1} bursts of failed logins for ${key}`,
    description: 'd',
    runbook: 'https://pipewarden.example/runbooks/failed-logins',
    key,
    event_ids: [`e-${key}-${n}`],
    source: 'jenkins',
    context: { rule: 'brute-force' },
  };
}

describe('incidents with two alert replicas on real Kafka', () => {
  const es = new Client({ node: inject('elasticsearchUrl') });
  let slack: SlackServer;
  let smtp: TestSmtpServer;
  const apps: RunningApp[] = [];
  const config = () =>
    parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX },
        elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
        topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
        log: { level: 'silent' },
        alerting: {
          attempts: 2,
          backoffMs: 10,
          throttle: { enabled: false },
          slack: { enabled: true, channel: '#sec-alerts', apiUrl: slack.url, minSeverity: 'low' },
          email: {
            enabled: true,
            host: '127.0.0.1',
            port: smtp.port,
            requireTls: false,
            from: 'pipewarden@example.test',
            to: ['soc@example.test'],
            minSeverity: 'low',
          },
        },
      },
      { PIPEWARDEN_SLACK_TOKEN: SLACK_TOKEN },
    );

  beforeAll(async () => {
    slack = await startSlackServer({ token: SLACK_TOKEN });
    smtp = await startSmtpServer();
    for (let i = 0; i < 2; i++)
      apps.push(
        await startApp(config(), { port: 0, roles: ['alert'], log: createLogger({ level: 'silent' }) }),
      );
    await sleep(5_000); // both consumers in the group before the hits arrive
  });

  afterAll(async () => {
    for (const app of apps) await app.stop().catch(() => {});
    await slack?.close();
    await smtp?.close();
    await es.indices.delete({ index: `pw-${run}-*`, ignore_unavailable: true }).catch(() => {});
    await es.indices.deleteDataStream({ name: `pw-${run}-events` }).catch(() => {});
    await es.close();
  });

  it('sends one message per receiver per incident update', { timeout: 150_000 }, async () => {
    const [a, b] = apps as [RunningApp, RunningApp];
    // Published in hit order, keyed as the detect role keys them (by key), half through each replica's bus.
    for (let n = 0; n < PER_INCIDENT; n++) {
      for (const [i, key] of KEYS.entries()) {
        const h = hit(key, n);
        await (i % 2 ? a : b).bus.publish(`${run}.hits`, [{ key: h.key, value: JSON.stringify(h) }]);
      }
    }
    const all = KEYS.flatMap((k) => Array.from({ length: PER_INCIDENT }, (_, n) => hit(k, n)));
    await eventually(
      async () => {
        for (const h of all) if ((await a.store.getAlert(h.id))?.status !== 'delivered') return false;
        return true;
      },
      100_000,
      'every hit delivered',
    );
    await sleep(2_000); // a duplicate would show up here
    const tops = slack.messages.filter((m) => m.thread_ts === undefined);
    const replies = slack.messages.filter((m) => m.thread_ts !== undefined);
    const counts = {
      top: tops.length,
      replies: replies.length,
      updates: slack.updates.length,
      mails: smtp.messages.length,
    };
    const handled = apps.map((app) =>
      app.metrics.get('pipewarden_alert_deliveries_total', { sink: 'slack', status: 'sent' }),
    );
    console.log(
      `two-replica delivery counts: ${JSON.stringify(counts)}; slack sends per replica: ${handled.join(' + ')}`,
    );
    // every hit's Slack delivery was made by one replica or the other, never both
    expect(handled.reduce((x, y) => x + y, 0)).toBe(all.length);
    expect(counts).toEqual({
      top: KEYS.length,
      replies: KEYS.length * (PER_INCIDENT - 1),
      updates: KEYS.length * (PER_INCIDENT - 1),
      mails: KEYS.length,
    });
    // each incident's replies are in its own thread, one per later hit, in order
    const byThread = new Map<string, string[]>();
    for (const r of replies)
      byThread.set(String(r.thread_ts), [...(byThread.get(String(r.thread_ts)) ?? []), String(r.text)]);
    expect(byThread.size).toBe(KEYS.length);
    for (const texts of byThread.values())
      expect(texts.map((t) => /^Hit (\d+)/.exec(t)?.[1])).toEqual(['2', '3', '4']);
    // every alert names its incident; one incident per key
    const incidents = new Set<string>();
    for (const h of all) incidents.add(String((await a.store.getAlert(h.id))?.incident_id));
    expect(incidents.size).toBe(KEYS.length);
  });
});
