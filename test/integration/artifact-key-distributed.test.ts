// Distributed mode on the real Kafka and Elasticsearch (issue 11): two pushes of one registry tag by two
// different actors (so keyed by actor on the events topic, possibly on different partitions) still meet in
// one key state, because the detect role re-keys them by `pipewarden.artifact_ref`; and the tag's digest
// history survives a restart of the role (the Elasticsearch state snapshot).
import { afterAll, describe, expect, inject, it } from 'vitest';
import { bodyEvents, fixtureBody } from '../../detectors/fixtures.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { KafkaBus } from '../../src/bus/kafka.ts';
import type { Subscription } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { rekeyedTopic } from '../../src/detect/engine.ts';
import { type PipewardenEvent, partitionKey } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { eventually, TEST_GROUP_PREFIX } from '../support/app.ts';

const run = `art${Date.now().toString(36)}`;
const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
const T0 = Date.now() - 120_000;

/** The documented Docker Distribution notification, as a push of `<run>/api:v1.0.0` with `digest`. */
function push(actor: string, digest: string, i: number): PipewardenEvent {
  const b = structuredClone(fixtureBody('docker-distribution', 'manifest-pull.json')) as Record<string, any>;
  const e = b.events[0];
  e.id = `${run}-${i}`;
  e.action = 'push';
  e.timestamp = new Date(T0 + i * 1_000).toISOString();
  e.actor = { name: actor };
  e.target.repository = `${run}/api`;
  e.target.tag = 'v1.0.0';
  e.target.digest = digest;
  const [event] = bodyEvents('docker-distribution', b);
  if (!event) throw new Error('no event');
  return event;
}

const until = <T>(fn: () => T | undefined, what: string) => eventually(async () => fn(), 45_000, what);

describe('detect role, distributed: re-keying by artefact ref', () => {
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

  it('fires tag-moved for two pushes of one tag by two actors, across a restart of the detect role', async () => {
    await bus.ensureTopics([config.topics.events, config.topics.hits]);
    const hits: Hit[] = [];
    subs.push(
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
    const first = push('ci-builder', `sha256:${'a'.repeat(64)}`, 0);
    const second = push('mallory', `sha256:${'b'.repeat(64)}`, 30);

    // First life: the first push; its digest is remembered under the tag on the re-keyed lane.
    app = await startApp(config, { roles: ['detect'], port: 0, log });
    await publish([first]);
    const one = app;
    await until(() => one.engine!.stats.events >= 2 || undefined, 'the push on both lanes');
    // (Other detectors may report the push itself, e.g. a release out of hours: only this one matters.)
    expect(hits.filter((h) => h.detector === 'artifact-integrity')).toEqual([]);
    await app.stop();
    app = undefined;

    // Second life: empty memory; the tag's state comes back from the snapshot.
    app = await startApp(config, { roles: ['detect'], port: 0, log });
    await publish([second]);
    const hit = await until(() => hits.find((h) => h.context.rule === 'tag-moved'), 'the tag-moved hit');
    expect(hit).toMatchObject({
      detector: 'artifact-integrity',
      key: `${run}/api:v1.0.0`,
      context: { key_by: 'pipewarden.artifact_ref', count: 2 },
    });
    expect([...hit.event_ids].sort()).toEqual([first.event.id, second.event.id].sort());
    expect(hit.summary).toContain('mallory pushed tag');
    expect(rekeyedTopic(config.topics.events, 'pipewarden.artifact_ref')).toBe(
      `${run}.events.by-pipewarden-artifact-ref`,
    );
  });
});
