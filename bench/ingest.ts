// Ingest throughput: signed GitHub webhooks through POST /ingest/github, embedded and distributed,
// against a bare Fastify JSON route measured in the same run. Each target runs in its own process.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
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

interface Target {
  kind: string;
  url: string;
  child: ChildProcess;
}

async function startTarget(kind: string): Promise<Target> {
  // BENCH_TARGET_FLAGS: extra node flags for the targets, e.g. `--cpu-prof --cpu-prof-dir=.run/prof` to profile.
  const flags = (process.env.BENCH_TARGET_FLAGS ?? '').split(' ').filter(Boolean);
  // `<kind>@before`: the same target from another checkout (BENCH_BEFORE_ROOT, e.g. `git archive` of the
  // commit before a change, with this bench/ingest-target.ts copied in), for before/after in one run.
  const [name, other] = kind.split('@');
  const root = other ? process.env.BENCH_BEFORE_ROOT : undefined;
  if (other && !root) throw new Error(`${kind}: set BENCH_BEFORE_ROOT to the other checkout`);
  const script = root
    ? `${root}/bench/ingest-target.ts`
    : new URL('./ingest-target.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, [...flags, script, name!], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: process.env,
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${kind} target exited with ${code}`)));
  });
  return { kind, url: line.trim(), child };
}

/** The target's own CPU time so far (user + system, µs), asked over IPC. */
function cpuOf(target: Target): Promise<number> {
  return cpuAndThread(target).then((c) => c.cpuMicros);
}

/** The target's CPU time (µs): the whole process, and its main thread alone (Linux; else undefined). */
function cpuAndThread(target: Target): Promise<{ cpuMicros: number; threadMicros?: number }> {
  return new Promise((resolve) => {
    target.child.once('message', (m) => resolve(m as { cpuMicros: number; threadMicros?: number }));
    target.child.send('cpu');
  });
}

/**
 * Waits until the target is idle (under 5 % of a core over 250 ms), so that work a round left behind
 * (the index, detect and alert consumers of the embedded target catching up) is charged to that round and
 * does not run during the next target's round.
 */
async function settle(target: Target): Promise<number> {
  let last = await cpuOf(target);
  for (let i = 0; i < 240; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await cpuOf(target);
    if (now - last < 12_500) return now;
    last = now;
  }
  return last;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  /** CPU µs of the target per request answered 2xx, including work it finished after the load. */
  cpu: number;
  /** The part of it on the main thread (the event loop that answers requests). */
  mainCpu: number;
}

async function load(target: Target): Promise<Result> {
  const before = await settle(target);
  const mainBefore = (await cpuAndThread(target)).threadMicros ?? 0;
  const r = await autocannon({
    url: `${target.url}/ingest/github`,
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
  const after = await settle(target);
  const mainAfter = (await cpuAndThread(target)).threadMicros ?? 0;
  return {
    mainCpu: (mainAfter - mainBefore) / Math.max(1, r['2xx']),
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx + r.errors,
    cpu: (after - before) / Math.max(1, r['2xx']),
  };
}

const TARGETS = (
  process.env.BENCH_INGEST_TARGETS ?? 'baseline,embedded-ingest,embedded,embedded-unchained,distributed'
).split(',');
const services = process.env.KAFKA_BROKERS && process.env.ELASTICSEARCH_URL;
if (!services && TARGETS.includes('distributed')) {
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

const loadBefore = loadavg()[0]!;
const targets: Target[] = [];
const results = new Map<string, Result[]>(TARGETS.map((k) => [k, []]));
try {
  // Inside the try: a target that fails to start must not leave the others running (and the bench hanging).
  for (const kind of TARGETS) targets.push(await startTarget(kind));
  for (const t of targets) {
    await autocannon({ url: `${t.url}/healthz`, duration: 1, connections: 4 }); // warm-up of the process
    await load(t); // warm-up of the route (JIT, connections, topic metadata)
  }
  // Interleaved rounds: each round loads every target in turn, the order rotating from round to round,
  // so a slow spell of the shared machine falls on all targets alike; the ratios are taken per round.
  for (let round = 0; round < RUNS; round++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(round + i) % targets.length]!;
      const r = await load(t);
      results.get(t.kind)!.push(r);
      process.stderr.write(
        `round ${round + 1} ${t.kind}: ${r.rps.toFixed(0)} req/s, ${r.cpu.toFixed(0)} CPU µs/request (main thread ${r.mainCpu.toFixed(0)})\n`,
      );
    }
  }
} finally {
  for (const t of targets) t.child.kill('SIGTERM');
}

const base = results.get('baseline');
const spread = (xs: number[], digits = 0) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
const NAMES: Record<string, string> = {
  baseline: 'bare Fastify JSON route (baseline)',
  'embedded-ingest': 'embedded, ingest role alone (SQLite bus)',
  embedded: 'embedded, all roles (SQLite bus and store)',
  'embedded-unchained': 'embedded, all roles, trail off (no chaining, no checkpoints)',
  distributed: 'distributed, ingest role (Kafka bus)',
};
const rows = TARGETS.map((kind) => {
  const rs = results.get(kind)!;
  const rps = rs.map((r) => r.rps);
  const cpu = rs.map((r) => r.cpu);
  // Ratio per round (same round as its baseline), then the median of those.
  const ratios = base ? rs.map((r, i) => r.rps / base[i]!.rps) : [];
  const cpuRatios = base ? rs.map((r, i) => base[i]!.cpu / r.cpu) : [];
  const ratio = base ? `${median(ratios).toFixed(2)} (${spread(ratios, 2)})` : '–';
  const cpuRatio = base ? median(cpuRatios).toFixed(2) : '–';
  const label = kind.endsWith('@before') ? `${NAMES[kind.split('@')[0]!]}, before` : (NAMES[kind] ?? kind);
  const main = median(rs.map((r) => r.mainCpu)).toFixed(0);
  return `| ${label} | ${median(rps).toFixed(0)} (${spread(rps)}) | ${ratio} | ${median(cpu).toFixed(0)} (${spread(cpu)}) | ${main} | ${cpuRatio} | ${median(rs.map((r) => r.p50)).toFixed(1)} | ${median(rs.map((r) => r.p99)).toFixed(1)} | ${rs.reduce((a, r) => a + r.non2xx, 0)} |`;
});
for (const row of rows) process.stderr.write(`${row}\n`);

// The trail's cost at ingest (issue 14): all roles with chaining on (the default) against the same with it off,
// per round, by req/s and by CPU µs per request (which charges the indexing and chaining of the round's events).
const chained = results.get('embedded');
const unchained = results.get('embedded-unchained');
let chainingCost = '';
if (chained && unchained) {
  const byRate = chained.map((r, i) => 1 - r.rps / unchained[i]!.rps);
  const byCpu = chained.map((r, i) => r.cpu / unchained[i]!.cpu - 1);
  const pct = (xs: number[]) =>
    `${(100 * median(xs)).toFixed(1)} % (rounds ${(100 * Math.min(...xs)).toFixed(1)} to ${(100 * Math.max(...xs)).toFixed(1)} %)`;
  chainingCost = `
**The trail's cost at ingest** (issue 14: ingest throughput with chaining on vs off, same rounds): all roles with the
trail on (the embedded default: every stored event chained, checkpoints signed every 10,000 events or 300 s) against
the same process with \`trail.enabled: false\`: req/s lower by ${pct(byRate)}; CPU per request higher by ${pct(byCpu)}
(medians of the per-round differences). The index role's own cost, without ingest around it, is in "Trail" below.
`;
  process.stderr.write(chainingCost);
}
writeSection(
  'Ingest: POST /ingest/github',
  `Method: \`node bench/ingest.ts\` (part of \`npm run bench\`). Each target runs in its own Node ${process.versions.node} process,
all started at once; autocannon drives one at a time over loopback with ${CONNECTIONS} connections for ${SECONDS} s. After a warm-up
load of each, ${RUNS} interleaved rounds load every target in turn (the order rotating per round), so a slow spell of the
shared machine falls on all of them alike; ratios are taken within each round, and the table gives their median and
spread (min–max). Every request is a real GitHub \`push\` sample (${body.length} bytes) with its own \`after\` commit (a
distinct event: the same signed body again would be answered as a replay without reaching the bus), HMAC-SHA256
signed, with a fresh \`X-GitHub-Delivery\`. A request counts when it was answered 202, i.e. after the event was durably on the bus
(embedded: SQLite WAL commit with synchronous=FULL, group-committed; distributed: Kafka idempotent producer, acks=all).
CPU µs per request: the target process's own CPU time (user + system, \`process.cpuUsage\` over IPC) from before a round
until it is idle again after it (so the embedded all-roles target is charged for indexing, detecting and alerting the
round's events, which it finishes after the load), divided by the requests answered 2xx; "of which main thread" is the event loop's own share
(\`/proc/<pid>/task/<pid>/stat\`), the rest being libuv's pool and V8's GC helpers. The machine is shared by
other jobs: req/s swings with them, CPU µs per request much less; read the CPU column for before/after comparisons.
The baseline is a bare Fastify route parsing the same JSON body. "Ingest role alone" is \`pipewarden serve --role ingest\`
on the embedded bus; "all roles" runs ingest, index, detect and alert in the process, as \`pipewarden serve\` does;
distributed runs the ingest role alone against the local Kafka (one broker). Rows marked "before" (when run with
\`BENCH_BEFORE_ROOT\` and \`<kind>@before\` targets) are the same targets built from another checkout, in the same rounds.
Machine: ${process.env.BENCH_MACHINE ?? '2 cores, shared'}, load average ${loadBefore.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end; date ${new Date().toISOString().slice(0, 10)}.

| target | req/s (median; min–max) | ratio to baseline (median of rounds; min–max) | CPU µs per request (median; min–max) | of which main thread | CPU ratio (baseline µs / target µs) | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}
${chainingCost}`,
);
process.stderr.write('Wrote the ingest section of BENCHMARKS.md\n');
