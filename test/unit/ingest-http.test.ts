// The ingest and query HTTP surface against a real embedded collector: every bad input gets a clear 4xx.
import { createHmac } from 'node:crypto';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetryLoss } from '../../detectors/telemetry-loss/index.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import type { RunningApp } from '../../src/app.ts';
import type { Bus, OutgoingMessage } from '../../src/bus/types.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { ingestPlugin } from '../../src/ingest/plugin.ts';
import { Counters } from '../../src/metrics.ts';
import { eventually, GITHUB_SECRET, startEmbedded } from '../support/app.ts';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';

let app: RunningApp;
let token: string;

beforeAll(async () => {
  ({ app, token } = await startEmbedded({ server: { bodyLimitBytes: 64 * 1024 } }, {}, ['ingest', 'index']));
});
afterAll(async () => {
  await app?.stop();
});

function post(url: string, body: string | Buffer, headers: Record<string, string>) {
  return app.server.inject({ method: 'POST', url, payload: body, headers });
}

describe('POST /ingest/github', () => {
  const sample = loadSample('github', 'repository__publicized.json');
  const raw = rawBody(sample);

  it('accepts a correctly signed real sample with 202 and the event ids', async () => {
    const res = await post('/ingest/github', raw, signGithub(sample, raw, GITHUB_SECRET, 'http-accept-1'));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 1, ids: [expect.any(String)] });
  });

  it('answers a redelivery of the same delivery id without publishing it again', async () => {
    const headers = signGithub(sample, raw, GITHUB_SECRET, 'http-dup-1');
    const first = await post('/ingest/github', raw, headers);
    const second = await post('/ingest/github', raw, headers);
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual({ duplicate: true, delivery: 'http-dup-1' });
    expect(
      app.metrics.get('pipewarden_ingest_requests_total', { source: 'github', result: 'duplicate' }),
    ).toBe(1);
  });

  it('answers a replay of the signed body under a new delivery id as the first time, counting one event', async () => {
    const pr = loadSample('github', 'pull_request__opened.same-repo.json');
    const body = rawBody(pr);
    const count = (result: string) =>
      app.metrics.get('pipewarden_ingest_requests_total', { source: 'github', result });
    const before = {
      accepted: count('accepted'),
      replayed: count('replayed'),
      events: app.metrics.get('pipewarden_ingest_events_total', { source: 'github' }),
    };
    const first = await post('/ingest/github', body, signGithub(pr, body, GITHUB_SECRET, 'http-replay-1'));
    const again = await post('/ingest/github', body, signGithub(pr, body, GITHUB_SECRET, 'http-replay-2'));
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(count('accepted')).toBe(before.accepted + 1);
    expect(count('replayed')).toBe(before.replayed + 1);
    expect(app.metrics.get('pipewarden_ingest_events_total', { source: 'github' })).toBe(before.events + 1);
  });

  it('answers a ping with 200 and a pong', async () => {
    const ping = loadSample('github', 'ping__default.json');
    const body = rawBody(ping);
    const res = await post('/ingest/github', body, signGithub(ping, body, GITHUB_SECRET));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ pong: true, accepted: 1 });
  });

  it('refuses a wrong, missing or foreign signature with 401 and says why', async () => {
    const wrong = await post('/ingest/github', raw, signGithub(sample, raw, 'not-the-secret'));
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toMatch(/does not match/);
    const headers = signGithub(sample, raw, GITHUB_SECRET);
    delete headers['x-hub-signature-256'];
    const missing = await post('/ingest/github', raw, headers);
    expect(missing.statusCode).toBe(401);
    expect(missing.json().message).toMatch(/missing X-Hub-Signature-256/);
    const tampered = await post(
      '/ingest/github',
      raw.replace('Codertocat', 'Mallory'),
      signGithub(sample, raw, GITHUB_SECRET),
    );
    expect(tampered.statusCode).toBe(401);
  });

  it('refuses malformed JSON with 400, after checking its signature', async () => {
    const bad = '{"action": "publicized",';
    const res = await post('/ingest/github', bad, signGithub(sample, bad, GITHUB_SECRET));
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/malformed JSON/);
  });

  it('refuses a signed body that is not a GitHub payload with 400', async () => {
    const res = await post('/ingest/github', '[1,2,3]', signGithub(sample, '[1,2,3]', GITHUB_SECRET));
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/JSON object/);
  });

  it('refuses a body over the configured limit with 413 naming the limit', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
    const res = await post('/ingest/github', big, signGithub(sample, big, GITHUB_SECRET));
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/65536 bytes/);
  });

  it('refuses an unsupported content type with 415 naming the accepted ones', async () => {
    const headers = { ...signGithub(sample, raw, GITHUB_SECRET), 'content-type': 'text/xml' };
    const res = await post('/ingest/github', raw, headers);
    expect(res.statusCode).toBe(415);
    expect(res.json().message).toContain('application/json or application/x-www-form-urlencoded');
  });

  it('accepts a hook set to form encoding, signed over the form body, as the same event as JSON', async () => {
    const form = new URLSearchParams({ payload: raw }).toString();
    const headers = {
      ...signGithub(sample, form, GITHUB_SECRET, 'http-form-1'),
      'content-type': 'application/x-www-form-urlencoded',
    };
    const res = await post('/ingest/github', form, headers);
    expect(res.statusCode).toBe(202);
    const gh = adapters.find((a) => a.id === 'github')!;
    expect(gh.parse!(Buffer.from(form), { 'content-type': 'application/x-www-form-urlencoded' })).toEqual(
      JSON.parse(raw),
    );
    // Signed over the JSON instead of the form bytes: refused.
    const wrong = await post('/ingest/github', form, {
      ...signGithub(sample, raw, GITHUB_SECRET, 'http-form-3'),
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(wrong.statusCode).toBe(401);
    for (const [bad, message] of [
      ['other=1', /no "payload" field/],
      [new URLSearchParams({ payload: '{"action":' }).toString(), /"payload" field is not JSON/],
    ] as const) {
      const r = await post('/ingest/github', bad, {
        ...signGithub(sample, bad, GITHUB_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(r.statusCode, bad).toBe(400);
      expect(r.json().message).toMatch(message);
    }
  });

  it('refuses an empty body with 400', async () => {
    const res = await post('/ingest/github', '', signGithub(sample, '', GITHUB_SECRET));
    expect(res.statusCode).toBe(400);
  });
});

describe('rotating a source secret', () => {
  it('accepts the current, the previous and additional secrets, counts which matched, refuses any other', async () => {
    const { app: rotating } = await startEmbedded(
      { sources: { github: { additionalSecretEnvs: ['ORG_B_GITHUB_SECRET'] } } },
      {
        PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'new-github-secret',
        PIPEWARDEN_GITHUB_WEBHOOK_SECRET_PREVIOUS: 'old-github-secret',
        PIPEWARDEN_HARBOR_TOKEN: 'Bearer new-harbor-token',
        PIPEWARDEN_HARBOR_TOKEN_PREVIOUS: 'Bearer old-harbor-token',
        ORG_B_GITHUB_SECRET: 'org-b-github-secret',
      },
      ['ingest'],
    );
    try {
      const sample = loadSample('github', 'repository__publicized.json');
      const raw = rawBody(sample);
      const send = (secret: string, id: string) =>
        rotating.server.inject({
          method: 'POST',
          url: '/ingest/github',
          payload: raw,
          headers: signGithub(sample, raw, secret, id),
        });
      expect((await send('new-github-secret', 'rot-1')).statusCode).toBe(202);
      expect((await send('old-github-secret', 'rot-2')).statusCode).toBe(202);
      expect((await send('org-b-github-secret', 'rot-4')).statusCode).toBe(202);
      expect((await send(GITHUB_SECRET, 'rot-3')).statusCode).toBe(401);
      const used = (source: string, secret = 'previous') =>
        rotating.metrics.get('pipewarden_ingest_alternate_secret_total', { source, secret });
      expect(used('github')).toBe(1);
      expect(used('github', 'ORG_B_GITHUB_SECRET')).toBe(1);

      const harbor = loadSample('harbor', 'PUSH_ARTIFACT__Default.json');
      const harborRaw = rawBody(harbor);
      const push = (authorization: string) =>
        rotating.server.inject({
          method: 'POST',
          url: '/ingest/harbor',
          payload: harborRaw,
          headers: { 'content-type': 'application/json', authorization },
        });
      expect((await push('Bearer old-harbor-token')).statusCode).toBe(202);
      expect((await push('Bearer new-harbor-token')).statusCode).toBe(202);
      expect((await push('Bearer other-token')).statusCode).toBe(401);
      expect(used('harbor')).toBe(1);
    } finally {
      await rotating.stop();
    }
  });

  it('accepts only the current secret when no previous one is set', async () => {
    const sample = loadSample('github', 'repository__publicized.json');
    const raw = rawBody(sample);
    const res = await post('/ingest/github', raw, signGithub(sample, raw, `${GITHUB_SECRET}-old`));
    expect(res.statusCode).toBe(401);
    expect(
      app.metrics.get('pipewarden_ingest_alternate_secret_total', { source: 'github', secret: 'previous' }),
    ).toBe(0);
  });
});

describe('routing', () => {
  it('answers an unknown source with 404 naming the known ones', async () => {
    const res = await post('/ingest/jira', '{}', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toMatch(/unknown source 'jira'.*github/);
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await app.server.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toMatch(/no route for GET \/nope/);
  });

  it('is alive and ready', async () => {
    expect((await app.server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await app.server.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    // Embedded: the data directory's free space and writability are checked too (src/health.ts).
    expect(ready.json()).toEqual({
      status: 'ready',
      checks: { bus: 'ok', store: 'ok', disk: 'ok' },
      missing: [],
    });
  });

  it('exposes counters and, per consumer group it runs, the lag, which falls to 0 once indexed', async () => {
    const s = loadSample('github', 'push__default.json');
    const body = rawBody(s);
    expect(
      (await post('/ingest/github', body, signGithub(s, body, GITHUB_SECRET, 'metrics-lag-1'))).statusCode,
    ).toBe(202);
    const scrape = async () => (await app.server.inject({ method: 'GET', url: '/metrics' })).body;
    const text = await scrape();
    expect(text).toMatch(/^# TYPE pipewarden_ingest_requests_total counter$/m);
    expect(text).toMatch(/^# TYPE pipewarden_consumer_lag gauge$/m);
    const lag = (t: string) =>
      /^pipewarden_consumer_lag\{group="pipewarden-index",topic="pipewarden\.events"\} (\d+)$/m.exec(t)?.[1];
    expect(lag(text)).toMatch(/^\d+$/);
    await eventually(async () => lag(await scrape()) === '0', 15_000, 'the index group to catch up');
  });
});

describe('GET /api/events', () => {
  const get = (url: string, auth?: string) =>
    app.server.inject({ method: 'GET', url, headers: auth ? { authorization: auth } : {} });

  it('requires a valid bearer token', async () => {
    expect((await get('/api/events')).json().message).toMatch(/missing Authorization/);
    expect((await get('/api/events', 'Basic abc')).statusCode).toBe(401);
    expect(
      (
        await get('/api/events', 'Bearer pw_0123456789abcdef_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')
      ).json().message,
    ).toBe('unknown token');
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect((await get('/api/events', `Bearer ${forged}`)).statusCode).toBe(401);
    expect((await get('/api/events', `Bearer ${token}`)).statusCode).toBe(200);
  });

  it('finds an ingested event by repository, kind and free text', async () => {
    const s = loadSample('github', 'branch_protection_rule__deleted.json');
    const body = rawBody(s);
    expect(
      (await post('/ingest/github', body, signGithub(s, body, GITHUB_SECRET, 'http-search-1'))).statusCode,
    ).toBe(202);
    const page = await eventually(async () => {
      const res = await get(
        `/api/events?kind=config.change&q=branch_protection_rule&repository=${encodeURIComponent('octo-org/octo-repo')}`,
        `Bearer ${token}`,
      );
      const json = res.json();
      return json.total > 0 ? json : undefined;
    });
    expect(page.items[0].event.action).toBe('branch_protection_rule.deleted');
  });

  it('gets one event by id, and an alert with the events that triggered it', async () => {
    const s = loadSample('github', 'repository__publicized.json');
    const body = rawBody(s);
    const res = await post('/ingest/github', body, signGithub(s, body, GITHUB_SECRET, 'http-pivot-1'));
    const [id] = res.json().ids as string[];
    const event = await eventually(async () => {
      const r = await get(`/api/events/${id}`, `Bearer ${token}`);
      return r.statusCode === 200 ? (r.json() as PipewardenEvent) : undefined;
    });
    expect(event.event.id).toBe(id);
    expect(event.pipewarden.repository).toBe('Codertocat/Hello-World');
    const hit = {
      id: 'pivot-alert-1',
      '@timestamp': event['@timestamp'],
      detected_at: new Date().toISOString(),
      detector: 'anonymous-access',
      title: 'Anonymous access',
      severity: 'high' as const,
      summary: 'made public',
      description: 'd',
      runbook: 'r',
      key: 'Codertocat/Hello-World',
      event_ids: [id!, 'no-such-event'],
      source: 'github',
      context: {},
    };
    await app.store.putAlert({ ...hit, status: 'delivered', deliveries: {} });
    const alert = (await get('/api/alerts/pivot-alert-1', `Bearer ${token}`)).json();
    expect(alert.events.map((e: { event: { id: string } }) => e.event.id)).toEqual([id]);
    expect(alert.missing_events).toBe(1);
    expect(alert.summary).toBe('made public');
    for (const path of ['/api/events/nope', '/api/alerts/nope']) {
      const missing = await get(path, `Bearer ${token}`);
      expect(missing.statusCode, path).toBe(404);
      expect(missing.json().message).toMatch(/no (event|alert) with id 'nope'/);
    }
    expect((await get(`/api/events/${id}`)).statusCode).toBe(401);
  });

  it('filters events by action and by source IP or CIDR block, and refuses a bad one', async () => {
    const ok = await get('/api/events?ip=10.0.0.0/8&action=push', `Bearer ${token}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().total).toBe(0);
    const bad = await get('/api/events?ip=10.0.0.0/33', `Bearer ${token}`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/ip: must be an IP address or CIDR block/);
  });

  it('refuses bad query parameters with 400 naming them', async () => {
    const bad = await get('/api/events?kind=nonsense&size=100000', `Bearer ${token}`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/kind/);
    expect(bad.json().message).toMatch(/size/);
    const unknown = await get('/api/events?colour=red', `Bearer ${token}`);
    expect(unknown.json().message).toMatch(/unknown parameter\(s\): colour/);
    expect((await get('/api/events?from=yesterday', `Bearer ${token}`)).statusCode).toBe(400);
    const cursor = await get('/api/events?cursor=not-a-cursor', `Bearer ${token}`);
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().message).toMatch(/cursor/);
  });
});

describe('a bus that cannot take the event', () => {
  it('gets 503 with Retry-After, and the process keeps serving', async () => {
    const { app: broken } = await startEmbedded({}, {}, ['ingest']);
    await broken.bus.close();
    const s = loadSample('github', 'push__default.json');
    const body = rawBody(s);
    const res = await broken.server.inject({
      method: 'POST',
      url: '/ingest/github',
      payload: body,
      headers: signGithub(s, body, GITHUB_SECRET),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json().message).toMatch(/retry/);
    expect((await broken.server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await broken.server.close();
    await broken.store.close();
  });
});

describe('signature compare', () => {
  it('uses the raw bytes: a re-serialised body with the same JSON value fails', async () => {
    const s = loadSample('github', 'push__default.json');
    const body = rawBody(s);
    const reserialised = JSON.stringify(JSON.parse(body), null, 2);
    const headers = signGithub(s, body, GITHUB_SECRET);
    expect((await post('/ingest/github', reserialised, headers)).statusCode).toBe(401);
    expect(createHmac('sha256', GITHUB_SECRET).update(body).digest('hex')).toBe(
      headers['x-hub-signature-256']!.slice(7),
    );
  });
});

describe('rejected requests as a signal (telemetry-loss)', () => {
  /** The ingest plugin alone, on a bus that records what is published, with a short aggregation interval. */
  async function plugin() {
    const published: OutgoingMessage[] = [];
    const bus = {
      publish: async (_t: string, m: OutgoingMessage[]) => void published.push(...m),
    } as unknown as Bus;
    const server = Fastify();
    await server.register(ingestPlugin, {
      adapters,
      sourceConfigs: app.config.sources as Record<string, { enabled: boolean }>,
      bus,
      topic: 'events',
      bodyLimitBytes: 1024 * 1024,
      metrics: new Counters(),
      rejectedIntervalMs: 60_000, // flushed by close() below, so the test does not wait on a timer
    });
    const events = () => published.map((m) => JSON.parse(m.value) as PipewardenEvent);
    return { server, published, events };
  }

  const sample = loadSample('github', 'push__default.json');
  const raw = rawBody(sample);
  const bad = (server: ReturnType<typeof Fastify>, ip: string) =>
    server.inject({
      method: 'POST',
      url: '/ingest/github',
      payload: raw,
      headers: signGithub(sample, raw, 'not-the-secret'),
      remoteAddress: ip,
    });

  it('publishes one event per source and client IP, with the count and never the body', async () => {
    const { server, published, events } = await plugin();
    for (let i = 0; i < 3; i++) expect((await bad(server, '203.0.113.50')).statusCode).toBe(401);
    expect((await bad(server, '198.51.100.7')).statusCode).toBe(401);
    expect(published).toHaveLength(0); // aggregated, not one event per request
    await server.close(); // flushes the open aggregates
    const byIp = Object.fromEntries(events().map((e) => [e.source?.ip, e]));
    expect(Object.keys(byIp).sort()).toEqual(['198.51.100.7', '203.0.113.50']);
    expect(byIp['203.0.113.50']).toMatchObject({
      event: {
        action: 'ingest.auth_failed',
        dataset: 'pipewarden.ingest',
        outcome: 'failure',
        provider: 'pipewarden',
      },
      pipewarden: { kind: 'access.denied', source: 'github', count: 3 },
    });
    expect(byIp['203.0.113.50']!.message).toMatch(
      /^3 requests to \/ingest\/github from 203\.0\.113\.50 failed authentication: X-Hub-Signature-256 does not match/,
    );
    const text = published.map((m) => m.value).join('\n');
    expect(text).not.toContain('Hello-World'); // nothing of the body
    expect(text).not.toContain(signGithub(sample, raw, 'not-the-secret')['x-hub-signature-256']!.slice(7));
  });

  it('feeds the telemetry-loss burst rule', async () => {
    const { server, events } = await plugin();
    for (let i = 0; i < 4; i++) await bad(server, '203.0.113.51');
    await server.close();
    const config = telemetryLoss.configSchema.parse({ badSignatures: { burstCount: 4 } });
    const engine = new DetectionEngine([{ detector: telemetryLoss, config }]);
    const hits = events().flatMap((e) => engine.evaluate(e, new Date()));
    expect(hits.map((h) => h.context.rule)).toEqual(['bad-signature-burst']);
    expect(hits[0]).toMatchObject({ source_ip: '203.0.113.51', detector: 'telemetry-loss' });
  });

  it('publishes nothing when every request is authentic', async () => {
    const { server, published } = await plugin();
    const res = await server.inject({
      method: 'POST',
      url: '/ingest/github',
      payload: raw,
      headers: signGithub(sample, raw, GITHUB_SECRET, 'rejected-none-1'),
    });
    expect(res.statusCode).toBe(202);
    await server.close();
    expect(published.map((m) => (JSON.parse(m.value) as PipewardenEvent).event.action)).toEqual(['push']);
  });
});
