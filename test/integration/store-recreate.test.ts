// After Elasticsearch came back empty, the store sets itself up again (issue 10, item 6): the index role
// looped on index_not_found_exception while /readyz said ready. On the real node: a store whose indices
// are gone writes events into a real data stream (not an auto-created plain index with guessed mappings)
// and alerts into an index with the alert mappings; under a running collector, deleting the alert, token
// and state indices makes /readyz set them up again. (This node cannot delete a data stream — its
// data-stream module is not published — so the vanished events stream is the store-level case.)
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { AlertRecord } from '../../src/alerting/types.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { TEST_GROUP_PREFIX } from '../support/app.ts';

const run = `rcr${Date.now().toString(36)}`;
const es = new Client({ node: inject('elasticsearchUrl') });

function event(i: number): PipewardenEvent {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  return {
    '@timestamp': at,
    message: `push ${i}`,
    event: {
      id: eventId('github', 'push', at, String(i)),
      kind: 'event',
      category: ['configuration'],
      type: ['change'],
      action: 'push',
      outcome: 'success',
      dataset: 'github.audit',
      provider: 'github',
      ingested: at,
    },
    user: { name: 'alice' },
    pipewarden: { kind: 'code.push', source: 'github', delivery_id: `d-${i}` },
  } as PipewardenEvent;
}

function alert(id: string): AlertRecord {
  return {
    id,
    '@timestamp': '2026-01-01T00:00:00.000Z',
    detected_at: '2026-01-01T00:00:01.000Z',
    detector: 'failed-logins',
    title: 't',
    severity: 'high',
    summary: 's',
    description: 'd',
    runbook: 'r',
    key: 'alice',
    event_ids: [],
    source: 'github',
    context: {},
    status: 'delivered',
    deliveries: { slack: { status: 'sent', attempts: 1, at: '2026-01-01T00:00:02.000Z' } },
  };
}

/** The mapping type of `deliveries` in the index behind `index`. */
async function deliveriesType(index: string): Promise<string | undefined> {
  const m = await es.indices.getMapping({ index });
  const props = Object.values(m)[0]?.mappings.properties as Record<string, { type?: string }> | undefined;
  return props?.deliveries?.type;
}

afterAll(async () => {
  await es.indices.delete({ index: `pw-${run}-*`, ignore_unavailable: true }).catch(() => {});
  await es.close();
});

describe('store set up again after Elasticsearch came back empty', () => {
  it('writes events into a data stream and alerts into mapped indices when nothing exists', async () => {
    const prefix = `pw-${run}-a`;
    // Never initialised on this node: what a running store sees after the node lost its data.
    const store = new ElasticsearchStore(
      elasticsearchConfigSchema.parse({ node: inject('elasticsearchUrl'), indexPrefix: prefix }),
    );
    try {
      const events = [event(1), event(2), event(3)];
      await store.indexEvents(events, { mayBeRedelivered: true });
      await store.indexEvents(events); // a redelivery: still three
      const got = await es.indices.get({ index: `${prefix}-events` });
      // A data stream's name resolves to its hidden backing index, `.ds-<name>-…`.
      expect(Object.keys(got)).toEqual([expect.stringMatching(new RegExp(`^\\.ds-${prefix}-events-`))]);
      await es.indices.refresh({ index: `${prefix}-events` });
      expect((await es.count({ index: `${prefix}-events` })).count).toBe(3);
      await store.putAlert(alert('a1'));
      expect(await deliveriesType(`${prefix}-alerts`)).toBe('flattened');
      expect((await store.getAlert('a1'))?.deliveries.slack?.status).toBe('sent');
    } finally {
      await store.close();
    }
  });

  it('under a running collector: deleted indices come back, with their mappings, and /readyz is ready', async () => {
    const prefix = `pw-${run}-b`;
    const config = parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX },
        elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: prefix },
        topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
        log: { level: 'silent' },
      },
      {},
    );
    const app: RunningApp = await startApp(config, {
      port: 0,
      roles: ['alert'],
      log: createLogger({ level: 'silent' }),
    });
    try {
      await app.store.putAlert(alert('b1'));
      await es.indices.delete({ index: [`${prefix}-alerts`, `${prefix}-tokens`, `${prefix}-state`] });
      // The first /readyz sets them up again; on a loaded node that can outlast one ping's 3 s, so ask
      // again until ready (bounded).
      let res = await app.server.inject({ method: 'GET', url: '/readyz' });
      for (let i = 0; i < 20 && res.statusCode !== 200; i++) {
        await new Promise((r) => setTimeout(r, 500));
        res = await app.server.inject({ method: 'GET', url: '/readyz' });
      }
      expect(res.statusCode, res.body).toBe(200);
      expect(
        await es.indices.exists({ index: [`${prefix}-alerts`, `${prefix}-tokens`, `${prefix}-state`] }),
      ).toBe(true);
      expect(await deliveriesType(`${prefix}-alerts`)).toBe('flattened');
      // And a write that finds its index gone sets it up rather than auto-creating it unmapped.
      await es.indices.delete({ index: `${prefix}-alerts` });
      await app.store.putAlert(alert('b2'));
      expect(await deliveriesType(`${prefix}-alerts`)).toBe('flattened');
      expect((await app.store.getAlert('b2'))?.status).toBe('delivered');
    } finally {
      await app.stop();
    }
  });
});
