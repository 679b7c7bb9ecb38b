// The redelivery sweep against a real SQLite store and bus: what it requeues, and what it leaves alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedAlertSweeper, redeliverConfigSchema } from '../../src/alerting/redeliver.ts';
import type { AlertRecord, Delivery } from '../../src/alerting/types.ts';
import { SqliteBus } from '../../src/bus/sqlite.ts';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const NOW = new Date('2024-06-02T12:00:00Z');
const log = createLogger({ level: 'silent' });
let store: SqliteStore;
let bus: SqliteBus;

function alert(
  id: string,
  hoursAgo: number,
  slack: Delivery,
  status: AlertRecord['status'] = 'partial',
): AlertRecord {
  const at = new Date(NOW.getTime() - hoursAgo * 3_600_000).toISOString();
  return {
    id,
    '@timestamp': at,
    detected_at: at,
    detector: 'failed-logins',
    title: 't',
    severity: 'high',
    summary: 's',
    description: 'd',
    runbook: 'r',
    key: `key-${id}`,
    event_ids: ['e'],
    source: 'github',
    context: {},
    status,
    deliveries: { slack, email: { status: 'sent', attempts: 1, at } },
  };
}
const failed = (attempts: number, retryable: boolean): Delivery => ({
  status: 'failed',
  attempts,
  at: NOW.toISOString(),
  error: 'x',
  retryable,
});

beforeAll(async () => {
  store = new SqliteStore({ path: ':memory:' });
  await store.init();
  bus = new SqliteBus({ path: ':memory:', log });
  await bus.ensureTopics(['hits']);
  await store.putAlert(alert('due', 1, failed(3, true)));
  await store.putAlert(alert('refused', 1, failed(1, false)));
  await store.putAlert(alert('too-old', 30, failed(1, true)));
  await store.putAlert(alert('exhausted', 1, failed(10, true)));
  await store.putAlert(alert('all-failed', 2, failed(2, true), 'failed'));
  await store.putAlert({
    ...alert('delivered', 1, { status: 'sent', attempts: 1, at: NOW.toISOString() }),
    status: 'delivered',
  });
});
afterAll(async () => {
  await bus.close();
  await store.close();
});

describe('failed-alert redelivery', () => {
  it('requeues, keyed as before and without delivery state, only recent retryable failures with attempts left', async () => {
    const config = redeliverConfigSchema.parse({});
    const sweeper = new FailedAlertSweeper({ store, bus, topic: 'hits', config, log, now: () => NOW });
    expect(await sweeper.sweep()).toBe(2);
    const got: ConsumedMessage[] = [];
    const sub = await bus.subscribe({
      topic: 'hits',
      group: 'check',
      handler: async (b) => void got.push(...b),
    });
    await new Promise((r) => setTimeout(r, 300));
    await sub.stop();
    expect(got.map((m) => JSON.parse(m.value).id).sort()).toEqual(['all-failed', 'due']);
    expect(got.map((m) => m.key).sort()).toEqual(['key-all-failed', 'key-due']);
    for (const m of got) {
      const hit = JSON.parse(m.value);
      expect(hit.deliveries).toBeUndefined();
      expect(hit.status).toBeUndefined();
    }
  });

  it('asks, through the hits topic, for one digest per sink that holds alerts', async () => {
    const held: Delivery = { status: 'held', attempts: 0, at: NOW.toISOString(), reason: 'budget' };
    await store.putAlert({
      ...alert('held-1', 1, held, 'held'),
      deliveries: { slack: held, email: held },
    });
    await store.putAlert(alert('held-2', 2, held, 'held'));
    await store.putAlert({ ...alert('held-old', 30, held, 'held'), deliveries: { pager: held } });
    await bus.ensureTopics(['hits-digest']);
    const config = redeliverConfigSchema.parse({});
    const sweeper = new FailedAlertSweeper({
      store,
      bus,
      topic: 'hits-digest',
      config,
      log,
      now: () => NOW,
      sinks: ['slack', 'email', 'pager'],
    });
    await sweeper.sweep();
    const got: ConsumedMessage[] = [];
    const sub = await bus.subscribe({
      topic: 'hits-digest',
      group: 'check',
      handler: async (b) => void got.push(...b),
    });
    await new Promise((r) => setTimeout(r, 300));
    await sub.stop();
    const digests = got.filter((m) => m.key.startsWith('digest:'));
    // pager's only held alert is older than maxAgeHours: no digest asked for it
    expect(digests.map((m) => [m.key, JSON.parse(m.value)])).toEqual([
      ['digest:email', { digest: 'email' }],
      ['digest:slack', { digest: 'slack' }],
    ]);
  });

  it('with redelivery off, still asks for digests but requeues nothing', async () => {
    await bus.ensureTopics(['hits-off']);
    const config = redeliverConfigSchema.parse({ enabled: false });
    const sweeper = new FailedAlertSweeper({ store, bus, topic: 'hits-off', config, log, now: () => NOW });
    expect(await sweeper.sweep()).toBe(0);
    const got: ConsumedMessage[] = [];
    const sub = await bus.subscribe({
      topic: 'hits-off',
      group: 'check',
      handler: async (b) => void got.push(...b),
    });
    await new Promise((r) => setTimeout(r, 300));
    await sub.stop();
    expect(got.map((m) => m.key).sort()).toEqual(['digest:email', 'digest:slack']);
  });
});
