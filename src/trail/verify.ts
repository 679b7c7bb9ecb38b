// `trail verify`: re-reads the store partition by partition, in offset order, recomputes every link and
// checks the chain against the signed checkpoints (and an external anchor's copies of them). Streams:
// memory holds one page of events, a bounded re-ordering window and the checkpoints (one per segment).
import type { KeyObject } from 'node:crypto';
import type { PipewardenEvent } from '../event.ts';
import type { Store } from '../store/types.ts';
import { duplicateDelivery, linkIntact } from './chain.ts';
import { checkpointHash, checkpointSigned } from './checkpoint.ts';
import { keyId } from './key.ts';
import { type Checkpoint, GENESIS } from './types.ts';

export const FINDING_KINDS = [
  'modified', // an event's content no longer matches its link (or its link was recomputed)
  'deleted', // sequence numbers missing from a chain
  'inserted', // an event with no link, or a second event claiming a position
  'reordered', // an event stored at an offset after events that follow it in the chain
  'checkpoint-missing', // a checkpoint the anchor (or the last verification) holds is gone from the store
  'checkpoint-forged', // a checkpoint whose signature fails, or that differs from the anchor's copy
  'checkpoint-mismatch', // a signed head that the chain does not reach
  'checkpoint-gap', // checkpoints whose numbers or ranges do not follow on
  'unanchored', // a checkpoint in the store that the given anchor never received
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  kind: FindingKind;
  partition: number;
  detail: string;
  eventId?: string;
  offset?: number;
  seq?: number;
  checkpoint?: number;
}

export interface VerifyReport {
  ok: boolean;
  findings: Finding[];
  /** Findings past maxFindings, counted but not kept. */
  moreFindings: number;
  events: number;
  checkpoints: number;
  partitions: number[];
  /** Where each partition's verification started and why; retention; unsigned tails. */
  notes: string[];
  /** Partition → the newest checkpoint number whose segment verified clean. */
  lastVerified: Record<number, number>;
}

export interface VerifyOptions {
  store: Store;
  key: KeyObject;
  /** ISO times on event.ingested: verify the segments that overlap [from, to]. */
  from?: string;
  to?: string;
  /** Only the newest N checkpoints of each partition (the scheduled check). */
  recent?: number;
  /** Checkpoints read from an external anchor (file anchor lines, webhook or email copies). */
  anchor?: Checkpoint[];
  /** The store's retention: segments signed before now - retentionMs may be gone as a whole. */
  retentionMs?: number;
  /** Partition → the newest checkpoint a previous verification saw (it must still be there). */
  seen?: Record<number, number>;
  now: Date;
  onProgress?: (events: number) => void;
  maxFindings?: number;
}

/** A checkpoint younger than this may not have reached the anchor yet: noted, not a failure. */
const ANCHOR_GRACE_MS = 120_000;

/** How far ahead in offset order an event may sit from its place in the chain and still be matched up. */
const WINDOW = 10_000;

export async function verifyTrail(o: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: true,
    findings: [],
    moreFindings: 0,
    events: 0,
    checkpoints: 0,
    partitions: [],
    notes: [],
    lastVerified: {},
  };
  const max = o.maxFindings ?? 1000;
  const add = (f: Finding) => {
    report.ok = false;
    if (report.findings.length < max) report.findings.push(f);
    else report.moreFindings++;
  };
  await o.store.refresh();
  const stored = await o.store.trailCheckpoints();
  const anchored = o.anchor ?? [];
  const partitions = new Set<number>([
    ...(await o.store.trailPartitions()),
    ...stored.map((c) => c.partition),
    ...anchored.map((c) => c.partition),
  ]);
  report.partitions = [...partitions].sort((a, b) => a - b);
  let chainStart: string | undefined;
  for (const p of report.partitions) {
    const cps = checkpointsOf(
      p,
      stored.filter((c) => c.partition === p),
      anchored.filter((c) => c.partition === p),
      o,
      add,
      report.notes,
    );
    report.checkpoints += cps.length;
    const first = cps[0];
    if (first && (chainStart === undefined || first.fromTime < chainStart)) chainStart = first.fromTime;
    await verifyPartition(p, cps, o, report, add);
  }
  // An event with no link, ingested after chaining began, was put there by someone other than the index role.
  if (chainStart !== undefined) {
    for await (const e of o.store.trailUnchained(chainStart)) {
      add({
        kind: 'inserted',
        partition: -1,
        eventId: e.id,
        detail: `event ${e.id} (ingested ${e.ingested}) has no chain link: it was not written by the index role`,
      });
    }
  }
  return report;
}

