// The Kafka bus under load and with large webhooks, on the real broker.
// 1. Many concurrent publishes to one key (one partition) merge into produce requests capped by bytes: none
//    is refused as MESSAGE_TOO_LARGE (a merged batch over the topic's max.message.bytes used to fail every
//    publish in it, 503 to every sender).
// 2. A webhook over the broker's 1 MiB default is one message: the topics take the server's body limit,
//    topics made before are raised, and what no bus could take is a permanent error (413), not a 503.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningApp, startApp } from '../../src/app.ts';
import { KafkaBus, kafkaConfigSchema } from '../../src/bus/kafka.ts';
import { BusUnavailableError, MessageTooLargeError } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { TEST_GROUP_PREFIX } from '../support/app.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

const run = `kl${Date.now().toString(36)}`;
const log = createLogger({ level: 'silent' });
const SECRET = 'kafka-load-test-secret';
const BROKER_DEFAULT_MAX = 1_048_588; // Kafka's message.max.bytes default

const push = JSON.parse(
  readFileSync(new URL('../../ingest-adapters/github/fixtures/push__default.json', import.meta.url), 'utf8'),
) as { body: Record<string, unknown> };

function signed(raw: string, delivery: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-github-event': 'push',
    'x-github-delivery': delivery,
    'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`,
  };
}

async function topicMaxMessageBytes(topic: string): Promise<number> {
  const admin = new Kafka({ brokers: inject('kafkaBrokers').split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topic, configNames: ['max.message.bytes'] }],
    });
    return Number(resources[0]!.configEntries.find((e) => e.configName === 'max.message.bytes')!.configValue);
  } finally {
    await admin.disconnect();
  }
}

describe('kafka-bus under load', () => {
  const config = () => kafkaConfigSchema.parse({ brokers: inject('kafkaBrokers').split(','), partitions: 3 });

  it('takes 256 concurrent 6.5 KB publishes to one key on a topic with the broker default limit', async () => {
    const topic = `${run}.one-key`;
    // The broker default: what a batch merging every pending publish used to exceed (1.7 MB here).
    const bus = new KafkaBus(config(), { log, maxMessageBytes: BROKER_DEFAULT_MAX });
    try {
      await bus.ensureTopics([topic]);
      const value = JSON.stringify({ pad: 'x'.repeat(6_500) });
      const results = await Promise.allSettled(
        Array.from({ length: 256 }, (_, i) =>
          bus.publish(topic, [{ key: 'octocat', value: `${value}${i}` }]),
        ),
      );
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      // All 256 are on the broker, in one partition (one key).
      const admin = new Kafka({ brokers: config().brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      await admin.disconnect();
      expect(offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)).toBe(256);
      expect(offsets.filter((p) => Number(p.high) > 0)).toHaveLength(1);
    } finally {
      await bus.close();
    }
  });

  it('refuses a message over its limit as too large (permanent), before sending it', async () => {
    const topic = `${run}.limit`;
    const bus = new KafkaBus(config(), { log, maxMessageBytes: 64 * 1024 });
    try {
      await bus.ensureTopics([topic]);
      await expect(bus.publish(topic, [{ key: 'k', value: 'x'.repeat(100 * 1024) }])).rejects.toBeInstanceOf(
        MessageTooLargeError,
      );
      // A message that fits still goes through after the refusal.
      await expect(bus.publish(topic, [{ key: 'k', value: 'x'.repeat(1024) }])).resolves.toBeUndefined();
    } finally {
      await bus.close();
    }
  });

  it('raises max.message.bytes on topics that existed with a smaller one, keeping their other settings', async () => {
    const topic = `${run}.old`;
    const old = new KafkaBus(config(), { log, maxMessageBytes: BROKER_DEFAULT_MAX });
    await old.ensureTopics([topic]);
    await old.close();
    expect(await topicMaxMessageBytes(topic)).toBe(BROKER_DEFAULT_MAX);

    const bus = new KafkaBus(config(), { log, maxMessageBytes: 8 * 1024 * 1024 });
    try {
      await bus.ensureTopics([topic]);
      expect(await topicMaxMessageBytes(topic)).toBe(8 * 1024 * 1024);
      const admin = new Kafka({ brokers: config().brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: topic, configNames: ['message.timestamp.type'] }],
      });
      await admin.disconnect();
      expect(resources[0]!.configEntries[0]!.configValue).toBe('LogAppendTime');
      // A 3 MB message now goes through and comes back whole.
      const big = 'y'.repeat(3 * 1024 * 1024);
      await bus.publish(topic, [{ key: 'big', value: big }]);
      let seen: (n: number) => void = () => {};
      const consumed = new Promise<number>((resolve) => {
        seen = resolve;
      });
      const sub = await bus.subscribe({
        topic,
        group: `${run}-big`,
        handler: async (batch) => {
          const m = batch.find((b) => b.key === 'big');
          if (m) seen(m.value.length);
        },
      });
      const got = await Promise.race([
        consumed,
        new Promise<number>((_, reject) =>
          setTimeout(() => reject(new Error('nothing consumed in 30 s')), 30_000),
        ),
      ]).finally(() => sub.stop());
      expect(got).toBe(big.length);
    } finally {
      await bus.close();
    }
  });
});

