// Distributed mode on the real Kafka and Elasticsearch: failures of different users (so keyed to
// different partitions of the events topic) from one IP still make one password-spraying hit,
// because the detect role re-keys them by IP; and the IP's window survives a restart of the role.
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Hit } from '../../src/alerting/types.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { KafkaBus } from '../../src/bus/kafka.ts';
import type { Subscription } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { type PipewardenEvent, partitionKey } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { eventually, TEST_GROUP_PREFIX } from '../support/app.ts';

const run = `det${Date.now().toString(36)}`;
const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
const IP = '203.0.113.77';
const T0 = Date.now() - 60_000;

function failure(user: string, i: number): PipewardenEvent {
  const at = new Date(T0 + i * 1_000).toISOString();
  return {
    '@timestamp': at,
    event: {
      id: `${run}-${user}`,
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: 'login_failed',
      outcome: 'failure',
      dataset: 'jenkins.audit',
      provider: 'jenkins',
      ingested: at,
    },
    user: { name: user },
    source: { ip: IP },
    pipewarden: { kind: 'login.failure', source: 'jenkins' },
  };
}

const until = <T>(fn: () => T | undefined, what: string) => eventually(async () => fn(), 45_000, what);

describe('detect role, distributed: re-keying by source IP', () => {
  const config = parseConfig(
    {
      mode: 'distributed',
      kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX, partitions: 3 },
      elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
      topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
      log: { level: 'silent' },
    },
    {},
  );
  const bus = new KafkaBus(config.kafka!, { log });
  const subs: Subscription[] = [];
  let app: RunningApp | undefined;
  afterAll(async () => {
    await app?.stop();
    await Promise.allSettled(subs.map((s) => s.stop()));
    await bus.close();
  });

  it('fires password-spraying for 5 users on different partitions, across a restart of the detect role', async () => {
    const users = ['ann', 'ben', 'cid', 'dan', 'eve'];
    await bus.ensureTopics([config.topics.events, config.topics.hits]);
    const partitions = new Map<string, number>();
    const hits: Hit[] = [];
    subs.push(
      await bus.subscribe({
        topic: config.topics.events,
        group: `${run}-spy`,
        handler: async (batch) => {
          for (const m of batch) partitions.set(m.key, m.partition);
        },
      }),
      await bus.subscribe({
        topic: config.topics.hits,
        group: `${run}-hits`,
        handler: async (batch) => {
          for (const m of batch) hits.push(JSON.parse(m.value) as Hit);
        },
      }),
    );
    const publish = (events: PipewardenEvent[]) =>
      bus.publish(
        config.topics.events,
        events.map((e) => ({ key: partitionKey(e), value: JSON.stringify(e) })),
      );

    // First life of the detect role: three users.
    app = await startApp(config, { roles: ['detect'], port: 0, log });
    await publish(users.slice(0, 3).map(failure));
    const first = app;
    // Each event is evaluated twice: on the events lane, then re-keyed on the by-source-ip lane.
    await until(() => first.engine!.stats.events >= 6 || undefined, 'the first three failures on both lanes');
    expect(hits).toEqual([]);
    await app.stop();
    app = undefined;

    // Second life: a new engine with empty memory; the IP's state comes back from the snapshot.
    app = await startApp(config, { roles: ['detect'], port: 0, log });
    await publish(users.slice(3).map((u, i) => failure(u, i + 3)));
    const hit = await until(
      () => hits.find((h) => h.context.rule === 'password-spraying'),
      'the spraying hit',
    );
    expect(hit).toMatchObject({
      detector: 'failed-logins',
      key: IP,
      source_ip: IP,
      context: { count: 5, key_by: 'source.ip' },
    });
    expect(String(hit.context.users).split(', ').sort()).toEqual(users);
    // Every contributing event, from both lives of the role (the Elasticsearch state snapshot kept the ids).
    expect([...hit.event_ids].sort()).toEqual(users.map((u) => `${run}-${u}`).sort());
    // The point of re-keying: the five users' events were on more than one partition of the events topic.
    await until(() => partitions.size === 5 || undefined, 'the spy to see all five events');
    expect(new Set(partitions.values()).size).toBeGreaterThan(1);
  });
});
