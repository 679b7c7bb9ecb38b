// The console over a large store, in both modes:
// - search: field queries and free text through the query language (src/search), against the store's raw
//   query (searchEvents) as the baseline in the same run;
// - export: GET /api/events/export of a running collector over loopback, against the store's raw read of
//   the same events (the floor) and the previous export path (pages of 500 with their total);
// - interactive pages: the console in Debian's chromium (playwright-core) with PW_BENCH_CONSOLE_ALERTS
//   alerts: inbox load, filter change, alert page open, search run, median and p95.
// PW_BENCH_CONSOLE_EVENTS sets the number of events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Client, type estypes } from '@elastic/elasticsearch';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildConsole } from '../scripts/build-console.ts';
import type { AlertRecord } from '../src/alerting/types.ts';
import { createToken } from '../src/api/tokens.ts';
import { type RunningApp, startApp } from '../src/app.ts';
import { parseConfig } from '../src/config/load.ts';
import type { PipewardenEvent } from '../src/event.ts';
import { createLogger } from '../src/log.ts';
import { parseQuery } from '../src/search/query.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../src/store/elasticsearch.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { EventQuery, Store } from '../src/store/types.ts';
import { median, writeSection } from './report.ts';

const N = Number(process.env.PW_BENCH_CONSOLE_EVENTS ?? 200_000);
const ALERTS = Number(process.env.PW_BENCH_CONSOLE_ALERTS ?? 5_000);
const RUNS = 40;
const UI_RUNS = Number(process.env.PW_BENCH_CONSOLE_UI_RUNS ?? 20);
const EXPORT_RUNS = 3;
const DETECTORS = [
  'failed-logins',
  'pipeline-weakening',
  'anonymous-access',
  'secrets-in-build-logs',
  'exfiltration',
];
const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
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
  // Alerts spread over the events' time, each with ten contributing events of its actor.
  for (let i = 0; i < ALERTS; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, ALERTS - i) }, (_, k) => store.putAlert(alert(i + k))),
    );
  }
  await store.refresh();
  return (performance.now() - t) / 1000;
}

