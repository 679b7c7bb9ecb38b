// Alert latency in embedded mode under a sustained load (issue 15: p99 < 1 s at 1,000 events/s):
// `pipewarden serve` (all roles, one process) takes signed GitHub webhooks at a fixed rate; one in
// ALERT_EVERY deletes a branch protection rule (pipeline-weakening raises a hit), and the webhook sink
// posts each alert to a receiver in this process. Latency: from sending the request to the alert's arrival.
//   node bench/alerts.ts        (part of `npm run bench`)
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { loadSample } from '../ingest-adapters/fixtures.ts';
import { median, writeSection } from './report.ts';

const RATE = Number(process.env.BENCH_ALERT_RATE ?? 1000); // events per second offered
const SECONDS = Number(process.env.BENCH_ALERT_SECONDS ?? 30);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ALERT_EVERY = 50; // 20 alerts per second at 1,000 events/s
const CONNECTIONS = 32;
const SECRET = 'bench-secret-0123456789';

const push = loadSample('github', 'push__default.json').body as Record<string, unknown>;
const rule = loadSample('github', 'branch_protection_rule__deleted.json').body as Record<string, any>;

let seq = 0;
let alertSeq = 0;
const sentAt = new Map<number, number>(); // alert marker → when its request was handed to the socket
const arrivedAt = new Map<number, number>();

function nextRequest(): { body: string; event: string; marker?: number } {
  const n = seq++;
  if (n % ALERT_EVERY === ALERT_EVERY - 1) {
    const marker = alertSeq++;
    // A distinct actor, repository and rule per alert: neither the content dedup, the detector's dedup nor
    // the incident grouping (detector, rule, key) merges them.
    const body = JSON.stringify({
      ...rule,
      rule: { ...rule.rule, id: 1_000_000 + marker, name: `release-${marker}` },
      sender: { ...rule.sender, login: `pwbench${marker}x` },
      repository: { ...rule.repository, name: `repo-${marker}`, full_name: `octo-org/repo-${marker}` },
    });
    return { body, event: 'branch_protection_rule', marker };
  }
  return {
    body: JSON.stringify({ ...push, after: n.toString(16).padStart(40, '0') }),
    event: 'push',
  };
}

async function receiver(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      for (const m of Buffer.concat(chunks)
        .toString('utf8')
        .matchAll(/pwbench(\d+)x/g)) {
        const marker = Number(m[1]);
        if (!arrivedAt.has(marker)) arrivedAt.set(marker, at);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    close: () => server.close(),
  };
}

async function startTarget(alertUrl: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [new URL('./ingest-target.ts', import.meta.url).pathname, 'embedded-alerts'],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, BENCH_ALERT_URL: alertUrl } },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`target exited with ${code}`)));
  });
  return { url: line.trim(), child };
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve((m as { cpuMicros: number }).cpuMicros));
    child.send('cpu');
  });
}

interface Run {
  offered: number;
  achieved: number;
  non2xx: number;
  alerts: number;
  delivered: number;
  p50: number;
  p99: number;
  max: number;
  cpu: number;
}

