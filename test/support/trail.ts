// Builds a real chained trail in a store through the index role's TrailIndexer, and tampers with it the
// way someone with direct access to the store would (raw SQL on the SQLite file, raw requests to
// Elasticsearch, bypassing pipewarden).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import type { Client } from '@elastic/elasticsearch';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { searchText } from '../../src/search/text.ts';
import type { Store } from '../../src/store/types.ts';
import { fileAnchor } from '../../src/trail/anchors/file.ts';
import { signCheckpoint } from '../../src/trail/checkpoint.ts';
import { TrailIndexer } from '../../src/trail/indexer.ts';
import { keyId } from '../../src/trail/key.ts';
import type { Checkpoint, TrailLink } from '../../src/trail/types.ts';

export const BASE = Date.parse('2026-03-04T10:00:00.000Z');

export function trailEvent(i: number, extra: Partial<PipewardenEvent['pipewarden']> = {}): PipewardenEvent {
  const at = new Date(BASE + i * 1000).toISOString();
  return {
    '@timestamp': at,
    message: `alice pushed commit ${i}`,
    event: {
      id: eventId('trail-test', i),
      kind: 'event',
      category: ['configuration'],
      type: ['change'],
      action: 'push',
      outcome: 'success',
      dataset: 'github.webhook',
      provider: 'github',
      ingested: at,
    },
    user: { name: i % 2 ? 'alice' : 'bob' },
    pipewarden: { kind: 'code.push', source: 'github', repository: 'acme/app', ...extra },
  };
}

export function message(partition: number, offset: number, e: PipewardenEvent): ConsumedMessage {
  return {
    topic: 'events',
    partition,
    offset: String(offset),
    key: e.user?.name ?? '',
    value: JSON.stringify(e),
    headers: {},
    timestamp: BASE,
  };
}

export function newKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

export function indexer(store: Store, key: KeyObject, anchorPath?: string, everyEvents = 10): TrailIndexer {
  return new TrailIndexer({
    store,
    log: createLogger({ level: 'silent' }),
    now: () => new Date(BASE + 3_600_000),
    key,
    checkpoint: { everyEvents, everySeconds: 86_400 },
    anchors: anchorPath
      ? [fileAnchor.create({ enabled: true, path: anchorPath }, createLogger({ level: 'silent' }))]
      : [],
    contiguousOffsets: true,
  });
}

/** Partition 0: events 0..29 at offsets 100..129 (3 checkpoints); partition 1: events 100..109 at 0..9. */
export async function buildTrail(
  store: Store,
  key: KeyObject,
  anchorPath?: string,
): Promise<PipewardenEvent[]> {
  const ix = indexer(store, key, anchorPath);
  const p0 = Array.from({ length: 30 }, (_, i) => trailEvent(i));
  for (let i = 0; i < 30; i += 5)
    await ix.index(p0.slice(i, i + 5).map((e, k) => message(0, 100 + i + k, e)));
  const p1 = Array.from({ length: 10 }, (_, i) => trailEvent(100 + i));
  await ix.index(p1.map((e, k) => message(1, k, e)));
  await store.refresh();
  return p0;
}

/** The same checkpoint signed by another key: what someone without the trail key can produce. */
export function forge(c: Checkpoint): Checkpoint {
  const other = newKey();
  const { signature: _, ...body } = c;
  return signCheckpoint({ ...body, keyId: keyId(other) }, other);
}

/** Direct access to a store, as its administrator has. */
export interface Tamper {
  edit(id: string, fn: (doc: PipewardenEvent) => void): Promise<void>;
  remove(id: string): Promise<void>;
  removeCheckpoint(partition: number, n: number): Promise<void>;
  replaceCheckpoint(c: Checkpoint): Promise<void>;
  get(id: string): Promise<PipewardenEvent>;
}