function alert(i: number): AlertRecord {
  // Event j has actor User(j % 5000): these ten are the same actor's, ten apart in time.
  const first = Math.floor((i * (N - 50_000)) / ALERTS / 5000) * 5000 + (i % 5000);
  const ids = Array.from({ length: 10 }, (_, k) => `b${Math.min(N - 1, first + k * 5000)}`);
  const at = new Date(T0 + Math.min(N - 1, first + 45_000) * 1000).toISOString();
  return {
    id: `alert-${i}`,
    '@timestamp': at,
    detected_at: at,
    detector: DETECTORS[i % DETECTORS.length]!,
    title: `Bench alert ${i}`,
    severity: SEVERITIES[(i * 7 + Math.floor(i / 50)) % SEVERITIES.length]!, // every severity in every org
    summary: `ten events by user${i % 5000}`,
    description: 'd',
    runbook: 'detectors/failed-logins/README.md',
    key: `user${i % 5000}`,
    event_ids: ids,
    source: ['github', 'gitlab', 'jenkins', 'harbor', 'nexus'][i % 5]!,
    actor: `User${i % 5000}`,
    repository: `org${i % 50}/repo${i % 500}`,
    context: {},
    status: 'delivered',
    deliveries: {},
  };
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

// ---- export ----------------------------------------------------------------------------------------

const EXPORT_Q = 'source:github';

/** Events/s of one export through the running collector's HTTP API (lines counted as they arrive). */
async function httpExport(app: RunningApp, token: string, format: 'ndjson' | 'csv'): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${app.url}/api/events/export?format=${format}&q=${encodeURIComponent(EXPORT_Q)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`);
  let lines = format === 'csv' ? -1 : 0; // the CSV header
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  if (lines !== N / 5) throw new Error(`export gave ${lines} events, expected ${N / 5}`);
  return lines / ((performance.now() - t) / 1000);
}

/** The previous export path, for reference: pages of 500 through queryEvents (each with its total). */
async function pagedExport(store: Store): Promise<number> {
  const q = parseQuery(EXPORT_Q);
  const t = performance.now();
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await store.queryEvents(q, { size: 500, ...(cursor ? { cursor } : {}) });
    n += page.items.map((e) => `${JSON.stringify(e)}\n`).join('').length > 0 ? page.items.length : 0;
    cursor = page.next;
  } while (cursor && n < 100_000);
  return n / ((performance.now() - t) / 1000);
}

/** The floor: the same events read straight from SQLite (one statement, documents as stored). */
function rawSqlite(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  const t = performance.now();
  let n = 0;
  for (const row of db
    .prepare("SELECT doc FROM events WHERE source = 'github' ORDER BY ts DESC, id DESC")
    .iterate()) {
    if ((row.doc as string).length > 0) n++;
  }
  db.close();
  return n / ((performance.now() - t) / 1000);
}

/** The floor: the same events read with the bare client (point in time, search_after, pages of 10,000). */
async function rawElasticsearch(url: string, prefix: string): Promise<number> {
  const c = new Client({ node: url });
  const t = performance.now();
  const pit = await c.openPointInTime({ index: `${prefix}-events`, keep_alive: '1m' });
  let n = 0;
  let after: estypes.SortResults | undefined;
  for (;;) {
    const res = await c.search({
      pit: { id: pit.id, keep_alive: '1m' },
      size: 10_000,
      query: { term: { 'pipewarden.source': 'github' } },
      sort: [{ '@timestamp': 'desc' }, { 'event.id': 'desc' }],
      track_total_hits: false,
      filter_path: ['hits.hits._source', 'hits.hits.sort'],
      ...(after ? { search_after: after } : {}),
    });
    const hits = res.hits?.hits ?? [];
    n += hits.length;
    if (hits.length < 10_000) break;
    after = hits.at(-1)?.sort;
  }
  await c.closePointInTime({ id: pit.id });
  await c.close();
  return n / ((performance.now() - t) / 1000);
}

async function exportRows(
  kind: string,
  app: RunningApp,
  token: string,
  store: Store,
  raw: () => Promise<number> | number,
): Promise<string[]> {
  const measure = async (fn: () => Promise<number> | number) => {
    const xs: number[] = [];
    for (let r = 0; r < EXPORT_RUNS; r++) xs.push(await fn());
    return Math.round(median(xs));
  };
  const base = await measure(raw);
  const nd = await measure(() => httpExport(app, token, 'ndjson'));
  const csv = await measure(() => httpExport(app, token, 'csv'));
  const old = await measure(() => pagedExport(store));
  const row = (what: string, v: number) =>
    `| ${kind} | ${what} | ${v.toLocaleString('en')} | ${(v / base).toFixed(2)} |`;
  return [
    row('raw store read (baseline)', base),
    row('GET /api/events/export NDJSON', nd),
    row('GET /api/events/export CSV', csv),
    row('previous path: pages of 500 with their total', old),
  ];
}

// ---- interactive pages in chromium ------------------------------------------------------------------

function stats(xs: number[]): string {
  return `${median(xs).toFixed(0)} | ${p95(xs).toFixed(0)}`;
}

/** Marks what is on the page now, so a wait can tell the next render from this one. */
async function markOld(page: Page): Promise<void> {
  await page.evaluate(
    "for (const el of document.querySelectorAll('#main > *')) el.setAttribute('data-old', '1')",
  );
}

async function uiTimings(kind: string, app: RunningApp, token: string): Promise<string[]> {
  const browser: Browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(app.url);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#main table tbody tr.row').first().waitFor();
    const inbox: number[] = [];
    const filter: number[] = [];
    const open: number[] = [];
    const search: number[] = [];
    for (let r = 0; r < UI_RUNS; r++) {
      // Inbox load: a fresh navigation to the inbox until its rows are on screen.
      await page.goto('about:blank');
      let t = performance.now();
      await page.goto(`${app.url}/#/`);
      await page.locator('#main table tbody tr.row').first().waitFor();
      inbox.push(performance.now() - t);

      // Filter change: severity at least, an organisation, Apply, until the new rows (or "No alerts match").
      await markOld(page);
      t = performance.now();
      await page.locator('select[name=severity]').selectOption(SEVERITIES[1 + (r % 4)]!);
      await page.locator('input[name=repository]').fill(`org${(r * 7) % 50}`);
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.locator('#main table:not([data-old]) tbody tr').first().waitFor();
      filter.push(performance.now() - t);

      // Alert page: click the first alert until its ten contributing events are shown.
      const link = page.locator('#main table tbody tr.row a').first();
      t = performance.now();
      await link.click();
      await page.locator('#events tbody tr.event').nth(9).waitFor();
      open.push(performance.now() - t);

      // Search: a query typed and run, until the total and the rows are shown.
      await page.goto(`${app.url}/#/search`);
      await page.getByLabel('Query').waitFor();
      await markOld(page);
      t = performance.now();
      await page
        .getByLabel('Query')
        .fill(`actor:user${(r * 131) % 5000} AND source:${['github', 'gitlab'][r % 2]}`);
      await page.getByRole('button', { name: 'Search' }).click();
      await page.locator('#main > :not([data-old]) #total').waitFor();
      search.push(performance.now() - t);
    }
    return [
      `| ${kind} | inbox load | ${stats(inbox)} |`,
      `| ${kind} | filter change | ${stats(filter)} |`,
      `| ${kind} | alert page open (10 events) | ${stats(open)} |`,
      `| ${kind} | search run | ${stats(search)} |`,
    ];
  } finally {
    await browser.close();
  }
}

// ---- run -----------------------------------------------------------------------------------------------

const rows: string[] = [];
const exports: string[] = [];
const ui: string[] = [];
const loads: string[] = [];
const log = createLogger({ level: 'warn' });
const bundle = await buildConsole();

