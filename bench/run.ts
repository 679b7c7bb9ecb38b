// npm run bench: every benchmark in turn, each writing its own section of BENCHMARKS.md.
// Kafka and Elasticsearch are started with deploy/local/services.sh unless KAFKA_BROKERS and
// ELASTICSEARCH_URL are set. Pass names to run a subset: npm run bench -- ingest
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const ALL: Record<string, string> = {
  ingest: 'ingest.ts',
  alerts: 'alerts.ts',
  hec: 'hec.ts',
  syslog: 'syslog.ts',
  detect: 'detect.ts',
  secrets: 'secrets/run.ts',
  redact: 'redact.ts',
  trail: 'trail.ts',
  console: 'console.ts',
  'kafka-producer': 'kafka-producer.ts',
  'index-role': 'index-role.ts',
  'e2e-load': 'e2e-load.ts',
};
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(ALL);
for (const name of wanted) {
  const file = ALL[name];
  if (!file) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(ALL).join(', ')}`);
  const path = new URL(file, import.meta.url).pathname;
  if (!existsSync(path)) {
    process.stderr.write(`bench: ${name} (${file}) is not there yet; skipped\n`);
    continue;
  }
  process.stderr.write(`\n== bench: ${name}\n`);
  execFileSync(process.execPath, [path], { stdio: 'inherit', env: process.env });
}
