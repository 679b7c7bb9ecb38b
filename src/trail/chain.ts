// The hash chain: one per bus partition, in offset order. Each link hashes the previous link with the
// event's bytes, so an edit, a deletion, an insertion or a reordering anywhere breaks a link or a
// sequence number.
//
// Which bytes, by link version:
// - 3 (written where the store keeps a document's text byte for byte and gives it back: SQLite, and
//   Elasticsearch where the events' write index keeps `_source` as sent): the event's text exactly as the
//   store keeps it (Store.trailKeptText), which is the bus message's own text as published (Elasticsearch:
//   on one line): the index role neither serialises the event again nor hashes anything but what is
//   stored. A reader hashes the stored text as stored.
// - 2 (written where the store keeps the document but not its bytes: an Elasticsearch index that filters
//   `_source`, as the events' indices did before version 3 came to Elasticsearch, or a text the store cannot
//   keep as it is): ECMAScript JSON.stringify of the event without its link. Serialised once at indexing,
//   hashed, and sent as the document (with the link spliced in); a reader re-serialises the document it
//   gets back, which gives the same bytes from a store that keeps key order (_source does). Also the
//   links SQLite files hold from before version 3: they still verify.
// - 1 (no `v`, the first links): the RFC 8785 canonical form; they still verify.
import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { PipewardenEvent } from '../event.ts';
import { bufferOf } from '../util/bytes.ts';
import type { TrailLink } from './types.ts';

/** The event as it was chained: without its own link. */
export function unlinked(e: PipewardenEvent): PipewardenEvent {
  if (e.pipewarden?.trail === undefined) return e;
  const { trail: _, ...pipewarden } = e.pipewarden;
  return { ...e, pipewarden } as PipewardenEvent;
}

/**
 * The event's text without its link, exactly as the store keeps it: set by link() on an event about to
 * be stored (so it is serialised once, if at all), and by a store that keeps the text when it reads a
 * chained event back (version 3 links hash it). A symbol: never serialised. (A WeakMap cost more: its
 * entries slow every garbage collection.)
 */
const TEXT: unique symbol = Symbol('pipewarden.trail.text');
/** Or its UTF-8 bytes (link() given a message's bytes), decoded only if the text is asked for. */
const BYTES: unique symbol = Symbol('pipewarden.trail.bytes');
type WithText = PipewardenEvent & { [TEXT]?: string; [BYTES]?: Uint8Array };

/** The JSON text of the event without its link: what a store keeps for a chained event. */
export function unlinkedText(e: PipewardenEvent): string {
  const w = e as WithText;
  if (w[TEXT] !== undefined) return w[TEXT];
  const bytes = w[BYTES];
  if (bytes === undefined) return JSON.stringify(unlinked(e));
  const text = bufferOf(bytes).toString('utf8');
  w[TEXT] = text;
  return text;
}

/** A store that keeps texts: `e` was read back from `text` (its stored bytes, without the link). */
export function withStoredText(e: PipewardenEvent, text: string): PipewardenEvent {
  (e as WithText)[TEXT] = text;
  return e;
}

/**
 * A duplicate delivery read back (Store.trailKeepsDuplicates): its event's id is stored as another
 * delivery's event; `held` says whether the store still holds that event.
 */
const DUPLICATE: unique symbol = Symbol('pipewarden.trail.duplicate');
type WithDuplicate = PipewardenEvent & { [DUPLICATE]?: { held: boolean } };

export function markDuplicate(e: PipewardenEvent, held: boolean): PipewardenEvent {
  (e as WithDuplicate)[DUPLICATE] = { held };
  return e;
}

/** Undefined for an event as stored; for a duplicate delivery, whether its event is still held. */
export function duplicateDelivery(e: PipewardenEvent): { held: boolean } | undefined {
  return (e as WithDuplicate)[DUPLICATE];
}

function digest(prev: string, seq: number, text: string): string {
  return hash('sha256', `${prev}\n${seq}\n${text}`, 'hex');
}

