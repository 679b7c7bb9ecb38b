// A real broker loss and a real bus outage, on the three-broker KRaft cluster of deploy/local/services.sh
// (replication factor 3, min.insync.replicas 2), started and stopped by this file; the shared single
// broker is never touched.
// 1. The leader of the events topic's partition 0 is killed (SIGKILL) under load: every accepted event
//    is indexed exactly once, and every alert goes out exactly once per sink (issue 10, item 5).
// 2. With the spool on, every broker is killed under load: every request is answered 202, and once the
//    brokers are back every event is indexed exactly once, in order of the spool (issue 10, item 4).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { eventually } from '../support/app.ts';
import { killBroker, leaderOf, startKafkaCluster, stopKafkaCluster } from '../support/kafka-cluster.ts';
import { sendLoad } from '../support/load.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const SECRET = 'kafka-cluster-test-secret';
const LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent'; // LOG_LEVEL=warn shows the bus's view of the fault
const SLACK_TOKEN = 'xoxb-cluster-test';
const es = new Client({ node: inject('elasticsearchUrl') });
let brokers: string[];
const prefixes: string[] = [];

beforeAll(async () => {
  brokers = await startKafkaCluster();
}, 300_000);

afterAll(async () => {
  await stopKafkaCluster();
  for (const p of prefixes)
    await es.indices.delete({ index: `${p}-*`, ignore_unavailable: true }).catch(() => {});
  await es.close();
}, 120_000);

function configFor(run: string, extra: Record<string, unknown> = {}) {
  prefixes.push(`pw-${run}`);
  return {
    mode: 'distributed',
    kafka: { brokers, replicationFactor: 3, partitions: 3 },
    elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
    topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
    log: { level: LOG_LEVEL },
    ...extra,
  };
}

/** Every document of the events data stream: [distinct ids, documents]. */
async function stored(run: string): Promise<{ ids: Set<string>; docs: number }> {
  const index = `pw-${run}-events`;
  await es.indices.refresh({ index });
  const res = await es.search<{ event: { id: string } }>({
    index,
    size: 10_000,
    _source: ['event.id'],
    query: { match_all: {} },
  });
  const ids = res.hits.hits.map((h) => h._source!.event.id);
  return { ids: new Set(ids), docs: ids.length };
}

describe('the partition leader killed under load', () => {
  const run = `kcl${Date.now().toString(36)}`;
  let app: RunningApp;
  let slack: SlackServer;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    slack = await startSlackServer({ token: SLACK_TOKEN });
    smtp = await startSmtpServer();
    const config = parseConfig(
      configFor(run, {
        alerting: {
          attempts: 3,
          backoffMs: 100,
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
      }),
      { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET, PIPEWARDEN_SLACK_TOKEN: SLACK_TOKEN },
    );
    app = await startApp(config, { port: 0, log: createLogger({ level: LOG_LEVEL }) });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await slack?.close();
    await smtp?.close();
  }, 60_000);

  it('loses no accepted event, stores none twice, and alerts exactly once per sink', async () => {
    const leader = await leaderOf(brokers, `${run}.events`, 0);
    let killed = false;
    const load = await sendLoad({
      url: app.url,
      secret: SECRET,
      run,
      count: 240,
      concurrency: 4,
      alertEvery: 40,
      retryForMs: 60_000, // a sender that retries a 503 (the election takes a moment)
      onProgress: async (sent) => {
        if (sent === 80 && !killed) {
          killed = true;
          await killBroker(leader);
        }
      },
    });
    expect(killed).toBe(true);
    expect(load.failed).toBe(0);
    expect(load.accepted).toBe(240);
    expect(load.ids.size).toBe(240); // distinct bodies, distinct events
    // Every accepted event is stored, once.
    const got = await eventually(
      async () => {
        const s = await stored(run);
        if (s.ids.size < load.ids.size) throw new Error(`${s.ids.size} of ${load.ids.size} indexed`);
        return s;
      },
      120_000,
      'every accepted event indexed',
    );
    expect(got.ids).toEqual(load.ids);
    expect(got.docs).toBe(load.ids.size);
    // Six alerting webhooks: one alert each, one Slack message and one email each.
    const alerts = await eventually(
      async () => {
        await app.store.refresh();
        const page = await app.store.searchAlerts({ detector: 'pipeline-weakening', size: 100 });
        if (page.items.length >= 6 && page.items.every((a) => a.status === 'delivered')) return page;
        throw new Error(`alerts: ${JSON.stringify(page.items.map((a) => a.status))}`);
      },
      120_000,
      'every alert delivered',
    );
    await new Promise((r) => setTimeout(r, 3_000)); // a repeat would show up here
    expect(alerts.items).toHaveLength(6);
    // Alerts are grouped into incidents: Slack gets one post per alert (the incident's first message, or a
    // reply in its thread), email at most one mail per incident (its repeat interval holds the rest). A
    // repeated delivery would be one post or mail more, the same again.
    const incidents = new Set(alerts.items.map((a) => String(a.incident_id)));
    expect(slack.messages).toHaveLength(6);
    expect(new Set(slack.messages.map((m) => JSON.stringify(m))).size).toBe(6);
    expect(smtp.messages.length).toBeGreaterThanOrEqual(1);
    expect(smtp.messages.length).toBeLessThanOrEqual(incidents.size);
    expect(new Set(smtp.messages.map((m) => m.text)).size).toBe(smtp.messages.length);
    expect(app.metrics.get('pipewarden_alert_deliveries_total', { sink: 'slack', status: 'sent' })).toBe(6);
  }, 300_000);
});

