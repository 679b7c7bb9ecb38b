// One contract suite for every Store: the embedded SQLite one and the real Elasticsearch node.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AlertRecord } from '../../src/alerting/types.ts';
import { type EventKind, eventId, type PipewardenEvent } from '../../src/event.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { IndexOptions, Page, Store } from '../../src/store/types.ts';

interface EventSpec {
  at: string;
  source: string;
  kind: EventKind;
  action: string;
  message: string;
  actor?: string;
  repository?: string;
  ip?: string;
  raw?: unknown;
}

/** A normalised event as an adapter would produce it. */
function makeEvent(s: EventSpec): PipewardenEvent {
  const provider = s.source.split('-')[0]!;
  return {
    '@timestamp': s.at,
    message: s.message,
    event: {
      id: eventId(s.source, s.action, s.at, s.actor, s.repository),
      kind: 'event',
      category: s.kind.startsWith('login') ? ['authentication'] : ['configuration'],
      type: ['info'],
      action: s.action,
      outcome: s.kind === 'login.failure' || s.kind === 'access.denied' ? 'failure' : 'success',
      dataset: `${provider}.audit`,
      provider,
      ingested: '2025-03-04T12:00:00.000Z',
    },
    ...(s.actor ? { user: { name: s.actor } } : {}),
    ...(s.ip ? { source: { ip: s.ip } } : {}),
    organization: { name: 'acme' },
    pipewarden: {
      kind: s.kind,
      source: s.source,
      delivery_id: `d-${s.action}-${s.at}`,
      ...(s.repository ? { repository: s.repository } : {}),
      ...(s.raw !== undefined ? { raw: s.raw } : {}),
    },
  };
}

// Newest first as listed; `tieA`/`tieB` share a timestamp so the id breaks the tie.
const E = {
  deploy: makeEvent({
    at: '2025-03-04T11:00:00.000Z',
    source: 'github',
    kind: 'deploy',
    action: 'deployment.created',
    message: 'alice deployed octo/widgets to production',
    actor: 'alice',
    repository: 'octo/widgets',
    ip: '203.0.113.7',
  }),
  tieA: makeEvent({
    at: '2025-03-04T10:00:00.000Z',
    source: 'jenkins',
    kind: 'login.failure',
    action: 'login.failed',
    message: 'Failed Jenkins login for mallory',
    actor: 'mallory',
    ip: '198.51.100.9',
  }),
  tieB: makeEvent({
    at: '2025-03-04T10:00:00.000Z',
    source: 'jenkins',
    kind: 'login.failure',
    action: 'login.failed',
    message: 'Failed Jenkins login for eve',
    actor: 'eve',
    ip: 'not-an-ip', // a vendor's junk in the IP slot must not fail the batch
  }),
  publicized: makeEvent({
    at: '2025-03-04T09:30:00.000Z',
    source: 'github',
    kind: 'config.change',
    action: 'repo.publicized',
    message: 'Repository visibility changed to public',
    actor: 'bob',
    repository: 'octo/secret-sauce',
  }),
  push: makeEvent({
    at: '2025-03-04T09:00:00.000Z',
    source: 'gitlab',
    kind: 'code.push',
    action: 'push',
    message: 'bob pushed 3 commits to main',
    actor: 'bob',
    repository: 'octo/widgets',
    raw: { object_kind: 'push', note: 'zebracorn', commits: [{ id: 'c0ffee', added: ['a.txt'] }] },
  }),
  anonymous: makeEvent({
    at: '2025-03-04T08:00:00.000Z',
    source: 'artifactory',
    kind: 'access.anonymous',
    action: 'download',
    message: 'Anonymous download of libs-release/app-1.2.jar',
    ip: '192.0.2.44',
  }),
  publish: makeEvent({
    at: '2025-03-03T23:59:59.999Z',
    source: 'artifactory',
    kind: 'artifact.publish',
    action: 'deploy',
    message: 'ci-bot published libs-release/app-1.2.jar',
    actor: 'ci-bot',
  }),
  oldLogin: makeEvent({
    at: '2025-03-03T07:15:00+01:00', // an offset, not Z: time filters must compare instants
    source: 'github',
    kind: 'login.success',
    action: 'user.login',
    message: 'alice signed in',
    actor: 'alice',
  }),
};
const ALL = Object.values(E);

