// The GitHub audit-log poller against a real HTTP peer (node:http serving the real audit samples as
// paginated API pages), publishing to the real Kafka and keeping its cursor in the real Elasticsearch.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadSamples } from '../../ingest-adapters/fixtures.ts';
import { type GithubAuditConfig, githubAudit } from '../../ingest-adapters/github-audit/index.ts';
import { githubAuditPoller } from '../../ingest-adapters/github-audit/poller.ts';
import { KafkaBus, kafkaConfigSchema } from '../../src/bus/kafka.ts';
import type { Bus, ConsumedMessage, Subscription } from '../../src/bus/types.ts';
import { withEnv } from '../../src/config/secrets.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { PollerRunner } from '../../src/ingest/pollers/runner.ts';
import { createLogger } from '../../src/log.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import type { Store } from '../../src/store/types.ts';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
const TOKEN = 'gh-audit-test-token';
const entries: Array<Record<string, unknown>> = loadSamples('github-audit')
  .map((s) => s.body as Record<string, unknown>)
  .sort((a, b) => (a.created_at as number) - (b.created_at as number));

/** A small GitHub: /api/v3/orgs/acme/audit-log with created:>= phrases, order=asc, after cursors, rate limits. */
class FakeGithub {
  server!: Server;
  url = '';
  data = [...entries];
  requests: URL[] = [];
  /** Responses to give before serving normally (status and headers), consumed one per request. */
  refusals: Array<{ status: number; headers: Record<string, string> }> = [];

