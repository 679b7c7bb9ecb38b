// Distributed ingest role against Kafka's own producer: signed GitHub pushes through POST /ingest/github
// (ingest role alone, Kafka bus) vs org.apache.kafka.tools.ProducerPerformance sending messages of the
// same bytes to a topic of the same settings, acks=all, idempotent, in the same run, rounds interleaved.
// Also the ingest role with kafkajs's own JavaScript CRC32C (the native one not installed), to show its cost.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Kafka, logLevel } from 'kafkajs';
import { adapters } from '../ingest-adapters/index.ts';
import { KafkaBus } from '../src/bus/kafka.ts';
import { createLogger } from '../src/log.ts';
import {
  cpuSeconds,
  kafkaToolsClasspath,
  PUSH_BYTES,
  type RoleProcess,
  signedPush,
  spread,
  startRole,
  useServices,
} from './dist-common.ts';
import { median, writeSection } from './report.ts';

const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
// ProducerPerformance reports every 5 s: the first window holds the JVM's start and JIT, then WINDOWS count.
const WINDOWS = 2;

const { brokers } = useServices();
const run = `pfprod${Date.now().toString(36)}`;
const log = createLogger({ level: 'silent' });

// The bytes the ingest role publishes for one push: the normalised event, JSON.
const github = adapters.find((a) => a.id === 'github')!;
function eventJson(seq: number): string {
  const { body } = signedPush(seq, run);
  const headers = { 'x-github-event': 'push', 'x-github-delivery': randomUUID() };
  return JSON.stringify(github.toEvents(JSON.parse(body), headers, new Date()).events[0]);
}
const dir = mkdtempSync(join(tmpdir(), 'pw-bench-producer-'));
const payloadFile = join(dir, 'events.jsonl');
const lines = Array.from({ length: 200 }, (_, i) => eventJson(i));
writeFileSync(payloadFile, `${lines.join('\n')}\n`);
const messageBytes = Math.round(lines.reduce((a, l) => a + Buffer.byteLength(l), 0) / lines.length);

// The Java producer's topic: created by our bus, so it has exactly our topics' settings.
const javaTopic = `${run}.java`;
const bus = new KafkaBus(
  { brokers, clientId: 'bench', groupPrefix: run, partitions: 3, replicationFactor: 1, ssl: false },
  { log },
);
await bus.ensureTopics([javaTopic]);
await bus.close();

const { classpath, log4j } = kafkaToolsClasspath();

interface Round {
  rate: number; // messages (or requests answered 202) per second
  cpuUs: number; // CPU µs of the target process per message
  p50?: number;
  p99?: number;
  non2xx?: number;
}