/**
 * The partition's usable checkpoints in order: each signed by our key and chained to the one before;
 * the anchor's copy stands in for a store copy that is missing or altered. Reports what is wrong.
 */
function checkpointsOf(
  p: number,
  stored: Checkpoint[],
  anchored: Checkpoint[],
  o: VerifyOptions,
  add: (f: Finding) => void,
  notes: string[],
): Checkpoint[] {
  const kid = keyId(o.key);
  const good = (c: Checkpoint) => c.keyId === kid && checkpointSigned(c, o.key);
  const byN = new Map<number, Checkpoint>();
  for (const c of stored.sort((a, b) => a.n - b.n)) {
    if (!good(c)) {
      add({
        kind: 'checkpoint-forged',
        partition: p,
        checkpoint: c.n,
        detail: `checkpoint ${c.n} of partition ${p} is not signed by the trail key ${kid}${c.keyId !== kid ? ` (it names key ${c.keyId})` : ''}`,
      });
      continue;
    }
    byN.set(c.n, c);
  }
  const anchorByN = new Map<number, Checkpoint>();
  for (const c of anchored) if (good(c)) anchorByN.set(c.n, c);
  if (o.anchor) {
    for (const [n, a] of anchorByN) {
      const s = byN.get(n);
      if (!stored.some((c) => c.n === n)) {
        add({
          kind: 'checkpoint-missing',
          partition: p,
          checkpoint: n,
          detail: `checkpoint ${n} of partition ${p} (seq ${a.fromSeq}..${a.toSeq}) is in the anchor but not in the store`,
        });
        byN.set(n, a);
      } else if (s && checkpointHash(s) !== checkpointHash(a)) {
        add({
          kind: 'checkpoint-forged',
          partition: p,
          checkpoint: n,
          detail: `checkpoint ${n} of partition ${p} in the store differs from the anchor's copy`,
        });
        byN.set(n, a);
      } else if (!s) byN.set(n, a);
    }
    for (const c of stored) {
      if (anchorByN.has(c.n) || byN.get(c.n) !== c) continue;
      // Anchors are written just after the store: a checkpoint this young may still be on its way.
      const age = o.now.getTime() - Date.parse(c.time);
      if (age < ANCHOR_GRACE_MS) {
        notes.push(
          `partition ${p}: checkpoint ${c.n} is not in the anchor yet (signed ${Math.round(age / 1000)} s ago)`,
        );
        continue;
      }
      add({
        kind: 'unanchored',
        partition: p,
        checkpoint: c.n,
        detail: `checkpoint ${c.n} of partition ${p} is in the store but not in the anchor`,
      });
    }
  }
  const seen = o.seen?.[p];
  const newest = Math.max(0, ...byN.keys());
  if (seen !== undefined && seen > newest) {
    add({
      kind: 'checkpoint-missing',
      partition: p,
      checkpoint: seen,
      detail: `checkpoints ${newest + 1}..${seen} of partition ${p} were verified before and are gone from the store`,
    });
  }
  const all = [...byN.values()].sort((a, b) => a.n - b.n);
  const forged = new Set(stored.filter((c) => !good(c)).map((c) => c.n));
  for (let i = 0; i < all.length; i++) {
    const c = all[i]!;
    const before = all[i - 1];
    const expectedN = before ? before.n + 1 : 1;
    if (c.n !== expectedN) {
      // A forged one in the hole was reported as forged; an empty hole is a missing checkpoint.
      const holes = Array.from({ length: c.n - expectedN }, (_, k) => expectedN + k).filter(
        (n) => !forged.has(n),
      );
      if (holes.length)
        add({
          kind: 'checkpoint-missing',
          partition: p,
          checkpoint: holes[0]!,
          detail: `checkpoint${holes.length > 1 ? `s ${holes.join(', ')}` : ` ${holes[0]}`} of partition ${p} missing: the checkpoints go from ${before ? before.n : 'the start'} to ${c.n}`,
        });
      continue;
    }
    if (
      before
        ? c.prev !== checkpointHash(before) || c.fromSeq !== before.toSeq + 1
        : c.prev !== GENESIS || c.fromSeq !== 1
    ) {
      add({
        kind: 'checkpoint-gap',
        partition: p,
        checkpoint: c.n,
        detail: before
          ? `checkpoint ${c.n} of partition ${p} does not follow checkpoint ${before.n} (seq ${before.toSeq} then ${c.fromSeq})`
          : `checkpoint 1 of partition ${p} does not start the chain`,
      });
    }
  }
  return all;
}

