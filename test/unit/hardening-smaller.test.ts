// Issue 10 item 13: deeply nested JSON is a 400, not a 500; a store's own error text never reaches an API
// client; /metrics can ask for a token; build-log job ids up to the plugin's 512 characters are routed.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleAuth } from '../../src/api/auth.ts';
import { apiRoutes } from '../../src/api/routes.ts';
import type { RunningApp } from '../../src/app.ts';
import { Counters } from '../../src/metrics.ts';
import type { Store } from '../../src/store/types.ts';
import { startEmbedded } from '../support/app.ts';
import { listSamples, loadSample, rawBody } from '../support/samples.ts';
import { signers } from '../support/signers.ts';

const SECRET = 'smaller-secret-0123456789';
const METRICS = 'metrics-token-0123456789';
let app: RunningApp;
let token: string;
beforeAll(async () => {
  ({ app, token } = await startEmbedded(
    {},
    {
      PIPEWARDEN_GITLAB_AUDIT_STREAMING_TOKEN: SECRET,
      PIPEWARDEN_GITLAB_LOGS_TOKEN: SECRET,
      PIPEWARDEN_GITHUB_AUDIT_HEC_TOKEN: SECRET,
      PIPEWARDEN_METRICS_TOKEN: METRICS,
      PIPEWARDEN_BUILD_LOGS_TOKEN: SECRET,
    },
    ['ingest'],
  ));
});
afterAll(async () => {
  await app?.stop();
});

const deep = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`;
const post = (url: string, payload: string, source: string, type = 'application/json') =>
  app.server.inject({
    method: 'POST',
    url,
    payload,
    headers: { 'content-type': type, ...signers[source]!(payload, SECRET, new Date()) },
  });

describe('deeply nested JSON', () => {
  it('gitlab-audit: a body nested 20,000 deep is a 400 naming the depth', async () => {
    const sample = loadSample('gitlab-audit', listSamples('gitlab-audit')[0]!);
    const body = rawBody(sample).replace(/^\{/, `{"deep":${deep(20_000)},`);
    const res = await post('/ingest/gitlab-audit', body, 'gitlab-audit');
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/nested deeper than 64 levels/);
  });

  it('gitlab-logs: a log line nested 20,000 deep is a 400', async () => {
    const line = `{"time":"2024-01-01T00:00:00Z","x":${deep(20_000)}}`;
    const res = await post('/ingest/gitlab-logs', line, 'gitlab-logs', 'application/x-ndjson');
    expect(res.statusCode, res.body).toBeLessThan(500);
  });

  it('github-audit (HEC): an event string nested 20,000 deep is a 4xx', async () => {
    const payload = JSON.stringify({ event: `{"action":"x","data":${deep(20_000)}}` });
    const res = await post('/services/collector/event', payload, 'github-audit');
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, res.body).toBeLessThan(500);
  });
});

describe('/metrics behind a token', () => {
  it('answers 401 without the token and the exposition with it', async () => {
    const anon = await app.server.inject({ method: 'GET', url: '/metrics' });
    expect(anon.statusCode).toBe(401);
    const wrong = await app.server.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
    const ok = await app.server.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${METRICS}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('# TYPE');
  });
});

describe('the query API', () => {
  it('cursor=[1e400,"a"] is a 400 naming the parameter', async () => {
    const cursor = Buffer.from('[1e400,"a"]').toString('base64url');
    const res = await app.server.inject({
      method: 'GET',
      url: `/api/events?cursor=${cursor}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/cursor/);
  });

  it("a store error's own text never reaches the client", async () => {
    // What @elastic/elasticsearch throws for a refused query: a statusCode and Elasticsearch's reason.
    const esError = Object.assign(
      new Error(
        'search_phase_execution_exception: [parse_exception] failed to parse search_after value for field [@timestamp]',
      ),
      { statusCode: 400 },
    );
    const store = {
      searchEvents: async () => {
        throw esError;
      },
      getToken: async () => undefined,
    } as unknown as Store;
    const server = Fastify();
    server.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) =>
      reply
        .status(err.statusCode && err.statusCode >= 400 ? err.statusCode : 500)
        .send({ message: err.statusCode ? err.message : 'internal error' }),
    );
    // Every request let through: these tests are about the query API's answers, not its sign-in.
    const auth = { hook: async () => {} } as unknown as ConsoleAuth;
    await server.register(apiRoutes, {
      bus: {} as never,
      store,
      auth,
      metrics: new Counters(),
      testAlert: async () => ({}),
    });
    const res = await server.inject({
      method: 'GET',
      url: '/api/events',
      headers: { authorization: 'Bearer x' },
    });
    await server.close();
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toMatch(/search_after|parse_exception/);
  });
});

describe('build-log job ids', () => {
  it('a 300-character job id is routed (Fastify answered 414 past 100)', async () => {
    const job = `jenkins:${'j'.repeat(292)}`;
    const res = await app.server.inject({
      method: 'POST',
      url: `/ingest/build-logs/${encodeURIComponent(job)}`,
      payload: 'hello\n',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${SECRET}` },
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().job).toBe(job);
  });
});
