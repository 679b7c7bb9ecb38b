// The console's search over a large store, in both modes: field queries and free text through the query
// language (src/search), against the store's raw query (searchEvents) as the baseline in the same run;
// and export throughput (pages of 500, one JSON line per event). PW_BENCH_CONSOLE_EVENTS sets the size.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import type { PipewardenEvent } from '../src/event.ts';
import { parseQuery } from '../src/search/query.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../src/store/elasticsearch.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { EventQuery, Store } from '../src/store/types.ts';
import { writeSection } from './report.ts';

const N = Number(process.env.PW_BENCH_CONSOLE_EVENTS ?? 200_000);
const RUNS = 40;
const WORDS = [
  'deploy',
  'protection',
  'branch',
  'token',
  'runner',
  'release',
  'artifact',
  'login',
  'failed',
  'merge',
];
const T0 = Date.parse('2025-01-01T00:00:00Z');

function event(i: number): PipewardenEvent {
  const w = (k: number) => WORDS[(i * 7 + k * 13) % WORDS.length]!;
  const org = `org${i % 50}`;
  return {
    '@timestamp': new Date(T0 + i * 1000).toISOString(),
    message: `${w(1)} ${w(2)} by user${i % 5000} on ${org}/repo${i % 500} id${i}`,
    event: {
      id: `b${i}`,
      kind: 'event',
      category: ['configuration'],
      type: ['change'],
      action: `${w(3)}.${w(4)}`,
      outcome: 'success',
      dataset: 'github.webhook',
      provider: 'github',
      ingested: new Date(T0 + i * 1000).toISOString(),
    },
    user: { name: `User${i % 5000}` },
    source: { ip: `10.${i % 200}.${(i >> 8) % 250}.${i % 250}` },
    organization: { name: org },
    pipewarden: {
      kind: 'config.change',
      source: ['github', 'gitlab', 'jenkins', 'harbor', 'nexus'][i % 5]!,
      repository: `${org}/repo${i % 500}`,
    },
  };
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function load(store: Store): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < N; i += 5000) {
    await store.indexEvents(Array.from({ length: Math.min(5000, N - i) }, (_, k) => event(i + k)));
  }
  await store.refresh();
  return (performance.now() - t) / 1000;
}

interface Case {
  name: string;
  q: (r: number) => string;
  raw: (r: number) => EventQuery;
}

const FIELD: Case[] = [
  {
    name: 'actor:userN (any case)',
    q: (r) => `actor:user${r % 5000}`,
    raw: (r) => ({ actor: `User${r % 5000}` }),
  },
  {
    name: 'repository:orgN/repoM',
    q: (r) => `repository:org${r % 50}/repo${r % 500}`,
    raw: (r) => ({ repository: `org${r % 50}/repo${r % 500}` }),
  },
  {
    name: 'source:x AND actor:userN',
    q: (r) => `source:gitlab AND actor:User${r % 5000}`,
    raw: (r) => ({ source: 'gitlab', actor: `User${r % 5000}` }),
  },
];
const TEXT: Case[] = [
  { name: 'one word (idN)', q: (r) => `id${r % N}`, raw: (r) => ({ q: `id${r % N}` }) },
  {
    name: 'phrase "deploy protection"',
    q: () => '"deploy protection"',
    raw: () => ({ q: 'deploy protection' }),
  },
  {
    name: 'two words',
    q: (r) => `${WORDS[r % 10]} user${r % 5000}`,
    raw: (r) => ({ q: `${WORDS[r % 10]} user${r % 5000}` }),
  },
];

async function measure(store: Store, cases: Case[]): Promise<string[]> {
  const rows: string[] = [];
  for (const c of cases) {
    const ours: number[] = [];
    const raw: number[] = [];
    for (let r = 1; r <= RUNS; r++) {
      const seed = r * 7919;
      raw.push(await time(() => store.searchEvents({ ...c.raw(seed), size: 50 })));
      ours.push(await time(() => store.queryEvents(parseQuery(c.q(seed)), { size: 50 })));
    }
    rows.push(`| ${store.kind} | ${c.name} | ${p95(ours).toFixed(1)} | ${p95(raw).toFixed(1)} |`);
  }
  return rows;
}

async function exportRate(store: Store): Promise<number> {
  const q = parseQuery('source:github');
  const t = performance.now();
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await store.queryEvents(q, { size: 500, ...(cursor ? { cursor } : {}) });
    for (const e of page.items) n += JSON.stringify(e).length > 0 ? 1 : 0;
    cursor = page.next;
  } while (cursor && n < 100_000);
  return n / ((performance.now() - t) / 1000);
}

const rows: string[] = [];
const exports: string[] = [];
const loads: string[] = [];

const dir = mkdtempSync(join(tmpdir(), 'pw-bench-console-'));
const sqlite = new SqliteStore({ path: join(dir, 'store.db') });
await sqlite.init();
loads.push(`SQLite ${(await load(sqlite)).toFixed(0)} s`);
rows.push(...(await measure(sqlite, FIELD)), ...(await measure(sqlite, TEXT)));
exports.push(`SQLite ${Math.round(await exportRate(sqlite))} events/s`);
await sqlite.close();
rmSync(dir, { recursive: true, force: true });

const esUrl = process.env.PW_BENCH_SKIP_ES ? undefined : process.env.ELASTICSEARCH_URL;
if (esUrl) {
  const prefix = `pw-bench-console-${Date.now().toString(36)}`;
  const es = new ElasticsearchStore(elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: prefix }));
  await es.init();
  loads.push(`Elasticsearch ${(await load(es)).toFixed(0)} s`);
  rows.push(...(await measure(es, FIELD)), ...(await measure(es, TEXT)));
  exports.push(`Elasticsearch ${Math.round(await exportRate(es))} events/s`);
  await es.close();
  const c = new Client({ node: esUrl });
  await c.indices.deleteDataStream({ name: `${prefix}-events` }).catch(() => {});
  await c.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true }).catch(() => {});
  await c.indices.deleteIndexTemplate({ name: `${prefix}-events` }).catch(() => {});
  await c.cluster.deleteComponentTemplate({ name: `${prefix}-events-mappings` }).catch(() => {});
  await c.close();
}

const body = `${N.toLocaleString('en')} events per store (loaded in: ${loads.join(', ')}). p95 of ${RUNS} runs of a
page of 50 with its total, in ms: the query language (parse + compile + query) against the store's raw
query for the same question (\`searchEvents\`, exact-case fields) measured in the same run.

| store | query | query language p95 | raw query p95 |
|---|---|---|---|
${rows.join('\n')}

Export (pages of 500, one JSON line each, up to 100,000 events): ${exports.join(', ')}.
`;
writeSection('Console search', body);
process.stdout.write(body);
