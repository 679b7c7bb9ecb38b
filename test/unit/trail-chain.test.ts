// The bytes a link covers, by version: version 3 (a store that keeps texts: SQLite) hashes the bus
// message's own text, stored byte for byte; version 2 (Elasticsearch, and SQLite files from before)
// hashes JSON.stringify of the event, and the document sent to a JSON store is that text with the link
// spliced in.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import type { PipewardenEvent } from '../../src/event.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { link, linkHash, unlinkedText } from '../../src/trail/chain.ts';
import { signCheckpoint } from '../../src/trail/checkpoint.ts';
import { keyId } from '../../src/trail/key.ts';
import { GENESIS } from '../../src/trail/types.ts';
import { verifyTrail } from '../../src/trail/verify.ts';
import { BASE, indexer, message, newKey, sqliteTamper, trailEvent } from '../support/trail.ts';

const key = newKey();
const now = new Date(BASE + 7_200_000);
const head = { seq: 0, hash: GENESIS, offset: -1 };
const copy = (e: PipewardenEvent) => JSON.parse(JSON.stringify(e)) as PipewardenEvent;

async function sqlite(keepsText = true) {
  const path = join(mkdtempSync(join(tmpdir(), 'pipewarden-trail-chain-')), 'store.sqlite');
  // keepsText false: a store chaining as before version 3 (version 2 links in an SQLite file).
  const store = keepsText
    ? new SqliteStore({ path })
    : new (class extends SqliteStore {
        override trailKeptText(): string | undefined {
          return undefined;
        }
      })({ path });
  await store.init();
  return { store, path };
}

