// The three-broker KRaft cluster of deploy/local/services.sh (`start kafka-cluster`), for tests that lose
// a broker. Its own ports and data: the shared single broker and Elasticsearch are never touched.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../deploy/local/services.sh', import.meta.url));

async function services(...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [script, ...args], { timeout: 5 * 60_000, maxBuffer: 1 << 20 });
  return stdout;
}

/** Starts the brokers that are not running (data kept) and waits until each answers; the bootstrap list. */
export async function startKafkaCluster(): Promise<string[]> {
  await services('start', 'kafka-cluster');
  const env = await services('cluster-env');
  const brokers = /KAFKA_CLUSTER_BROKERS=(\S+)/.exec(env)?.[1];
  if (!brokers) throw new Error(`services.sh cluster-env printed no brokers: ${env}`);
  return brokers.split(',');
}

export async function stopKafkaCluster(): Promise<void> {
  await services('stop', 'kafka-cluster');
}

/** SIGKILL, as a machine loss would. */
export async function killBroker(id: number): Promise<void> {
  await services('kill-broker', String(id));
}

/** The broker id leading `partition` of `topic`. */
export async function leaderOf(brokers: string[], topic: string, partition = 0): Promise<number> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = meta.topics[0]?.partitions.find((x) => x.partitionId === partition);
    if (!p || p.leader < 0) throw new Error(`no leader for ${topic}/${partition}`);
    return p.leader;
  } finally {
    await admin.disconnect();
  }
}