async function run(url: string, child: ChildProcess, seconds: number): Promise<Run> {
  const firstMarker = alertSeq;
  const cpuBefore = await cpuOf(child);
  const r = await autocannon({
    url: `${url}/ingest/github`,
    method: 'POST',
    connections: CONNECTIONS,
    overallRate: RATE,
    duration: seconds,
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req: any) => {
          const next = nextRequest();
          if (next.marker !== undefined) sentAt.set(next.marker, performance.now());
          return {
            ...req,
            body: next.body,
            headers: {
              ...req.headers,
              'x-github-event': next.event,
              'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(next.body).digest('hex')}`,
              'x-github-delivery': randomUUID(),
            },
          };
        },
      },
    ],
  });
  const lastMarker = alertSeq;
  // Alerts still on their way: wait up to 30 s for the last of them.
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    let missing = 0;
    for (let m = firstMarker; m < lastMarker; m++) if (!arrivedAt.has(m)) missing++;
    if (missing === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const cpuAfter = await cpuOf(child);
  const latencies: number[] = [];
  for (let m = firstMarker; m < lastMarker; m++) {
    const a = arrivedAt.get(m);
    if (a !== undefined) latencies.push(a - sentAt.get(m)!);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return {
    offered: RATE,
    achieved: r['2xx'] / seconds,
    non2xx: r.non2xx + r.errors,
    alerts: lastMarker - firstMarker,
    delivered: latencies.length,
    p50: pct(0.5),
    p99: pct(0.99),
    max: latencies.at(-1) ?? NaN,
    cpu: (cpuAfter - cpuBefore) / Math.max(1, r['2xx']),
  };
}

const rx = await receiver();
const target = await startTarget(rx.url);
const runs: Run[] = [];
try {
  await run(target.url, target.child, 5); // warm-up
  for (let i = 0; i < RUNS; i++) {
    const r = await run(target.url, target.child, SECONDS);
    runs.push(r);
    process.stderr.write(
      `run ${i + 1}: ${r.achieved.toFixed(0)} events/s, alerts ${r.delivered}/${r.alerts}, p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, max ${r.max.toFixed(0)} ms, ${r.cpu.toFixed(0)} CPU µs/event, non-2xx ${r.non2xx}\n`,
    );
  }
} finally {
  target.child.kill('SIGTERM');
  rx.close();
}

const f0 = (x: number) => x.toFixed(0);
const spread = (xs: number[]) => `${f0(Math.min(...xs))}–${f0(Math.max(...xs))}`;
const col = (pick: (r: Run) => number) => `${f0(median(runs.map(pick)))} (${spread(runs.map(pick))})`;
writeSection(
  'Alert latency: embedded, all roles, sustained load',
  `Method: \`node bench/alerts.ts\` (part of \`npm run bench\`). \`pipewarden serve\` (embedded: SQLite bus and store, every
role in one Node ${process.versions.node} process) takes signed GitHub webhooks from autocannon at a fixed ${RATE} requests/s
(${CONNECTIONS} connections) for ${SECONDS} s per run, ${RUNS} runs after a 5 s warm-up. Each request is a distinct event; one in
${ALERT_EVERY} deletes a branch protection rule, which the pipeline-weakening detector
raises (a distinct repository, rule and actor each time, so that no dedup or incident grouping merges them) and the webhook sink posts to a receiver in the bench process (alert budget off). Alert latency: from the moment the
request is handed to autocannon's socket to the arrival of the alert that names it; an alert missing 30 s after the load
counts as not delivered. CPU µs per event: the target's CPU time over the run (and its catch-up) per request answered 2xx.
Figures: median of the runs (min–max). Machine: ${process.env.BENCH_MACHINE ?? '2 cores, shared'}; date ${new Date().toISOString().slice(0, 10)}.

| measure | value |
|---|---|
| offered, events/s | ${RATE} |
| answered 2xx, events/s | ${col((r) => r.achieved)} |
| non-2xx answers (all runs) | ${runs.reduce((a, r) => a + r.non2xx, 0)} |
| alerts delivered / raised (all runs) | ${runs.reduce((a, r) => a + r.delivered, 0)} / ${runs.reduce((a, r) => a + r.alerts, 0)} |
| alert latency p50, ms | ${col((r) => r.p50)} |
| alert latency p99, ms | ${col((r) => r.p99)} |
| alert latency max, ms | ${col((r) => r.max)} |
| CPU µs per event | ${col((r) => r.cpu)} |
${
  median(runs.map((r) => r.achieved)) < 0.95 * RATE
    ? `\nThe target did not keep up with the offered rate: autocannon's connections wait for each answer, so the rate
the process sustained is the "answered 2xx" row, and the latencies are at that rate, not at ${RATE} events/s.\n`
    : ''
}`,
);
process.stderr.write('Wrote the alert latency section of BENCHMARKS.md\n');
