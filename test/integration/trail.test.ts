// Tamper evidence on the real stores: a trail built by the index role's chaining, then changed behind
// pipewarden's back the way a store administrator could; `trail verify` names each change precisely.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { describe, expect, inject, it } from 'vitest';
import type { Hit } from '../../src/alerting/types.ts';
import { KafkaBus } from '../../src/bus/kafka.ts';
import type { Bus } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/types.ts';
import { readAnchor } from '../../src/trail/anchors/read.ts';
import { startTrail } from '../../src/trail/service.ts';
import type { Checkpoint } from '../../src/trail/types.ts';
import { type VerifyReport, verifyTrail } from '../../src/trail/verify.ts';
import { eventually, TEST_GROUP_PREFIX } from '../support/app.ts';
import {
  BASE,
  buildTrail,
  elasticsearchTamper,
  forge,
  indexer,
  message,
  newKey,
  sqliteTamper,
  type Tamper,
  trailEvent,
} from '../support/trail.ts';

const esUrl = inject('elasticsearchUrl');
const key = newKey();

interface Fixture {
  store: Store;
  tamper: Tamper;
  anchor: string;
}

const kinds = {
  sqlite: async (): Promise<Fixture> => {
    const dir = mkdtempSync(join(tmpdir(), 'pipewarden-trail-'));
    const path = join(dir, 'store.sqlite');
    const store = new SqliteStore({ path });
    await store.init();
    return { store, tamper: sqliteTamper(path), anchor: join(dir, 'anchor.jsonl') };
  },
  elasticsearch: async (): Promise<Fixture> => {
    const prefix = `pw-trail-${Math.random().toString(36).slice(2, 10)}`;
    const store = new ElasticsearchStore(
      elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: prefix }),
    );
    await store.init();
    const dir = mkdtempSync(join(tmpdir(), 'pipewarden-trail-'));
    return {
      store,
      tamper: elasticsearchTamper(new Client({ node: esUrl }), prefix),
      anchor: join(dir, 'anchor.jsonl'),
    };
  },
};

const now = new Date(BASE + 7_200_000);
const verify = async (f: Fixture, withAnchor = false): Promise<VerifyReport> =>
  verifyTrail({ store: f.store, key, now, ...(withAnchor ? { anchor: await readAnchor(f.anchor) } : {}) });
const brief = (r: VerifyReport) =>
  r.findings.map((f) => ({
    kind: f.kind,
    partition: f.partition,
    ...(f.eventId ? { eventId: f.eventId } : {}),
    ...(f.offset !== undefined ? { offset: f.offset } : {}),
    ...(f.checkpoint !== undefined ? { checkpoint: f.checkpoint } : {}),
  }));