/** Ids in store order: (@timestamp desc, id desc). */
function expectedOrder(events: PipewardenEvent[]): string[] {
  return [...events]
    .sort((a, b) => {
      const dt = Date.parse(b['@timestamp']) - Date.parse(a['@timestamp']);
      return dt !== 0 ? dt : a.event.id < b.event.id ? 1 : a.event.id > b.event.id ? -1 : 0;
    })
    .map((e) => e.event.id);
}

const ids = (page: Page<PipewardenEvent>) => page.items.map((e) => e.event.id);

function makeAlert(id: string, patch: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id,
    '@timestamp': '2025-03-04T10:00:00.000Z',
    detected_at: '2025-03-04T10:00:01.000Z',
    detector: 'brute-force-login',
    title: 'Repeated failed logins',
    severity: 'high',
    summary: '12 failed Jenkins logins for mallory in 5 minutes',
    description: 'Many failed sign-ins for one account in a short window.',
    runbook: 'detectors/brute-force-login/README.md',
    key: 'mallory',
    event_ids: [E.tieA.event.id],
    source: 'jenkins',
    actor: 'mallory',
    source_ip: '198.51.100.9',
    context: { failures: 12, window: '5m' },
    status: 'pending',
    deliveries: {},
    ...patch,
  };
}

const HOSTILE = [
  '"',
  '"""',
  'foo"bar',
  '*',
  'deploy*',
  '-',
  '-alice',
  'a:b',
  'message:alice',
  'AND',
  'OR NOT',
  'alice AND',
  'NEAR(alice bob)',
  '((',
  ')',
  '^',
  '~2',
  '+',
  '|',
  '{}[]',
  '\\',
  "'; DROP TABLE events; --",
  'x\u0000y',
  '\u0000',
  'ünïcödé 🚀',
  'a'.repeat(2000),
];

