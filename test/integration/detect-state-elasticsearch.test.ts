// The detect state snapshots on the real Elasticsearch: a brute force split by a restart still names
// all ten failures (the contributing ids travel in the snapshot), and an absence rule finds the keys
// it saw before a restart (`entriesOf`).
import { afterAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { detectBatch } from '../../src/detect/runner.ts';
import { ElasticsearchStateStore } from '../../src/detect/state-store.ts';
import type { Detector, Rule } from '../../src/detect/types.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { createElasticsearchClient } from '../../src/store/elasticsearch.ts';
import { TEST_GROUP_PREFIX } from '../support/app.ts';

const run = `dst${Date.now().toString(36)}`;
const log = createLogger({ level: 'silent' });
const T0 = Date.parse('2024-06-01T10:00:00Z');
const es = parseConfig(
  {
    mode: 'distributed',
    kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX },
    elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: `pw-${run}` },
    log: { level: 'silent' },
  },
  {},
).elasticsearch!;
type C = { enabled: boolean };

function failure(i: number, user = 'mallory'): PipewardenEvent {
  const at = new Date(T0 + i * 1_000).toISOString();
  return {
    '@timestamp': at,
    event: {
      id: eventId(run, user, i),
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
    pipewarden: { kind: 'login.failure', source: 'jenkins', repository: `acme/${user}` },
  };
}

const rules: Rule<C>[] = [
  {
    id: 'brute',
    type: 'threshold',
    keyBy: 'user.name',
    threshold: 10,
    windowMs: 600_000,
    describe: (x) => ({ summary: `${x.count} failures for ${x.key}` }),
  },
  {
    id: 'quiet-repo',
    type: 'absence',
    keyBy: 'pipewarden.repository',
    schedule: '* * * * *',
    windowMs: 600_000,
    describe: (a) => ({ summary: `${a.key} quiet` }),
  },
];
const detector: Detector = {
  id: 'es-state-test',
  title: 'es-state-test',
  severity: 'medium',
  description: 'test',
  runbook: 'detectors/es-state-test/README.md#runbook',
  configSchema: z.strictObject({ enabled: z.boolean().default(true) }),
  appliesTo: () => true,
  rules: () => rules,
};
const engine = () => new DetectionEngine([{ detector, config: { enabled: true } }], { trackChanges: true });
const msg = (e: PipewardenEvent, offset: number): ConsumedMessage => ({
  topic: `${run}.events`,
  partition: 0,
  offset: String(offset),
  key: e.user?.name ?? '',
  value: JSON.stringify(e),
  headers: {},
  timestamp: 0,
});

describe('detect state on Elasticsearch', () => {
  afterAll(async () => {
    const client = createElasticsearchClient(es);
    await client.indices.delete({ index: `${es.indexPrefix}-detect-state` }, { ignore: [404] });
    await client.close();
  });

  it('keeps the contributing event ids through a restart, and lists a rule’s keys', async () => {
    const events = Array.from({ length: 10 }, (_, i) => failure(i));
    // First life: six failures, snapshot written as the detect role does before a commit.
    let state = new ElasticsearchStateStore(es);
    await state.init();
    let e = engine();
    const step = { engine: e, lane: 'all' as const, state, now: () => new Date(T0), log };
    expect((await detectBatch(step, events.slice(0, 6).map(msg))).hits).toEqual([]);
    await state.save(e.drainChanges());
    await state.close();

    // Second life: empty memory, the key's state (times and ids) comes back from Elasticsearch.
    state = new ElasticsearchStateStore(es);
    await state.init(); // the index exists: its mapping is only extended
    e = engine();
    const out = await detectBatch(
      { ...step, engine: e, state },
      events.slice(6).map((x, i) => msg(x, 6 + i)),
    );
    await state.save(e.drainChanges());
    expect(out.hits).toHaveLength(1);
    expect(out.hits[0]!.event_ids).toEqual(events.map((x) => x.event.id));
    expect(out.hits[0]!.context.count).toBe(10);

    // The absence rule's key, seen in the first life, is listed for the next check (search: refresh).
    const client = createElasticsearchClient(es);
    await client.indices.refresh({ index: `${es.indexPrefix}-detect-state` });
    await client.close();
    const listed = await state.entriesOf('es-state-test', 'quiet-repo');
    expect(listed.map((x) => x.key)).toEqual(['acme/mallory']);
    expect(listed[0]!.state.e).toBe(events[9]!.event.id); // the newest event seen
    await state.close();
  });
});
