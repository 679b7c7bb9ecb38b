// The index role against a raw bulk of the same documents: events already on a Kafka topic, consumed and
// bulk-indexed by the index role (its own process) into an events data stream, vs the same documents sent
// by the @elastic/elasticsearch client as `create` bulks into a data stream of the same template. Rounds
// interleaved; the rate is measured after each target's first bulk, so process start, consumer-group join
// and template set-up are left out of both.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { adapters } from '../ingest-adapters/index.ts';
import { encodeEventMessage, parseVerifiedJson } from '../src/bus/encode.ts';
import { KafkaBus } from '../src/bus/kafka.ts';
import { type PipewardenEvent, partitionKey } from '../src/event.ts';
import { createLogger } from '../src/log.ts';
import { searchText } from '../src/search/text.ts';
import { ElasticsearchStore } from '../src/store/elasticsearch.ts';
import {
  cpuSeconds,
  serviceCpu,
  signedPush,
  sleep,
  spread,
  startRole,
  takeSearchable,
  useServices,
} from './dist-common.ts';
import { median, writeSection } from './report.ts';

const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const EVENTS = Number(process.env.BENCH_INDEX_EVENTS ?? 15_000);
const BULK = 1000; // about the index role's bulks: one per partition per 8 MiB fetch, ~1,100 of these events
const IN_FLIGHT = 3; // the index role's concurrent partitions
const PARTITIONS = 3;
const PROFILE_DIR = process.env.BENCH_CPU_PROF;

const { brokers, esUrl } = useServices();
const run = `pfidx${Date.now().toString(36)}`;
const log = createLogger({ level: 'silent' });
const github = adapters.find((a) => a.id === 'github')!;

/** N distinct GitHub pushes as the ingest role publishes them: the message (text, headers) and the parsed event. */
function makeEvents(
  round: number,
): Array<{ key: string; value: string; headers?: Record<string, string>; event: PipewardenEvent }> {
  const out = [];
  for (let i = 0; i < EVENTS; i++) {
    const { body } = signedPush(i, `${run}-${round}`);
    const headers = { 'x-github-event': 'push', 'x-github-delivery': randomUUID() };
    const event = github.toEvents(parseVerifiedJson(body), headers, new Date()).events[0]!;
    out.push({ key: partitionKey(event), ...encodeEventMessage(event), event });
  }
  return out;
}

interface Round {
  rate: number; // documents per second after the first bulk
  cpuUs: number; // CPU µs per document of the target process over the same interval
  esUs: number; // CPU µs per document of Elasticsearch over the same interval
  kafkaUs: number; // and of the Kafka broker (serving the role's fetches; idle for the raw bulk)
}

/** Elasticsearch's and Kafka's CPU µs per document since `from` (serviceCpu()). */
function servicesPerDoc(from: ReturnType<typeof serviceCpu>, docs: number): Pick<Round, 'esUs' | 'kafkaUs'> {
  const now = serviceCpu();
  return {
    esUs: ((now.elasticsearch - from.elasticsearch) / docs) * 1e6,
    kafkaUs: ((now.kafka - from.kafka) / docs) * 1e6,
  };
}

/** A Kafka bus on the local broker for one round's topics and consumer groups. */
function benchBus(name: string): KafkaBus {
  return new KafkaBus(
    {
      brokers,
      clientId: 'bench',
      groupPrefix: name,
      partitions: PARTITIONS,
      replicationFactor: 1,
      ssl: false,
    },
    { log },
  );
}