/** `esPrefix`: the Elasticsearch store's index prefix, for the checks that look at its indices directly. */
function storeContract(name: string, makeStore: () => Promise<Store>, esPrefix = ''): void {
  describe(name, () => {
    let store: Store;

    beforeAll(async () => {
      store = await makeStore();
      await store.init();
      await store.init(); // idempotent
      await store.indexEvents(ALL);
      await store.refresh();
    });

    afterAll(async () => {
      await store?.close();
    });

    it('pings', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('lists every event newest first, ties broken by id', async () => {
      const page = await store.searchEvents({});
      expect(page.total).toBe(ALL.length);
      expect(ids(page)).toEqual(expectedOrder(ALL));
      expect(page.next).toBeUndefined();
    });

    it('indexes idempotently: the same events again leave the total unchanged', async () => {
      await store.indexEvents(ALL);
      await store.indexEvents([E.deploy, E.deploy]);
      await store.refresh();
      const page = await store.searchEvents({});
      expect(page.total).toBe(ALL.length);
      expect(ids(page)).toEqual(expectedOrder(ALL));
      // Still exactly one text match too (no duplicated full-text rows).
      expect(ids(await store.searchEvents({ q: 'production' }))).toEqual([E.deploy.event.id]);
    });

    it('gets an event by id, raw payload included', async () => {
      expect(await store.getEvent(E.push.event.id)).toEqual(E.push);
      expect(await store.getEvent(E.tieB.event.id)).toEqual(E.tieB);
      expect(await store.getEvent('no-such-event')).toBeUndefined();
    });

    it('does not search the raw payload', async () => {
      const page = await store.searchEvents({ q: 'zebracorn' });
      expect(page.total).toBe(0);
      expect(page.items).toEqual([]);
    });

    it('filters by time: from inclusive, to exclusive', async () => {
      const page = await store.searchEvents({ from: E.anonymous['@timestamp'], to: E.deploy['@timestamp'] });
      expect(ids(page)).toEqual(expectedOrder([E.tieA, E.tieB, E.publicized, E.push, E.anonymous]));
      expect(page.total).toBe(5);
      // The offset timestamp 07:15+01:00 is 06:15Z: inside [06:15Z, 06:16Z), outside [06:16Z, ...).
      expect(
        ids(await store.searchEvents({ from: '2025-03-03T06:15:00Z', to: '2025-03-03T06:16:00Z' })),
      ).toEqual([E.oldLogin.event.id]);
      expect((await store.searchEvents({ from: '2025-03-03T06:16:00Z' })).total).toBe(ALL.length - 1);
    });

    it('filters by source, kind, actor and repository', async () => {
      expect(ids(await store.searchEvents({ source: 'artifactory' }))).toEqual([
        E.anonymous.event.id,
        E.publish.event.id,
      ]);
      expect(ids(await store.searchEvents({ kind: 'login.failure' }))).toEqual(
        expectedOrder([E.tieA, E.tieB]),
      );
      expect(ids(await store.searchEvents({ actor: 'alice' }))).toEqual([
        E.deploy.event.id,
        E.oldLogin.event.id,
      ]);
      expect(ids(await store.searchEvents({ repository: 'octo/widgets' }))).toEqual([
        E.deploy.event.id,
        E.push.event.id,
      ]);
      // Exact, not prefix or text: "octo" is no repository.
      expect((await store.searchEvents({ repository: 'octo' })).total).toBe(0);
      expect((await store.searchEvents({ actor: 'ALICE' })).total).toBe(0);
      const both = await store.searchEvents({ source: 'github', actor: 'bob' });
      expect(ids(both)).toEqual([E.publicized.event.id]);
      expect(both.total).toBe(1);
    });

    it('filters by action, exactly, and by source IP as an address or a CIDR block', async () => {
      expect(ids(await store.searchEvents({ action: 'login.failed' }))).toEqual(
        expectedOrder([E.tieA, E.tieB]),
      );
      expect((await store.searchEvents({ action: 'login' })).total).toBe(0);
      expect(ids(await store.searchEvents({ ip: '198.51.100.9' }))).toEqual([E.tieA.event.id]);
      expect(ids(await store.searchEvents({ ip: '198.51.100.0/24' }))).toEqual([E.tieA.event.id]);
      // Only what is inside the block counts; "not-an-ip" (kept as junk in the IP slot) never matches.
      expect(ids(await store.searchEvents({ ip: '192.0.0.0/8' }))).toEqual([E.anonymous.event.id]);
      expect(ids(await store.searchEvents({ ip: '192.0.0.0/3' }))).toEqual([
        E.deploy.event.id,
        E.tieA.event.id,
        E.anonymous.event.id,
      ]);
      expect((await store.searchEvents({ ip: '2001:db8::/32' })).total).toBe(0);
      expect(ids(await store.searchEvents({ ip: '198.51.100.0/24', action: 'login.failed' }))).toEqual([
        E.tieA.event.id,
      ]);
    });

    it('searches free text in message, action, actor and repository', async () => {
      expect(ids(await store.searchEvents({ q: 'jenkins' }))).toEqual(expectedOrder([E.tieA, E.tieB]));
      expect(ids(await store.searchEvents({ q: 'Visibility PUBLIC' }))).toEqual([E.publicized.event.id]);
      expect(ids(await store.searchEvents({ q: 'octo/secret-sauce' }))).toEqual([E.publicized.event.id]);
      expect(ids(await store.searchEvents({ q: 'repo.publicized' }))).toEqual([E.publicized.event.id]);
      expect(ids(await store.searchEvents({ q: 'widgets' }))).toEqual([E.deploy.event.id, E.push.event.id]);
      expect(ids(await store.searchEvents({ q: 'mallory' }))).toEqual([E.tieA.event.id]);
      expect(ids(await store.searchEvents({ q: '203.0.113.7' }))).toEqual([E.deploy.event.id]);
      // Terms are ANDed and combine with filters.
      expect(ids(await store.searchEvents({ q: 'libs-release/app-1.2.jar', actor: 'ci-bot' }))).toEqual([
        E.publish.event.id,
      ]);
      expect((await store.searchEvents({ q: 'alice mallory' })).total).toBe(0);
    });

    it('treats operators in free text as plain words and never throws on hostile input', async () => {
      // Quotes, minus and colons are literal: "-alice" finds alice instead of excluding her.
      expect(ids(await store.searchEvents({ q: '-alice' }))).toEqual([
        E.deploy.event.id,
        E.oldLogin.event.id,
      ]);
      expect(ids(await store.searchEvents({ q: '"production' }))).toEqual([E.deploy.event.id]);
      for (const q of HOSTILE) {
        const page = await store.searchEvents({ q, source: 'github', size: 5 });
        expect(Array.isArray(page.items), q).toBe(true);
        expect(page.total, q).toBeLessThanOrEqual(3);
      }
    });

    it('pages with a cursor, visiting every match once, newest first', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.searchEvents({ size: 3, ...(cursor ? { cursor } : {}) });
        expect(page.total).toBe(ALL.length);
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...ids(page));
        cursor = page.next;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual(expectedOrder(ALL));
      expect(pages).toBe(Math.ceil(ALL.length / 3));

      // With a filter, and a page size that divides the matches exactly: no empty trailing page.
      const first = await store.searchEvents({ source: 'github', size: 1 });
      const second = await store.searchEvents({ source: 'github', size: 1, cursor: first.next! });
      const third = await store.searchEvents({ source: 'github', size: 1, cursor: second.next! });
      expect([...ids(first), ...ids(second), ...ids(third)]).toEqual([
        E.deploy.event.id,
        E.publicized.event.id,
        E.oldLogin.event.id,
      ]);
      expect(third.next).toBeUndefined();
      expect(third.total).toBe(3);
    });

    it('rejects a damaged cursor', async () => {
      await expect(store.searchEvents({ cursor: 'not a cursor' })).rejects.toThrow(/cursor/);
    });

    it('never indexes an event it cannot read: SQLite refuses the batch naming it, Elasticsearch keeps it as a dead letter', async () => {
      const bad = {
        ...E.deploy,
        '@timestamp': 'yesterday-ish',
        event: { ...E.deploy.event, id: 'bad-time-1' },
      };
      if (store.kind === 'sqlite') {
        await expect(store.indexEvents([bad])).rejects.toThrow(/bad-time-1/);
        return;
      }
      // A field of the wrong type is refused for good by Elasticsearch (400), as is an unreadable time;
      // the good event in the same batch is indexed, the refused ones kept whole in <prefix>-deadletter.
      const wrongType = {
        ...E.deploy,
        event: { ...E.deploy.event, id: 'bad-type-1' },
        pipewarden: { ...E.deploy.pipewarden, count: 'lots' as unknown as number },
      };
      const fine = { ...E.deploy, event: { ...E.deploy.event, id: 'fine-next-to-bad-1' } };
      await expect(store.indexEvents([bad, wrongType, fine])).resolves.toBeUndefined();
      await store.refresh();
      expect(await store.getEvent('fine-next-to-bad-1')).toBeDefined();
      expect(await store.getEvent('bad-type-1')).toBeUndefined();
      const es = new Client({ node: esUrl });
      try {
        const letters = await es.search<{ event_id: string; error_type: string; document: string }>({
          index: `${esPrefix}-deadletter`,
          query: { match_all: {} },
          sort: [{ event_id: 'asc' }],
        });
        const docs = letters.hits.hits.map((h) => h._source!);
        expect(docs.map((d) => d.event_id)).toEqual(['bad-time-1', 'bad-type-1']);
        expect(docs.every((d) => /parsing_exception/.test(d.error_type))).toBe(true);
        expect(JSON.parse(docs[1]!.document)).toEqual(wrongType);
      } finally {
        await es.close();
      }
    });

    it('indexes a redelivery once, even after the data stream rolled over, when told it may be one', async () => {
      const again = [E.push, E.publish];
      await store.indexEvents(again, { mayBeRedelivered: true });
      await store.refresh();
      expect((await store.searchEvents({ source: 'gitlab' })).total).toBe(1);
      if (store.kind !== 'elasticsearch') return;
      const es = new Client({ node: esUrl });
      try {
        await es.indices.rollover({ alias: `${esPrefix}-events` });
        await store.indexEvents(again, { mayBeRedelivered: true });
        await store.refresh();
        const count = async (id: string) =>
          (await es.count({ index: `${esPrefix}-events`, query: { ids: { values: [id] } } })).count;
        expect(await count(E.push.event.id)).toBe(1);
        expect(await count(E.publish.event.id)).toBe(1);
        // Why the check exists: a plain create after a rollover lands in the new backing index.
        await store.indexEvents([E.publish]);
        await store.refresh();
        expect(await count(E.publish.event.id)).toBe(2);
      } finally {
        await es.close();
      }
    });

    it('finds a permission change by the member it was applied to and the role granted', async () => {
      const granted: PipewardenEvent = {
        ...E.publicized,
        event: { ...E.publicized.event, id: 'granted-role-1', action: 'org.update_member' },
        user: { name: 'bob', target: { name: 'zephyrina', roles: ['admin'] } },
        pipewarden: {
          ...E.publicized.pipewarden,
          kind: 'permission.change',
          change: { field: 'permission', from: 'read', to: 'admin' },
        },
      };
      await store.indexEvents([granted]);
      await store.refresh();
      expect(ids(await store.searchEvents({ q: 'zephyrina' }))).toEqual(['granted-role-1']);
      expect(ids(await store.searchEvents({ q: 'zephyrina admin' }))).toEqual(['granted-role-1']);
      expect((await store.getEvent('granted-role-1'))?.pipewarden.change).toEqual(granted.pipewarden.change);
    });

    it('puts, replaces, gets and searches alerts', async () => {
      const a = makeAlert('alert-a');
      const b = makeAlert('alert-b', {
        '@timestamp': '2025-03-04T11:00:00.000Z',
        detector: 'off-hours-deploy',
        severity: 'medium',
        actor: 'alice',
        key: 'alice',
      });
      const c = makeAlert('alert-c', { '@timestamp': '2025-03-04T09:00:00.000Z', key: 'eve', actor: 'eve' });
      await store.putAlert(a);
      await store.putAlert(b);
      await store.putAlert(c);
      const delivered: AlertRecord = {
        ...a,
        status: 'delivered',
        deliveries: {
          slack: { status: 'sent', attempts: 2, at: '2025-03-04T10:00:05.000Z' },
          email: {
            status: 'skipped',
            attempts: 0,
            at: '2025-03-04T10:00:05.000Z',
            reason: 'below minSeverity',
          },
        },
      };
      await store.putAlert(delivered); // replace by id
      await store.refresh();

      expect(await store.getAlert('alert-a')).toEqual(delivered);
      expect(await store.getAlert('no-such-alert')).toBeUndefined();

      const all = await store.searchAlerts({});
      expect(all.total).toBe(3);
      expect(all.items.map((x) => x.id)).toEqual(['alert-b', 'alert-a', 'alert-c']);

      const byDetector = await store.searchAlerts({ detector: 'brute-force-login' });
      expect(byDetector.items.map((x) => x.id)).toEqual(['alert-a', 'alert-c']);
      expect((await store.searchAlerts({ status: 'delivered' })).items).toEqual([delivered]);
      expect((await store.searchAlerts({ status: 'pending' })).items.map((x) => x.id)).toEqual([
        'alert-b',
        'alert-c',
      ]);
      expect((await store.searchAlerts({ severity: 'medium' })).items.map((x) => x.id)).toEqual(['alert-b']);
      expect((await store.searchAlerts({ status: 'failed' })).total).toBe(0);
      const window = await store.searchAlerts({
        from: '2025-03-04T10:00:00.000Z',
        to: '2025-03-04T11:00:00.000Z',
      });
      expect(window.items.map((x) => x.id)).toEqual(['alert-a']);

      const page1 = await store.searchAlerts({ size: 2 });
      const page2 = await store.searchAlerts({ size: 2, cursor: page1.next! });
      expect([...page1.items, ...page2.items].map((x) => x.id)).toEqual(['alert-b', 'alert-a', 'alert-c']);
      expect(page2.next).toBeUndefined();
    });

    it('puts and gets tokens', async () => {
      const token = {
        id: 'pw_tok_1',
        name: 'soc-dashboard',
        hash: 'a'.repeat(64),
        createdAt: '2025-03-04T12:00:00.000Z',
      };
      await store.putToken(token);
      expect(await store.getToken('pw_tok_1')).toEqual(token);
      expect(await store.getToken('pw_tok_2')).toBeUndefined();
    });

    it('keeps named state: last write wins, readable at once without a refresh', async () => {
      expect(await store.getState('poller:github-audit')).toBeUndefined();
      await store.putState('poller:github-audit', '{"after":"c1"}');
      await store.putState('poller:github-audit', '{"after":"c2"}');
      await store.putState('detect:snapshot:0', 'x'.repeat(10_000));
      expect(await store.getState('poller:github-audit')).toBe('{"after":"c2"}');
      expect((await store.getState('detect:snapshot:0'))?.length).toBe(10_000);
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'pipewarden-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
storeContract('sqlite', async () => new SqliteStore({ path: join(dir, 'store.db') }));

const esUrl = inject('elasticsearchUrl');
// Unique per run so runs against a shared node never see each other's documents.
const prefix = `pw-test-${Date.now().toString(36)}-${process.pid}`;
afterAll(async () => {
  // Remove what this run created; the data stream delete API needs the data-streams module, which a
  // stripped-down test node may lack, so its failure is tolerated (the prefix is unique anyway).
  const es = new Client({ node: esUrl });
  await es.indices.deleteDataStream({ name: `${prefix}-events` }).catch(() => {});
  await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true }).catch(() => {});
  await es.indices.deleteIndexTemplate({ name: `${prefix}-events` }).catch(() => {});
  await es.cluster.deleteComponentTemplate({ name: `${prefix}-events-mappings` }).catch(() => {});
  await es.close();
});
storeContract(
  'elasticsearch',
  async () => new ElasticsearchStore(elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: prefix })),
  prefix,
);

