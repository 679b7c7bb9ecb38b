// Acknowledging or resolving from the console's API edits the incident's Slack message (the real
// @slack/web-api client against the local Slack server) and acknowledges / resolves the PagerDuty incident
// on the same dedup_key (a local server standing in for the Events API v2), through the bus: a request made
// while no alert role runs is not lost, and a restart or a redelivered request repeats nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hit } from '../../src/alerting/types.ts';
import { createToken } from '../../src/api/tokens.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Role } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log.ts';
import { eventually } from '../support/app.ts';
import { type HttpRecorder, type RecordedRequest, startHttpRecorder } from '../support/http-recorder.ts';
import { type SlackServer, startSlackServer } from '../support/slack-server.ts';

const SLACK_TOKEN = 'xoxb-lifecycle-test';
const ROUTING_KEY = 'R0UTINGKEY0123456789abcdefABCDEF';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let slack: SlackServer;
let pd: HttpRecorder;
const running: RunningApp[] = [];

function hit(id: string, key: string): Hit {
  const at = new Date().toISOString();
  return {
    id,
    '@timestamp': at,
    detected_at: at,
    detector: 'failed-logins',
    title: 'Many failed logins',
    severity: 'high',
    summary: `failed logins for ${key}`,
    description: 'd',
    runbook: 'https://pipewarden.example/runbooks/failed-logins',
    key,
    event_ids: [`e-${id}`],
    source: 'jenkins',
    context: { rule: 'brute-force' },
  };
}

async function start(dataDir: string, roles?: Role[]): Promise<RunningApp> {
  const config = parseConfig(
    {
      mode: 'embedded',
      embedded: { dataDir },
      log: { level: 'silent' },
      alerting: {
        attempts: 3,
        backoffMs: 10,
        throttle: { enabled: false },
        slack: { enabled: true, channel: '#sec-alerts', apiUrl: slack.url, minSeverity: 'low' },
        pagerduty: { enabled: true, url: `${pd.url}/v2/enqueue`, minSeverity: 'low' },
      },
    },
    { PIPEWARDEN_SLACK_TOKEN: SLACK_TOKEN, PIPEWARDEN_PAGERDUTY_ROUTING_KEY: ROUTING_KEY },
  );
  const app = await startApp(config, {
    port: 0,
    log: createLogger({ level: 'silent' }),
    ...(roles ? { roles } : {}),
  });
  running.push(app);
  return app;
}

async function stop(app: RunningApp) {
  await app.stop();
  running.splice(running.indexOf(app), 1);
}

/** Publishes the hit and waits until it is delivered; returns its incident id. */
async function deliver(app: RunningApp, h: Hit): Promise<string> {
  await app.bus.publish(app.config.topics.hits, [{ key: h.key, value: JSON.stringify(h) }]);
  const alert = await eventually(
    async () => {
      const a = await app.store.getAlert(h.id);
      return a?.status === 'delivered' ? a : undefined;
    },
    15_000,
    'the hit delivered',
  );
  expect(alert.incident_id).toMatch(/^inc-/);
  return alert.incident_id!;
}