for (const [kind, make] of Object.entries(kinds)) {
  describe(`trail tamper evidence (${kind})`, () => {
    it('a clean trail verifies: 3 + 1 signed checkpoints, anchored', async () => {
      const f = await make();
      await buildTrail(f.store, key, f.anchor);
      const r = await verify(f, true);
      expect(r.findings).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.events).toBe(40);
      expect(r.checkpoints).toBe(4);
      expect(r.lastVerified).toEqual({ 0: 3, 1: 1 });
      const lines = readFileSync(f.anchor, 'utf8').trim().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as Checkpoint).n)).toEqual([1, 2, 3, 1]);
      await f.store.close();
    });

    it('stays clean after redelivery, a restart mid-stream and a duplicate delivery', async () => {
      const f = await make();
      const events = Array.from({ length: 30 }, (_, i) => trailEvent(i));
      const batch = (from: number, to: number) =>
        events.slice(from, to).map((e, k) => message(0, 100 + from + k, e));
      const a = indexer(f.store, key);
      await a.index(batch(0, 10));
      await a.index(batch(5, 15)); // redelivered after a failed commit
      // The consumer dies (kill -9): a new process, nothing in memory, gets 10.. again.
      const b = indexer(f.store, key);
      await b.index(batch(10, 20));
      // The sender retried a webhook: the same event again at a new offset is one document. SQLite, which
      // appends a batch all-or-nothing, does not chain it; Elasticsearch chains every delivery without
      // looking up first and keeps this one, refused as existing, as a duplicate delivery with its link.
      await b.index([...batch(20, 30), message(0, 130, trailEvent(3))]);
      // And once more after a restart: chained again from the store, to the same links.
      const c = indexer(f.store, key);
      await c.index([...batch(25, 30), message(0, 130, trailEvent(3))]);
      await f.store.refresh();
      const r = await verify(f);
      expect(r.findings).toEqual([]);
      expect(r.events).toBe(kind === 'elasticsearch' ? 31 : 30);
      expect(r.checkpoints).toBe(3);
      expect((await f.store.searchEvents({ size: 100 })).total).toBe(30);
      await f.store.close();
    });

    it('a restart mid-segment signs the segment from its first event, read back from the store', async () => {
      const f = await make();
      const events = Array.from({ length: 15 }, (_, i) => trailEvent(i));
      await indexer(f.store, key).index(events.slice(0, 5).map((e, k) => message(0, 100 + k, e)));
      await indexer(f.store, key).index(events.slice(5).map((e, k) => message(0, 105 + k, e)));
      const [cp] = await f.store.trailCheckpoints(0);
      expect([cp!.n, cp!.fromSeq, cp!.toSeq, cp!.fromOffset, cp!.toOffset]).toEqual([1, 1, 15, 100, 114]);
      expect(cp!.fromTime).toBe(events[0]!.event.ingested);
      expect((await verify(f)).findings).toEqual([]);
      await f.store.close();
    });

    it('names an edited event by id and offset', async () => {
      const f = await make();
      const p0 = await buildTrail(f.store, key);
      await f.tamper.edit(p0[4]!.event.id, (d) => {
        d.user = { name: 'mallory' };
      });
      expect(brief(await verify(f))).toEqual([
        { kind: 'modified', partition: 0, eventId: p0[4]!.event.id, offset: 104 },
      ]);
      await f.store.close();
    });

    it('names an edit whose link was recomputed by the event before the broken link', async () => {
      const f = await make();
      const p0 = await buildTrail(f.store, key);
      const { linkHash } = await import('../../src/trail/chain.ts');
      await f.tamper.edit(p0[7]!.event.id, (d) => {
        d.message = 'nothing happened';
        const l = d.pipewarden.trail!;
        l.hash = linkHash(l.prev, l.seq, d, l.v ?? 1);
      });
      expect(brief(await verify(f))).toEqual([
        { kind: 'modified', partition: 0, eventId: p0[7]!.event.id, offset: 107 },
      ]);
      await f.store.close();
    });

    it('names a deleted event by its position and neighbours', async () => {
      const f = await make();
      const p0 = await buildTrail(f.store, key);
      await f.tamper.remove(p0[11]!.event.id);
      const r = await verify(f);
      expect(r.findings).toHaveLength(1);
      expect(r.findings[0]).toMatchObject({ kind: 'deleted', partition: 0, seq: 12, offset: 110 });
      expect(r.findings[0]!.detail).toContain(
        `between event ${p0[10]!.event.id} at offset 110 and event ${p0[12]!.event.id} at offset 112`,
      );
      await f.store.close();
    });

    it('names events deleted at the end of a signed chain', async () => {
      const f = await make();
      const p0 = await buildTrail(f.store, key);
      await f.tamper.remove(p0[29]!.event.id);
      await f.tamper.remove(p0[28]!.event.id);
      const r = await verify(f);
      expect(r.findings).toHaveLength(1);
      expect(r.findings[0]).toMatchObject({ kind: 'deleted', partition: 0, seq: 29, checkpoint: 3 });
      await f.store.close();
    });

    it('names an inserted event', async () => {
      const f = await make();
      await buildTrail(f.store, key);
      const forged = trailEvent(500);
      await f.store.indexEvents([forged]);
      await f.store.refresh();
      expect(brief(await verify(f))).toEqual([{ kind: 'inserted', partition: -1, eventId: forged.event.id }]);
      await f.store.close();
    });

    it('names an inserted event that copies a neighbour’s link', async () => {
      const f = await make();
      const p0 = await buildTrail(f.store, key);
      const original = await f.tamper.get(p0[15]!.event.id);
      const forged = trailEvent(600);
      const { linkHash } = await import('../../src/trail/chain.ts');
      const l = original.pipewarden.trail!;
      forged.pipewarden.trail = { ...l, offset: l.offset, hash: linkHash(l.prev, l.seq, forged, l.v ?? 1) };
      await f.store.indexEvents([forged]);
      await f.store.refresh();
      expect(brief(await verify(f))).toEqual([
        { kind: 'inserted', partition: 0, eventId: forged.event.id, offset: 115 },
      ]);
      await f.store.close();
    });

    it('names two swapped events', async () => {
      const f = await make();
      const p0 = await buildTrail(f.store, key);
      await f.tamper.edit(p0[15]!.event.id, (d) => {
        d.pipewarden.trail!.offset = 116;
      });
      await f.tamper.edit(p0[16]!.event.id, (d) => {
        d.pipewarden.trail!.offset = 115;
      });
      expect(brief(await verify(f))).toEqual([
        { kind: 'reordered', partition: 0, eventId: p0[15]!.event.id, offset: 116 },
      ]);
      await f.store.close();
    });

    it('names a deleted checkpoint, with and without the anchor', async () => {
      const f = await make();
      await buildTrail(f.store, key, f.anchor);
      await f.tamper.removeCheckpoint(0, 2);
      expect(brief(await verify(f))).toEqual([{ kind: 'checkpoint-missing', partition: 0, checkpoint: 2 }]);
      expect(brief(await verify(f, true))).toEqual([
        { kind: 'checkpoint-missing', partition: 0, checkpoint: 2 },
      ]);
      // The newest one deleted: only the anchor can tell.
      await f.tamper.removeCheckpoint(0, 3);
      expect(brief(await verify(f, true))).toEqual([
        { kind: 'checkpoint-missing', partition: 0, checkpoint: 2 },
        { kind: 'checkpoint-missing', partition: 0, checkpoint: 3 },
      ]);
      await f.store.close();
    });

    it('names a checkpoint the anchor never received', async () => {
      const f = await make();
      await buildTrail(f.store, key, f.anchor);
      const lines = readFileSync(f.anchor, 'utf8').trim().split('\n');
      writeFileSync(f.anchor, `${lines.filter((_, i) => i !== 2).join('\n')}\n`); // p0 #3
      expect(brief(await verify(f, true))).toEqual([{ kind: 'unanchored', partition: 0, checkpoint: 3 }]);
      await f.store.close();
    });

    it('names a checkpoint forged with another key', async () => {
      const f = await make();
      await buildTrail(f.store, key, f.anchor);
      const [, second] = await f.store.trailCheckpoints(0);
      await f.tamper.replaceCheckpoint(forge(second!));
      expect(brief(await verify(f))).toEqual([{ kind: 'checkpoint-forged', partition: 0, checkpoint: 2 }]);
      expect(brief(await verify(f, true))).toEqual([
        { kind: 'checkpoint-forged', partition: 0, checkpoint: 2 },
      ]);
      await f.store.close();
    });

    it('verifies a range and the newest checkpoints only', async () => {
      const f = await make();
      const p0 = await buildTrail(f.store, key);
      await f.tamper.remove(p0[2]!.event.id); // in segment 1
      const recent = await verifyTrail({ store: f.store, key, now, recent: 2 });
      expect(recent.ok).toBe(true);
      expect(recent.notes).toContain('partition 0: starting at checkpoint 2 (seq 11)');
      const from = await verifyTrail({
        store: f.store,
        key,
        now,
        from: new Date(BASE + 12_000).toISOString(),
      });
      expect(from.ok).toBe(true);
      const all = await verify(f);
      expect(brief(all)).toEqual([{ kind: 'deleted', partition: 0, offset: 101 }]);
      await f.store.close();
    });
  });
}