/**
 * The index role sends each event's own bus text (IndexOptions.sourceTexts) instead of serialising it
 * again: the whole contract must hold for documents written that way (texts indented here, so they are
 * not what JSON.stringify would give).
 */
class FromTextStore extends ElasticsearchStore {
  override indexEvents(events: PipewardenEvent[], options: IndexOptions = {}): Promise<void> {
    const sourceTexts = new Map(events.map((e) => [e, JSON.stringify(e, null, 2)]));
    return super.indexEvents(events, { ...options, sourceTexts });
  }
}
storeContract(
  'elasticsearch, documents sent as their bus text',
  async () => new FromTextStore(elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: `${prefix}-t` })),
  `${prefix}-t`,
);

describe('elasticsearch retention', () => {
  it('sets retentionDays as the data stream lifecycle of the events template', async () => {
    const p = `${prefix}-ret`;
    const store = new ElasticsearchStore(
      elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: p, retentionDays: 30 }),
    );
    const es = new Client({ node: esUrl });
    try {
      await store.init();
      const { index_templates } = await es.indices.getIndexTemplate({ name: `${p}-events` });
      expect(index_templates[0]?.index_template.template?.lifecycle).toMatchObject({ data_retention: '30d' });
      const plain = new ElasticsearchStore(
        elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: `${p}-none` }),
      );
      await plain.init();
      const none = await es.indices.getIndexTemplate({ name: `${p}-none-events` });
      expect(none.index_templates[0]?.index_template.template?.lifecycle).toBeUndefined();
      await plain.close();
    } finally {
      await store.close();
      await es.close();
    }
  });
});

describe('elasticsearch config', () => {
  it('names secrets by environment variable, never holds them in the file', () => {
    expect(() => elasticsearchConfigSchema.parse({ node: 'http://elastic:changeme@es:9200' })).toThrow(
      /credentials/,
    );
    expect(() => elasticsearchConfigSchema.parse({ node: 'http://es:9200', apiKeyEnv: 'abc123==' })).toThrow(
      /NAME of an environment variable/,
    );
    expect(() => elasticsearchConfigSchema.parse({ node: 'http://es:9200', extra: 1 })).toThrow();
    const c = elasticsearchConfigSchema.parse({ node: 'http://es:9200' });
    expect(c.indexPrefix).toBe('pipewarden');
    expect(c.requestTimeoutMs).toBe(10_000);
  });
});
