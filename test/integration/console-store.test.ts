// The console's store queries, the same in both stores (SQLite and real Elasticsearch): the inbox filtered,
// counted and paged by the store (over more alerts than the old in-memory window of the newest 2,000),
// sessions keyed by hash with expiry and revocation, and export in large batches with no count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AlertRecord, Severity } from '../../src/alerting/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { parseQuery } from '../../src/search/query.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { InboxQuery, Store } from '../../src/store/types.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
/** More than the 2,000 newest alerts the inbox used to filter in memory. */
const BULK = 2_300;
const SEVS: Severity[] = ['info', 'low', 'medium', 'high'];

function alert(id: string, minute: number, over: Partial<AlertRecord> = {}): AlertRecord {
  const at = new Date(T0 + minute * 60_000).toISOString();
  return {
    id,
    '@timestamp': at,
    detected_at: at,
    detector: 'bulk-detector',
    title: 'Bulk',
    severity: SEVS[minute % SEVS.length]!,
    summary: 's',
    description: 'd',
    runbook: 'r',
    key: 'k',
    event_ids: ['e'],
    source: 'github',
    actor: `bulk${minute % 7}`,
    repository: `bulk-org/repo${minute % 3}`,
    context: {},
    status: 'delivered',
    deliveries: {},
    ...over,
  };
}

/** The old alerts (minutes 0..9): the ones the filters look for, all older than the BULK newer ones. */
const OLD: AlertRecord[] = [
  alert('old-crit', 1, {
    severity: 'critical',
    detector: 'secrets-in-build-logs',
    source: 'Jenkins',
    actor: 'Mallory',
    repository: 'Evil-Org/payload',
  }),
  alert('old-ack', 2, {
    severity: 'high',
    detector: 'failed-logins',
    actor: 'alice',
    repository: 'evil-org/other',
    triage: { state: 'acknowledged', history: [] },
  }),
  alert('old-silenced', 3, {
    severity: 'high',
    detector: 'failed-logins',
    actor: 'alice',
    status: 'silenced',
    silence: 's1',
  }),
  alert('old-resolved', 4, {
    severity: 'medium',
    detector: 'failed-logins',
    actor: 'alice',
    repository: 'evil-orgx/near-miss',
    triage: { state: 'resolved', resolution: 'expected', history: [] },
  }),
];

function exportEvent(i: number): PipewardenEvent {
  return {
    '@timestamp': new Date(T0 + Math.floor(i / 2) * 1000).toISOString(), // pairs share a time: id breaks ties
    message: `export row ${i}`,
    event: {
      id: `x${String(i).padStart(6, '0')}`,
      kind: 'event',
      category: ['web'],
      type: ['info'],
      action: 'push',
      outcome: 'success',
      dataset: 'github.webhook',
      provider: 'github',
      ingested: new Date(T0).toISOString(),
    },
    user: { name: i % 3 === 0 ? 'Exporter' : 'someone-else' },
    pipewarden: { kind: 'code.push', source: 'github' },
  };
}
const EXPORTED = 12_500; // more than one batch in both stores

async function collect(it: AsyncIterable<string[]>): Promise<{ ids: string[]; batches: number }> {
  const ids: string[] = [];
  let batches = 0;
  for await (const docs of it) {
    batches++;
    for (const d of docs) ids.push((JSON.parse(d) as PipewardenEvent).event.id);
  }
  return { ids, batches };
}

