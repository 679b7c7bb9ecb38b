// The hash chain: one per bus partition, in offset order. Each link hashes the previous link with the
// event's canonical bytes (RFC 8785, so any store that keeps the JSON keeps the hash), so an edit, a
// deletion, an insertion or a reordering anywhere breaks a link or a sequence number.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { PipewardenEvent } from '../event.ts';
import type { TrailLink } from './types.ts';

/** The event as it was chained: without its own link. */
function unlinked(e: PipewardenEvent): PipewardenEvent {
  if (e.pipewarden?.trail === undefined) return e;
  const { trail: _, ...pipewarden } = e.pipewarden;
  return { ...e, pipewarden } as PipewardenEvent;
}

/** sha256(prev ‖ "\n" ‖ seq ‖ "\n" ‖ canonical event), hex. */
export function linkHash(prev: string, seq: number, e: PipewardenEvent): string {
  return createHash('sha256')
    .update(`${prev}\n${seq}\n`)
    .update(canonicalize(unlinked(e)) ?? '')
    .digest('hex');
}

/** The head of a partition's chain after its last link. */
export interface Head {
  seq: number;
  hash: string;
  offset: number;
}

/** Links `e` after `head`, stores the link on the event, returns the new head. */
export function link(head: Head, partition: number, offset: number, e: PipewardenEvent): Head {
  const seq = head.seq + 1;
  const hash = linkHash(head.hash, seq, e);
  const l: TrailLink = { partition, offset, seq, prev: head.hash, hash };
  e.pipewarden.trail = l;
  return { seq, hash, offset };
}

/** Whether the stored link still matches the event's content and its stated predecessor. */
export function linkIntact(e: PipewardenEvent): boolean {
  const l = e.pipewarden.trail;
  return l !== undefined && linkHash(l.prev, l.seq, e) === l.hash;
}