describe('scheduled trail check (distributed: Kafka and Elasticsearch)', () => {
  it('publishes a critical "audit trail tampered" hit on the hits topic when the store was changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pipewarden-trail-sched-'));
    const keyFile = join(dir, 'trail.pem');
    writeFileSync(keyFile, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const prefix = `pw-trail-${Math.random().toString(36).slice(2, 10)}`;
    const hits = `${prefix}.hits`;
    const config = parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX, partitions: 1 },
        elasticsearch: { node: esUrl, indexPrefix: prefix },
        topics: { events: `${prefix}.events`, hits, buildLogs: `${prefix}.logs` },
        log: { level: 'silent' },
        trail: { enabled: true, keyFile, verify: { enabled: false } },
      },
      {},
    );
    const log = createLogger({ level: 'silent' });
    const bus = new KafkaBus(config.kafka!, { log });
    await bus.ensureTopics([hits]);
    const store = new ElasticsearchStore(config.elasticsearch!);
    await store.init();
    const p0 = await buildTrail(store, key);
    const trail = await startTrail({ config, store, bus, log, now: () => now });
    const received: Hit[] = [];
    const sub = await bus.subscribe({
      topic: hits,
      group: `${prefix}-reader`,
      handler: async (batch) => {
        for (const m of batch) received.push(JSON.parse(m.value) as Hit);
      },
    });
    try {
      const clean = await trail.verifyNow();
      expect(clean?.ok).toBe(true);
      await elasticsearchTamper(new Client({ node: esUrl }), prefix).remove(p0[20]!.event.id);
      const report = await trail.verifyNow();
      expect(brief(report!)).toEqual([{ kind: 'deleted', partition: 0, offset: 119 }]);
      const hit = await eventually(async () => received[0], 30_000, 'the tamper hit');
      expect(hit).toMatchObject({
        detector: 'audit-trail-tampered',
        severity: 'critical',
        title: 'audit trail tampered',
      });
      expect(hit.summary).toContain('deleted (seq 21..21)');
      expect(received).toHaveLength(1); // the clean run raised nothing
      const state = JSON.parse((await store.getState('trail:verified'))!) as {
        ok: boolean;
        seen: Record<number, number>;
      };
      expect(state).toMatchObject({ ok: false, seen: { 0: 3, 1: 1 } });
    } finally {
      await sub.stop();
      await trail.stop();
      await bus.close();
      await store.close();
    }
  });

  it('refuses to start in distributed mode without a signing key', async () => {
    const config = parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: ['127.0.0.1:1'] },
        elasticsearch: { node: esUrl },
        trail: { enabled: true },
      },
      {},
    );
    const log = createLogger({ level: 'silent' });
    await expect(
      startTrail({ config, store: {} as Store, bus: { kind: 'kafka' } as Bus, log, now: () => now }),
    ).rejects.toThrow(/trail\.keyFile: the trail is enabled in distributed mode but no signing key is set/);
  });
});