const roleStream = `pw-${run}-r`;
// The role with the trail on (#14: chaining on vs off in the same run): its own stream, a signing key of
// the bench's (Ed25519, a private file), checkpoints to the store only (no anchor).
const chainedStream = `pw-${run}-c`;
const keyDir = mkdtempSync(join(tmpdir(), 'pw-bench-index-key-'));
const keyFile = join(keyDir, 'trail.pem');
writeFileSync(
  keyFile,
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  { mode: 0o600 },
);
async function roleRound(
  round: number,
  events: ReturnType<typeof makeEvents>,
  chained = false,
): Promise<Round> {
  const name = `${run}-${round}${chained ? 'c' : ''}`;
  const bus = benchBus(name);
  await bus.ensureTopics([`${name}.events`]);
  for (let i = 0; i < events.length; i += 500)
    await bus.publish(
      `${name}.events`,
      events
        .slice(i, i + 500)
        .map(({ key, value, headers }) => ({ key, value, ...(headers ? { headers } : {}) })),
    );
  await bus.close();
  const role = await startRole(name, ['index'], {
    extra: {
      elasticsearch: { node: esUrl, indexPrefix: chained ? chainedStream : roleStream },
      ...(chained ? { trail: { enabled: true, keyFile } } : {}),
    },
    // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each role process (summarise with bench/cpuprofile-top.ts).
    // BENCH_ROLE_NODE_OPTIONS: more Node options for the role process (to try V8 flags).
    env:
      PROFILE_DIR || process.env.BENCH_ROLE_NODE_OPTIONS
        ? {
            NODE_OPTIONS: [
              PROFILE_DIR ? `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}` : '',
              process.env.BENCH_ROLE_NODE_OPTIONS ?? '',
            ].join(' '),
          }
        : undefined,
  });
  try {
    let first:
      | { at: number; count: number; cpu: number; services: ReturnType<typeof serviceCpu> }
      | undefined;
    for (;;) {
      const count = await indexed(role.url);
      const at = performance.now();
      if (!first && count > 0) first = { at, count, cpu: cpuSeconds(role.pid), services: serviceCpu() };
      if (first && count >= events.length) {
        const docs = count - first.count;
        return {
          rate: docs / ((at - first.at) / 1000),
          cpuUs: ((cpuSeconds(role.pid) - first.cpu) / docs) * 1e6,
          ...servicesPerDoc(first.services, docs),
        };
      }
      await sleep(50);
    }
  } finally {
    await role.stop();
  }
}

/** The role's own count of indexed events (/metrics). */
async function indexed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^pipewarden_index_events_total\{outcome="indexed"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

// The baseline's data stream: the same template, set up by the store, written by the client alone.
const baselinePrefix = `pw-${run}-b`;
const baselineStore = new ElasticsearchStore({ node: esUrl, indexPrefix: baselinePrefix } as never, { log });
await baselineStore.init();
const client = new Client({ node: esUrl });

async function rawBulkRound(events: ReturnType<typeof makeEvents>): Promise<Round> {
  // The documents exactly as the index role sends them (event + normalised search text), made beforehand:
  // the baseline is Elasticsearch taking them, with the client's own serialisation.
  const docs = events.map(({ event: e }) => ({
    ...e,
    pipewarden: { ...e.pipewarden, search_text: searchText(e) },
  }));
  const chunks: (typeof docs)[] = [];
  for (let i = 0; i < docs.length; i += BULK) chunks.push(docs.slice(i, i + BULK));
  let first:
    | { at: number; count: number; cpu: NodeJS.CpuUsage; services: ReturnType<typeof serviceCpu> }
    | undefined;
  let done = 0;
  const send = async (chunk: typeof docs) => {
    const res = await client.bulk({
      operations: chunk.flatMap((d) => [
        { create: { _index: `${baselinePrefix}-events`, _id: d.event.id } },
        d,
      ]),
      refresh: false,
      require_data_stream: true,
    });
    if (res.errors) throw new Error('raw bulk: some documents were refused');
    done += chunk.length;
    first ??= { at: performance.now(), count: done, cpu: process.cpuUsage(), services: serviceCpu() };
  };
  const queue = [...chunks];
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) await send(c);
    }),
  );
  const cpu = process.cpuUsage(first!.cpu);
  const n = done - first!.count;
  return {
    rate: n / ((performance.now() - first!.at) / 1000),
    cpuUs: (cpu.user + cpu.system) / n,
    ...servicesPerDoc(first!.services, n),
  };
}

