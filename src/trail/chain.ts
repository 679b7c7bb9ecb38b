// The hash chain: one per bus partition, in offset order. Each link hashes the previous link with the
// event's bytes, so an edit, a deletion, an insertion or a reordering anywhere breaks a link or a
// sequence number.
//
// Link version 2 (every link written now) hashes the event's JSON text as the index role serialises it
// for the store (ECMAScript JSON.stringify of the event without its link): those bytes are computed
// once, hashed and stored, and a reader gets them back from any store that keeps a document's key order
// (SQLite keeps the text, Elasticsearch keeps _source). Version 1 links (no `v`, written before) hash the
// RFC 8785 canonical form; they still verify.
import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { PipewardenEvent } from '../event.ts';
import type { TrailLink } from './types.ts';

/** The event as it was chained: without its own link. */
export function unlinked(e: PipewardenEvent): PipewardenEvent {
  if (e.pipewarden?.trail === undefined) return e;
  const { trail: _, ...pipewarden } = e.pipewarden;
  return { ...e, pipewarden } as PipewardenEvent;
}

/**
 * The text a link hashed, kept on the event (a symbol: never serialised) until the store writes it, so
 * it is serialised once. (A WeakMap cost more: its entries slow every garbage collection.)
 */
const TEXT: unique symbol = Symbol('pipewarden.trail.text');
type WithText = PipewardenEvent & { [TEXT]?: string };

/** The JSON text of the event without its link: the bytes a version 2 link covers, and what a store keeps. */
export function unlinkedText(e: PipewardenEvent): string {
  return (e as WithText)[TEXT] ?? JSON.stringify(unlinked(e));
}

function digest(prev: string, seq: number, text: string): string {
  return hash('sha256', `${prev}\n${seq}\n${text}`, 'hex');
}

/** sha256(prev ‖ "\n" ‖ seq ‖ "\n" ‖ event bytes), hex; the bytes by link version (see above). */
export function linkHash(prev: string, seq: number, e: PipewardenEvent, v: 1 | 2 = 2): string {
  return digest(prev, seq, v === 2 ? unlinkedText(e) : (canonicalize(unlinked(e)) ?? ''));
}

/** The head of a partition's chain after its last link. */
export interface Head {
  seq: number;
  hash: string;
  offset: number;
}

/**
 * Links `e` after `head`, stores the link on the event, returns the new head and the JSON text of the
 * linked event (what `JSON.stringify(e)` now gives), for a store that sends JSON (IndexOptions.sourceTexts).
 * That text is the hashed one with the link spliced in, not a second serialisation, where the link's
 * place is known: `pipewarden` is the event's last field (as the adapters make events) and had no link
 * before, so the link goes last in it, just before the two closing braces.
 */
export function link(
  head: Head,
  partition: number,
  offset: number,
  e: PipewardenEvent,
): Head & { linkedText: string } {
  const seq = head.seq + 1;
  const p = e.pipewarden;
  const fresh = !Object.hasOwn(p, 'trail') && lastKey(e) === 'pipewarden';
  const text = JSON.stringify(fresh ? e : unlinked(e));
  const hash = digest(head.hash, seq, text);
  const l: TrailLink = { v: 2, partition, offset, seq, prev: head.hash, hash };
  p.trail = l;
  (e as WithText)[TEXT] = text;
  const linkedText = fresh ? `${text.slice(0, -2)},"trail":${JSON.stringify(l)}}}` : JSON.stringify(e);
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
  return l !== undefined && linkHash(l.prev, l.seq, e, l.v === 2 ? 2 : 1) === l.hash;
}
