// The trail on the real Elasticsearch: links hash the bus message's own text (version 3), which the events'
// write index keeps byte for byte; duplicate deliveries are chained and kept without a look-up before each
// batch; a stream made before this version (its `_source` filtered) is rolled over by setUp, and until then
// links serialise the event (version 2) and still verify.
import { Client } from '@elastic/elasticsearch';
import { describe, expect, inject, it } from 'vitest';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import {
  ElasticsearchStore,
  EVENT_MAPPINGS,
  elasticsearchConfigSchema,
} from '../../src/store/elasticsearch.ts';
import { rawHits } from '../../src/store/raw-hits.ts';
import { type VerifyReport, verifyTrail } from '../../src/trail/verify.ts';
import { BASE, elasticsearchTamper, indexer, message, newKey, trailEvent } from '../support/trail.ts';

const esUrl = inject('elasticsearchUrl');
const key = newKey();
const client = new Client({ node: esUrl });
const now = new Date(BASE + 7_200_000);

async function make(setup: 'start' | 'separate' = 'start', prefix = newPrefix()) {
  const store = new ElasticsearchStore(
    elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: prefix, setup }),
  );
  await store.init();
  return { store, prefix, tamper: elasticsearchTamper(client, prefix) };
}
const kafka = (m: ConsumedMessage): ConsumedMessage => ({ ...m, bytes: Buffer.from(m.value) });
const newPrefix = () => `pw-trail-es-${Math.random().toString(36).slice(2, 10)}`;
const verify = (store: ElasticsearchStore): Promise<VerifyReport> => verifyTrail({ store, key, now });

