// The Kafka consumer's prefetch (SubscribeOptions.prefetch, used by the index role): chunks fetched ahead
// wait in the partition's lane behind the one in the handler. On the real broker and Elasticsearch: an
// offset is never committed before its events are in Elasticsearch, and a consumer stopped with chunks
// queued (its handler failing) loses nothing: the next one gets them again from the committed offset.
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KafkaBus, kafkaConfigSchema } from '../../src/bus/kafka.ts';
import { readEvent } from '../../src/bus/messages.ts';
import type { BatchHandler, ConsumedMessage, Subscription } from '../../src/bus/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { trailEvent } from '../support/trail.ts';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
const id = randomUUID().slice(0, 8);
const prefix = `pwt-prefetch-${id}`;
const es = new Client({ node: inject('elasticsearchUrl') });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(async () => {
  await es.indices.deleteDataStream({ name: `${prefix}-*` }).catch(() => {});
  await es.indices.delete({ index: `${prefix}-*` }).catch(() => {});
  await es.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
  await es.cluster.deleteComponentTemplate({ name: `${prefix}-*` }).catch(() => {});
  await es.close();
});

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('kafka prefetch into Elasticsearch', () => {
  it('commits no offset ahead of Elasticsearch, and a stop with chunks queued loses nothing', async () => {
    const N = 600;
    const CHUNK = 100;
    const topic = `prefetch-${id}`;
    const group = `prefetch-${id}`;
    // One partition: the chunks go through one lane, in order.
    const config = kafkaConfigSchema.parse({ brokers: inject('kafkaBrokers').split(','), partitions: 1 });
    const store = new ElasticsearchStore(
      elasticsearchConfigSchema.parse({ node: inject('elasticsearchUrl'), indexPrefix: prefix }),
      { log },
    );
    await store.init();
    const first = new KafkaBus(config, { log });
    const second = new KafkaBus(config, { log });
    const admin = new KafkaBus(config, { log });
    const subscriptions: Subscription[] = [];
    try {
      await first.ensureTopics([topic]);
      const events = Array.from({ length: N }, (_, i) => trailEvent(i, { repository: `prefetch/${id}` }));
      await first.publish(
        topic,
        events.map((e) => ({ key: 'one', value: JSON.stringify(e) })),
      );

      /** As the index role does: each chunk's events into the store, sent as their message bytes. */
      const index = async (batch: ConsumedMessage[]) => {
        const sources = new Map<PipewardenEvent, string | Uint8Array>();
        for (const m of batch) {
          const e = readEvent(m, log);
          if (e) sources.set(e, m.bytes ?? m.value);
        }
        await store.indexEvents([...sources.keys()], { sourceTexts: sources });
      };
      const inElasticsearch = async () => {
        await es.indices.refresh({ index: `${prefix}-events` });
        return (await es.count({ index: `${prefix}-events` })).count;
      };
      // The group's committed offset (what a restarted consumer starts from): N minus its lag.
      const committed = async () => N - (await admin.lag(group, topic));

      // The first consumer: chunks 1 and 2 land; the third keeps failing (Elasticsearch "down" for it),
      // while the fourth, fetched ahead, waits behind it.
      let landed = 0; // offsets below this are in Elasticsearch
      const handled: string[] = [];
      let failures = 0;
      const failing: BatchHandler = async (batch) => {
        handled.push(batch[0]!.offset);
        if (batch[0]!.offset === String(2 * CHUNK)) {
          failures++;
          throw new Error('Elasticsearch unavailable (test)');
        }
        await index(batch);
        landed = Number(batch.at(-1)!.offset) + 1;
      };
      subscriptions.push(
        await first.subscribe({ topic, group, handler: failing, maxBatch: CHUNK, prefetch: CHUNK }),
      );
      // Meanwhile, the committed offset is never ahead of what is in Elasticsearch.
      let ahead = 0;
      await until(async () => {
        const c = await committed();
        if (c > landed) ahead = Math.max(ahead, c - landed);
        return failures >= 3;
      }, 'the third chunk to fail three times');
      expect(ahead).toBe(0);
      expect(handled.slice(0, 3)).toEqual(['0', String(CHUNK), String(2 * CHUNK)]);
      // Retried in place: the queued fourth chunk is not handled before the third succeeds.
      expect(new Set(handled.slice(2))).toEqual(new Set([String(2 * CHUNK)]));
      await until(async () => (await committed()) === 2 * CHUNK, 'the first two chunks to be committed');
      expect(await inElasticsearch()).toBe(2 * CHUNK);

      // Stopped with the third chunk failing and the fourth queued: nothing more is committed.
      await subscriptions.shift()!.stop();
      expect(await committed()).toBe(2 * CHUNK);

      // The next consumer of the group starts from the committed offset: every event lands, once.
      const resumed: string[] = [];
      subscriptions.push(
        await second.subscribe({
          topic,
          group,
          maxBatch: CHUNK,
          prefetch: CHUNK,
          handler: async (batch) => {
            resumed.push(batch[0]!.offset);
            await index(batch);
          },
        }),
      );
      await until(async () => (await committed()) === N, 'the rest to be committed');
      expect(resumed[0]).toBe(String(2 * CHUNK));
      expect(await inElasticsearch()).toBe(N);
    } finally {
      await Promise.allSettled(subscriptions.map((s) => s.stop()));
      await Promise.allSettled([first.close(), second.close(), admin.close()]);
      await store.close();
    }
  });

  it('hands what queued up behind a slow handler to it together, in order, up to maxBatch', async () => {
    const topic = `prefetch-merge-${id}`;
    const config = kafkaConfigSchema.parse({ brokers: inject('kafkaBrokers').split(','), partitions: 1 });
    const bus = new KafkaBus(config, { log });
    let subscription: Subscription | undefined;
    try {
      await bus.ensureTopics([topic]);
      const batches: string[][] = [];
      let release!: () => void;
      const released = new Promise<void>((r) => {
        release = r;
      });
      subscription = await bus.subscribe({
        topic,
        group: `prefetch-merge-${id}`,
        maxBatch: 40,
        prefetch: 1000,
        handler: async (batch) => {
          batches.push(batch.map((m) => m.value));
          if (batches.length === 1) await released; // the first bulk is slow
        },
      });
      await bus.publish(topic, [{ key: 'k', value: 'first' }]);
      await until(() => batches.length === 1, 'the first batch');
      // Ten small publishes, each fetched on its own while the first batch is in the handler.
      const values = Array.from({ length: 50 }, (_, i) => `m${i}`);
      for (let i = 0; i < values.length; i += 5)
        await bus.publish(
          topic,
          values.slice(i, i + 5).map((value) => ({ key: 'k', value })),
        );
      await sleep(2_000);
      expect(batches).toHaveLength(1);
      release();
      await until(() => batches.flat().length === 51, 'all 51 messages');
      expect(batches.flat()).toEqual(['first', ...values]);
      // Merged, whole fetched chunks at a time, up to maxBatch (40): not one batch per publish.
      const sizes = batches.slice(1).map((b) => b.length);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(40);
      expect(sizes.length).toBeLessThanOrEqual(3);
    } finally {
      await subscription?.stop();
      await bus.close();
    }
  });
});
