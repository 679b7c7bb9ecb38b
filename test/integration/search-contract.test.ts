// One corpus, one list of queries in the console's query language, and the events each must return:
// the same in embedded mode (SQLite + FTS5) and distributed mode (Elasticsearch). Before the shared
// analyser, free text differed (`deploy-prod`, `protected_branch.destroy` split differently).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EventKind, PipewardenEvent } from '../../src/event.ts';
import { parseQuery, QueryError } from '../../src/search/query.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/types.ts';

const NOW = Date.parse('2025-03-04T12:00:00.000Z');

interface Spec {
  id: string;
  minutesAgo: number;
  source: string;
  kind: EventKind;
  action: string;
  message: string;
  actor?: string;
  repository?: string;
  org?: string;
  ip?: string;
  environment?: string;
  /** correlation fields (pipewarden.*) a trace follows */
  trace?: {
    commit?: string;
    pull_request?: string;
    build_id?: string;
    artifact_digest?: string;
    deployment_id?: string;
  };
}

function event(s: Spec): PipewardenEvent {
  return {
    '@timestamp': new Date(NOW - s.minutesAgo * 60_000).toISOString(),
    message: s.message,
    event: {
      id: s.id,
      kind: 'event',
      category: ['configuration'],
      type: ['info'],
      action: s.action,
      outcome: s.kind === 'login.failure' ? 'failure' : 'success',
      dataset: `${s.source}.webhook`,
      provider: s.source,
      ingested: new Date(NOW).toISOString(),
    },
    ...(s.actor ? { user: { name: s.actor } } : {}),
    ...(s.ip ? { source: { ip: s.ip } } : {}),
    ...(s.org ? { organization: { name: s.org } } : {}),
    pipewarden: {
      kind: s.kind,
      source: s.source,
      ...(s.repository ? { repository: s.repository } : {}),
      ...(s.environment ? { environment: s.environment } : {}),
      ...s.trace,
    },
  };
}

const CORPUS: Spec[] = [
  {
    id: 'e01',
    minutesAgo: 5,
    source: 'github',
    kind: 'login.failure',
    action: 'user.failed_login',
    message: 'Failed sign-in for Alice',
    actor: 'Alice',
    ip: '203.0.113.7',
  },
  {
    id: 'e02',
    minutesAgo: 6,
    source: 'github',
    kind: 'login.failure',
    action: 'user.failed_login',
    message: 'Failed sign-in for alice',
    actor: 'alice',
    ip: '203.0.113.7',
  },
  {
    id: 'e03',
    minutesAgo: 30,
    source: 'gitlab',
    kind: 'login.success',
    action: 'user.login',
    message: 'alicia signed in',
    actor: 'alicia',
    ip: '10.1.2.3',
  },
  {
    id: 'e04',
    minutesAgo: 90,
    source: 'github',
    kind: 'config.change',
    action: 'protected_branch.destroy',
    message: 'Branch protection removed on main',
    actor: 'bob',
    repository: 'octo-org/api',
    org: 'octo-org',
  },
  {
    id: 'e05',
    minutesAgo: 120,
    source: 'jenkins',
    kind: 'deploy',
    action: 'deploy',
    message: 'Deployed build 42',
    actor: 'ci-bot',
    repository: 'octo-org/web',
    environment: 'deploy-prod',
    trace: { commit: '9f2c1e0aa', build_id: '42', deployment_id: '1001', artifact_digest: 'sha256:0badc0de' },
  },
  {
    id: 'e06',
    minutesAgo: 200,
    source: 'gitlab',
    kind: 'code.push',
    action: 'push',
    message: 'Pushed 3 commits to release',
    actor: 'carol',
    repository: 'Other-Org/tools',
    trace: { commit: '9F2C1E0BB', pull_request: '17' },
  },
  {
    id: 'e07',
    minutesAgo: 2000,
    source: 'github',
    kind: 'permission.change',
    action: 'team.add_member',
    message: 'Protection team grew',
    actor: 'BOB',
    repository: 'octo-org/api',
    org: 'octo-org',
  },
  {
    id: 'e08',
    minutesAgo: 3000,
    source: 'jenkins',
    kind: 'build',
    action: 'build.completed',
    message: 'Build prototype finished',
    actor: 'ci-bot',
    repository: 'octo-orgx/lib',
  },
  {
    id: 'e09',
    minutesAgo: 10,
    source: 'github',
    kind: 'access.denied',
    action: 'repo.access_denied',
    message: 'Access denied: "deploy to prod" required approval',
    actor: 'dave',
    ip: '198.51.100.20',
    repository: 'octo-org/web',
  },
  {
    id: 'e10',
    minutesAgo: 15,
    source: 'gitlab',
    kind: 'other',
    action: 'note',
    message: 'Café crème déploiement',
    actor: 'eve',
  },
];