async function triage(app: RunningApp, token: string, id: string, body: Record<string, unknown>) {
  const res = await fetch(`${app.url}/api/alerts/${encodeURIComponent(id)}/triage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

const pdFor = (incident: string) =>
  pd.requests.filter((r) => (r.body as { dedup_key?: string } | undefined)?.dedup_key === incident);
const action = (r: RecordedRequest) => (r.body as { event_action: string }).event_action;
/** The ts of the top-level Slack message about `key`. */
function tsOf(key: string): string {
  const found = [...slack.current].filter(
    ([, m]) => m.thread_ts === undefined && String(m.text).includes(key),
  );
  expect(found).toHaveLength(1);
  return found[0]![0].split(' ')[1]!;
}
const updatesOf = (ts: string) => slack.updates.filter((u) => u.ts === ts);
const repliesTo = (ts: string) => slack.messages.filter((m) => m.thread_ts === ts);

beforeAll(async () => {
  slack = await startSlackServer({ token: SLACK_TOKEN });
  pd = await startHttpRecorder(() => ({
    status: 202,
    body: { status: 'success', message: 'Event processed', dedup_key: 'x' },
  }));
});

afterAll(async () => {
  for (const app of [...running]) await app.stop().catch(() => {});
  await slack?.close();
  await pd?.close();
});

describe('incident lifecycle from the console API', () => {
  it('acknowledge and resolve edit the Slack message and follow on PagerDuty, once each', async () => {
    const app = await start(mkdtempSync(join(tmpdir(), 'pw-lifecycle-')));
    const { token } = await createToken(app.store, 'alice');
    const h = hit('lc-hit-1', 'alice-laptop');
    const incident = await deliver(app, h);
    const ts = tsOf('alice-laptop');
    expect(pdFor(incident).map(action)).toEqual(['trigger']);

    await triage(app, token, h.id, { action: 'acknowledge' });
    await eventually(async () => pdFor(incident).length === 2, 10_000, 'the PagerDuty acknowledge');
    const ack = pdFor(incident)[1]!;
    // Events API v2: acknowledge carries only the routing key, the action and the dedup key
    expect(ack.path).toBe('/v2/enqueue');
    expect(ack.headers['content-type']).toMatch(/^application\/json/);
    expect(ack.body).toEqual({ routing_key: ROUTING_KEY, event_action: 'acknowledge', dedup_key: incident });
    await eventually(async () => repliesTo(ts).length === 1, 10_000, 'the Slack thread reply');
    const edited = updatesOf(ts);
    expect(edited).toHaveLength(1);
    const blocks = JSON.stringify(edited[0]!.blocks);
    expect(blocks).toContain(':eyes: Acknowledged by alice');
    expect(blocks).not.toContain('pipewarden.ack'); // no Acknowledge button once acknowledged
    expect(String(repliesTo(ts)[0]!.text)).toMatch(/^:eyes: Acknowledged by alice at /);

    // PagerDuty answers 500 once: the alerter's retry gets the resolve through
    pd.failNext(1);
    await triage(app, token, h.id, { action: 'resolve', resolution: 'true_positive' });
    await eventually(
      async () => pdFor(incident).filter((r) => action(r) === 'resolve').length === 2,
      10_000,
      'the PagerDuty resolve (after one failure)',
    );
    await eventually(async () => repliesTo(ts).length === 2, 10_000, 'the second thread reply');
    expect(JSON.stringify(updatesOf(ts)[1]!.blocks)).toContain(':white_check_mark: Resolved by alice');
    await sleep(1_000); // a duplicate would show up here
    expect(pdFor(incident).map(action)).toEqual(['trigger', 'acknowledge', 'resolve', 'resolve']);
    expect(updatesOf(ts)).toHaveLength(2);
    expect(app.metrics.get('pipewarden_alert_lifecycle_total', { sink: 'pagerduty', status: 'sent' })).toBe(
      2,
    );
    await stop(app);
  });

  it('a request made while no alert role runs is not lost; a restart or a redelivery repeats nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pw-lifecycle-'));
    let app = await start(dataDir);
    const { token } = await createToken(app.store, 'bob');
    const h = hit('lc-hit-2', 'bob-ci');
    const incident = await deliver(app, h);
    const ts = tsOf('bob-ci');
    await stop(app);

    // only the API runs: the acknowledgement is stored and queued, nothing is sent yet
    app = await start(dataDir, ['ingest']);
    await triage(app, token, h.id, { action: 'acknowledge' });
    await sleep(1_000);
    expect(pdFor(incident).map(action)).toEqual(['trigger']);
    expect(updatesOf(ts)).toHaveLength(0);
    await stop(app);

    // the alert role starts and finds the request
    app = await start(dataDir);
    await eventually(async () => pdFor(incident).length === 2, 15_000, 'the queued acknowledge');
    await eventually(async () => updatesOf(ts).length === 1, 10_000, 'the queued Slack edit');
    expect(JSON.stringify(updatesOf(ts)[0]!.blocks)).toContain(':eyes: Acknowledged by bob');
    // the same request again (as a redelivery would bring it): every receiver already has this status
    await app.bus.publish(app.config.topics.hits, [
      { key: h.key, value: JSON.stringify({ lifecycle: incident }) },
    ]);
    await eventually(
      async () =>
        app.metrics.get('pipewarden_alert_lifecycle_total', { sink: 'slack', status: 'skipped' }) === 1,
      10_000,
      'the repeated request skipped',
    );
    // both receivers' marks were kept (one write for both: parallel writes of the incident would lose one)
    expect(
      app.metrics.get('pipewarden_alert_lifecycle_total', { sink: 'pagerduty', status: 'skipped' }),
    ).toBe(1);
    await stop(app);
    app = await start(dataDir);
    await sleep(1_500);
    expect(pdFor(incident).map(action)).toEqual(['trigger', 'acknowledge']);
    expect(updatesOf(ts)).toHaveLength(1);
    expect(repliesTo(ts)).toHaveLength(1);
    await stop(app);
  });
});