/** Each document of the events stream as Elasticsearch returns it, as text (no parsing, no filtering). */
async function storedTexts(prefix: string): Promise<Map<string, string>> {
  await client.indices.refresh({ index: `${prefix}-events` });
  const res = await fetch(`${esUrl}/${prefix}-events/_search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ size: 100 }),
  });
  const text = await res.text();
  return new Map(rawHits(text).map((h) => [h.id!, h.source!]));
}

/** A vendor-style message text: indented, with escapes JSON.stringify would not write. */
function vendorText(e: PipewardenEvent): string {
  return JSON.stringify(e, null, 2).replace('"message": "', '"message": "caf\\u00e9 \\/ ');
}

describe('trail on Elasticsearch', () => {
  it('links hash the message text, which the stored document starts with byte for byte', async () => {
    const { store, prefix } = await make();
    const events = Array.from({ length: 6 }, (_, i) => trailEvent(i));
    const msgs: ConsumedMessage[] = events.map((e, i) => ({
      ...message(0, 100 + i, e),
      value: vendorText(e),
    }));
    await indexer(store, key).index(msgs);
    const texts = await storedTexts(prefix);
    for (const [i, e] of events.entries()) {
      const stored = texts.get(e.event.id)!;
      const kept = msgs[i]!.value.replaceAll('\n', ' '); // one document per bulk line
      expect(stored.startsWith(kept.slice(0, -1))).toBe(true);
      expect(stored.slice(kept.length - 1)).toMatch(/^,"pipewarden\.trail":\{"v":3,/);
    }
    // Readers get the event as it was: the message's escapes decoded, the link in place, no search text.
    const got = await store.getEvent(events[2]!.event.id);
    expect(got?.message).toBe(`café / ${events[2]!.message}`);
    expect(got?.pipewarden.trail).toMatchObject({ v: 3, partition: 0, offset: 102, seq: 3 });
    expect(got).not.toHaveProperty(['pipewarden.search_text']);
    expect(got).not.toHaveProperty(['pipewarden.trail']);
    // Still searchable by its text.
    expect((await store.searchEvents({ q: 'café' })).total).toBe(6);
    expect((await verify(store)).findings).toEqual([]);
    await store.close();
  });

  it('Kafka messages: their bytes are hashed and sent as they are, unless not UTF-8 or not on one line', async () => {
    const { store, prefix } = await make();
    const events = Array.from({ length: 5 }, (_, i) => trailEvent(i));
    const msgs = events.map((e, k) => {
      const m = kafka(message(0, 300 + k, e));
      const bytes = Buffer.from(m.bytes!);
      // 1: not UTF-8 (0xff in its message); 3: on two lines (a bulk body is one document per line).
      if (k === 1) bytes[bytes.indexOf('"message":"') + 11] = 0xff;
      const b = k === 3 ? Buffer.from(JSON.stringify(e, null, 1)) : bytes;
      return { ...m, value: b.toString('utf8'), bytes: b };
    });
    expect(msgs[1]!.value).toContain('\ufffd');
    // The store keeps a compact message's bytes themselves, a message on several lines as text.
    expect(store.trailKeptText(msgs[0]!.bytes!, events[0]!)).toBe(msgs[0]!.bytes);
    expect(store.trailKeptText(msgs[3]!.bytes!, events[3]!)).toBe(msgs[3]!.value.replaceAll('\n', ' '));
    // Bytes that are not UTF-8: the text they decode to (what the document will be), not the bytes.
    expect(store.trailKeptText(msgs[1]!.bytes!, events[1]!)).toBe(msgs[1]!.value);
    expect(store.trailKeptText(Buffer.from('{ }'), events[0]!)).toBeUndefined();
    await indexer(store, key).index(msgs);
    const texts = await storedTexts(prefix);
    for (const [i, e] of events.entries()) {
      const kept = msgs[i]!.value.replaceAll('\n', ' ');
      expect(texts.get(e.event.id)!.startsWith(kept.slice(0, -1))).toBe(true);
      expect((await store.getEvent(e.event.id))?.pipewarden.trail).toMatchObject({ v: 3, offset: 300 + i });
    }
    const r = await verify(store);
    expect(r.findings).toEqual([]);
    expect(r.events).toBe(5);
    await store.close();
  });

  it('names a stale or edited search text in a document as a modification', async () => {
    const { store, prefix } = await make();
    const events = Array.from({ length: 5 }, (_, i) => trailEvent(i));
    await indexer(store, key).index(events.map((e, i) => message(0, i, e)));
    await store.refresh();
    // Someone hides an event from free-text search: the search text is changed, the event is not.
    const h = (
      await client.search({
        index: `${prefix}-events`,
        query: { ids: { values: [events[1]!.event.id] } },
        seq_no_primary_term: true,
      })
    ).hits.hits[0]!;
    const doc = h._source as Record<string, unknown>;
    expect(typeof doc['pipewarden.search_text']).toBe('string');
    doc['pipewarden.search_text'] = 'nothing to see';
    await client.index({
      index: h._index,
      id: h._id!,
      document: doc,
      if_seq_no: h._seq_no!,
      if_primary_term: h._primary_term!,
      refresh: true,
    });
    const r = await verify(store);
    expect(r.findings.map((f) => [f.kind, f.eventId])).toContainEqual(['modified', events[1]!.event.id]);
    await store.close();
  });

  it('keeps a second delivery of a stored event in the chain, and names the event if it is deleted', async () => {
    const { store, tamper } = await make();
    const events = Array.from({ length: 8 }, (_, i) => trailEvent(i));
    const ix = indexer(store, key);
    // With their bytes, as the Kafka consumer hands them: the store sends them, the links hash them.
    await ix.index(events.slice(0, 4).map((e, i) => kafka(message(0, i, e))));
    // Holding the head: no look-up; event 1 again (a sender's retry) is refused as existing and kept.
    await ix.index(
      [message(0, 4, events[1]!), ...events.slice(4).map((e, i) => message(0, 5 + i, e))].map(kafka),
    );
    await store.refresh();
    let r = await verify(store);
    expect(r.findings).toEqual([]);
    expect(r.events).toBe(9);
    expect((await store.searchEvents({ size: 50 })).total).toBe(8);
    // The stored event is deleted, its second delivery left in place: the trail says which.
    await tamper.remove(events[1]!.event.id);
    r = await verify(store);
    // The gap where it was stored (seq 2, after offset 0), and its second delivery standing for it.
    expect(r.findings).toHaveLength(2);
    expect(r.findings[0]).toMatchObject({ kind: 'deleted', seq: 2, offset: 0 });
    expect(r.findings[1]).toMatchObject({ kind: 'deleted', eventId: events[1]!.event.id, offset: 4, seq: 5 });
    await store.close();
  });

  it('a stream whose write index filters _source: version 2 links until setUp rolls it over', async () => {
    const prefix = newPrefix();
    const first = await make('start', prefix);
    await first.store.close();
    // As a version before this one made it: the search text filtered out of _source.
    await client.cluster.putComponentTemplate({
      name: `${prefix}-events-mappings`,
      template: { mappings: { ...EVENT_MAPPINGS, _source: { excludes: ['pipewarden.search_text'] } } },
    });
    await client.indices.rollover({ alias: `${prefix}-events` });

    const old = await make('separate', prefix);
    expect(old.store.trailKeptText('{"a":1}', trailEvent(0))).toBeUndefined();
    const events = Array.from({ length: 6 }, (_, i) => trailEvent(i));
    await indexer(old.store, key).index(events.slice(0, 3).map((e, i) => message(0, i, e)));
    await old.store.refresh();
    expect((await old.store.getEvent(events[0]!.event.id))?.pipewarden.trail?.v).toBe(2);
    await old.store.close();

    // setUp (a start with setup: start, or `pipewarden store init`) puts the template and rolls over.
    const upgraded = await make('start', prefix);
    expect(upgraded.store.trailKeptText('{"a":1}', trailEvent(0))).toBe('{"a":1}');
    // An event with a field of the document's suffix of its own keeps a version 2 link.
    const odd = { ...trailEvent(0), 'pipewarden.trail': 'x' } as PipewardenEvent;
    expect(upgraded.store.trailKeptText(JSON.stringify(odd), odd)).toBeUndefined();
    const ix = indexer(upgraded.store, key);
    await ix.index(events.slice(3).map((e, i) => message(0, 3 + i, e)));
    await upgraded.store.refresh();
    expect((await upgraded.store.getEvent(events[4]!.event.id))?.pipewarden.trail?.v).toBe(3);
    const r = await verify(upgraded.store);
    expect(r.findings).toEqual([]);
    expect(r.events).toBe(6);
    await upgraded.store.close();
  });
});