const dir = mkdtempSync(join(tmpdir(), 'pw-bench-console-'));
const sqlitePath = join(dir, 'store.sqlite');
const sqlite = new SqliteStore({ path: sqlitePath });
await sqlite.init();
loads.push(`SQLite ${(await load(sqlite)).toFixed(0)} s`);
rows.push(...(await measure(sqlite, FIELD)), ...(await measure(sqlite, TEXT)));
{
  // The collector on the same store file (embedded mode: the API is served with the ingest role).
  const config = parseConfig({ mode: 'embedded', embedded: { dataDir: dir }, log: { level: 'warn' } }, {});
  const app = await startApp(config, { port: 0, roles: ['ingest'], log });
  const { token } = await createToken(app.store, 'bench', new Date(), { role: 'admin' });
  exports.push(...(await exportRows('sqlite', app, token, sqlite, () => rawSqlite(sqlitePath))));
  ui.push(...(await uiTimings('sqlite', app, token)));
  await app.stop();
}
await sqlite.close();
rmSync(dir, { recursive: true, force: true });

const esUrl = process.env.PW_BENCH_SKIP_ES ? undefined : process.env.ELASTICSEARCH_URL;
const kafka = process.env.KAFKA_BROKERS;
if (esUrl) {
  const prefix = `pw-bench-console-${Date.now().toString(36)}`;
  const es = new ElasticsearchStore(elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: prefix }));
  await es.init();
  loads.push(`Elasticsearch ${(await load(es)).toFixed(0)} s`);
  rows.push(...(await measure(es, FIELD)), ...(await measure(es, TEXT)));
  if (kafka) {
    const config = parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: kafka.split(','), groupPrefix: prefix },
        elasticsearch: { node: esUrl, indexPrefix: prefix },
        topics: { events: `${prefix}.events`, hits: `${prefix}.hits`, buildLogs: `${prefix}.build-logs` },
        log: { level: 'warn' },
      },
      {},
    );
    const app = await startApp(config, { port: 0, roles: ['ingest'], log });
    const { token } = await createToken(app.store, 'bench', new Date(), { role: 'admin' });
    exports.push(
      ...(await exportRows('elasticsearch', app, token, es, () => rawElasticsearch(esUrl, prefix))),
    );
    ui.push(...(await uiTimings('elasticsearch', app, token)));
    await app.stop();
  }
  await es.close();
  const c = new Client({ node: esUrl });
  await c.indices.deleteDataStream({ name: `${prefix}-events` }).catch(() => {});
  await c.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true }).catch(() => {});
  for (const t of ['events', 'alerts', 'tokens', 'state', 'deadletter', 'sessions', 'trail-checkpoints'])
    await c.indices.deleteIndexTemplate({ name: `${prefix}-${t}` }).catch(() => {});
  await c.cluster.deleteComponentTemplate({ name: `${prefix}-events-mappings` }).catch(() => {});
  await c.close();
}

const date = new Date().toISOString().slice(0, 10);
const body = `Method: \`node bench/console.ts\` (part of \`npm run bench\`), Node ${process.version}, 2 shared cores,
${date}. ${N.toLocaleString('en')} events and ${ALERTS.toLocaleString('en')} alerts per store (loaded in: ${loads.join(', ')}).

### Search

p95 of ${RUNS} runs of a page of 50 with its total, in ms: the query language (parse + compile + query) against
the store's raw query for the same question (\`searchEvents\`, exact-case fields) measured in the same run.

| store | query | query language p95 | raw query p95 |
|---|---|---|---|
${rows.join('\n')}

### Export

\`${EXPORT_Q}\` (${(N / 5).toLocaleString('en')} events) exported by a running collector (embedded: the API with the
ingest role on the same SQLite file; distributed: the ingest role on Kafka and the same Elasticsearch
indices) over loopback HTTP with a bearer token, every line counted as it arrives; median of ${EXPORT_RUNS} runs,
events/s. Baseline in the same run: the same events read straight from the store with no HTTP and no
encoding (SQLite: one statement over node:sqlite; Elasticsearch: the bare client with a point in time and
pages of 10,000). The previous path (pages of 500 through \`queryEvents\`, each counting its total; up to
100,000 events) is measured too, for reference.

| store | path | events/s | ratio to raw read |
|---|---|---|---|
${exports.join('\n')}

On Elasticsearch the export and its baseline are both bound by the node's fetch phase (loading each hit's
\`_source\`: 0.1–0.25 ms per hit on this node, which shares its 2 cores with other work); the export reads
four time windows of about equal counts at once in one point in time, which helps only when the node has
idle cores.

### Interactive pages

The console (bundle ${bundle.gzipped.toLocaleString('en')} bytes gzipped) in Debian's chromium driven by playwright-core, headless,
against the same running collector over loopback, signed in as an admin; ${UI_RUNS} runs each, ms from the
action to the result on screen: **inbox load** (a fresh navigation to the inbox until its rows are shown),
**filter change** (severity at least + an organisation, Apply, until the new rows), **alert page open**
(a click on an alert until its ten contributing events are shown), **search run** (typing
\`actor:userN AND source:x\` and pressing Search until the total, histogram and rows are shown).

| store | action | median ms | p95 ms |
|---|---|---|---|
${ui.join('\n')}
`;
writeSection('Console search', body);
process.stdout.write(body);
