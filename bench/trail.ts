// Trail costs: the index role's throughput with chaining on vs off (same run, interleaved, medians) on
// the embedded store (SQLite) and on Elasticsearch, and `trail verify` throughput (events/s) with its
// memory on the embedded store.
// `node bench/trail.ts` (part of `npm run bench`). BENCH_TRAIL_VERIFY_EVENTS sets the verify size
// (default 1,000,000); BENCH_TRAIL_INDEX_EVENTS the events per index run (default 50,000);
// BENCH_TRAIL_RUNS the interleaved off/on pairs (default 15); BENCH_TRAIL_ES_EVENTS and
// BENCH_TRAIL_ES_RUNS the same on Elasticsearch (defaults 20,000 and 7; ELASTICSEARCH_URL, as npm run
// bench sets it; PW_BENCH_SKIP_ES skips it).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import type { KafkaMessage } from 'kafkajs';
import { encodeEventMessage } from '../src/bus/encode.ts';
import { toConsumed } from '../src/bus/kafka.ts';
import type { ConsumedMessage } from '../src/bus/types.ts';
import { eventId, type PipewardenEvent } from '../src/event.ts';
import { createLogger } from '../src/log.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../src/store/elasticsearch.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { Store } from '../src/store/types.ts';
import { TrailIndexer } from '../src/trail/indexer.ts';
import { verifyTrail } from '../src/trail/verify.ts';
import { serviceCpu } from './dist-common.ts';
import { median, writeSection } from './report.ts';

const INDEX_EVENTS = Number(process.env.BENCH_TRAIL_INDEX_EVENTS ?? 50_000);
const VERIFY_EVENTS = Number(process.env.BENCH_TRAIL_VERIFY_EVENTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_TRAIL_RUNS ?? 15);
const ES_EVENTS = Number(process.env.BENCH_TRAIL_ES_EVENTS ?? 20_000);
const ES_RUNS = Number(process.env.BENCH_TRAIL_ES_RUNS ?? 7);
const PUSH_EVENTS = Number(process.env.BENCH_TRAIL_PUSH_EVENTS ?? 10_000);
const esUrl = process.env.PW_BENCH_SKIP_ES ? undefined : process.env.ELASTICSEARCH_URL;
const BATCH = 1000; // the index role's maxBatch
const T0 = Date.parse('2026-11-22T09:00:00Z');
const log = createLogger({ level: 'silent' });
const key = generateKeyPairSync('ed25519').privateKey;

/** A GitHub-push-like event of about 1 kB, as the adapters make them. */
function event(i: number): PipewardenEvent {
  const at = new Date(T0 + i * 10).toISOString();
  return {
    '@timestamp': at,
    message: `user-${i % 500} pushed 1 commit to acme/app-${i % 40}`,
    event: {
      id: eventId('bench-trail', i),
      kind: 'event',
      category: ['configuration'],
      type: ['change'],
      action: 'push',
      outcome: 'success',
      dataset: 'github.webhook',
      provider: 'github',
      ingested: at,
    },
    user: { name: `user-${i % 500}`, id: String(1000 + (i % 500)) },
    organization: { name: 'acme' },
    url: { original: `https://github.com/acme/app-${i % 40}` },
    pipewarden: {
      kind: 'code.push',
      source: 'github',
      delivery_id: `d-${i}`,
      repository: `acme/app-${i % 40}`,
      branch: 'main',
      ref: 'refs/heads/main',
      commit: eventId('sha', i).padEnd(40, '0').slice(0, 40),
      raw: {
        ref: 'refs/heads/main',
        before: '0'.repeat(40),
        after: eventId('sha', i),
        repository: { full_name: `acme/app-${i % 40}`, private: true, default_branch: 'main' },
        pusher: { name: `user-${i % 500}`, email: '[REDACTED]' },
        head_commit: {
          id: eventId('sha', i),
          message: 'Fix the build on main for the release train',
          timestamp: at,
        },
      },
    },
  };
}

/**
 * A real GitHub push (ingest-adapters/github/fixtures/push__default.json, from GitHub's documentation):
 * its body is the event's raw payload, as the adapter keeps it, so an event is about 7 kB, as the
 * webhooks this collector receives mostly are.
 */
const PUSH_BODY = (
  JSON.parse(
    readFileSync(new URL('../ingest-adapters/github/fixtures/push__default.json', import.meta.url), 'utf8'),
  ) as { body: Record<string, unknown> }
).body;

function pushEvent(i: number): PipewardenEvent {
  const e = event(i);
  e.pipewarden.raw = PUSH_BODY;
  return e;
}

const withHeaders = (m: { value: string; headers?: Record<string, string> }) => ({
  value: m.value,
  headers: m.headers ?? {},
});

