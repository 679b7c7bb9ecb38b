// A server under load for bench/ingest.ts and bench/hec.ts, in its own process so the load generator does
// not share its event loop. Prints its URL on stdout, then serves until killed.
//   node bench/ingest-target.ts baseline|embedded|embedded-unchained|embedded-ingest|embedded-alerts|distributed
// Spawned with an IPC channel, it answers each message with its own CPU time (process.cpuUsage, µs), so the
// bench can put the target's CPU µs per request beside req/s (far steadier on a shared machine).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { startApp } from '../src/app.ts';
import { parseConfig } from '../src/config/load.ts';
import { createLogger, routeProcessWarnings } from '../src/log.ts';

const kind = process.argv[2];
// The secrets the benches sign with: GitHub webhooks (bench/ingest.ts) and the Splunk HEC token (bench/hec.ts).
const env = {
  PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'bench-secret-0123456789',
  PIPEWARDEN_GITHUB_AUDIT_HEC_TOKEN: 'bench-hec-token-0123',
};
const log = createLogger({ level: 'silent' });
routeProcessWarnings(log); // as `pipewarden serve` does
// Exit on SIGTERM through process.exit, so that a --cpu-prof profile is written.
process.once('SIGTERM', () => process.exit(0));
process.on('message', () => {
  const { user, system } = process.cpuUsage();
  process.send?.({ cpuMicros: user + system, threadMicros: threadCpu() });
});
/** The main thread's own CPU time (µs), from /proc (Linux): the rest of cpuMicros is other threads. */
function threadCpu(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return undefined;
  }
}

if (kind === 'baseline') {
  // The floor: Fastify parsing a JSON body and answering 202, nothing else.
  const app = Fastify({ bodyLimit: 25 * 1024 * 1024 });
  app.post('/ingest/github', async (req, reply) =>
    reply.status(202).send({ accepted: 1, keys: Object.keys(req.body as object).length }),
  );
  process.stdout.write(`${await app.listen({ host: '127.0.0.1', port: 0 })}\n`);
} else if (kind === 'embedded' || kind === 'embedded-unchained') {
  // All roles, as `pipewarden serve` runs them; the trail (chaining and signed checkpoints) is on by default
  // in embedded mode, and `embedded-unchained` turns it off: the pair is the trail's cost at ingest.
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-bench-'));
  const trail = kind === 'embedded' ? {} : { enabled: false };
  const app = await startApp(parseConfig({ mode: 'embedded', embedded: { dataDir }, trail }, env), {
    port: 0,
    log,
  });
  process.stdout.write(`${app.url}\n`);
} else if (kind === 'embedded-ingest') {
  // The ingest role alone on the embedded bus (as `pipewarden serve --role ingest`).
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-bench-'));
  const app = await startApp(parseConfig({ mode: 'embedded', embedded: { dataDir } }, env), {
    port: 0,
    log,
    roles: ['ingest'],
  });
  process.stdout.write(`${app.url}\n`);
} else if (kind === 'embedded-alerts') {
  // All roles, alerts to a webhook receiver in the bench process (bench/alerts.ts), no alert budget.
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-bench-'));
  const config = parseConfig(
    {
      mode: 'embedded',
      embedded: { dataDir },
      alerting: {
        throttle: { enabled: false },
        webhook: { enabled: true, url: process.env.BENCH_ALERT_URL, minSeverity: 'low' },
      },
    },
    { ...env, PIPEWARDEN_WEBHOOK_SECRET: 'bench-webhook-secret-0123456789abcdef' },
  );
  const app = await startApp(config, { port: 0, log });
  process.stdout.write(`${app.url}\n`);
} else if (kind === 'distributed') {
  const run = `bench${Date.now().toString(36)}`;
  const config = parseConfig(
    {
      mode: 'distributed',
      kafka: { brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',') },
      elasticsearch: {
        node: process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:19200',
        indexPrefix: `pw-${run}`,
      },
      topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.logs` },
    },
    env,
  );
  const app = await startApp(config, { port: 0, log, roles: ['ingest'] });
  process.stdout.write(`${app.url}\n`);
} else {
  process.stderr.write(
    'usage: node bench/ingest-target.ts baseline|embedded|embedded-unchained|embedded-ingest|embedded-alerts|distributed\n',
  );
  process.exit(2);
}