  async start() {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v3`;
  }

  handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url!, 'http://127.0.0.1');
    this.requests.push(u);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { message: 'Bad credentials' });
    if (u.pathname !== '/api/v3/orgs/acme/audit-log') return send(404, { message: 'Not Found' });
    const refusal = this.refusals.shift();
    if (refusal) return send(refusal.status, { message: 'API rate limit exceeded' }, refusal.headers);
    const since = /created:>=(\S+)/.exec(u.searchParams.get('phrase') ?? '')?.[1];
    const sinceMs = since ? Date.parse(since) : 0;
    const rows = this.data.filter((e) => (e.created_at as number) >= sinceMs);
    if (u.searchParams.get('order') !== 'asc') rows.reverse();
    const perPage = Number(u.searchParams.get('per_page') ?? 30);
    const start = u.searchParams.has('after')
      ? Number(Buffer.from(u.searchParams.get('after')!, 'base64url').toString())
      : 0;
    const page = rows.slice(start, start + perPage);
    const headers: Record<string, string> = {
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-reset': '9999999999',
    };
    if (start + perPage < rows.length) {
      const next = new URL(`${this.url}/orgs/acme/audit-log`);
      for (const [k, v] of u.searchParams) if (k !== 'after') next.searchParams.set(k, v);
      next.searchParams.set('after', Buffer.from(String(start + perPage)).toString('base64url'));
      headers.link = `<${next}>; rel="next"`;
    }
    send(200, page, headers);
  }
}

let github: FakeGithub;
let bus: Bus;
let subscription: Subscription;
const got: PipewardenEvent[] = [];
const topic = `poller-${randomUUID().slice(0, 8)}`;
const prefix = `pw-poller-${randomUUID().slice(0, 8)}`;
const stores: Store[] = [];

async function newStore(): Promise<Store> {
  const s = new ElasticsearchStore(
    elasticsearchConfigSchema.parse({ node: inject('elasticsearchUrl'), indexPrefix: prefix }),
  );
  await s.init();
  stores.push(s);
  return s;
}

function pollConfig(extra: Record<string, unknown> = {}): GithubAuditConfig['poll'] {
  return withEnv({ PIPEWARDEN_GITHUB_AUDIT_API_TOKEN: TOKEN }, () =>
    githubAudit.configSchema.parse({
      poll: {
        apiUrl: github.url,
        org: 'acme',
        perPage: 5,
        initialLookbackHours: 24 * 365 * 10,
        maxWaitSeconds: 5,
        ...extra,
      },
    }),
  ).poll;
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 45_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (have ${got.length})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  github = new FakeGithub();
  await github.start();
  bus = new KafkaBus(kafkaConfigSchema.parse({ brokers: inject('kafkaBrokers').split(',') }), { log });
  await bus.ensureTopics([topic]);
  subscription = await bus.subscribe({
    topic,
    group: `${topic}-reader`,
    handler: async (batch: ConsumedMessage[]) => {
      for (const m of batch) got.push(JSON.parse(m.value));
    },
  });
});

afterAll(async () => {
  await subscription?.stop();
  await bus?.close();
  await Promise.allSettled(stores.map((s) => s.close()));
  await new Promise((r) => github?.server.close(r));
});

describe('github-audit poller', () => {
  it('reads every page, resumes from the stored cursor after a restart, and never republishes', async () => {
    const config = pollConfig({ maxPagesPerRun: 2 });

    // First process: two pages (10 entries), then the page cap ends the run with the cursor stored.
    const first = new PollerRunner([githubAuditPoller(config!)], {
      bus,
      store: await newStore(),
      topic,
      log,
    });
    const r1 = await first.run('github-audit:acme');
    await first.stop();
    expect(r1).toMatchObject({ published: 10, pages: 2, stoppedEarly: expect.stringMatching(/page cap/) });

    // A new process with a new store client: resumes at page 3 (the stored Link URL, with its `after`).
    const requestsBefore = github.requests.length;
    const second = new PollerRunner([githubAuditPoller(config!)], {
      bus,
      store: await newStore(),
      topic,
      log,
    });
    const r2 = await second.run('github-audit:acme');
    expect(r2).toMatchObject({ published: entries.length - 10, pages: 2 });
    expect(github.requests[requestsBefore]!.searchParams.get('after')).toBe(
      Buffer.from('10').toString('base64url'),
    );
    for (const u of github.requests) {
      expect(u.searchParams.get('include')).toBe('all');
      expect(u.searchParams.get('per_page')).toBe('5');
    }

    await until(() => got.length >= entries.length, 'every entry on the bus');
    expect(new Set(got.map((e) => e.event.id)).size).toBe(entries.length);
    expect(got.map((e) => e.event.action).sort()).toEqual(entries.map((e) => e.action).sort());
    expect(
      got.every((e) => e.event.dataset === 'github.audit' && e.pipewarden.source === 'github-audit'),
    ).toBe(true);

    // Nothing new: the inclusive created:>= query returns the newest entry again, and it is skipped.
    expect(await second.run('github-audit:acme')).toMatchObject({ published: 0 });
    // A new entry appears: only it is published.
    github.data.push({
      ...entries[0]!,
      _document_id: 'new-doc-1',
      created_at: Date.parse('2030-01-01T00:00:00Z'),
      action: 'user.failed_login',
      actor_ip: '203.0.113.5',
    });
    expect(await second.run('github-audit:acme')).toMatchObject({ published: 1 });
    await until(() => got.length === entries.length + 1, 'the new entry');
    const last = got.at(-1)!;
    expect([last.pipewarden.kind, last.source?.ip]).toEqual(['login.failure', '203.0.113.5']);
    await second.stop();
  });

  it('backs off on 429 Retry-After and 403 rate-limit answers, and defers a long reset to a later run', async () => {
    github.data = [...entries];
    const config = pollConfig({ maxPagesPerRun: 50 });
    const store = await newStore();
    // Start past every entry, so each answer is one empty page.
    await store.putState(
      'poller:github-audit:org:acme',
      JSON.stringify({ since: Date.parse('2030-01-01T00:00:00Z') }),
    );
    const runner = new PollerRunner([githubAuditPoller(config!)], { bus, store, topic, log });

    github.refusals.push({ status: 429, headers: { 'retry-after': '1' } });
    github.refusals.push({ status: 403, headers: { 'x-ratelimit-remaining': '0', 'retry-after': '1' } });
    const started = Date.now();
    const before = github.requests.length;
    expect(await runner.run('github-audit:acme')).toMatchObject({ published: 0, pages: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900); // waited twice, a second each
    expect(github.requests.length - before).toBe(3);

    // Reset an hour away (over maxWaitSeconds): the run stops, and runs before the reset do nothing.
    const reset = Math.floor(Date.now() / 1000) + 3600;
    github.refusals.push({
      status: 403,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
    });
    expect(await runner.run('github-audit:acme')).toMatchObject({
      stoppedEarly: expect.stringMatching(/rate limited/),
    });
    const n = github.requests.length;
    expect(await runner.run('github-audit:acme')).toMatchObject({
      published: 0,
      pages: 0,
      stoppedEarly: expect.stringMatching(/until/),
    });
    expect(github.requests.length).toBe(n);
    const state = JSON.parse((await store.getState('poller:github-audit:org:acme'))!);
    expect(state.notBefore).toBeGreaterThanOrEqual(reset * 1000);
    await runner.stop();
  });

  it('sends the token only as a bearer header and fails a run on bad credentials without moving the cursor', async () => {
    const config = withEnv({ PIPEWARDEN_GITHUB_AUDIT_API_TOKEN: 'wrong' }, () =>
      githubAudit.configSchema.parse({ poll: { apiUrl: github.url, org: 'acme' } }),
    ).poll!;
    const store = await newStore();
    await store.putState('poller:github-audit:org:acme', JSON.stringify({ since: 5 }));
    const runner = new PollerRunner([githubAuditPoller(config)], { bus, store, topic, log });
    expect(await runner.run('github-audit:acme')).toBeUndefined(); // logged, retried next tick
    expect(JSON.parse((await store.getState('poller:github-audit:org:acme'))!)).toEqual({ since: 5 });
    await runner.stop();
  });
});
