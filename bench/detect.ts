// Detect-engine throughput with the window state of 100k distinct keys in memory, and that state's heap.
// `node bench/detect.ts` (part of `npm run bench`); bounded: well under 2 minutes on 2 shared cores.
import { execFileSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { detectors } from '../detectors/index.ts';
import { readEvents } from '../src/bus/messages.ts';
import { DetectionEngine } from '../src/detect/engine.ts';
import type { EventKind, PipewardenEvent } from '../src/event.ts';
import { createLogger } from '../src/log.ts';
import { median, writeSection } from './report.ts';

const silent = createLogger({ level: 'silent' });

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const KEYS = 100_000; // distinct users, each with window state
const IPS = 50_000; // two users per IP: a realistic stream, where spraying is rare
const EVENTS_PER_RUN = 100_000;
const RUNS = 5;
const T0 = Date.parse('2026-11-22T09:00:00Z');

let clock = T0;
let n = 0;
// Deterministic pseudo-random (xorshift), so every run of the bench sees the same stream.
let seed = 0x9e3779b9;
function rand(k: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % k;
}

function event(user: number, kind: EventKind): PipewardenEvent {
  clock += 2; // 100k events span 200 s: everything stays inside the 10-30 min windows
  const at = new Date(clock).toISOString();
  return {
    '@timestamp': at,
    message: 'user failed to log in',
    event: {
      id: `bench-${n++}`,
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: 'login_failed',
      outcome: kind === 'login.success' ? 'success' : 'failure',
      dataset: 'jenkins.audit',
      provider: 'jenkins',
      ingested: at,
    },
    user: { name: `user-${user}` },
    source: { ip: `10.${(user % IPS) >> 16}.${((user % IPS) >> 8) & 255}.${(user % IPS) & 255}` },
    pipewarden: { kind, source: 'jenkins', repository: 'acme/app' },
  };
}

/** A mixed stream: 70% failures, 20% successes, 10% other kinds; users drawn from the 100k. */
function stream(count: number): string[] {
  return Array.from({ length: count }, () => {
    const r = rand(10);
    const kind: EventKind = r < 7 ? 'login.failure' : r < 9 ? 'login.success' : 'config.change';
    return JSON.stringify(event(rand(KEYS), kind));
  });
}

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1_048_576;
}

const enabled = detectors.map((detector) => ({ detector, config: detector.configSchema.parse({}) }));
const heapBefore = heapMb();
const engine = new DetectionEngine(enabled, { trackChanges: false });

// Fill: one failure for each of the 100k users (keys of brute-force and failure-then-success) and
// so 20k source IPs (keys of password-spraying).
for (let u = 0; u < KEYS; u++) {
  const e = event(u, 'login.failure');
  engine.evaluate(e, new Date(clock));
}
const heapFilled = heapMb();
const keysFilled = engine.keyCount;

const baseline: number[] = [];
const measured: number[] = [];
// CPU time per event (user + system, µs): far steadier than events/s on a shared machine.
const baselineCpu: number[] = [];
const measuredCpu: number[] = [];
const cpuMicros = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return d.user + d.system;
};
let hits = 0;
for (let r = 0; r < RUNS + 1; r++) {
  const messages = stream(EVENTS_PER_RUN);
  // Baseline: what the detect role does to each message before the engine (parse it).
  let t = performance.now();
  let cpu = process.cpuUsage();
  let sink = 0;
  for (const m of messages) sink += (JSON.parse(m) as PipewardenEvent).event.id.length;
  const base = EVENTS_PER_RUN / ((performance.now() - t) / 1000);
  const baseCpu = cpuMicros(cpu) / EVENTS_PER_RUN;
  // Measured: what the detect consumer does (src/detect/runner.ts): read and check each message
  // (readEvents), then evaluate it.
  const consumed = messages.map((value, i) => ({
    topic: 'bench',
    partition: 0,
    offset: String(i),
    key: '',
    value,
    headers: {},
    timestamp: 0,
  }));
  t = performance.now();
  cpu = process.cpuUsage();
  for (let i = 0; i < consumed.length; i += 100) {
    for (const e of readEvents(consumed.slice(i, i + 100), silent)) {
      hits += engine.evaluate(e, new Date(e['@timestamp'])).length;
    }
  }
  const rate = EVENTS_PER_RUN / ((performance.now() - t) / 1000);
  const rateCpu = cpuMicros(cpu) / EVENTS_PER_RUN;
  if (r > 0) {
    // run 0 is the warm-up
    baseline.push(base);
    measured.push(rate);
    baselineCpu.push(baseCpu);
    measuredCpu.push(rateCpu);
  }
  if (sink < 0) console.log(sink);
}
const heapAfter = heapMb();
const keysAfter = engine.keyCount;

