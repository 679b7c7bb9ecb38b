// Trail costs: the index role's throughput with chaining on vs off (same run, interleaved, medians), and
// `trail verify` throughput (events/s) with its memory, on the embedded store.
// `node bench/trail.ts` (part of `npm run bench`). BENCH_TRAIL_VERIFY_EVENTS sets the verify size
// (default 1,000,000); BENCH_TRAIL_INDEX_EVENTS the events per index run (default 50,000);
// BENCH_TRAIL_RUNS the interleaved off/on pairs (default 7).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsumedMessage } from '../src/bus/types.ts';
import { eventId, type PipewardenEvent } from '../src/event.ts';
import { createLogger } from '../src/log.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { TrailIndexer } from '../src/trail/indexer.ts';
import { verifyTrail } from '../src/trail/verify.ts';
import { median, writeSection } from './report.ts';

const INDEX_EVENTS = Number(process.env.BENCH_TRAIL_INDEX_EVENTS ?? 50_000);
const VERIFY_EVENTS = Number(process.env.BENCH_TRAIL_VERIFY_EVENTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_TRAIL_RUNS ?? 7);
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

function batches(count: number, from = 0): ConsumedMessage[][] {
  const out: ConsumedMessage[][] = [];
  for (let i = from; i < from + count; i += BATCH) {
    out.push(
      Array.from({ length: Math.min(BATCH, from + count - i) }, (_, k) => ({
        topic: 'events',
        partition: 0,
        offset: String(i + k),
        key: `user-${(i + k) % 500}`,
        value: JSON.stringify(event(i + k)),
        headers: {},
        timestamp: T0,
      })),
    );
  }
  return out;
}

function indexer(store: SqliteStore, chained: boolean): TrailIndexer {
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

async function indexRun(chained: boolean, input: ConsumedMessage[][]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-trail-'));
  const store = new SqliteStore({ path: join(dir, 'store.sqlite') });
  await store.init();
  const ix = indexer(store, chained);
  const started = process.hrtime.bigint();
  for (const b of input) await ix.index(b);
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return INDEX_EVENTS / s;
}

const input = batches(INDEX_EVENTS);
const on: number[] = [];
const off: number[] = [];
await indexRun(true, batches(5_000)); // warm-up
for (let r = 0; r < RUNS; r++) {
  off.push(await indexRun(false, input));
  on.push(await indexRun(true, input));
  process.stderr.write(
    `index run ${r + 1}: off ${Math.round(off.at(-1)!)}/s, on ${Math.round(on.at(-1)!)}/s\n`,
  );
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

const mOn = median(on);
const mOff = median(off);
// Paired: each on run against the off run just before it, so load drifting over the run cancels out.
const cost = median(on.map((x, i) => (1 - x / off[i]!) * 100));
const mb = (b: number) => `${Math.round(b / 1048576)} MB`;
writeSection(
  'Trail: chaining cost and verify throughput',
  `
Embedded store (SQLite), the index role's handler (\`TrailIndexer.index\`, batches of ${BATCH} like the
index consumer) on ${INDEX_EVENTS.toLocaleString('en')} GitHub-push-like events of about 1 kB; chaining
off and on interleaved in the same run, ${RUNS} runs each, medians. Then \`trail verify\` over one
chain of ${VERIFY_EVENTS.toLocaleString('en')} events with ${report.checkpoints} signed checkpoints.

| measure | value |
| --- | --- |
| index, chaining off | ${Math.round(mOff).toLocaleString('en')} events/s |
| index, chaining on | ${Math.round(mOn).toLocaleString('en')} events/s |
| cost of chaining (median of paired runs) | ${cost.toFixed(1)} % |
| trail verify | ${Math.round(VERIFY_EVENTS / verifyS).toLocaleString('en')} events/s (${verifyS.toFixed(1)} s for ${VERIFY_EVENTS.toLocaleString('en')}) |
| verify memory | RSS ${mb(rssBefore)} before, ${mb(peakRss)} peak |
| building the verify chain | ${buildS.toFixed(1)} s |

Runs: ${on.map((x, i) => `off ${Math.round(off[i]!)}/on ${Math.round(x)}`).join(', ')} events/s.
`,
);
process.stderr.write(`chaining cost ${cost.toFixed(1)} %; verify ${Math.round(VERIFY_EVENTS / verifyS)}/s\n`);