interface Last {
  seq: number;
  hash: string;
  id: string;
  offset: number;
}

async function verifyPartition(
  p: number,
  all: Checkpoint[],
  o: VerifyOptions,
  report: VerifyReport,
  add: (f: Finding) => void,
): Promise<void> {
  // Which segments: by time (--from/--to) or the newest N; the tail after the last checkpoint when open-ended.
  let cps = all;
  if (o.from) cps = cps.filter((c) => c.toTime >= o.from!);
  if (o.to) cps = cps.filter((c) => c.fromTime <= o.to!);
  if (o.recent !== undefined) cps = cps.slice(-o.recent);
  const withTail = !o.to;
  if (cps.length === 0 && all.length > 0 && (o.from || o.to)) {
    report.notes.push(`partition ${p}: no checkpoint in the range`);
    return;
  }

  // Retention removes whole segments: start at the oldest segment the store still holds, if older ones
  // are past the retention period; a missing segment younger than that was deleted by someone.
  const firstPresent = await firstEvent(o.store, p, cps[0]?.fromOffset ?? 0);
  let start = cps[0];
  /** Set when verification starts after the last checkpoint (everything signed is past retention). */
  let after: Checkpoint | undefined;
  const firstSeq = firstPresent?.pipewarden.trail?.seq ?? Number.POSITIVE_INFINITY;
  if (start && firstSeq > start.fromSeq) {
    const cutoff = o.retentionMs === undefined ? undefined : o.now.getTime() - o.retentionMs;
    const past = (c: Checkpoint) => cutoff !== undefined && Date.parse(c.time) < cutoff;
    const i = cps.findIndex((c) => c.toSeq >= firstSeq);
    const holding = i === -1 ? undefined : cps[i];
    const gone = cps.slice(0, i === -1 ? cps.length : i);
    const aligned = holding?.fromSeq === firstSeq;
    if (gone.every(past) && (!holding || aligned || past(holding))) {
      if (!holding || (!aligned && i + 1 >= cps.length)) {
        after = cps.at(-1);
        cps = [];
        start = undefined;
        report.notes.push(`partition ${p}: every checkpointed segment is past retention`);
        if (!firstPresent) return;
      } else {
        start = aligned ? holding : cps[i + 1]!;
        cps = cps.slice(aligned ? i : i + 1);
        report.notes.push(
          `partition ${p}: starting at checkpoint ${start.n} (seq ${start.fromSeq}), the oldest retained; older segments were removed by retention`,
        );
      }
    }
  } else if (start) {
    report.notes.push(`partition ${p}: starting at checkpoint ${start.n} (seq ${start.fromSeq})`);
  }
  const fromOffset = start?.fromOffset ?? (after ? after.toOffset + 1 : 0);
  const fromSeq = start?.fromSeq ?? (after ? after.toSeq + 1 : 1);
  const toSeq = withTail ? Number.POSITIVE_INFINITY : (cps.at(-1)?.toSeq ?? 0);
  const heads = new Map(cps.map((c) => [c.toSeq, c]));
  const bySeq = new SeqHeap();
  let maxSeen: { seq: number; offset: number } | undefined;
  let last: Last | undefined;
  let expectPrev = start
    ? (all.find((c) => c.n === start.n - 1)?.head ?? (start.n === 1 ? GENESIS : undefined))
    : (after?.head ?? GENESIS);
  let pending: PipewardenEvent[] = [];
  let brokenAt = -1;
  let clean = true;
  const fail = (f: Finding) => {
    clean = false;
    add(f);
  };

  /** One position of the chain, all events claiming it; `next` is the following position's claimants. */
  const settle = (group: PipewardenEvent[], next: PipewardenEvent[] | undefined) => {
    const seq = group[0]!.pipewarden.trail!.seq;
    if (seq < fromSeq || seq > toSeq) return;
    const expected = last ? last.seq + 1 : fromSeq;
    if (last && seq < expected) {
      for (const e of group)
        fail({
          kind: 'inserted',
          partition: p,
          eventId: e.event.id,
          offset: e.pipewarden.trail!.offset,
          seq,
          detail: `event ${e.event.id} claims position ${seq}, which the chain already passed`,
        });
      return;
    }
    let gap = false;
    if (seq > expected) {
      gap = true;
      fail({
        kind: 'deleted',
        partition: p,
        seq: expected,
        ...(last ? { offset: last.offset } : {}),
        detail: `${seq - expected} event(s) deleted (seq ${expected}..${seq - 1}) between ${last ? `event ${last.id} at offset ${last.offset}` : 'the start of the range'} and event ${group[0]!.event.id} at offset ${group[0]!.pipewarden.trail!.offset}`,
      });
      brokenAt = seq;
    }
    // Of several claimants, the genuine one is what the next position links to, else what links to the last.
    const nextPrevs = new Set((next ?? []).map((e) => e.pipewarden.trail!.prev));
    const genuine =
      group.find((e) => nextPrevs.has(e.pipewarden.trail!.hash)) ??
      group.find((e) => e.pipewarden.trail!.prev === (last?.hash ?? expectPrev)) ??
      group[0]!;
    for (const e of group) {
      if (e === genuine) continue;
      fail({
        kind: 'inserted',
        partition: p,
        eventId: e.event.id,
        offset: e.pipewarden.trail!.offset,
        seq,
        detail: `event ${e.event.id} at offset ${e.pipewarden.trail!.offset} claims position ${seq}, held by event ${genuine.event.id}`,
      });
    }
    const l = genuine.pipewarden.trail!;
    if (!linkIntact(genuine)) {
      fail({
        kind: 'modified',
        partition: p,
        eventId: genuine.event.id,
        offset: l.offset,
        seq,
        detail: `event ${genuine.event.id} at offset ${l.offset} (seq ${seq}) was modified: its content no longer matches its link`,
      });
    } else if (!gap && (last || expectPrev !== undefined) && l.prev !== (last?.hash ?? expectPrev)) {
      const prior = last
        ? `event ${last.id} at offset ${last.offset} (seq ${last.seq})`
        : `the event before seq ${seq}`;
      fail({
        kind: 'modified',
        partition: p,
        ...(last ? { eventId: last.id, offset: last.offset, seq: last.seq } : { seq: seq - 1 }),
        detail: `${prior} was modified and its link recomputed: event ${genuine.event.id} (seq ${seq}) links to another hash`,
      });
    }
    if (duplicateDelivery(genuine)?.held === false)
      fail({
        kind: 'deleted',
        partition: p,
        eventId: genuine.event.id,
        offset: l.offset,
        seq,
        detail: `event ${genuine.event.id} is held only as the second delivery kept at offset ${l.offset} (seq ${seq}): the stored event itself was deleted`,
      });
    const cp = heads.get(seq);
    if (cp && l.hash !== cp.head) {
      fail({
        kind: 'checkpoint-mismatch',
        partition: p,
        checkpoint: cp.n,
        seq,
        eventId: genuine.event.id,
        detail: `the chain at seq ${seq} does not reach the head signed by checkpoint ${cp.n}`,
      });
    } else if (cp && clean && brokenAt < cp.fromSeq) {
      report.lastVerified[p] = cp.n;
    }
    if (cp) expectPrev = cp.head;
    last = { seq, hash: l.hash, id: genuine.event.id, offset: l.offset };
  };

  const drain = (all: boolean) => {
    while (bySeq.size > (all ? 0 : WINDOW)) {
      const group = bySeq.popGroup();
      if (pending.length) settle(pending, group);
      pending = group;
    }
    if (all && pending.length) {
      settle(pending, undefined);
      pending = [];
    }
  };

  for await (const e of o.store.trailChain(p, fromOffset)) {
    const l = e.pipewarden.trail;
    if (!l) continue;
    report.events++;
    if (report.events % 10_000 === 0) o.onProgress?.(report.events);
    if (l.seq > toSeq && maxSeen && maxSeen.seq >= toSeq) break;
    if (maxSeen && l.seq < maxSeen.seq) {
      fail({
        kind: 'reordered',
        partition: p,
        eventId: e.event.id,
        offset: l.offset,
        seq: l.seq,
        detail: `event ${e.event.id} (seq ${l.seq}) is stored at offset ${l.offset}, after seq ${maxSeen.seq} at offset ${maxSeen.offset}`,
      });
    } else maxSeen = { seq: l.seq, offset: l.offset };
    bySeq.push(e);
    drain(false);
  }
  drain(true);
  o.onProgress?.(report.events);

  // Deleted at the end: the last checkpoint says the chain went further than the store does.
  const lastCp = cps.at(-1);
  const reached = (last as Last | undefined)?.seq ?? fromSeq - 1;
  if (lastCp && reached < lastCp.toSeq) {
    fail({
      kind: 'deleted',
      partition: p,
      seq: reached + 1,
      checkpoint: lastCp.n,
      detail: `${lastCp.toSeq - reached} event(s) deleted at the end of the chain (seq ${reached + 1}..${lastCp.toSeq}): checkpoint ${lastCp.n} signed seq ${lastCp.toSeq}`,
    });
  } else if (withTail && lastCp && reached > lastCp.toSeq) {
    report.notes.push(
      `partition ${p}: ${reached - lastCp.toSeq} event(s) after checkpoint ${lastCp.n} are chained but not yet signed`,
    );
  } else if (withTail && !lastCp && reached > 0) {
    report.notes.push(`partition ${p}: ${reached} event(s) chained, no checkpoint signed yet`);
  }
}