describe('trail links', () => {
  it('version 2: the text sent to a JSON store is JSON.stringify of the linked event, however it is shaped', () => {
    const plain = copy(trailEvent(1));
    const { pipewarden, ...rest } = trailEvent(2);
    const notLast = { pipewarden, ...rest } as PipewardenEvent;
    const numericKeys = { ...copy(trailEvent(3)), 7: 'x' } as unknown as PipewardenEvent;
    const linkedBefore = copy(trailEvent(4));
    linkedBefore.pipewarden.trail = { partition: 9, offset: 9, seq: 9, prev: GENESIS, hash: GENESIS };
    linkedBefore.pipewarden.commit = 'abc';
    const empty = { ...copy(trailEvent(5)), pipewarden: {} } as PipewardenEvent;
    const nested = copy(trailEvent(6));
    nested.pipewarden.approvers = [];
    (nested.pipewarden as Record<string, unknown>).last = {};
    for (const e of [plain, notLast, numericKeys, linkedBefore, empty, nested]) {
      const h = link(head, 0, 5, e);
      expect(e.pipewarden.trail).toMatchObject({ v: 2, partition: 0, offset: 5, seq: 1, hash: h.hash });
      expect(h.linkedText).toBe(JSON.stringify(e));
    }
  });

  it('version 3: the message text is hashed and stored as it is; verify hashes the stored bytes', async () => {
    const { store, path } = await sqlite();
    const events = Array.from({ length: 12 }, (_, i) => trailEvent(i, { commit: `caf\u00e9-${i}` }));
    // Not what JSON.stringify writes: indented, an escaped character, a number as 1.0.
    const texts = events.map((e) =>
      JSON.stringify({ ...e, score: 1 }, null, 2)
        .replace('"score": 1', '"score": 1.0')
        .replace('\u00e9', '\\u00e9'),
    );
    const msgs = texts.map((value, k) => ({ ...message(0, 100 + k, events[k]!), value }));
    await indexer(store, key).index(msgs);
    const db = new DatabaseSync(path);
    const docs = db
      .prepare('SELECT doc FROM events ORDER BY rowid')
      .all()
      .map((r) => r.doc);
    expect(docs).toEqual(texts);
    const [batch] = db.prepare('SELECT links FROM trail_batches').all();
    expect((JSON.parse(batch!.links as string) as unknown[][]).map((l) => l[5])).toEqual(Array(12).fill(3));
    expect((await verifyTrail({ store, key, now })).findings).toEqual([]);

    // The same JSON value in other bytes is a modification: the stored text is what was hashed.
    const id = events[4]!.event.id;
    db.prepare('UPDATE events SET doc = ? WHERE id = ?').run(texts[4]!.replace('\\u00e9', '\u00e9'), id);
    const r = await verifyTrail({ store, key, now });
    expect(r.findings.map((f) => [f.kind, f.eventId, f.offset])).toEqual([['modified', id, 104]]);
    db.close();
    await store.close();
  });

  it('version 3 over the message bytes: the same hash as over its text, which is decoded only when asked for', () => {
    const e = () => ({ ...trailEvent(7), message: 'café ☕ déployé' }) as PipewardenEvent;
    const text = JSON.stringify(e());
    const head = { seq: 4, hash: 'a'.repeat(64), offset: 3 };
    const fromText = link(head, 0, 9, e(), text);
    const fromBytes = link(head, 0, 9, e(), Buffer.from(text));
    expect(fromBytes.hash).toBe(fromText.hash);
    expect(fromBytes.hash).not.toBe(link(head, 0, 9, e(), Buffer.from(text.replace('☕', 'x'))).hash);
    // A longer text than the kept buffer (it grows), then a short one again.
    const long = JSON.stringify({ ...e(), message: 'x'.repeat(100_000) });
    expect(link(head, 0, 9, e(), Buffer.from(long)).hash).toBe(link(head, 0, 9, e(), long).hash);
    expect(link(head, 0, 9, e(), Buffer.from(text)).hash).toBe(fromText.hash);
    // A view into a larger buffer (a Kafka fetch response): only its own bytes.
    const fetched = Buffer.from(`xx${text}yy`);
    expect(link(head, 0, 9, e(), fetched.subarray(2, 2 + Buffer.byteLength(text))).hash).toBe(fromText.hash);
    const linked = e();
    link(head, 0, 9, linked, Buffer.from(text));
    expect(unlinkedText(linked)).toBe(text);
    expect(linkHash(head.hash, 5, linked, 3)).toBe(fromText.hash);
  });

  it('the index role hands a store the message bytes; bytes that are not UTF-8 are chained as their decoded text', async () => {
    const { store, path } = await sqlite();
    const events = Array.from({ length: 4 }, (_, i) => trailEvent(i));
    const msgs = events.map((e, k) => {
      const m = message(0, 200 + k, e);
      // The third message's bytes are not UTF-8 (0xff in its message): what is stored and hashed is their
      // decoded text, with a replacement character.
      const bytes = Buffer.from(m.value);
      if (k === 2) bytes[bytes.indexOf('"message":"') + 11] = 0xff;
      return { ...m, value: bytes.toString('utf8'), bytes };
    });
    expect(msgs[2]!.value).toContain('\ufffd');
    await indexer(store, key).index(msgs);
    const db = new DatabaseSync(path);
    const docs = db.prepare('SELECT id, doc FROM events').all() as Array<{ id: string; doc: string }>;
    expect(new Map(docs.map((d) => [d.id, d.doc]))).toEqual(
      new Map(msgs.map((m, k) => [events[k]!.event.id, m.value])),
    );
    db.close();
    const r = await verifyTrail({ store, key, now });
    expect(r.findings).toEqual([]);
    expect(r.events).toBe(4);
    await store.close();
  });

  it('version 2 links in an SQLite file (written before version 3) still verify, and an edit is named', async () => {
    const { store, path } = await sqlite(false);
    const events = Array.from({ length: 12 }, (_, i) => trailEvent(i));
    await indexer(store, key).index(events.map((e, k) => message(0, 100 + k, e)));
    const db = new DatabaseSync(path);
    const [batch] = db.prepare('SELECT links FROM trail_batches').all();
    expect((JSON.parse(batch!.links as string) as unknown[][]).map((l) => l[5])).toEqual(Array(12).fill(2));
    db.close();
    // The current store reads the file.
    await store.close();
    const reopened = new SqliteStore({ path });
    await reopened.init();
    expect((await verifyTrail({ store: reopened, key, now })).findings).toEqual([]);
    // And chains on with version 3 links from where the version 2 links end.
    await indexer(reopened, key).index(
      Array.from({ length: 5 }, (_, k) => message(0, 112 + k, trailEvent(12 + k))),
    );
    const clean = await verifyTrail({ store: reopened, key, now });
    expect([clean.findings, clean.events]).toEqual([[], 17]);
    await sqliteTamper(path).edit(events[6]!.event.id, (d) => {
      d.message = 'nothing happened';
    });
    const r = await verifyTrail({ store: reopened, key, now });
    expect(r.findings.map((f) => [f.kind, f.eventId, f.offset])).toEqual([
      ['modified', events[6]!.event.id, 106],
    ]);
    await reopened.close();
  });

  it('a file from before trail_batches (version 1 links in the documents, an expression index) is moved over and verifies', async () => {
    const { store, path } = await sqlite();
    // What the index role wrote then: each document with its link, RFC 8785 bytes hashed, no `v`.
    const events = Array.from({ length: 12 }, (_, i) => trailEvent(i));
    await store.indexEvents(events.map(copy));
    let prev = GENESIS;
    const db = new DatabaseSync(path);
    events.forEach((e, i) => {
      const hash = linkHash(prev, i + 1, e, 1);
      const linked = {
        ...e,
        pipewarden: { ...e.pipewarden, trail: { partition: 0, offset: 100 + i, seq: i + 1, prev, hash } },
      };
      db.prepare('UPDATE events SET doc = ? WHERE id = ?').run(JSON.stringify(linked), e.event.id);
      prev = hash;
    });
    const t = (f: string) => `json_extract(doc, '$.pipewarden.trail.${f}')`;
    db.exec(`CREATE INDEX events_trail ON events (${t('partition')}, ${t('offset')}, id)`);
    db.close();
    await store.putTrailCheckpoint(
      signCheckpoint(
        {
          v: 1,
          partition: 0,
          n: 1,
          fromSeq: 1,
          toSeq: 12,
          count: 12,
          fromOffset: 100,
          toOffset: 111,
          fromTime: events[0]!.event.ingested,
          toTime: events[11]!.event.ingested,
          head: prev,
          prev: GENESIS,
          time: new Date(BASE + 3_600_000).toISOString(),
          keyId: keyId(key),
        },
        key,
      ),
    );
    await store.close();

    const migrated = new SqliteStore({ path });
    await migrated.init();
    const check = new DatabaseSync(path);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'events_trail'").all()).toEqual([]);
    expect(check.prepare('SELECT count(*) AS n FROM trail_batches').get()!.n).toBe(12);
    check.close();
    const r = await verifyTrail({ store: migrated, key, now });
    expect([r.findings, r.events, r.lastVerified]).toEqual([[], 12, { 0: 1 }]);
    // Chaining goes on from the last version 1 link, in version 3.
    await indexer(migrated, key).index(
      Array.from({ length: 3 }, (_, k) => message(0, 112 + k, trailEvent(12 + k))),
    );
    expect((await verifyTrail({ store: migrated, key, now })).findings).toEqual([]);
    // An old event edited afterwards is named.
    await sqliteTamper(path).edit(events[2]!.event.id, (d) => {
      d.user = { name: 'mallory' };
    });
    const tampered = await verifyTrail({ store: migrated, key, now });
    expect(tampered.findings.map((f) => [f.kind, f.eventId, f.offset])).toEqual([
      ['modified', events[2]!.event.id, 102],
    ]);
    await migrated.close();
  });
});
