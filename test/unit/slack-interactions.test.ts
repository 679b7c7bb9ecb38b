// Slack interactions: signed block_actions payloads (valid, wrong signature, stale timestamp, replayed) into
// the real Fastify plugin; the incident records the acting user and the message is replaced (through a local
// response_url server) to say who acted.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentTracker } from '../../src/alerting/incidents.ts';
import { SLACK_ACTIONS } from '../../src/alerting/sinks/slack.ts';
import {
  type SilenceCreator,
  slackInteractionRoutes,
  slackInteractionsConfigSchema,
  verifySlackSignature,
} from '../../src/alerting/slack-interactions.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { withEnv } from '../../src/config/secrets.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW = new Date('2026-05-01T10:30:00Z');
const nowS = Math.floor(NOW.getTime() / 1000);

let app: FastifyInstance;
let store: SqliteStore;
let tracker: IncidentTracker;
let incidentId: string;
let responseServer: ReturnType<typeof createServer>;
let responseUrl: string;
const replaced: Array<Record<string, unknown>> = [];
const silences: Array<Parameters<SilenceCreator['create']>[0]> = [];
const changes: Array<{ status: string; hitStatus: string | undefined }> = [];

const hit: Hit = {
  id: 'hit-spray-1',
  '@timestamp': '2026-05-01T10:00:00Z',
  detected_at: '2026-05-01T10:00:01Z',
  detector: 'failed-logins',
  title: 'Password spraying',
  severity: 'high',
  summary: '5 users from 203.0.113.7',
  description: 'd',
  runbook: 'https://example.org/runbook',
  key: '203.0.113.7',
  event_ids: ['e1'],
  source: 'jenkins',
  context: { rule: 'spraying' },
};

function sign(body: string, ts = String(nowS), secret = SECRET) {
  return `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
}

function bodyFor(actionId: string, user = 'U0ALICE1') {
  const payload = {
    type: 'block_actions',
    user: { id: user, username: 'alice' },
    actions: [{ action_id: actionId, value: incidentId, type: 'button' }],
    response_url: `${responseUrl}actions/T0/1/xyz`,
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

function post(body: string, headers: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url: '/slack/interactions',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: body,
  });
}

beforeAll(async () => {
  responseServer = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    replaced.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => responseServer.listen(0, '127.0.0.1', r));
  responseUrl = `http://127.0.0.1:${(responseServer.address() as AddressInfo).port}/`;
  store = new SqliteStore({ path: ':memory:' });
  await store.init();
  tracker = new IncidentTracker(store, {
    groupBy: ['detector', 'rule', 'key'],
    groupIntervalMs: 3_600_000,
    repeatIntervalMs: 3_600_000,
  });
  const { incident } = await tracker.track(hit);
  incidentId = incident.id;
  await store.putAlert({ ...hit, status: 'delivered', deliveries: {}, incident_id: incident.id });
  const config = withEnv({ PIPEWARDEN_SLACK_SIGNING_SECRET: SECRET }, () =>
    slackInteractionsConfigSchema.parse({ enabled: true, responseUrlPrefix: responseUrl }),
  );
  app = Fastify();
  await app.register(slackInteractionRoutes, {
    config,
    store,
    incidents: tracker,
    silences: {
      async create(s) {
        silences.push(s);
        return { id: `sil-${silences.length}` };
      },
    },
    consoleUrl: 'https://pw.example.org/',
    onChange: async (incident, h) => {
      changes.push({ status: incident.status, hitStatus: h.incident?.status });
    },
    log: createLogger({ level: 'silent' }),
    now: () => NOW,
  });
});

afterAll(async () => {
  await app.close();
  await store.close();
  await new Promise((r) => responseServer.close(r));
});

