// One distributed role (or several) in its own process, for the distributed benches (kafka-producer,
// index-role, e2e-load): the real app on the local Kafka and Elasticsearch, with topics, index prefix and
// consumer groups of its own run. Prints its URL on stdout, then serves until killed.
//   node bench/dist-role.ts <run> <role[,role...]> [extra config as JSON]
import { startApp } from '../src/app.ts';
import { parseConfig } from '../src/config/load.ts';
import type { Role } from '../src/config/schema.ts';
import { createLogger, routeProcessWarnings } from '../src/log.ts';

const [run, roleList, extra] = process.argv.slice(2);
if (!run || !roleList) {
  process.stderr.write('usage: node bench/dist-role.ts <run> <role[,role...]> [config JSON]\n');
  process.exit(2);
}
/** The secrets the benches sign with; the Slack token of e2e-load's local Slack server. */
const BENCH_ENV = {
  PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'bench-secret-0123456789',
  PIPEWARDEN_SLACK_TOKEN: 'xoxb-bench-token',
};
const log = createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
routeProcessWarnings(log);
const config = parseConfig(
  {
    mode: 'distributed',
    kafka: {
      brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
      groupPrefix: run,
    },
    elasticsearch: {
      node: process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:19200',
      indexPrefix: `pw-${run}`,
    },
    topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.logs` },
    ...(extra ? JSON.parse(extra) : {}),
  },
  { ...process.env, ...BENCH_ENV },
);
const app = await startApp(config, { port: 0, log, roles: roleList.split(',') as Role[] });
process.stdout.write(`${app.url}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => {
    void app.stop().finally(() => process.exit(0));
  });