/** One ProducerPerformance run: the windows after the first, and the JVM's CPU over exactly those. */
async function javaRound(): Promise<Round> {
  const child = spawn(
    'java',
    [
      '-Xmx512m',
      `-Dlog4j.configuration=file:${log4j}`,
      '-cp',
      classpath,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      javaTopic,
      '--num-records',
      '100000000',
      '--throughput',
      '-1',
      '--payload-file',
      payloadFile,
      '--producer-props',
      `bootstrap.servers=${brokers.join(',')}`,
      'acks=all',
      'enable.idempotence=true',
      `max.request.size=${32 * 1024 * 1024}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const windows: Array<{ records: number; seconds: number; cpu: number }> = [];
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`ProducerPerformance exited with ${code}`)));
      const rl = createInterface({ input: child.stdout! });
      rl.on('line', (line) => {
        // "12345 records sent, 2469.0 records/sec (16.8 MB/sec), 12.3 ms avg latency, ..."
        const m = /^(\d+) records sent, ([\d.]+) records\/sec/.exec(line);
        if (!m) return;
        const records = Number(m[1]);
        windows.push({ records, seconds: records / Number(m[2]), cpu: cpuSeconds(child.pid!) });
        if (windows.length > WINDOWS) resolve();
      });
    });
  } finally {
    child.kill('SIGKILL');
  }
  const measured = windows.slice(1);
  const records = measured.reduce((a, w) => a + w.records, 0);
  const seconds = measured.reduce((a, w) => a + w.seconds, 0);
  return { rate: records / seconds, cpuUs: ((windows.at(-1)!.cpu - windows[0]!.cpu) / records) * 1e6 };
}

let seq = 0;
async function ingestRound(target: RoleProcess, seconds = SECONDS): Promise<Round> {
  const cpu0 = cpuSeconds(target.pid);
  const r = await autocannon({
    url: `${target.url}/ingest/github`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push' },
    requests: [
      {
        setupRequest: (req: any) => {
          const next = signedPush(seq++, run);
          return {
            ...req,
            body: next.body,
            headers: {
              ...req.headers,
              'x-hub-signature-256': next.signature,
              'x-github-delivery': randomUUID(),
            },
          };
        },
      },
    ],
  });
  const cpu = cpuSeconds(target.pid) - cpu0;
  const accepted = r['2xx'];
  return {
    rate: accepted / seconds,
    cpuUs: (cpu / Math.max(accepted, 1)) * 1e6,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx + r.errors,
  };
}

// kafkajs's own JavaScript CRC32C, loaded before the app so the native one is not installed (src/bus/crc32c.ts).
const jsCrc = new URL('../node_modules/kafkajs/src/protocol/recordBatch/crc32C/index.js', import.meta.url)
  .pathname;
const native = await startRole(`${run}n`, ['ingest']);
const jsOnly = await startRole(`${run}j`, ['ingest'], { preload: [jsCrc] });
const results: Record<'java' | 'native' | 'js', Round[]> = { java: [], native: [], js: [] };
try {
  process.stderr.write('kafka-producer: warm-up\n');
  await ingestRound(native, 4);
  await ingestRound(jsOnly, 4);
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved, the order turned each round so no target always follows the same one.
    const order: Array<keyof typeof results> = i % 2 ? ['native', 'js', 'java'] : ['java', 'js', 'native'];
    for (const kind of order) {
      const r = kind === 'java' ? await javaRound() : await ingestRound(kind === 'native' ? native : jsOnly);
      results[kind].push(r);
      process.stderr.write(
        `round ${i + 1} ${kind}: ${r.rate.toFixed(0)} msg/s, ${r.cpuUs.toFixed(0)} CPU µs/msg\n`,
      );
    }
  }
} finally {
  await Promise.all([native.stop(), jsOnly.stop()]);
}

// Delete what this run wrote (several GB over the rounds on a shared broker).
const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const mine = (await admin.listTopics()).filter((t) => t.startsWith(run));
await admin.deleteTopics({ topics: mine }).catch(() => {});
await admin.disconnect();

const med = (k: keyof typeof results, f: (r: Round) => number) => median(results[k].map(f));
const javaRate = med('java', (r) => r.rate);
const row = (name: string, k: keyof typeof results) => {
  const rs = results[k];
  const lat =
    k === 'java' ? '– | –' : `${med(k, (r) => r.p50!).toFixed(0)} | ${med(k, (r) => r.p99!).toFixed(0)}`;
  const non2xx = k === 'java' ? '–' : String(rs.reduce((a, r) => a + r.non2xx!, 0));
  return `| ${name} | ${med(k, (r) => r.rate).toFixed(0)} | ${spread(rs.map((r) => r.rate))} | ${(med(k, (r) => r.rate) / javaRate).toFixed(2)} | ${med(k, (r) => r.cpuUs).toFixed(0)} | ${lat} | ${non2xx} |`;
};
const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
writeSection(
  'Distributed ingest role vs Kafka’s own producer',
  `Method: \`node bench/kafka-producer.ts\` (part of \`npm run bench\`, 2 shared cores, load average ${load} at the end; date ${new Date().toISOString().slice(0, 10)}).
The local Kafka broker (one node, 3 partitions per topic, \`max.message.bytes\` as our topics get it). ${ROUNDS} rounds after a warm-up; in each
round every target runs once, in an order turned each round (interleaved); figures are medians of the rounds, with the spread (min–max).
The machine is shared with other jobs: rates move with their load; **CPU µs per message of the target process** (user + system, from
/proc, the target process only) is the steadier figure.

- **Baseline: \`org.apache.kafka.tools.ProducerPerformance\`** (kafka-tools 3.9.2, the broker's version; jars fetched into the cache by
  \`deploy/local/services.sh tools-classpath\`), \`acks=all enable.idempotence=true\`, otherwise the producer's defaults, unthrottled,
  sending lines of a file holding 200 normalised events exactly as the ingest role publishes them for this push (${messageBytes} bytes
  each, JSON). Its own 5-s report windows: the first (JVM start, JIT) is dropped, the next ${WINDOWS} are measured, and so is the JVM's CPU
  over exactly those windows.
- **Ingest role**: \`bench/dist-role.ts\` runs \`startApp\` with the ingest role alone (Kafka bus, idempotent producer, acks=all); autocannon
  in the bench process sends ${CONNECTIONS} connections × ${SECONDS} s of real GitHub \`push\` webhooks (${PUSH_BYTES} bytes), each a distinct push,
  HMAC-signed, with a fresh delivery id. A message counts when its request was answered 202 (the event acknowledged by Kafka).
  The role verifies the signature, parses, checks the shape, normalises, redacts and publishes: far more than the Java tool does per message.
- **Ingest role, kafkajs's JavaScript CRC32C**: the same with kafkajs's own CRC32C module loaded first (\`node -r\`), so the native one
  (\`@node-rs/crc32\`, src/bus/crc32c.ts) is not installed: what the native CRC32C saves.

| target | messages/s (median) | spread | ratio to ProducerPerformance | CPU µs per message | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|---|---|---|
${row('ProducerPerformance (baseline)', 'java')}
${row('ingest role (native CRC32C)', 'native')}
${row('ingest role (kafkajs JavaScript CRC32C)', 'js')}

Rounds (messages/s): ProducerPerformance ${results.java.map((r) => r.rate.toFixed(0)).join(', ')}; ingest role ${results.native.map((r) => r.rate.toFixed(0)).join(', ')}; with the JavaScript CRC32C ${results.js.map((r) => r.rate.toFixed(0)).join(', ')}.
`,
);
process.stderr.write('Wrote the kafka-producer section of BENCHMARKS.md\n');