async function firstEvent(store: Store, p: number, fromOffset: number): Promise<PipewardenEvent | undefined> {
  for await (const e of store.trailChain(p, fromOffset)) return e;
  return undefined;
}

/** A min-heap of events by (seq, offset); popGroup takes every event of the smallest seq. */
class SeqHeap {
  readonly #a: PipewardenEvent[] = [];
  get size(): number {
    return this.#a.length;
  }
  #less(i: number, j: number): boolean {
    const x = this.#a[i]!.pipewarden.trail!;
    const y = this.#a[j]!.pipewarden.trail!;
    return x.seq < y.seq || (x.seq === y.seq && x.offset < y.offset);
  }
  #swap(i: number, j: number): void {
    const t = this.#a[i]!;
    this.#a[i] = this.#a[j]!;
    this.#a[j] = t;
  }
  push(e: PipewardenEvent): void {
    const a = this.#a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }
  #pop(): PipewardenEvent {
    const a = this.#a;
    const top = a[0]!;
    const end = a.pop()!;
    if (a.length > 0) {
      a[0] = end;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.#less(l, m)) m = l;
        if (r < a.length && this.#less(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
  popGroup(): PipewardenEvent[] {
    const first = this.#pop();
    const group = [first];
    const seq = first.pipewarden.trail!.seq;
    while (this.#a.length > 0 && this.#a[0]!.pipewarden.trail!.seq === seq) group.push(this.#pop());
    return group;
  }
}
