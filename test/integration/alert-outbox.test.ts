// No alert sent twice because its record could not be written (issue 10, item 2), on the real node:
// Elasticsearch refuses writes to the alerts index (the read-only block it sets at the flood-stage disk
// watermark) while an alert is under way; once lifted, every sink has exactly one message.
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import type { Hit, Sink } from '../../src/alerting/types.ts';
import { createSinks, type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { ElasticsearchStore } from '../../src/store/elasticsearch.ts';
import { eventually, TEST_GROUP_PREFIX } from '../support/app.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const run = `obx${Date.now().toString(36)}`;
const SLACK_TOKEN = 'xoxb-outbox-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hit(id: string): Hit {
  return {
    id,
    '@timestamp': '2026-03-04T03:12:45.000Z',
    detected_at: '2026-03-04T03:12:46.000Z',
    detector: 'failed-logins',
    title: 'Many failed logins',
    severity: 'high',
    summary: `summary of ${id}`,
    description: 'Someone is guessing passwords.',
    runbook: 'https://pipewarden.example/runbooks/failed-logins',
    key: 'alice',
    event_ids: ['e1'],
    source: 'jenkins',
    context: {},
  };
}

describe('alert outbox on a real Elasticsearch node', () => {
  const es = new Client({ node: inject('elasticsearchUrl') });
  const alertsIndex = `pw-${run}-alerts`;
  let slack: SlackServer;
  let smtp: TestSmtpServer;
  let app: RunningApp;
  const config = () =>
    parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX },
        elasticsearch: {
          node: inject('elasticsearchUrl'),
          indexPrefix: `pw-${run}`,
          requestTimeoutMs: 5_000,
        },
        topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
        log: { level: 'silent' },
        alerting: {
          attempts: 1,
          backoffMs: 0,
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
  const block = (on: boolean) =>
    es.indices.putSettings({
      index: alertsIndex,
      settings: { 'index.blocks.read_only_allow_delete': on ? true : null },
    });

  beforeAll(async () => {
    slack = await startSlackServer({ token: SLACK_TOKEN });
    smtp = await startSmtpServer();
    app = await startApp(config(), { port: 0, roles: ['alert'], log: createLogger({ level: 'silent' }) });
  });

  afterAll(async () => {
    await block(false).catch(() => {});
    await app?.stop();
    await slack?.close();
    await smtp?.close();
    await es.indices.delete({ index: `pw-${run}-*`, ignore_unavailable: true }).catch(() => {});
    await es.indices.deleteDataStream({ name: `pw-${run}-events` }).catch(() => {});
    await es.close();
  });

  it('sends nothing while the intent cannot be recorded, then exactly once per sink after the block lifts', async () => {
    await block(true);
    const h = hit(`${run}-blocked-before`);
    await app.bus.publish(`${run}.hits`, [{ key: h.key, value: JSON.stringify(h) }]);
    // The alert role reads the hit and retries its batch meanwhile; nothing may go out before it is recorded.
    await sleep(6_000);
    expect(slack.messages).toHaveLength(0);
    expect(smtp.messages).toHaveLength(0);
    await block(false);
    await eventually(
      async () => (await app.store.getAlert(h.id))?.status === 'delivered',
      60_000,
      'delivered',
    );
    await smtp.waitFor(1, 10_000);
    await sleep(2_000); // a repeat would show up here
    expect(slack.messages).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
    const alert = await app.store.getAlert(h.id);
    expect(alert?.deliveries.slack).toMatchObject({ status: 'sent', attempts: 1 });
    expect(alert?.deliveries.email).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('blocked between the send and its record: the redelivery records what went out instead of sending again', async () => {
    const before = { slack: slack.messages.length, mail: smtp.messages.length };
    const store = new ElasticsearchStore(config().elasticsearch!);
    // The real sinks; the block goes on right after Slack accepted the message, before its outcome is stored.
    const sinks = createSinks(config());
    const slackSink = sinks.find((s) => s.name === 'slack')!;
    let blocked = false;
    const blocking: Sink = {
      ...slackSink,
      name: slackSink.name,
      minSeverity: slackSink.minSeverity,
      render: (h) => slackSink.render(h),
      send: async (p) => {
        await slackSink.send(p);
        if (!blocked) {
          blocked = true;
          await block(true);
        }
      },
    };
    const alerter = new Alerter([blocking, ...sinks.filter((s) => s !== slackSink)], store, {
      attempts: 1,
      backoffMs: 0,
      outbox: { recordAttempts: 2, recordBackoffMs: 100 },
    });
    const h = hit(`${run}-blocked-after-send`);
    try {
      // First delivery: both sinks send, the record write is refused past its retries → the batch fails.
      await expect(alerter.handle(h)).rejects.toThrow();
      expect(slack.messages.length).toBe(before.slack + 1);
      await smtp.waitFor(before.mail + 1, 10_000);
      // The store still says pending (the intent landed before the block).
      expect((await store.getAlert(h.id))?.status).toBe('pending');
      // Redeliveries while still blocked: they fail again, and send nothing again.
      await expect(alerter.handle(h)).rejects.toThrow();
      await expect(alerter.handle(h)).rejects.toThrow();
      await block(false);
      const record = await alerter.handle(h);
      expect(record.status).toBe('delivered');
      expect((await store.getAlert(h.id))?.status).toBe('delivered');
      await sleep(1_000);
      expect(slack.messages.length).toBe(before.slack + 1);
      expect(smtp.messages.length).toBe(before.mail + 1);
    } finally {
      await block(false).catch(() => {});
      await Promise.allSettled(sinks.map((s) => s.close?.()));
      await store.close();
    }
  });
});