describe('the spool while every broker is down', () => {
  const run = `ksp${Date.now().toString(36)}`;
  let app: RunningApp;
  let indexer: RunningApp;

  beforeAll(async () => {
    await startKafkaCluster(); // the broker the previous test killed comes back
    const spoolDir = mkdtempSync(join(tmpdir(), 'pipewarden-spool-'));
    const config = parseConfig(
      configFor(run, { ingest: { spool: { enabled: true, dir: spoolDir, maxBytes: 64 * 1024 * 1024 } } }),
      { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET },
    );
    // Ingest and index as separate processes would be: ingest's readiness depends on the spool alone.
    app = await startApp(config, { port: 0, roles: ['ingest'], log: createLogger({ level: LOG_LEVEL }) });
    indexer = await startApp(config, { port: 0, roles: ['index'], log: createLogger({ level: LOG_LEVEL }) });
  }, 300_000);

  afterAll(async () => {
    await app?.stop();
    await indexer?.stop();
  }, 60_000);

  it('answers every request 202 and indexes every event exactly once after the brokers return', async () => {
    let down = false;
    let depthWhileDown = 0;
    let readyWhileDown = 0;
    const load = await sendLoad({
      url: app.url,
      secret: SECRET,
      run,
      count: 200,
      concurrency: 4,
      retryForMs: 0, // GitHub does not retry: every answer must be 202
      onProgress: async (sent) => {
        if (sent === 50 && !down) {
          down = true;
          for (const id of [1, 2, 3]) await killBroker(id);
        }
      },
    });
    expect(down).toBe(true);
    expect(load.refused).toEqual({});
    expect(load.accepted).toBe(200);
    expect(load.ids.size).toBe(200);
    const metrics = (await app.server.inject({ method: 'GET', url: '/metrics' })).body;
    depthWhileDown = Number(/^pipewarden_spool_depth (\d+)$/m.exec(metrics)?.[1]);
    readyWhileDown = (await app.server.inject({ method: 'GET', url: '/readyz' })).statusCode;
    expect(depthWhileDown).toBeGreaterThan(0); // the brokers are still down: the spool holds the rest
    expect(readyWhileDown).toBe(200); // ingest is ready while the spool has room

    await startKafkaCluster();
    const got = await eventually(
      async () => {
        const s = await stored(run);
        if (s.ids.size < load.ids.size) throw new Error(`${s.ids.size} of ${load.ids.size} indexed`);
        return s;
      },
      180_000,
      'every spooled event indexed',
    );
    expect(got.ids).toEqual(load.ids);
    expect(got.docs).toBe(load.ids.size);
    const after = (await app.server.inject({ method: 'GET', url: '/metrics' })).body;
    expect(after).toMatch(/^pipewarden_spool_depth 0$/m);
  }, 400_000);
});