// The goal's own measure (issue 15: at most 150 bytes per key state), with realistic 32-character event ids,
// each case in a fresh process (bench/key-state-bytes.ts).
const keyStateBytes = execFileSync(
  process.execPath,
  [new URL('./key-state-bytes.ts', import.meta.url).pathname],
  {
    encoding: 'utf8',
  },
).trim();

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const mb = (x: number) => x.toFixed(1);
const us = (x: number) => x.toFixed(2);
const body = `
Method: \`node bench/detect.ts\` (part of \`npm run bench\`). One Node ${process.versions.node} process runs the
detection engine over in-memory messages (no bus I/O), exactly as the detect role's handler does per message:
\`readEvents\` (JSON.parse and the shape check every consumer makes, in batches of 100), then \`engine.evaluate(event, now)\` with every registered detector (${detectors.map((d) => d.id).join(', ')})
at its default config. The state is first filled with one login failure for each of ${fmt(KEYS)} distinct users
(${fmt(IPS)} source IPs), then ${RUNS} runs (after a warm-up run) of ${fmt(EVENTS_PER_RUN)} events each — 70% \`login.failure\`,
20% \`login.success\`, 10% other kinds, users drawn at random from the ${fmt(KEYS)} — with event times advancing 2 ms
per event, so every key stays inside its window and the state keeps growing. Baseline: \`JSON.parse\` of the same
messages alone, in the same run. Heap: \`heapUsed\` after two forced GCs, minus the heap before the engine existed.
Machine: 2 cores, shared; date ${new Date().toISOString().slice(0, 10)}.

| measure | value |
|---|---|
| detect throughput, events/s (median of ${RUNS}) | ${fmt(median(measured))} (runs: ${measured.map(fmt).join(', ')}) |
| detect CPU µs per event (median; spread) | ${us(median(measuredCpu))} (${us(Math.min(...measuredCpu))}–${us(Math.max(...measuredCpu))}) |
| baseline (JSON.parse only), events/s (median) | ${fmt(median(baseline))} |
| baseline CPU µs per event (median; spread) | ${us(median(baselineCpu))} (${us(Math.min(...baselineCpu))}–${us(Math.max(...baselineCpu))}) |
| ratio to baseline (events/s; CPU µs) | ${(median(measured) / median(baseline)).toFixed(2)}; ${(median(baselineCpu) / median(measuredCpu)).toFixed(2)} |
| key states after the fill | ${fmt(keysFilled)} |
| heap for them | ${mb(heapFilled - heapBefore)} MB (${fmt(((heapFilled - heapBefore) * 1_048_576) / keysFilled)} bytes per key state) |
| key states after all runs | ${fmt(keysAfter)} |
| heap for them | ${mb(heapAfter - heapBefore)} MB |
| hits produced in the runs (after dedup) | ${fmt(hits)} |

A key state is one rule's window for one key (brute force and failure-then-success per user, password spraying per
IP): a threshold rule keeps at most \`threshold\` event times per key, a distinct rule at most 2 × \`threshold\`
values, so memory per key is bounded by the declaration, not by traffic; expired keys are pruned as event time
advances (\`src/detect/README.md\`). Each key state is one packed string (\`src/detect/key-states.ts\`).

Bytes per key state with 32-character event ids (\`node bench/key-state-bytes.ts\`: heap after two forced GCs,
and the snapshot entry a state store keeps):

\`\`\`
${keyStateBytes}
\`\`\`
`;
writeSection('Detect engine', body);
process.stdout.write(body);
