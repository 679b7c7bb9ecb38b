// Syslog listener ingest rate: newline-framed RFC 3164 lines over TCP on loopback, through parsing, routing
// to the adapters' line formats and batched publishes to a real SQLite bus, against a bare node:net server
// counting newline-framed lines, measured in the same run. The sender is a separate process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSample } from '../ingest-adapters/fixtures.ts';
import { adapters } from '../ingest-adapters/index.ts';
import { SqliteBus } from '../src/bus/sqlite.ts';
import type { Bus } from '../src/bus/types.ts';
import { syslogConfigSchema } from '../src/ingest/syslog/config.ts';
import { SyslogListener } from '../src/ingest/syslog/listener.ts';
import { createLogger } from '../src/log.ts';
import { Counters } from '../src/metrics.ts';
import { median, writeSection } from './report.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LINES = Number(process.env.BENCH_SYSLOG_LINES ?? 100_000);

if (process.argv[2] === 'send') {
  // The sender: writes the lines as fast as the socket takes them, then closes.
  const [, , , port, count] = process.argv;
  const { connect } = await import('node:net');
  const samples = JSON.parse(process.argv[5]!) as string[];
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const block = Array.from(
    { length: 1000 },
    (_, i) => `<110>Jan  8 00:28:03 ci app: ${samples[i % samples.length]!.replace('#N', String(i))}\n`,
  ).join('');
  for (let sent = 0; sent < Number(count); sent += 1000) {
    if (!socket.write(block)) await new Promise((r) => socket.once('drain', r));
  }
  socket.end();
  await new Promise((r) => socket.once('close', r));
  process.exit(0);
}

const sample = (adapter: string, file: string) => loadSample(adapter, file).body as string;
// A mix of real lines: Jenkins Audit Trail, Artifactory access and request logs (one varied per line).
const lines = [
  sample('jenkins', 'audit-trail__configSubmit.json').replace('configSubmit', 'configSubmit#N'),
  sample('artifactory', 'artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json').replace(
    '.jar',
    '-#N.jar',
  ),
  sample('jenkins', 'audit-trail__build-completed.json').replace('#49', '##N'),
  '2024-05-01T10:00:00.000Z [abc123] [DENIED LOGIN]   for client : user#N / 10.0.0.5.',
];

function send(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [new URL(import.meta.url).pathname, 'send', String(port), String(LINES), JSON.stringify(lines)],
      { stdio: 'inherit' },
    );
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited with ${code}`))));
  });
}

async function until(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Baseline: a bare node:net server that only counts newline-terminated lines. */
async function baselineRun(): Promise<number> {
  let count = 0;
  const server = createServer((s) =>
    s.on('data', (d: Buffer) => {
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) count++;
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const start = performance.now();
  await send((server.address() as { port: number }).port);
  await until(() => count >= LINES);
  const rate = LINES / ((performance.now() - start) / 1000);
  await new Promise((r) => server.close(r));
  return rate;
}

/** The listener, publishing to a real SQLite bus; done when every event is durably published. */
async function listenerRun(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-syslog-'));
  const inner = new SqliteBus({ path: join(dir, 'bus.sqlite'), retentionMs: 3_600_000 });
  await inner.ensureTopics(['events']);
  let published = 0;
  const bus: Bus = {
    kind: 'sqlite',
    ensureTopics: (t) => inner.ensureTopics(t),
    publish: async (topic, messages) => {
      await inner.publish(topic, messages);
      published += messages.length;
    },
    subscribe: (o) => inner.subscribe(o),
    lag: (g, t) => inner.lag(g, t),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  const metrics = new Counters();
  const config = syslogConfigSchema.parse({ enabled: true, tcpPort: 0 });
  const listener = new SyslogListener({
    config,
    adapters,
    bus,
    topic: 'events',
    metrics,
    log: createLogger({ level: 'silent' }),
  });
  await listener.start();
  const start = performance.now();
  await send(listener.tcpPort!);
  await until(() => published >= LINES);
  const rate = LINES / ((performance.now() - start) / 1000);
  const matched = metrics.get('pipewarden_syslog_messages_total', { transport: 'tcp', result: 'matched' });
  if (matched !== LINES) throw new Error(`expected ${LINES} matched lines, got ${matched}`);
  await listener.stop();
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

await baselineRun(); // warm-up
await listenerRun();
const base: number[] = [];
const listen: number[] = [];
for (let i = 0; i < RUNS; i++) {
  base.push(await baselineRun());
  listen.push(await listenerRun());
  process.stderr.write(
    `run ${i + 1}: baseline ${base.at(-1)!.toFixed(0)} lines/s, listener ${listen.at(-1)!.toFixed(0)} events/s\n`,
  );
}
const b = median(base);
const l = median(listen);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
writeSection(
  'Ingest: syslog listener',
  `Method: \`node bench/syslog.ts\` (part of \`npm run bench\`). A separate Node ${process.versions.node} process sends
${fmt(LINES)} newline-framed RFC 3164 lines per run over one TCP connection on loopback, as fast as the socket
takes them: a mix of real Jenkins Audit Trail lines, Artifactory access-log lines and Artifactory DENIED LOGIN
lines, each made unique. A listener run ends when every line has been parsed, routed to its adapter line format,
normalised and durably published to a SQLite bus (batches of 500, WAL commit); every line must match. The
baseline is a bare \`node:net\` server that only counts newline-terminated lines, measured in the same run
(interleaved, ${RUNS} runs each after a warm-up; figures are medians).
Machine: ${process.env.BENCH_MACHINE ?? '2 cores, shared'}; date ${new Date().toISOString().slice(0, 10)}.

| target | lines or events/s (median) | ratio to baseline | runs |
|---|---|---|---|
| bare node:net line counter (baseline) | ${fmt(b)} | 1.00 | ${base.map(fmt).join(', ')} |
| syslog listener → SQLite bus | ${fmt(l)} | ${(l / b).toFixed(3)} | ${listen.map(fmt).join(', ')} |
`,
);
process.stderr.write('Wrote the syslog section of BENCHMARKS.md\n');
