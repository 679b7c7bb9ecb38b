// Ingest throughput: signed GitHub webhooks through POST /ingest/github, embedded and distributed,
// against a bare Fastify JSON route measured in the same run. Each target runs in its own process.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { loadSample } from '../ingest-adapters/fixtures.ts';
import { median, writeSection } from './report.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 32;

const sample = loadSample('github', 'push__default.json');
const body = JSON.stringify(sample.body);
const push = sample.body as Record<string, unknown>;
let seq = 0;
/**
 * A distinct push per request (its own `after` commit), signed: event ids come from the signed content, so
 * the same body again would be answered as a replay without reaching the bus.
 */
function nextPush(): { body: string; signature: string } {
  const b = JSON.stringify({ ...push, after: (seq++).toString(16).padStart(40, '0') });
  return {
    body: b,
    signature: `sha256=${createHmac('sha256', 'bench-secret-0123456789').update(b).digest('hex')}`,
  };
}

async function startTarget(kind: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [new URL('./ingest-target.ts', import.meta.url).pathname, kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${kind} target exited with ${code}`)));
  });
  return { url: line.trim(), child };
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function load(url: string): Promise<Result> {
  const r = await autocannon({
    url: `${url}/ingest/github`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
    },
    // A distinct signed push and a fresh delivery id per request (the baseline gets the same bodies).
    requests: [
      {
        setupRequest: (req: any) => {
          const next = nextPush();
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
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx + r.errors };
}

async function measure(kind: string): Promise<{ runs: Result[]; med: Result }> {
  const { url, child } = await startTarget(kind);
  try {
    await autocannon({ url: `${url}/healthz`, duration: 1, connections: 4 }); // warm-up of the process
    await load(url); // warm-up of the route (JIT, connections, topic metadata)
    const runs: Result[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await load(url));
    const med = {
      rps: median(runs.map((r) => r.rps)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    };
    process.stderr.write(
      `${kind}: median ${med.rps.toFixed(0)} req/s (runs: ${runs.map((r) => r.rps.toFixed(0)).join(', ')})\n`,
    );
    return { runs, med };
  } finally {
    child.kill('SIGTERM');
  }
}

const services = process.env.KAFKA_BROKERS && process.env.ELASTICSEARCH_URL;
if (!services) {
  execFileSync('bash', [new URL('../deploy/local/services.sh', import.meta.url).pathname, 'start'], {
    stdio: 'inherit',
  });
  for (const line of execFileSync(
    'bash',
    [new URL('../deploy/local/services.sh', import.meta.url).pathname, 'env'],
    { encoding: 'utf8' },
  ).split('\n')) {
    const [k, v] = line.split('=');
    if (k && v) process.env[k] = v;
  }
}

const baseline = await measure('baseline');
const embedded = await measure('embedded');
const distributed = await measure('distributed');

const row = (name: string, m: Result) =>
  `| ${name} | ${m.rps.toFixed(0)} | ${(m.rps / baseline.med.rps).toFixed(2)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${m.non2xx} |`;
writeSection(
  'Ingest: POST /ingest/github',
  `Method: \`node bench/ingest.ts\` (part of \`npm run bench\`). Each target runs in its own Node ${process.versions.node} process;
autocannon drives it over loopback with ${CONNECTIONS} connections for ${SECONDS} s, ${RUNS} runs after a warm-up run; figures are
medians. Every request is a real GitHub \`push\` sample (${body.length} bytes) with its own \`after\` commit (a
distinct event: the same signed body again would be answered as a replay without reaching the bus), HMAC-SHA256
signed, with a fresh \`X-GitHub-Delivery\`. A request counts when it was answered 202, i.e. after the event was durably on the bus
(embedded: SQLite WAL commit with synchronous=FULL, group-committed; distributed: Kafka idempotent producer, acks=all).
The baseline is a bare Fastify route parsing the same JSON body, measured in the same run.
Embedded runs every role in the process (ingest, index, detect, alert), as \`pipewarden serve\` does;
distributed runs the ingest role alone against the local Kafka (one broker) and Elasticsearch.
Machine: ${process.env.BENCH_MACHINE ?? '2 cores, shared'}; date ${new Date().toISOString().slice(0, 10)}.

| target | events/s (median) | ratio to baseline | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|---|
${row('bare Fastify JSON route (baseline)', baseline.med)}
${row('embedded (SQLite bus, all roles)', embedded.med)}
${row('distributed (Kafka bus, ingest role)', distributed.med)}
`,
);
process.stderr.write('Wrote the ingest section of BENCHMARKS.md\n');
