// Time-driven rules in distributed mode on the real Kafka and Elasticsearch: telemetry-loss's silence
// (an absence rule keyed by source) reads the re-keyed topic, is checked by the detect role's clock, and
// publishes its hit to the hits topic; a source that speaks is not reported.
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Hit } from '../../src/alerting/types.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { KafkaBus } from '../../src/bus/kafka.ts';
import type { Subscription } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { rekeyedTopic } from '../../src/detect/engine.ts';
import { eventId, type PipewardenEvent, partitionKey } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { eventually, TEST_GROUP_PREFIX } from '../support/app.ts';

const run = `tdr${Date.now().toString(36)}`;
const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });

function push(source: string): PipewardenEvent {
  const at = new Date().toISOString();
  return {
    '@timestamp': at,
    event: {
      id: eventId(run, source, at),
      kind: 'event',
      category: ['web'],
      type: ['info'],
      action: 'push',
      outcome: 'unknown',
      dataset: `${source}.webhook`,
      provider: source,
      ingested: at,
    },
    user: { name: `${run}-dev` },
    pipewarden: { kind: 'code.push', source },
  };
}

const until = <T>(fn: () => T | undefined, what: string) => eventually(async () => fn(), 45_000, what);

describe('time-driven rules, distributed', () => {
  const config = parseConfig(
    {
      mode: 'distributed',
      kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX, partitions: 2 },
      elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
      topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
      log: { level: 'silent' },
      detectors: {
        // Checked every second; jenkins may be silent 6 s, github an hour (and it speaks).
        'telemetry-loss': { silence: { schedule: '* * * * * *', sources: { github: 60, jenkins: 0.1 } } },
      },
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

  it('reports the silent source from the re-keyed topic, not the one that speaks', async () => {
    await bus.ensureTopics([config.topics.events, config.topics.hits]);
    const hits: Hit[] = [];
    const rekeyed: string[] = [];
    subs.push(
      await bus.subscribe({
        topic: config.topics.hits,
        group: `${run}-hits`,
        handler: async (batch) => {
          for (const m of batch) hits.push(JSON.parse(m.value) as Hit);
        },
      }),
    );
    app = await startApp(config, { roles: ['detect'], port: 0, log });
    subs.push(
      await bus.subscribe({
        topic: rekeyedTopic(config.topics.events, 'pipewarden.source'),
        group: `${run}-rekeyed-spy`,
        handler: async (batch) => {
          for (const m of batch) rekeyed.push(m.key);
        },
      }),
    );
    const e = push('github');
    await bus.publish(config.topics.events, [{ key: partitionKey(e), value: JSON.stringify(e) }]);
    const hit = await until(() => hits.find((h) => h.context.rule === 'silence'), 'the silence hit');
    expect(hit).toMatchObject({ detector: 'telemetry-loss', key: 'jenkins', source: 'jenkins' });
    expect(hit.summary).toContain('nothing received since watching began');
    // The github event reached the source-keyed lane (a heartbeat), and github was never reported.
    await until(() => (rekeyed.includes('github') ? true : undefined), 'the re-keyed github event');
    expect(hits.some((h) => h.key === 'github')).toBe(false);
  });
});