// Searchable latency at a steady rate: the index role alone (its own process) on a fresh topic that the
// bench process publishes to at LATENCY_RATE events/s (open loop, a publish every 10 ms); for one event in
// 10, the time from its publish acknowledged to Elasticsearch finding it by id (an `ids` search every
// 100 ms for all pending ids together). The consumer lag (uncommitted messages) is sampled every 250 ms.
const LATENCY_RATE = Number(process.env.BENCH_INDEX_LATENCY_RATE ?? 1000);
const LATENCY_SECONDS = Number(process.env.BENCH_INDEX_LATENCY_SECONDS ?? 10);
interface Latency {
  searchMs: number[];
  lag: number[];
  cpuUs: number;
  sent: number;
}
async function latencyRun(): Promise<Latency> {
  const name = `${run}-lat`;
  const prefix = `pw-${name}`;
  const bus = benchBus(name);
  const topic = `${name}.events`;
  await bus.ensureTopics([topic]);
  const role = await startRole(name, ['index'], {
    extra: { elasticsearch: { node: esUrl, indexPrefix: prefix } },
  });
  const stream = `${prefix}-events`;
  try {
    const events = makeEvents(1000 + LATENCY_SECONDS);
    const total = Math.min(events.length, LATENCY_RATE * LATENCY_SECONDS);
    // Warm-up: the role has joined its group and indexed a first event before the clock starts.
    await bus.publish(
      topic,
      [events[0]!].map(({ key, value, headers }) => ({ key, value, ...(headers ? { headers } : {}) })),
    );
    while ((await indexed(role.url)) < 1) await sleep(100);
    const acked = new Map<string, number>(); // sampled event id → publish acknowledged at
    const searchMs: number[] = [];
    const lag: number[] = [];
    const cpu0 = cpuSeconds(role.pid);
    const started = performance.now();
    let next = 1;
    const publishes: Promise<void>[] = [];
    const sender = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * LATENCY_RATE));
      if (due <= next) return;
      const slice = events.slice(next, due);
      const from = next;
      next = due;
      publishes.push(
        bus
          .publish(
            topic,
            slice.map(({ key, value, headers }) => ({ key, value, ...(headers ? { headers } : {}) })),
          )
          .then(() => {
            const at = performance.now();
            slice.forEach((e, i) => {
              if ((from + i) % 10 === 0) acked.set(e.event.event.id, at);
            });
          }),
      );
    }, 10);
    const lagTimer = setInterval(() => {
      bus.lag(`${name}-index`, topic).then(
        (n) => lag.push(n),
        () => {},
      );
    }, 250);
    const deadline = started + LATENCY_SECONDS * 1000 + 30_000;
    while (performance.now() < deadline && (next < total || acked.size > 0)) {
      await sleep(100);
      await takeSearchable(client, stream, acked, searchMs);
    }
    clearInterval(sender);
    clearInterval(lagTimer);
    await Promise.all(publishes);
    for (const _ of acked) searchMs.push(Number.POSITIVE_INFINITY); // not there within 30 s
    return { searchMs, lag, cpuUs: ((cpuSeconds(role.pid) - cpu0) / (total - 1)) * 1e6, sent: total - 1 };
  } finally {
    await role.stop();
    await bus.close();
  }
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

type Kind = 'role' | 'chained' | 'raw';
const results: Record<Kind, Round[]> = { role: [], chained: [], raw: [] };
for (let i = 0; i <= ROUNDS; i++) {
  const events = makeEvents(i);
  // Each target first, second and third in turn: the one after another target's documents meets the
  // node's merges of them (a fixed middle place would charge those to one target in every round).
  const kinds: Kind[] = ['role', 'chained', 'raw'];
  const order = kinds.map((_, k) => kinds[(i + k) % kinds.length]!);
  for (const kind of order) {
    const r = kind === 'raw' ? await rawBulkRound(events) : await roleRound(i, events, kind === 'chained');
    process.stderr.write(
      `${i === 0 ? 'warm-up' : `round ${i}`} ${kind}: ${r.rate.toFixed(0)} docs/s, ${r.cpuUs.toFixed(0)} CPU µs/doc; Elasticsearch ${r.esUs.toFixed(0)}, Kafka ${r.kafkaUs.toFixed(0)} µs/doc\n`,
    );
    if (i > 0) results[kind].push(r);
  }
}
const latency = LATENCY_SECONDS > 0 ? await latencyRun() : undefined;
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '> 30 s');
if (latency)
  process.stderr.write(
    `latency: searchable p50/p99 ${ms(pct(latency.searchMs, 50))}/${ms(pct(latency.searchMs, 99))} ms (${latency.searchMs.length}), lag max ${Math.max(0, ...latency.lag)}, ${latency.cpuUs.toFixed(0)} CPU µs/event\n`,
  );
await client.close();
rmSync(keyDir, { recursive: true, force: true });

const med = (k: Kind, f: (r: Round) => number) => median(results[k].map(f));
const rawRate = med('raw', (r) => r.rate);
const row = (name: string, k: Kind) =>
  `| ${name} | ${med(k, (r) => r.rate).toFixed(0)} | ${spread(results[k].map((r) => r.rate))} | ${(med(k, (r) => r.rate) / rawRate).toFixed(2)} | ${med(k, (r) => r.cpuUs).toFixed(0)} | ${med(k, (r) => r.esUs).toFixed(0)} | ${med(k, (r) => r.kafkaUs).toFixed(0)} |`;
