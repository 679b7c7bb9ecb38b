// Issue 10 item 13 on the real Elasticsearch: cursor=[1e400,"a"] reached Elasticsearch, whose own error
// text came back to the API client; now the API names the parameter and says nothing of the store.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ConsoleAuth } from '../../src/api/auth.ts';
import { apiRoutes } from '../../src/api/routes.ts';
import { Counters } from '../../src/metrics.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';

const esUrl = inject('elasticsearchUrl');
const prefix = `pw-hardening-${Date.now().toString(36)}-${process.pid}`;
let store: ElasticsearchStore;
let server: FastifyInstance;

beforeAll(async () => {
  store = new ElasticsearchStore(elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: prefix }));
  await store.init();
  server = Fastify();
  // Every request let through: these tests are about the query API's answers, not its sign-in.
  const auth = { hook: async () => {} } as unknown as ConsoleAuth;
  await server.register(apiRoutes, {
    bus: {} as never,
    store,
    auth,
    metrics: new Counters(),
    testAlert: async () => ({}),
  });
});
afterAll(async () => {
  await server?.close();
  await store?.close();
});

describe('the query API on Elasticsearch', () => {
  it('cursor=[1e400,"a"] is a 400 naming the cursor, without Elasticsearch text', async () => {
    const cursor = Buffer.from('[1e400,"a"]').toString('base64url');
    const res = await server.inject({
      method: 'GET',
      url: `/api/events?cursor=${cursor}`,
      headers: { authorization: 'Bearer x' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/^invalid cursor/);
    expect(res.body).not.toMatch(/exception|search_after|elasticsearch/i);
  });
});
