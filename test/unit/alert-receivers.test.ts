// Receivers through the alerter: two Slack receivers of one sink type (the real @slack/web-api client
// against the local Slack server), routed by the tree; the outbox records each receiver by its name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import { Router } from '../../src/alerting/routing.ts';
import { createSinks, implicitReceivers } from '../../src/alerting/sinks/index.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';

let slack: SlackServer;
let store: SqliteStore;

function hit(id: string, severity: Hit['severity'], key = id): Hit {
  return {
    id,
    '@timestamp': '2026-06-01T10:00:00.000Z',
    detected_at: '2026-06-01T10:00:01.000Z',
    detector: 'failed-logins',
    title: 'failed logins',
    severity,
    summary: `summary of ${id}`,
    description: 'd',
    runbook: 'https://example.org/runbook',
    key,
    event_ids: ['e1'],
    source: 'github',
    context: { rule: 'brute-force' },
  };
}

beforeAll(async () => {
  slack = await startSlackServer({ token: 'xoxb-receivers' });
  store = new SqliteStore({ path: ':memory:' });
  await store.init();
});
afterAll(async () => {
  await slack.close();
  await store.close();
});

describe('receivers', () => {
  it('sends to the routed receiver only, and records every receiver by name', async () => {
    const config = parseConfig(
      {
        alerting: {
          receivers: {
            'sec-oncall': { slack: { channel: '#sec-oncall', apiUrl: slack.url, minSeverity: 'low' } },
            'sec-low': { slack: { channel: '#sec-low', apiUrl: slack.url, minSeverity: 'low' } },
          },
          route: {
            receivers: ['sec-low'],
            routes: [{ match: { severity: 'critical' }, receivers: ['sec-oncall'] }],
          },
        },
      },
      { PIPEWARDEN_SLACK_TOKEN: 'xoxb-receivers' },
    );
    const alerter = new Alerter(createSinks(config.alerting), store, {
      attempts: 1,
      backoffMs: 0,
      router: new Router(config.alerting.route, implicitReceivers(config.alerting)),
      log: createLogger({ level: 'silent' }),
    });
    const critical = await alerter.handle(hit('h-critical', 'critical'));
    expect(critical.status).toBe('delivered');
    expect(critical.deliveries['sec-oncall']?.status).toBe('sent');
    expect(critical.deliveries['sec-low']).toMatchObject({
      status: 'skipped',
      reason: 'no route sends this hit to sec-low',
    });
    const low = await alerter.handle(hit('h-low', 'low'));
    expect(low.deliveries['sec-low']?.status).toBe('sent');
    expect(low.deliveries['sec-oncall']?.status).toBe('skipped');
    expect(slack.messages.map((m) => m.channel)).toEqual(['#sec-oncall', '#sec-low']);
    // the stored record (the outbox's) keys deliveries by receiver; a redelivery sends nothing again
    expect(Object.keys((await store.getAlert('h-critical'))!.deliveries).sort()).toEqual([
      'sec-low',
      'sec-oncall',
    ]);
    await alerter.handle(hit('h-critical', 'critical'));
    expect(slack.messages).toHaveLength(2);
  });
});
