// The index role's side of the trail: chains each partition's events in offset order before they are
// stored, and writes a signed checkpoint every N events or T seconds, to the store and to the anchors.
// Redelivery is harmless: an event already stored keeps its link, and the chain goes on from that link.
import type { KeyObject } from 'node:crypto';
import { readEvent } from '../bus/messages.ts';
import type { ConsumedMessage } from '../bus/types.ts';
import type { PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import type { IndexOptions, Store } from '../store/types.ts';
import type { Anchor } from './anchors/types.ts';
import { type Head, link } from './chain.ts';
import { checkpointHash, signCheckpoint } from './checkpoint.ts';
import { keyId } from './key.ts';
import { type Checkpoint, GENESIS, type TrailLink } from './types.ts';

export interface TrailIndexerOptions {
  store: Store;
  log: Logger;
  now: () => Date;
  /** The signing key; without one, events are stored unchained (the trail is off). */
  key?: KeyObject;
  checkpoint: { everyEvents: number; everySeconds: number };
  anchors: Anchor[];
  /** Kafka: a partition's offsets follow on, so the next batch starting where the last ended proves no one else indexed in between. */
  contiguousOffsets: boolean;
}

interface ChainHead extends Head {
  ingested: string;
}

/**
 * One event of a batch; `kept`, what the store keeps of the message's own (Store.trailKeptText), for a
 * version 3 link: its text, or its bytes (valid UTF-8) where the bus had them and the store keeps them so.
 */
interface Item {
  offset: number;
  e: PipewardenEvent;
  kept: string | Uint8Array | undefined;
}

interface Chained {
  head: ChainHead;
  fresh: PipewardenEvent[];
  sourceTexts: Map<PipewardenEvent, string | Uint8Array>;
  /** The first event after the last checkpoint, when this batch chained it. */
  segmentStart?: { offset: number; ingested: string };
}

const NONE: ReadonlyMap<string, TrailLink | null> = new Map();

interface PartitionState {
  /** Known only while this process indexed the partition's last batch. */
  head?: { at: ChainHead; next: number };
  last?: Checkpoint;
  loaded: boolean;
  /** The first event after the last checkpoint, and when it was chained. */
  segmentStart?: { offset: number; ingested: string; at: number };
}

export class TrailIndexer {
  readonly #o: TrailIndexerOptions;
  readonly #parts = new Map<number, PartitionState>();
  readonly #locks = new Map<number, Promise<unknown>>();
  readonly #keyId: string | undefined;

  constructor(options: TrailIndexerOptions) {
    this.#o = options;
    this.#keyId = options.key ? keyId(options.key) : undefined;
  }

  get chaining(): boolean {
    return this.#o.key !== undefined;
  }

  /** Reads, chains and stores one batch from the events topic (the index role's handler). */
  async index(batch: ConsumedMessage[], options: IndexOptions = {}): Promise<void> {
    const { log, store } = this.#o;
    if (!this.#o.key) {
      // Unchained, an event is stored exactly as read: the store may send the message's own bytes (or
      // text) rather than serialise and encode the event again (20-30 µs of a 7 KB event).
      const sourceTexts = new Map<PipewardenEvent, string | Uint8Array>();
      for (const m of batch) {
        const e = readEvent(m, log);
        if (e) sourceTexts.set(e, m.bytes ?? m.value);
      }
      if (sourceTexts.size) await store.indexEvents([...sourceTexts.keys()], { ...options, sourceTexts });
      return;
    }
    const byPartition = new Map<number, ConsumedMessage[]>();
    for (const m of batch) {
      const list = byPartition.get(m.partition);
      if (list) list.push(m);
      else byPartition.set(m.partition, [m]);
    }
    await Promise.all(
      [...byPartition].map(([p, msgs]) => this.#locked(p, () => this.#indexPartition(p, msgs))),
    );
  }

  /** Checkpoints every partition whose oldest unsigned event is older than everySeconds (timer). */
  async checkpointDue(): Promise<void> {
    const nowMs = this.#o.now().getTime();
    for (const [p, s] of this.#parts) {
      if (s.segmentStart && nowMs - s.segmentStart.at >= this.#o.checkpoint.everySeconds * 1000) {
        await this.#locked(p, async () => {
          const head = s.head?.at;
          if (head && s.segmentStart) await this.#checkpoint(p, s, head);
        });
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#locks.values()]);
    await Promise.allSettled(this.#o.anchors.map((a) => a.close?.()));
  }

  #locked<T>(p: number, fn: () => Promise<T>): Promise<T> {
    const prior = this.#locks.get(p) ?? Promise.resolve();
    const run = prior.then(fn, fn);
    this.#locks.set(
      p,
      run.catch(() => {}),
    );
    return run;
  }

  async #state(p: number): Promise<PartitionState> {
    let s = this.#parts.get(p);
    if (!s) {
      s = { loaded: false };
      this.#parts.set(p, s);
    }
    if (!s.loaded) {
      const last = (await this.#o.store.trailCheckpoints(p)).at(-1);
      if (last) s.last = last;
      s.loaded = true;
    }
    return s;
  }

  /**
   * `check`: look up which events are already stored first. A store that can append all-or-nothing
   * (trailAppend) skips that while this process holds the partition's head: if anything turns out to be
   * stored already, nothing was written and the batch runs again with the check. A store that keeps
   * duplicate deliveries (trailKeepsDuplicates) skips it too: holding the head, nothing of ours is
   * redelivered, and a second delivery is chained and kept like any other. Any other store checks always.
   */
  async #indexPartition(p: number, msgs: ConsumedMessage[], check = false): Promise<void> {
    const { store, log } = this.#o;
    const s = await this.#state(p);
    const firstOffset = Number(msgs[0]!.offset);
    const nextOffset = Number(msgs.at(-1)!.offset) + 1;
    const items: Item[] = [];
    for (const m of msgs) {
      const e = readEvent(m, log);
      if (!e) continue;
      // The message's bytes where the bus has them (Kafka): the store keeps them undecoded if it can.
      const kept = store.trailKeptText?.(m.bytes ?? m.value, e);
      items.push({ offset: Number(m.offset), e, kept });
    }
    const known = s.head;
    const headValid =
      known !== undefined &&
      known.at.offset < firstOffset &&
      (!this.#o.contiguousOffsets || known.next === firstOffset);
    if (items.length === 0) {
      if (headValid) s.head = { at: known.at, next: nextOffset };
      return;
    }
    // A store that keeps duplicate deliveries chains every delivery, holding the head, without a look-up.
    const duplicates = store.trailKeepsDuplicates === true;
    const fast = !check && headValid && (store.trailAppend !== undefined || duplicates);
    let chained: Chained;
    if (fast) chained = this.#chain(p, s, items, known.at, NONE, duplicates);
    else {
      const existing = await store.trailExisting([...new Set(items.map((i) => i.e.event.id))]);
      let head: ChainHead;
      if (headValid) head = known.at;
      else {
        // After a start, a rebalance or a failed attempt: continue from what the store holds.
        const before = await store.trailLinkBefore(p, firstOffset);
        const l = before?.pipewarden.trail;
        head = l
          ? { seq: l.seq, hash: l.hash, offset: l.offset, ingested: before!.event.ingested }
          : { seq: 0, hash: GENESIS, offset: -1, ingested: '' };
      }
      chained = this.#chain(p, s, items, head, existing, duplicates);
    }
    const { head, fresh, sourceTexts } = chained;
    const lastSeq = s.last?.toSeq ?? 0;
    if (chained.segmentStart) s.segmentStart ??= { ...chained.segmentStart, at: this.#o.now().getTime() };
    if (fast && store.trailAppend) {
      // The checkpoint this batch completes goes in the same transaction as its events.
      const cp =
        head.seq > lastSeq && s.segmentStart && this.#due(s, head) ? this.#sign(p, s, head) : undefined;
      if (!(await store.trailAppend!(fresh, cp))) return this.#indexPartition(p, msgs, true);
      s.head = { at: head, next: nextOffset };
      if (cp) await this.#signed(p, s, cp);
      return;
    }
    if (fresh.length)
      await store.indexEvents(fresh, {
        ...(sourceTexts.size ? { sourceTexts } : {}),
        ...(duplicates ? { keepDuplicates: true } : {}),
      });
    s.head = { at: head, next: nextOffset };
    if (head.seq > lastSeq) {
      if (!s.segmentStart) s.segmentStart = await this.#segmentStart(p, s, head);
      if (this.#due(s, head)) await this.#checkpoint(p, s, head);
    }
  }

  /**
   * Links the batch's events after `head`, passing over what `existing` holds: a redelivered event keeps
   * its link and the chain goes on from it. A duplicate of an event stored before (same id, another
   * delivery) and the same event twice in the batch are not chained again; where the store keeps
   * duplicate deliveries (`duplicates`), they are chained like any other (the store keeps them), so the
   * links depend only on the head and the messages: a batch chained again gives the same links.
   */
  #chain(
    p: number,
    s: PartitionState,
    items: Item[],
    from: ChainHead,
    existing: ReadonlyMap<string, TrailLink | null>,
    duplicates = false,
  ): Chained {
    const lastSeq = s.last?.toSeq ?? 0;
    let head = from;
    let segmentStart: Chained['segmentStart'];
    const fresh: PipewardenEvent[] = [];
    // Each chained event's JSON text, link included, for a store that sends JSON (see link()); for a
    // version 3 link, the kept text's bytes where the message had them (the store need not encode it).
    const sourceTexts = new Map<PipewardenEvent, string | Uint8Array>();
    const inBatch = new Set<string>();
    for (const { offset, e, kept } of items) {
      const id = e.event.id;
      if (!duplicates && inBatch.has(id)) continue; // the same event twice in one batch: one document, one link
      const stored = existing.get(id);
      if (stored !== undefined) {
        // Redelivered: it keeps its link and the chain goes on from it. Otherwise a duplicate of an
        // event stored before (same content, another delivery): it is not chained again, unless the
        // store keeps duplicate deliveries.
        if (stored && stored.partition === p && stored.offset === offset) {
          head = { seq: stored.seq, hash: stored.hash, offset, ingested: e.event.ingested };
          continue;
        }
        if (!duplicates) continue;
      }
      inBatch.add(id);
      const h = link(head, p, offset, e, kept);
      head = { seq: h.seq, hash: h.hash, offset, ingested: e.event.ingested };
      if (h.seq === lastSeq + 1 && !s.segmentStart) segmentStart = { offset, ingested: e.event.ingested };
      fresh.push(e);
      if (h.linkedText !== undefined) sourceTexts.set(e, h.linkedText);
      else if (kept !== undefined && typeof kept !== 'string') sourceTexts.set(e, kept);
    }
    return { head, fresh, sourceTexts, ...(segmentStart ? { segmentStart } : {}) };
  }

  #due(s: PartitionState, head: ChainHead): boolean {
    return (
      head.seq - (s.last?.toSeq ?? 0) >= this.#o.checkpoint.everyEvents ||
      this.#o.now().getTime() - s.segmentStart!.at >= this.#o.checkpoint.everySeconds * 1000
    );
  }

  /**
   * Where the unsigned part of the chain starts, read back from the store (after a restart). If that
   * event is gone (someone deleted it), the segment starts at the first one left: indexing goes on, and
   * `trail verify` reports the gap.
   */
  async #segmentStart(
    p: number,
    s: PartitionState,
    head: ChainHead,
  ): Promise<NonNullable<PartitionState['segmentStart']>> {
    await this.#o.store.refresh();
    const at = this.#o.now().getTime();
    for await (const e of this.#o.store.trailChain(p, (s.last?.toOffset ?? -1) + 1)) {
      const l = e.pipewarden.trail!;
      if (l.seq > (s.last?.toSeq ?? 0)) return { offset: l.offset, ingested: e.event.ingested, at };
    }
    return { offset: head.offset, ingested: head.ingested, at };
  }

  async #checkpoint(p: number, s: PartitionState, head: ChainHead): Promise<void> {
    const cp = this.#sign(p, s, head);
    if (!cp) return;
    await this.#o.store.putTrailCheckpoint(cp);
    await this.#signed(p, s, cp);
  }

  /** The checkpoint over the partition's unsigned segment up to `head` (not stored yet). */
  #sign(p: number, s: PartitionState, head: ChainHead): Checkpoint | undefined {
    const start = s.segmentStart;
    const fromSeq = (s.last?.toSeq ?? 0) + 1;
    if (!start || head.seq < fromSeq) return undefined;
    return signCheckpoint(
      {
        v: 1,
        partition: p,
        n: (s.last?.n ?? 0) + 1,
        fromSeq,
        toSeq: head.seq,
        count: head.seq - fromSeq + 1,
        fromOffset: start.offset,
        toOffset: head.offset,
        fromTime: start.ingested,
        toTime: head.ingested,
        head: head.hash,
        prev: s.last ? checkpointHash(s.last) : GENESIS,
        time: this.#o.now().toISOString(),
        keyId: this.#keyId!,
      },
      this.#o.key!,
    );
  }

  /** After the checkpoint is stored: the next segment starts, and the anchors get it. */
  async #signed(p: number, s: PartitionState, cp: Checkpoint): Promise<void> {
    s.last = cp;
    delete s.segmentStart;
    // An anchor that fails is logged; the checkpoint stays in the store and `trail verify --anchor` names it.
    const results = await Promise.allSettled(this.#o.anchors.map((a) => a.publish([cp])));
    results.forEach((r, i) => {
      if (r.status === 'rejected')
        this.#o.log.error(
          { anchor: this.#o.anchors[i]!.name, partition: p, checkpoint: cp.n, err: r.reason },
          'Trail anchor failed; the checkpoint is only in the store.',
        );
    });
  }
}