describe('slack interactions', () => {
  it('verifies v0 signatures in a 5-minute window', () => {
    const body = Buffer.from('payload=x');
    expect(
      verifySlackSignature(body, { timestamp: String(nowS), signature: sign('payload=x') }, SECRET, nowS),
    ).toEqual({ ok: true });
    expect(
      verifySlackSignature(body, { timestamp: String(nowS), signature: sign('payload=y') }, SECRET, nowS).ok,
    ).toBe(false);
    expect(
      verifySlackSignature(
        body,
        { timestamp: String(nowS - 301), signature: sign('payload=x', String(nowS - 301)) },
        SECRET,
        nowS,
      ),
    ).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/5-minute window/),
    });
    expect(
      verifySlackSignature(body, { timestamp: String(nowS), signature: 'v0=short' }, SECRET, nowS).ok,
    ).toBe(false);
  });

  it('refuses a wrong signature, a stale timestamp and a missing signature with 401', async () => {
    const body = bodyFor(SLACK_ACTIONS.ack);
    const wrong = await post(body, {
      'x-slack-request-timestamp': String(nowS),
      'x-slack-signature': sign(body, String(nowS), 'not-the-secret'),
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toMatch(/does not match/);
    const staleTs = String(nowS - 600);
    const stale = await post(body, {
      'x-slack-request-timestamp': staleTs,
      'x-slack-signature': sign(body, staleTs),
    });
    expect(stale.statusCode).toBe(401);
    expect(stale.json().message).toMatch(/5-minute window/);
    const missing = await post(body, {});
    expect(missing.statusCode).toBe(401);
    // nothing changed
    expect((await tracker.byId(incidentId))?.status).toBe('open');
  });

  it('acknowledges: records the Slack user on the incident, replaces the message saying who, refuses the replay', async () => {
    const body = bodyFor(SLACK_ACTIONS.ack);
    const headers = { 'x-slack-request-timestamp': String(nowS), 'x-slack-signature': sign(body) };
    const ok = await post(body, headers);
    expect(ok.statusCode).toBe(200);
    const incident = await tracker.byId(incidentId);
    expect(incident).toMatchObject({
      status: 'acknowledged',
      acknowledged_by: 'U0ALICE1',
      acknowledged_at: NOW.toISOString(),
    });
    expect(replaced).toHaveLength(1);
    const msg = replaced[0]!;
    expect(msg.replace_original).toBe(true);
    expect(msg.text).toMatch(/\(acknowledged by alice\)$/);
    const blocks = JSON.stringify(msg.blocks);
    expect(blocks).toContain(':eyes: Acknowledged by <@U0ALICE1>');
    expect(blocks).not.toContain(SLACK_ACTIONS.ack); // no Acknowledge button any more
    expect(blocks).toContain(SLACK_ACTIONS.silence1h);
    expect(blocks).toContain('https://pw.example.org/api/alerts/hit-spray-1');
    // receivers that follow the incident elsewhere (PagerDuty) are told, with the acknowledged incident
    expect(changes).toEqual([{ status: 'acknowledged', hitStatus: 'acknowledged' }]);
    // the very same signed request again: a replay
    const again = await post(body, headers);
    expect(again.statusCode).toBe(401);
    expect(again.json().message).toMatch(/replay/);
    expect(replaced).toHaveLength(1);
  });

  it('silences the same key for 24 h through the silences interface', async () => {
    const body = bodyFor(SLACK_ACTIONS.silence24h, 'U0BOB0001');
    const res = await post(body, {
      'x-slack-request-timestamp': String(nowS),
      'x-slack-signature': sign(body),
    });
    expect(res.statusCode).toBe(200);
    expect(silences).toEqual([
      {
        matchers: { detector: 'failed-logins', key: '203.0.113.7' },
        startsAt: NOW.toISOString(),
        endsAt: '2026-05-02T10:30:00.000Z',
        createdBy: 'slack:U0BOB0001 (alice)',
        comment: `Silenced from Slack for 24 h on incident ${incidentId}`,
      },
    ]);
    expect(replaced.at(-1)?.text).toMatch(/silenced for 24 h by alice \(silence sil-1\)/);
  });

  it('answers 400 to a signed body that is not a block_actions payload', async () => {
    const body = 'payload=%7B%7D';
    const res = await post(body, {
      'x-slack-request-timestamp': String(nowS),
      'x-slack-signature': sign(body),
    });
    expect(res.statusCode).toBe(400);
  });
});
