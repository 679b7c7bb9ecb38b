import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { leakTest } from './leak.ts';

const run = `leak${Date.now().toString(36)}`;
const brokers = inject('kafkaBrokers').split(',');
const esUrl = inject('elasticsearchUrl');

leakTest({
  name: 'distributed',
  config: () => ({
    mode: 'distributed',
    kafka: { brokers },
    elasticsearch: { node: esUrl, indexPrefix: `pw-${run}` },
    topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
  }),
  dump: async () => {
    // Every message of every topic this run created (events, hits, build logs, re-keyed topics), read back.
    const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${run}.`));
    const expected = new Map<string, number>();
    for (const t of topics) {
      for (const p of await admin.fetchTopicOffsets(t)) expected.set(`${t}/${p.partition}`, Number(p.high));
    }
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: `${run}-dump` });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    const seen = new Map<string, number>();
    let bus = '';
    await new Promise<void>((resolve, reject) => {
      const done = () => [...expected].every(([k, high]) => (seen.get(k) ?? 0) >= high);
      const timer = setTimeout(() => reject(new Error('timed out reading the topics back')), 60_000);
      consumer
        .run({
          eachMessage: async ({ topic, partition, message }) => {
            bus += `${message.key?.toString() ?? ''} ${message.value?.toString() ?? ''}\n`;
            seen.set(`${topic}/${partition}`, Number(message.offset) + 1);
            if (done()) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
      if (done()) {
        clearTimeout(timer);
        resolve();
      }
    });
    await consumer.disconnect();
    // Every document of every index this run created, in full.
    const es = new Client({ node: esUrl });
    await es.indices.refresh({ index: `pw-${run}*`, expand_wildcards: 'all' });
    const res = await es.search({
      index: `pw-${run}*`,
      expand_wildcards: 'all',
      size: 10_000,
      query: { match_all: {} },
    });
    await es.close();
    return { bus, store: JSON.stringify(res.hits.hits) };
  },
});