/** Query → the ids it must return (order-free). */
const CASES: Array<[string, string[]]> = [
  ['actor:ALICE*', ['e01', 'e02']],
  ['actor:ali*', ['e01', 'e02', 'e03']],
  ['actor:alice', ['e01', 'e02']],
  ['actor:bob', ['e04', 'e07']],
  ['repository:octo-org/*', ['e04', 'e05', 'e07', 'e09']],
  ['repository:OCTO-ORG/API', ['e04', 'e07']],
  ['organisation:octo-org', ['e04', 'e05', 'e07', 'e09']],
  ['org:other-org', ['e06']],
  ['source:GitHub AND kind:login.failure', ['e01', 'e02']],
  ['source:gitlab OR source:jenkins', ['e03', 'e05', 'e06', 'e08', 'e10']],
  ['source:github NOT actor:alice', ['e04', 'e07', 'e09']],
  ['(actor:bob OR actor:carol) AND -source:gitlab', ['e04', 'e07']],
  ['NOT repository:*', ['e01', 'e02', 'e03', 'e10']],
  ['ip:203.0.113.7', ['e01', 'e02']],
  ['ip:10.0.0.0/8', ['e03']],
  ['NOT ip:203.0.113.0/24 AND kind:login.*', ['e03']],
  ['deploy-prod', ['e05']],
  ['"deploy to prod"', ['e09']],
  ['destroy', ['e04']],
  ['protected_branch.destroy', ['e04']],
  ['prot*', ['e04', 'e07', 'e08']],
  ['protection', ['e04', 'e07']],
  ['sign-in alice', ['e01', 'e02']],
  ['cafe', ['e10']],
  ['DEPLOIEMENT', ['e10']],
  ['environment:deploy-prod', ['e05']],
  ['action:user.*', ['e01', 'e02', 'e03']],
  ['time:>now-1h', ['e01', 'e02', 'e03', 'e09', 'e10']],
  ['time:[now-3h TO now-1h] AND octo', ['e04', 'e05']],
  ['time:<now-1d', ['e07', 'e08']],
  ['commit:9f2c1e0*', ['e05', 'e06']],
  ['sha:9f2c1e0aa', ['e05']],
  ['build:42 AND deployment:1001', ['e05']],
  ['pr:17 OR digest:sha256:0badc0de', ['e05', 'e06']],
  ['', CORPUS.map((c) => c.id)],
];

function contract(name: string, make: () => Promise<Store>) {
  describe(`search contract (${name})`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await make();
      await store.init();
      await store.indexEvents(CORPUS.map(event));
      await store.refresh();
    });
    afterAll(async () => {
      await store?.close();
    });

    it.each(CASES)('%s', async (q, expected) => {
      const page = await store.queryEvents(parseQuery(q, NOW), { size: 100 });
      expect(page.items.map((e) => e.event.id).sort()).toEqual([...expected].sort());
      expect(page.total).toBe(expected.length);
    });

    it("gives the same answer to the API's plain q parameter (each word a phrase)", async () => {
      for (const [q, expected] of [
        ['deploy-prod', ['e05']],
        ['destroy', ['e04']],
        ['cafe', ['e10']],
        ['Failed alice', ['e01', 'e02']],
      ] as const) {
        const page = await store.searchEvents({ q, size: 100 });
        expect(page.items.map((e) => e.event.id).sort(), q).toEqual([...expected].sort());
      }
    });

    it('pages through a query with the cursor, newest first', async () => {
      const q = parseQuery('source:github OR source:gitlab', NOW);
      const first = await store.queryEvents(q, { size: 3 });
      const second = await store.queryEvents(q, { size: 3, cursor: first.next! });
      const ids = [...first.items, ...second.items].map((e) => e.event.id);
      expect(ids).toEqual(['e01', 'e02', 'e09', 'e10', 'e03', 'e04']);
    });

    it('counts matching events per time bucket', async () => {
      const buckets = await store.eventHistogram(parseQuery('octo', NOW), {
        from: NOW - 4 * 3_600_000,
        to: NOW,
        interval: 3_600_000,
      });
      expect(buckets.map((b) => b.n)).toEqual([0, 0, 2, 1]);
      expect(buckets[0]!.t).toBe(new Date(NOW - 4 * 3_600_000).toISOString());
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'pipewarden-search-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
contract('sqlite', async () => new SqliteStore({ path: join(dir, 'store.db') }));

const esUrl = inject('elasticsearchUrl');
const prefix = `pw-search-${Date.now().toString(36)}-${process.pid}`;
afterAll(async () => {
  const es = new Client({ node: esUrl });
  await es.indices.deleteDataStream({ name: `${prefix}-events` }).catch(() => {});
  await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true }).catch(() => {});
  await es.indices.deleteIndexTemplate({ name: `${prefix}-events` }).catch(() => {});
  await es.cluster.deleteComponentTemplate({ name: `${prefix}-events-mappings` }).catch(() => {});
  await es.close();
});
contract(
  'elasticsearch',
  async () => new ElasticsearchStore(elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: prefix })),
);

describe('query language: text that only looks like a field stays free text', () => {
  it.each(['sha256:abc', 'https://example.com/x', 'fe80::1', '12:30', 'a:b'])('%s', (q) => {
    expect(parseQuery(q, NOW)).toMatchObject({ type: 'text', value: q });
  });
});

describe('query language errors', () => {
  it.each([
    ['actor:', 'needs a value'],
    ['(actor:bob', 'missing )'],
    ['"open', 'unclosed quote'],
    ['*tect', 'wildcards go only at the end'],
    ['ip:10.*', 'ip: takes an address'],
    ['time:[now-1h TO]', 'time range'],
    ['time:yesterday', 'not a time'],
    ['actor:bob OR', 'ends where a term was expected'],
    ['usr:alice', "unknown field 'usr' at position 1"],
    ['actor:bob AND commmit:abc', `fields: actor, repository`],
    ['node:18', 'quote it: "node:18"'],
  ])('%s → %s', (q, message) => {
    expect(() => parseQuery(q, NOW)).toThrow(QueryError);
    expect(() => parseQuery(q, NOW)).toThrow(message);
  });
});
