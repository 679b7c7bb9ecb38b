// Starts the real Kafka and Elasticsearch for the integration and end-to-end tests, or uses the ones
// named by KAFKA_BROKERS and ELASTICSEARCH_URL. If they cannot be had, the run fails: it never skips.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    elasticsearchUrl: string;
  }
}

const script = fileURLToPath(new URL('../../deploy/local/services.sh', import.meta.url));
let startedHere = false;

export async function setup(project: TestProject): Promise<void> {
  let kafka = process.env.KAFKA_BROKERS;
  let es = process.env.ELASTICSEARCH_URL;
  if (!kafka || !es) {
    // Services someone already started (another shell, a developer) are used and left running.
    const wasRunning = /running \(pid \d+, healthy\)[\s\S]*running \(pid \d+, healthy\)/.test(
      execFileSync('bash', [script, 'status'], { encoding: 'utf8' }),
    );
    process.stderr.write('[global-setup] starting Kafka and Elasticsearch with deploy/local/services.sh\n');
    // Inherit stdio so the CI log shows the real services starting (and why, if they do not).
    execFileSync('bash', [script, 'start'], { stdio: 'inherit', timeout: 15 * 60_000 });
    startedHere = !wasRunning && !process.env.PIPEWARDEN_KEEP_SERVICES;
    const env = execFileSync('bash', [script, 'env'], { encoding: 'utf8' });
    for (const line of env.split('\n')) {
      const [name, value] = line.split('=', 2);
      if (name === 'KAFKA_BROKERS' && !kafka) kafka = value;
      if (name === 'ELASTICSEARCH_URL' && !es) es = value;
    }
  }
  if (!kafka || !es)
    throw new Error('Kafka and Elasticsearch are required for integration tests and could not be had');
  await assertReachable(kafka, es);
  process.stderr.write(`[global-setup] Kafka at ${kafka}, Elasticsearch at ${es}\n`);
  process.env.KAFKA_BROKERS = kafka;
  process.env.ELASTICSEARCH_URL = es;
  project.provide('kafkaBrokers', kafka);
  project.provide('elasticsearchUrl', es);
}

export async function teardown(): Promise<void> {
  if (startedHere) execFileSync('bash', [script, 'stop'], { stdio: 'inherit' });
}

async function assertReachable(kafka: string, es: string): Promise<void> {
  const res = await fetch(`${es}/_cluster/health`);
  if (!res.ok) throw new Error(`Elasticsearch at ${es} answered ${res.status}`);
  const health = (await res.json()) as { status: string; cluster_name: string; number_of_nodes: number };
  process.stderr.write(
    `[global-setup] Elasticsearch cluster ${health.cluster_name}: ${health.status}, ${health.number_of_nodes} node(s)\n`,
  );
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ brokers: kafka.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const cluster = await admin.describeCluster();
  await admin.disconnect();
  process.stderr.write(
    `[global-setup] Kafka cluster ${cluster.clusterId}: ${cluster.brokers.length} broker(s)\n`,
  );
}