/**
 * digest() over the text's UTF-8 bytes as received (the same hash): they are copied after the link's head
 * into one buffer kept for the next link, so no string is joined (a new 7 kB copy on the heap per event)
 * and nothing is encoded (measured on 7 kB events: ~2 µs less per event).
 */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
function digestBytes(prev: string, seq: number, bytes: Uint8Array): string {
  const head = `${prev}\n${seq}\n`;
  const need = head.length * 3 + bytes.byteLength;
  if (scratch.byteLength < need) scratch = Buffer.allocUnsafeSlow(Math.max(need, scratch.byteLength * 2));
  const n = scratch.write(head, 0, 'utf8');
  scratch.set(bytes, n);
  return hash('sha256', scratch.subarray(0, n + bytes.byteLength), 'hex');
}

/** sha256(prev ‖ "\n" ‖ seq ‖ "\n" ‖ event bytes), hex; the bytes by link version (see above). */
export function linkHash(prev: string, seq: number, e: PipewardenEvent, v: 1 | 2 | 3): string {
  if (v === 3) return digest(prev, seq, unlinkedText(e));
  return digest(prev, seq, v === 2 ? JSON.stringify(unlinked(e)) : (canonicalize(unlinked(e)) ?? ''));
}

/** The head of a partition's chain after its last link. */
export interface Head {
  seq: number;
  hash: string;
  offset: number;
}

/**
 * Links `e` after `head`, stores the link on the event, returns the new head.
 *
 * `stored`: what a store that keeps texts (Store.trailKeptText) will keep of the event's message, as it
 * is: its text, or its bytes (valid UTF-8: Store.trailKeptText returns no others), hashed as they are, never decoded
 * here. A version 3 link hashes it, nothing is serialised. Without it, a version 2 link, and
 * `linkedText` is the JSON text of the linked event (what `JSON.stringify(e)` now gives), for a store
 * that sends JSON (IndexOptions.sourceTexts): the hashed text with the link spliced in, not a second
 * serialisation, where the link's place is known: `pipewarden` is the event's last field (as the
 * adapters make events) and had no link before, so the link goes last in it, before the two closing
 * braces.
 */
export function link(
  head: Head,
  partition: number,
  offset: number,
  e: PipewardenEvent,
  stored?: string | Uint8Array,
): Head & { linkedText?: string } {
  const seq = head.seq + 1;
  const p = e.pipewarden;
  const unlinkedBefore = !Object.hasOwn(p, 'trail');
  if (stored !== undefined && unlinkedBefore) {
    let hash: string;
    if (typeof stored === 'string') {
      hash = digest(head.hash, seq, stored);
      (e as WithText)[TEXT] = stored;
    } else {
      hash = digestBytes(head.hash, seq, stored);
      (e as WithText)[BYTES] = stored;
    }
    p.trail = { v: 3, partition, offset, seq, prev: head.hash, hash };
    return { seq, hash, offset };
  }
  const fresh = unlinkedBefore && lastKey(e) === 'pipewarden';
  const text = JSON.stringify(fresh ? e : unlinked(e));
  const hash = digest(head.hash, seq, text);
  const l: TrailLink = { v: 2, partition, offset, seq, prev: head.hash, hash };
  p.trail = l;
  (e as WithText)[TEXT] = text;
  // `{}}` at the end: an empty pipewarden (no comma before the link); never from readEvent.
  const splice = fresh && text.charCodeAt(text.length - 3) !== 123;
  const linkedText = splice ? `${text.slice(0, -2)},"trail":${JSON.stringify(l)}}}` : JSON.stringify(e);
  return { seq, hash, offset, linkedText };
}

/** The last field JSON.stringify writes (the order of Object.keys), without making the keys array. */
function lastKey(o: object): string | undefined {
  let last: string | undefined;
  for (const k in o) if (Object.hasOwn(o, k)) last = k;
  return last;
}

/** Whether the stored link still matches the event's content and its stated predecessor. */
export function linkIntact(e: PipewardenEvent): boolean {
  const l = e.pipewarden.trail;
  return l !== undefined && linkHash(l.prev, l.seq, e, l.v ?? 1) === l.hash;
}