function storeContract(name: string, open: () => Promise<Store>) {
  describe(`console store queries (${name})`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await open();
      const bulk = Array.from({ length: BULK }, (_, i) => alert(`bulk-${i}`, 100 + i));
      for (let i = 0; i < bulk.length; i += 100)
        await Promise.all(bulk.slice(i, i + 100).map((a) => store.putAlert(a)));
      for (const a of OLD) await store.putAlert(a);
      const events = Array.from({ length: EXPORTED }, (_, i) => exportEvent(i));
      for (let i = 0; i < events.length; i += 5000) await store.indexEvents(events.slice(i, i + 5000));
      await store.refresh();
    }, 180_000);

    afterAll(async () => {
      await store?.close();
    });

    const ids = async (q: InboxQuery) => (await store.inboxAlerts({ size: 50, ...q })).items.map((a) => a.id);

    it('finds alerts older than the newest 2,000 by every filter, ignoring case on keyword fields', async () => {
      expect(await ids({ detector: 'secrets-in-build-logs' })).toEqual(['old-crit']);
      expect(await ids({ minSeverity: 'critical' })).toEqual(['old-crit']);
      expect(await ids({ actor: 'MALLORY' })).toEqual(['old-crit']);
      expect(await ids({ source: 'jenkins' })).toEqual(['old-crit']);
      expect(await ids({ repository: 'evil-org/PAYLOAD' })).toEqual(['old-crit']);
      // an organisation: every repository under it, not one whose name merely starts the same
      expect(await ids({ repository: 'EVIL-ORG' })).toEqual(['old-ack', 'old-crit']);
      expect(await ids({ repository: 'evil-org/*' })).toEqual(['old-ack', 'old-crit']);
      expect(
        await ids({
          from: new Date(T0 + 2 * 60_000).toISOString(),
          to: new Date(T0 + 4 * 60_000).toISOString(),
        }),
      ).toEqual(['old-silenced', 'old-ack']);
    });

    it('filters by triage state (no triage is open; silenced is none of them) and counts per severity', async () => {
      expect(await ids({ actor: 'alice', status: 'acknowledged' })).toEqual(['old-ack']);
      expect(await ids({ actor: 'alice', status: 'resolved' })).toEqual(['old-resolved']);
      expect(await ids({ actor: 'alice', status: 'silenced' })).toEqual(['old-silenced']);
      expect(await ids({ actor: 'alice', status: 'open' })).toEqual([]);
      expect(await ids({ actor: 'mallory', status: 'open' })).toEqual(['old-crit']);
      const page = await store.inboxAlerts({ detector: 'failed-logins', minSeverity: 'medium', size: 1 });
      expect(page.counts).toEqual({ info: 0, low: 0, medium: 1, high: 2, critical: 0 });
      expect(page.total).toBe(3);
      const all = await store.inboxAlerts({ size: 1 });
      expect(all.total).toBe(BULK + OLD.length);
      expect(all.counts.critical).toBe(1);
      expect(all.counts.info).toBe(BULK / 4);
    });

    it('pages newest first by cursor through every match', async () => {
      const expected = Array.from({ length: BULK }, (_, i) => i)
        .filter((i) => (100 + i) % 7 === 3)
        .reverse()
        .map((i) => `bulk-${i}`);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.inboxAlerts({ actor: 'bulk3', size: 100, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((a) => a.id));
        expect(page.total).toBe(expected.length);
        cursor = page.next;
        pages++;
      } while (cursor);
      expect(seen).toEqual(expected);
      expect(pages).toBe(Math.ceil(expected.length / 100));
    });

    it('keeps sessions by id, deletes one, every one of a token, and the expired ones', async () => {
      const at = new Date().toISOString();
      const later = new Date(Date.now() + 3_600_000).toISOString();
      const past = new Date(Date.now() - 1000).toISOString();
      await store.putSession({ id: 'a'.repeat(64), tokenId: 't1', createdAt: at, expiresAt: later });
      await store.putSession({ id: 'b'.repeat(64), tokenId: 't1', createdAt: at, expiresAt: later });
      await store.putSession({ id: 'c'.repeat(64), tokenId: 't2', createdAt: at, expiresAt: later });
      await store.putSession({ id: 'd'.repeat(64), tokenId: 't2', createdAt: at, expiresAt: past });
      expect(await store.getSession('a'.repeat(64))).toEqual({
        id: 'a'.repeat(64),
        tokenId: 't1',
        createdAt: at,
        expiresAt: later,
      });
      expect(await store.touchSession('a'.repeat(64), past)).toBe(true);
      expect((await store.getSession('a'.repeat(64)))?.expiresAt).toBe(past);
      expect(await store.touchSession('a'.repeat(64), later)).toBe(true);
      expect(await store.deleteSessions({ id: 'c'.repeat(64) })).toBe(1);
      expect(await store.getSession('c'.repeat(64))).toBeUndefined();
      // a touch never brings back a session that was deleted (signed out on another replica)
      expect(await store.touchSession('c'.repeat(64), later)).toBe(false);
      expect(await store.getSession('c'.repeat(64))).toBeUndefined();
      expect(await store.deleteSessions({ expiredBefore: at })).toBe(1);
      expect(await store.getSession('d'.repeat(64))).toBeUndefined();
      expect(await store.deleteSessions({ tokenId: 't1' })).toBe(2);
      expect(await store.getSession('a'.repeat(64))).toBeUndefined();
      expect(await store.getSession('b'.repeat(64))).toBeUndefined();
    });

    it('exports every matching event newest first, in batches, as the stored documents', async () => {
      const { ids: all, batches } = await collect(store.exportEvents(parseQuery('"export row"')));
      expect(all).toHaveLength(EXPORTED);
      expect(batches).toBeGreaterThan(1);
      // (time desc, id desc): the order of the search table
      const expected = Array.from({ length: EXPORTED }, (_, i) => `x${String(i).padStart(6, '0')}`).reverse();
      expect(all).toEqual(expected);
      const some = await collect(store.exportEvents(parseQuery('actor:exporter')));
      expect(some.ids).toHaveLength(Math.ceil(EXPORTED / 3));
      const none = await collect(store.exportEvents(parseQuery('actor:nobody-at-all')));
      expect(none).toEqual({ ids: [], batches: 0 });
      const [first] = (await store.exportEvents(parseQuery('id:x000003'))[Symbol.asyncIterator]().next())
        .value as string[];
      expect(JSON.parse(first!)).toEqual(exportEvent(3));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'pw-console-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
storeContract('sqlite', async () => {
  const s = new SqliteStore({ path: join(dir, 'store.sqlite') });
  await s.init();
  return s;
});

const prefix = `pw-cstore-${Date.now().toString(36)}`;
afterAll(async () => {
  const es = new Client({ node: inject('elasticsearchUrl') });
  await es.indices.deleteDataStream({ name: `${prefix}-events` }).catch(() => {});
  await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true }).catch(() => {});
  await es.close();
});
storeContract('elasticsearch', async () => {
  const s = new ElasticsearchStore(
    elasticsearchConfigSchema.parse({ node: inject('elasticsearchUrl'), indexPrefix: prefix }),
  );
  await s.init();
  return s;
});