function batches(count: number, from = 0, make = event): ConsumedMessage[][] {
  const out: ConsumedMessage[][] = [];
  for (let i = from; i < from + count; i += BATCH) {
    out.push(
      Array.from({ length: Math.min(BATCH, from + count - i) }, (_, k) => ({
        topic: 'events',
        partition: 0,
        offset: String(i + k),
        key: `user-${(i + k) % 500}`,
        // As the ingest role publishes it: the text, and where its raw payload is (encodeEventMessage).
        ...withHeaders(encodeEventMessage(make(i + k))),
        timestamp: T0,
      })),
    );
  }
  return out;
}

function indexer(store: Store, chained: boolean): TrailIndexer {
  return new TrailIndexer({
    store,
    log,
    now: () => new Date(),
    ...(chained ? { key } : {}),
    checkpoint: { everyEvents: 10_000, everySeconds: 300 },
    anchors: [],
    contiguousOffsets: true,
  });
}

interface Run {
  /** events/s, wall clock */
  rate: number;
  /** this process's CPU time (user + system), ms per 1,000 events */
  cpu: number;
  /** Elasticsearch's CPU time over the run, ms per 1,000 events (runs on the local node only) */
  esCpu?: number;
}

async function timed(count: number, fn: () => Promise<void>, es = false): Promise<Run> {
  const es0 = es ? serviceCpu().elasticsearch : Number.NaN;
  const c0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  const c = process.cpuUsage(c0);
  const run: Run = { rate: count / s, cpu: (c.user + c.system) / 1000 / (count / 1000) };
  if (!es) return run;
  const esCpu = ((serviceCpu().elasticsearch - es0) * 1e6) / count; // s per event -> ms per 1,000
  return Number.isFinite(esCpu) ? { ...run, esCpu } : run;
}

/** One index run on a new store file in the OS temp directory (a real disk: each batch's commit is synced). */
async function sqliteRun(chained: boolean, input: ConsumedMessage[][], count: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-trail-'));
  const store = new SqliteStore({ path: join(dir, 'store.sqlite') });
  await store.init();
  const ix = indexer(store, chained);
  await ix.index(input[0]!); // start-up (see STARTED below), not timed
  const run = await timed(count, async () => {
    for (const b of input.slice(1)) await ix.index(b);
  });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return run;
}

/**
 * A message as the Kafka consumer hands it over (its own toConsumed): a fresh object whose text is decoded
 * from its bytes only if read, so a run pays for what the index role reads of it.
 */
function fetched(m: ConsumedMessage): ConsumedMessage {
  if (m.bytes === undefined) return m;
  const kafka = { offset: m.offset, key: Buffer.from(m.key), value: m.bytes, headers: m.headers };
  return toConsumed(m.topic, m.partition, { ...kafka, timestamp: String(m.timestamp) } as KafkaMessage);
}