writeSection(
  'Index role vs a raw bulk',
  `Method: \`node bench/index-role.ts\` (part of \`npm run bench\`; 2 shared cores, load average ${loadavg()[0]!.toFixed(1)} at the end; date ${new Date().toISOString().slice(0, 10)}).
Each round makes ${EVENTS.toLocaleString('en')} distinct GitHub pushes, normalised exactly as the ingest role publishes them (about
${Math.round(Buffer.byteLength(makeEvents(99).slice(0, 1)[0]!.value) / 100) / 10} KB of JSON each, users spread over the 3 partitions), and both targets index the same documents:

- **Index role**: the events are first put on a fresh topic (3 partitions); then \`bench/dist-role.ts\` starts the index role alone
  (its own process, a fresh consumer group) on the local Kafka and Elasticsearch, and it consumes, checks, adds the search text and
  \`create\`-bulks them into its events data stream, committing offsets after each bulk, as in production. Its rate is read from its own
  \`/metrics\` counter (polled every 50 ms) from the first bulk landed to the last.
- **Index role, trail on**: the same, with the trail enabled (a signing key; every event chained, link version 3, a signed
  checkpoint every 10,000 events per partition into the store), into a data stream of its own.
- **Raw bulk (baseline)**: the same documents (event + search text, made beforehand) sent by the \`@elastic/elasticsearch\` client as
  \`create\` bulks of ${BULK}, ${IN_FLIGHT} in flight (about the index role's bulks, one per partition per fetch, and its partition
  concurrency), into a data stream of the
  same template, from the first bulk landed to the last.

${ROUNDS} rounds after a warm-up round, the order turned each round (each target first, second and third in turn); medians, spread (min–max) and CPU µs per document of the
target process (the role's process; for the baseline, the bench process sending the bulks). The machine is shared: rates move with
the load of other jobs; CPU per document is the steadier figure. Elasticsearch's and the Kafka broker's CPU per document over the same
interval are read from their processes (\`/proc\`, the pids deploy/local/services.sh keeps); they include background work of the
node (merges of earlier rounds' documents), so they move from round to round more than the target's own.

| target | documents/s (median) | spread | ratio to raw bulk | CPU µs per document | Elasticsearch CPU µs per document | Kafka broker CPU µs per document |
|---|---|---|---|---|---|---|
${row('raw bulk, @elastic/elasticsearch client (baseline)', 'raw')}
${row('index role (Kafka → Elasticsearch)', 'role')}
${row('index role, trail on (chained, signed checkpoints)', 'chained')}

Rounds (documents/s): raw bulk ${results.raw.map((r) => r.rate.toFixed(0)).join(', ')}; index role ${results.role.map((r) => r.rate.toFixed(0)).join(', ')}; trail on ${results.chained.map((r) => r.rate.toFixed(0)).join(', ')}.

**Chaining cost in the index role** (#14: the role with the trail on against the same role without, same events, same rounds;
each round's ratio, then the median): ${(median(results.chained.map((c, n) => (1 - c.rate / results.role[n]!.rate) * 100))).toFixed(1)} % of the rate, ${(median(results.chained.map((c, n) => (c.cpuUs / results.role[n]!.cpuUs - 1) * 100))).toFixed(1)} % more CPU per document in the role.
${
  latency
    ? `
**Searchable latency at ${LATENCY_RATE.toLocaleString('en')} events/s** (the index role alone; \`BENCH_INDEX_LATENCY_SECONDS\`): the same kind of events published by the
bench process onto a fresh 3-partition topic, open loop (a publish every 10 ms) for ${LATENCY_SECONDS} s, to an index role already running
(its own process); for one event in 10, from its publish acknowledged to Elasticsearch finding it by id (an \`ids\` search every 100 ms
for all pending ids, so up to ~100 ms of polling is included; Elasticsearch's 1 s refresh interval is part of it):
p50 ${ms(pct(latency.searchMs, 50))} ms, p99 ${ms(pct(latency.searchMs, 99))} ms over ${latency.searchMs.length} events; consumer lag (uncommitted messages, sampled
every 250 ms) median ${median(latency.lag)}, max ${Math.max(0, ...latency.lag)}; the role's CPU ${latency.cpuUs.toFixed(0)} µs per event.
`
    : ''
}`,
);
process.stderr.write('Wrote the index-role section of BENCHMARKS.md\n');
