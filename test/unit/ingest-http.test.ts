// The ingest and query HTTP surface against a real embedded collector: every bad input gets a clear 4xx.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/app.ts';
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

  it('refuses an unsupported content type with 415', async () => {
    const headers = {
      ...signGithub(sample, raw, GITHUB_SECRET),
      'content-type': 'application/x-www-form-urlencoded',
    };
    const res = await post('/ingest/github', raw, headers);
    expect(res.statusCode).toBe(415);
  });

  it('refuses an empty body with 400', async () => {
    const res = await post('/ingest/github', '', signGithub(sample, '', GITHUB_SECRET));
    expect(res.statusCode).toBe(400);
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
    expect(ready.json()).toEqual({ status: 'ready', checks: { bus: 'ok', store: 'ok' } });
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