/** One index run on new indices (own prefix) of the Elasticsearch node; `after` looks at them before they go. */
async function esRun(
  chained: boolean,
  input: ConsumedMessage[][],
  count: number,
  url: string,
  after?: (store: ElasticsearchStore, prefix: string) => Promise<void>,
): Promise<Run> {
  const prefix = `pw-bench-trail-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const store = new ElasticsearchStore(elasticsearchConfigSchema.parse({ node: url, indexPrefix: prefix }));
  await store.init();
  const ix = indexer(store, chained);
  await ix.index(input[0]!.map(fetched), { mayBeRedelivered: false }); // start-up (see STARTED below), not timed
  const run = await timed(
    count,
    async () => {
      for (const b of input.slice(1)) await ix.index(b.map(fetched), { mayBeRedelivered: false });
    },
    true,
  );
  await ix.close();
  await after?.(store, prefix);
  await store.close();
  const c = new Client({ node: url });
  await c.indices.deleteDataStream({ name: `${prefix}-events` }).catch(() => {});
  await c.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true }).catch(() => {});
  await c.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
  await c.cluster.deleteComponentTemplate({ name: `${prefix}-events-mappings` }).catch(() => {});
  await c.close();
  return run;
}

const esOf = (r: Run) => (r.esCpu === undefined ? '' : ` (Elasticsearch ${r.esCpu.toFixed(1)} ms)`);

/** Off and on interleaved, `runs` pairs; each on run is compared with the off run just before it. */
async function pairs(
  name: string,
  runs: number,
  one: (chained: boolean) => Promise<Run>,
): Promise<{ off: Run[]; on: Run[] }> {
  const off: Run[] = [];
  const on: Run[] = [];
  await one(true); // warm-up
  for (let r = 0; r < runs; r++) {
    off.push(await one(false));
    on.push(await one(true));
    process.stderr.write(
      `${name} run ${r + 1}: off ${Math.round(off.at(-1)!.rate)}/s ${off.at(-1)!.cpu.toFixed(1)} ms CPU per 1,000${esOf(off.at(-1)!)}, on ${Math.round(on.at(-1)!.rate)}/s ${on.at(-1)!.cpu.toFixed(1)} ms${esOf(on.at(-1)!)}\n`,
    );
  }
  return { off, on };
}

/** Median of the paired costs, in %: by throughput and by CPU time. */
function costs(p: { off: Run[]; on: Run[] }): { rate: number; cpu: number } {
  return {
    rate: median(p.on.map((x, i) => (1 - x.rate / p.off[i]!.rate) * 100)),
    cpu: median(p.on.map((x, i) => (x.cpu / p.off[i]!.cpu - 1) * 100)),
  };
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
const loadBefore = load();
// STARTED: each run's first batch (1,000 more events) is indexed before the clock starts, chained or
// not: after a start the chain's head is read back from the store once per partition (a look-up of the
// batch's ids and of the last link), which a run of a few seconds would otherwise count as a steady cost.
const input = batches(INDEX_EVENTS + BATCH);
const sqlite = await pairs('sqlite', RUNS, (chained) => sqliteRun(chained, input, INDEX_EVENTS));
let es: { off: Run[]; on: Run[] } | undefined;
let esPush: { off: Run[]; on: Run[] } | undefined;
const esSize = { off: 0, on: 0 };
let esVerify: { events: number; rate: number } | undefined;
if (esUrl) {
  // As the Kafka consumer hands them to the index role: the message's bytes beside its text (both off
  // and on send those bytes rather than encode the text again).
  const withBytes = (bs: ConsumedMessage[][]) =>
    bs.map((b) => b.map((m) => ({ ...m, bytes: Buffer.from(m.value) })));
  const esInput = withBytes(batches(ES_EVENTS + BATCH));
  es = await pairs('elasticsearch', ES_RUNS, (chained) => esRun(chained, esInput, ES_EVENTS, esUrl));
  const pushInput = withBytes(batches(PUSH_EVENTS + BATCH, 0, pushEvent));
  esPush = await pairs('elasticsearch, GitHub push', ES_RUNS, (chained) =>
    esRun(chained, pushInput, PUSH_EVENTS, esUrl),
  );
  // Once more each way: the stored size (merged to one segment), and `trail verify` of the chained one.
  const c = new Client({ node: esUrl });
  const measure = (chained: boolean) =>
    esRun(chained, pushInput, PUSH_EVENTS, esUrl, async (store, prefix) => {
      await c.indices.refresh({ index: `${prefix}-events` });
      await c.indices.forcemerge({ index: `${prefix}-events`, max_num_segments: 1 });
      const stats = await c.indices.stats({ index: `${prefix}-events`, metric: ['store', 'docs'] });
      const bytes = stats._all.primaries?.store?.size_in_bytes ?? 0;
      const docs = stats._all.primaries?.docs?.count ?? 1;
      esSize[chained ? 'on' : 'off'] = bytes / docs;
      if (!chained) return;
      const t = Date.now();
      const r = await verifyTrail({ store, key, now: new Date() });
      if (!r.ok) throw new Error(`verify failed on Elasticsearch: ${JSON.stringify(r.findings.slice(0, 3))}`);
      esVerify = { events: r.events, rate: r.events / ((Date.now() - t) / 1000) };
    });
  await measure(false);
  await measure(true);
  await c.close();
}

// Verify: one chain of VERIFY_EVENTS, built through the indexer, then read back in full.
const dir = mkdtempSync(join(tmpdir(), 'pw-bench-verify-'));
const store = new SqliteStore({ path: join(dir, 'store.sqlite') });
await store.init();
const ix = indexer(store, true);
const buildStart = Date.now();
for (let i = 0; i < VERIFY_EVENTS; i += 50_000) {
  for (const b of batches(Math.min(50_000, VERIFY_EVENTS - i), i)) await ix.index(b);
}
const buildS = (Date.now() - buildStart) / 1000;
const loadAfterIndex = load();
let peakRss = 0;
const sample = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 200);
const rssBefore = process.memoryUsage().rss;
const vStart = Date.now();
const report = await verifyTrail({ store, key, now: new Date() });
const verifyS = (Date.now() - vStart) / 1000;
clearInterval(sample);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
await store.close();
rmSync(dir, { recursive: true, force: true });
if (!report.ok || report.events !== VERIFY_EVENTS)
  throw new Error(`verify failed: ${JSON.stringify(report.findings.slice(0, 3))}`);

const mb = (b: number) => `${Math.round(b / 1048576)} MB`;
const n = (x: number) => Math.round(x).toLocaleString('en');
const row = (store: string, p: { off: Run[]; on: Run[] }) => {
  const c = costs(p);
  const es = (rs: Run[]) => {
    const xs = rs.flatMap((r) => (r.esCpu === undefined ? [] : [r.esCpu]));
    return xs.length ? `${median(xs).toFixed(1)} ms` : '–';
  };
  return `| ${store} | ${n(median(p.off.map((r) => r.rate)))} events/s | ${n(median(p.on.map((r) => r.rate)))} events/s | ${c.rate.toFixed(1)} % | ${median(p.off.map((r) => r.cpu)).toFixed(1)} ms | ${median(p.on.map((r) => r.cpu)).toFixed(1)} ms | ${c.cpu.toFixed(1)} % | ${es(p.off)} | ${es(p.on)} |`;
};
const runs = (p: { off: Run[]; on: Run[] }) =>
  p.on
    .map(
      (x, i) =>
        `off ${n(p.off[i]!.rate)}/on ${n(x.rate)} (${p.off[i]!.cpu.toFixed(1)}/${x.cpu.toFixed(1)} ms CPU)`,
    )
    .join(', ');
writeSection(
  'Trail: chaining cost and verify throughput',
  `
The index role's handler (\`TrailIndexer.index\`, batches of ${BATCH} like the index consumer) with
chaining off (the store is handed each bus message's own text, as the index role does) and on,
interleaved in the same run, on GitHub-push-like events of about 1 kB: the
embedded store (SQLite, a file on the temp disk, ${INDEX_EVENTS.toLocaleString('en')} events per run,
${RUNS} pairs)${es ? ` and Elasticsearch (the local node, ${ES_EVENTS.toLocaleString('en')} events per run, ${ES_RUNS} pairs)` : ''}.
On Elasticsearch also on a real GitHub push (the adapter's raw payload is GitHub's documented push body,
ingest-adapters/github/fixtures/push__default.json; about 7 kB an event${esPush ? `, ${PUSH_EVENTS.toLocaleString('en')} per run` : ''}): the cost per event is
mostly fixed (a hash of the text, the link's fields), so small events show it most.
Steady state: each run indexes its first batch (${BATCH} more events) before the clock starts, chained
or not, so the one look-up of the chain's head a start costs per partition is not spread over a short run.
Cost = median over the pairs of each on run against the off run just before it: by throughput (wall
clock) and by this process's CPU time per 1,000 events; beside them, the Elasticsearch node's CPU time over
the same runs (from /proc, the pid deploy/local/services.sh recorded), per 1,000 events. Then \`trail verify\` over one chain of
${VERIFY_EVENTS.toLocaleString('en')} events with ${report.checkpoints} signed checkpoints.

| store | index, chaining off | index, chaining on | cost (throughput) | CPU off, per 1,000 | CPU on, per 1,000 | cost (CPU) | Elasticsearch CPU off, per 1,000 | Elasticsearch CPU on, per 1,000 |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${row('SQLite', sqlite)}
${es ? row('Elasticsearch, 1 kB events', es) : '| Elasticsearch | not measured (no ELASTICSEARCH_URL) | | | | | | | |'}
${esPush ? row('Elasticsearch, GitHub push (7 kB)', esPush) : ''}

| verify | value |
| --- | --- |
| trail verify | ${n(VERIFY_EVENTS / verifyS)} events/s (${verifyS.toFixed(1)} s for ${VERIFY_EVENTS.toLocaleString('en')}) |
| verify memory | RSS ${mb(rssBefore)} before, ${mb(peakRss)} peak |
| building the verify chain | ${buildS.toFixed(1)} s |
${esVerify ? `| trail verify, Elasticsearch (GitHub pushes) | ${n(esVerify.rate)} events/s (${n(esVerify.events)} events: each document's text read as stored, its rest checked) |\n` : ''}${esSize.on ? `| stored size, Elasticsearch (GitHub push, one segment) | ${n(esSize.off)} bytes per event unchained, ${n(esSize.on)} chained |\n` : ''}
Runs, SQLite: ${runs(sqlite)} events/s.${es ? `\nRuns, Elasticsearch: ${runs(es)} events/s.` : ''}${esPush ? `\nRuns, Elasticsearch, GitHub push: ${runs(esPush)} events/s.` : ''}
Load average (1 / 5 / 15 min): ${loadBefore} before the index runs, ${loadAfterIndex} after them and the verify build.
`,
);
process.stderr.write(
  `chaining cost sqlite ${JSON.stringify(costs(sqlite))}${es ? ` elasticsearch ${JSON.stringify(costs(es))}` : ''}${esPush ? ` github-push ${JSON.stringify(costs(esPush))}` : ''}; verify ${Math.round(VERIFY_EVENTS / verifyS)}/s\n`,
);