export function sqliteTamper(path: string): Tamper {
  const db = () => new DatabaseSync(path);
  const run = <T>(fn: (d: DatabaseSync) => T): T => {
    const d = db();
    try {
      return fn(d);
    } finally {
      d.close();
    }
  };
  // The document and its link (one entry of its batch's row in trail_batches), as one event.
  const held = (d: DatabaseSync, id: string) => {
    const { rowid, doc } = d.prepare('SELECT rowid, doc FROM events WHERE id = ?').get(id) as {
      rowid: number;
      doc: string;
    };
    const b = d
      .prepare(
        'SELECT ev0, ev1, partition, links FROM trail_batches WHERE ev0 <= ? ORDER BY ev0 DESC LIMIT 1',
      )
      .get(rowid) as { ev0: number; ev1: number; partition: number; links: string } | undefined;
    const links =
      b && b.ev1 >= rowid
        ? (JSON.parse(b.links) as Array<[number, number, number, string, string, number | null]>)
        : [];
    return { rowid, doc, batch: b, links, at: links.findIndex((l) => l[0] === rowid) };
  };
  const get = async (id: string): Promise<PipewardenEvent> =>
    run((d) => {
      const h = held(d, id);
      const doc = JSON.parse(h.doc) as PipewardenEvent;
      const l = h.links[h.at];
      if (l && h.batch) {
        doc.pipewarden.trail = {
          ...(l[5] === 2 || l[5] === 3 ? { v: l[5] } : {}),
          partition: h.batch.partition,
          offset: l[1],
          seq: l[2],
          prev: l[3],
          hash: l[4],
        };
      }
      return doc;
    });
  return {
    get,
    async edit(id, fn) {
      const doc = await get(id);
      fn(doc);
      const { trail, ...pipewarden } = doc.pipewarden;
      run((d) => {
        d.prepare('UPDATE events SET doc = ? WHERE id = ?').run(JSON.stringify({ ...doc, pipewarden }), id);
        const h = held(d, id);
        if (trail && h.batch && h.at >= 0) {
          h.links[h.at] = [h.rowid, trail.offset, trail.seq, trail.prev, trail.hash, trail.v ?? null];
          d.prepare('UPDATE trail_batches SET links = ? WHERE ev0 = ?').run(
            JSON.stringify(h.links),
            h.batch.ev0,
          );
        }
      });
    },
    async remove(id) {
      run((d) => d.prepare('DELETE FROM events WHERE id = ?').run(id));
    },
    async removeCheckpoint(p, n) {
      run((d) => d.prepare('DELETE FROM trail_checkpoints WHERE partition = ? AND n = ?').run(p, n));
    },
    async replaceCheckpoint(c) {
      run((d) =>
        d
          .prepare('UPDATE trail_checkpoints SET doc = ? WHERE partition = ? AND n = ?')
          .run(JSON.stringify(c), c.partition, c.n),
      );
    },
  };
}

export function elasticsearchTamper(client: Client, prefix: string): Tamper {
  const events = `${prefix}-events`;
  const checkpoints = `${prefix}-trail-checkpoints`;
  const find = async (id: string) => {
    await client.indices.refresh({ index: events });
    const res = await client.search<PipewardenEvent>({
      index: events,
      query: { ids: { values: [id] } },
      seq_no_primary_term: true,
    });
    const h = res.hits.hits[0];
    if (!h) throw new Error(`no event ${id}`);
    return h;
  };
  // A version 3 link is stored as a dotted field after the event's text, then the search text (see
  // documentSuffix in src/store/elasticsearch.ts): the tamperer edits the event with its link in place and
  // writes it back in the same layout, as someone who knows the format would.
  const TRAIL = 'pipewarden.trail';
  const SEARCH = 'pipewarden.search_text';
  type Stored = PipewardenEvent & { [TRAIL]?: TrailLink; [SEARCH]?: string };
  const nested = (stored: Stored): PipewardenEvent => {
    const { [TRAIL]: link, [SEARCH]: _, ...rest } = stored;
    return link ? { ...rest, pipewarden: { ...rest.pipewarden, trail: link } } : rest;
  };
  // The search text made again from the edited event, as the index role would have made it.
  const layout = (stored: Stored, doc: PipewardenEvent): Stored => {
    if (!(TRAIL in stored)) return { ...doc, ...(SEARCH in stored ? { [SEARCH]: searchText(doc) } : {}) };
    const { trail, ...pipewarden } = doc.pipewarden;
    return { ...doc, pipewarden, [TRAIL]: trail!, [SEARCH]: searchText(doc) } as Stored;
  };
  return {
    get: async (id) => nested((await find(id))._source as Stored),
    async edit(id, fn) {
      const h = await find(id);
      const doc = nested(h._source as Stored);
      fn(doc);
      // A data stream's documents are changed in their backing index, guarded by seq_no/primary_term.
      await client.index({
        index: h._index,
        id,
        document: layout(h._source as Stored, doc),
        if_seq_no: h._seq_no!,
        if_primary_term: h._primary_term!,
        refresh: true,
      });
    },
    async remove(id) {
      const h = await find(id);
      await client.delete({ index: h._index, id, refresh: true });
    },
    async removeCheckpoint(p, n) {
      await client.delete({ index: checkpoints, id: `${p}-${n}`, refresh: true });
    },
    async replaceCheckpoint(c) {
      await client.index({ index: checkpoints, id: `${c.partition}-${c.n}`, document: c, refresh: true });
    },
  };
}