describe('kafka-bus when the brokers are away', () => {
  it('fails publishes at once once it knows the bus is down, and takes them again when it is back', async () => {
    const [host, port] = inject('kafkaBrokers').split(',')[0]!.split(':');
    // The bootstrap goes through a proxy that starts cut: the brokers cannot be reached at all.
    const proxy = await startTcpProxy({ host: host!, port: Number(port) });
    await proxy.cut();
    const bus = new KafkaBus(kafkaConfigSchema.parse({ brokers: [`127.0.0.1:${proxy.port}`] }), { log });
    const topic = `${run}.down`;
    try {
      // The first publish learns it the slow way (connection attempts and retries)...
      await expect(bus.publish(topic, [{ key: 'k', value: '1' }])).rejects.toBeInstanceOf(
        BusUnavailableError,
      );
      // ...the next ones are answered from what the bus knows, without waiting on the network.
      const started = performance.now();
      const err = await bus.publish(topic, [{ key: 'k', value: '2' }]).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(BusUnavailableError);
      expect((err as Error).message).toMatch(/^Kafka unreachable since \d{4}-/);
      expect(elapsed).toBeLessThan(1_000);

      await proxy.restore();
      // A background probe finds the brokers again; publishes then go through.
      const deadline = Date.now() + 30_000;
      let published = false;
      while (!published && Date.now() < deadline) {
        published = await bus
          .ensureTopics([topic])
          .then(
            () => bus.publish(topic, [{ key: 'k', value: '3' }]).then(() => true),
            () => false,
          )
          .catch(() => false);
        if (!published) await new Promise((r) => setTimeout(r, 250));
      }
      expect(published).toBe(true);
    } finally {
      await bus.close();
      await proxy.close();
    }
  });
});

describe('distributed ingest under load and with large webhooks', () => {
  const es = new Client({ node: inject('elasticsearchUrl') });
  let app: RunningApp;

  beforeAll(async () => {
    const config = parseConfig(
      {
        mode: 'distributed',
        server: { bodyLimitBytes: 8 * 1024 * 1024 },
        kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX, partitions: 3 },
        elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
        topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
        log: { level: 'silent' },
      },
      { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET },
    );
    app = await startApp(config, { port: 0, roles: ['ingest', 'index'], log });
  });

  afterAll(async () => {
    await app?.stop();
    await es.indices.deleteDataStream({ name: `pw-${run}-*` }).catch(() => {});
    await es.indices.delete({ index: `pw-${run}-*`, ignore_unavailable: true }).catch(() => {});
    await es.close();
  });

  const post = (raw: string, delivery: string) =>
    fetch(`${app.url}/ingest/github`, { method: 'POST', body: raw, headers: signed(raw, delivery) });

  it('answers 202 to 256 concurrent senders of the same push (one actor, one partition): no 503', async () => {
    // 256 distinct pushes by one actor (a replayed body would be one event, answered as a duplicate).
    const answers = await Promise.all(
      Array.from({ length: 256 }, async (_, i) => {
        const raw = JSON.stringify({ ...push.body, after: i.toString(16).padStart(40, '0') });
        const res = await post(raw, randomUUID());
        await res.arrayBuffer();
        return res.status;
      }),
    );
    const notAccepted = answers.filter((s) => s !== 202);
    expect(notAccepted).toEqual([]);
  });

  it('accepts a 3 MB webhook (over the broker default) and indexes it; over the body limit is 413', async () => {
    const body = structuredClone(push.body) as { commits: unknown[] };
    const commit = body.commits[0] ?? { id: 'c', message: 'm' };
    // A push with many commits: GitHub sends payloads up to 25 MB.
    body.commits = Array.from({ length: 8_000 }, (_, i) => ({
      ...(commit as object),
      id: `${i}`.padStart(40, '0'),
      message: `Commit ${i}: ${'update the release notes and the changelog '.repeat(10)}`,
    }));
    const raw = JSON.stringify(body);
    expect(raw.length).toBeGreaterThan(3 * 1024 * 1024);
    const res = await post(raw, randomUUID());
    expect(res.status, await res.clone().text()).toBe(202);
    const [id] = ((await res.json()) as { ids: string[] }).ids;

    const deadline = Date.now() + 60_000;
    let found = false;
    while (!found && Date.now() < deadline) {
      await es.indices.refresh({ index: `pw-${run}-events` }).catch(() => {});
      const r = await es
        .search({ index: `pw-${run}-events`, query: { term: { 'event.id': id! } }, size: 1 })
        .catch(() => undefined);
      found = (r?.hits.hits.length ?? 0) > 0;
      if (!found) await new Promise((r) => setTimeout(r, 250));
    }
    expect(found).toBe(true);

    const tooBig = JSON.stringify({ ...body, pad: 'z'.repeat(9 * 1024 * 1024) });
    const over = await post(tooBig, randomUUID());
    expect(over.status).toBe(413);
    expect(((await over.json()) as { message: string }).message).toMatch(/limit/);
  });
});
