// One function per declared rule type: how an event changes a key's state, and when the key fires.
// The engine (engine.ts) does what is common to all of them: lanes, redelivery and lateness checks,
// dedup, change tracking, snapshots and pruning. Design: README.md.
import type { PipewardenEvent } from '../event.ts';
import {
  type Absence,
  type DistinctRule,
  type Firing,
  MAX_EVENT_IDS,
  type Period,
  type ScheduledRule,
  type SequenceRule,
  type ThresholdRule,
} from './types.ts';

export const NONE = Number.NEGATIVE_INFINITY;

/**
 * One rule's state for one key, in memory. `t`: threshold and sequence, event times ascending; distinct,
 * the last-seen time of each value in `v`; absence, the newest arrival (empty: none since `wm`);
 * scheduled, the oldest and newest event time in the open period. `e`: contributing event ids, see
 * `Ids`. `wm`: newest event time applied (absence: newest arrival, or when watching began; scheduled:
 * start of the open period). `fired`: event time of the last hit (absence: the silence reported).
 */
export interface KeyState {
  t: number[];
  v: string[] | undefined;
  e: string;
  n?: number; // scheduled only: events in the open period
  wm: number;
  fired: number;
  src: string | undefined;
  off: number;
}

export function newState(type: string): KeyState {
  const s: KeyState = {
    t: [],
    v: type === 'distinct' ? [] : undefined,
    e: '',
    wm: NONE,
    fired: NONE,
    src: undefined,
    off: -1,
  };
  if (type === 'scheduled') s.n = 0;
  return s;
}

/** What a window rule found for a key; the engine adds rule, key and event to make the `Firing`. */
export type Fire = Pick<Firing, 'count' | 'values' | 'firstAt' | 'lastAt' | 'eventIds'>;

/**
 * Contributing event ids, kept as ONE space-joined string per key state (one heap object instead of an
 * array of strings: about 34 bytes per id in memory and in the snapshot). For threshold and sequence the
 * ids belong to the NEWEST times in `t` (tail-aligned: a snapshot written before ids were kept has
 * fewer ids than times); for distinct they run parallel to `v`. An id holding a space or `%` is stored
 * URI-encoded.
 */
export const Ids = {
  split(e: string): string[] {
    if (e === '') return [];
    const ids = e.split(' ');
    return e.includes('%') ? ids.map((id) => (id.includes('%') ? decodeURIComponent(id) : id)) : ids;
  },
  join(ids: string[]): string {
    return ids.join(' ');
  },
  encode(id: string): string {
    return id.includes(' ') || id.includes('%') ? encodeURIComponent(id) : id;
  },
  /** Raw (still encoded) ids: for keeping, not for reporting. */
  raw(e: string): string[] {
    return e === '' ? [] : e.split(' ');
  },
};

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Index at which `t` goes into the ascending array. */
function insertAt(a: number[], t: number): number {
  let i = a.length;
  while (i > 0 && a[i - 1]! > t) i--;
  return i;
}

/** How many leading values of an ascending array are <= horizon. */
function countUpTo(a: number[], horizon: number): number {
  let n = 0;
  while (n < a.length && a[n]! <= horizon) n++;
  return n;
}

/**
 * Adds time `t` (event `id`) to ascending times with tail-aligned ids, drops times <= `horizon`, keeps
 * the newest `cap` times and `MAX_EVENT_IDS` ids.
 */
function addTime(s: KeyState, t: number, id: string, horizon: number, cap: number): void {
  const ids = Ids.raw(s.e);
  const i = insertAt(s.t, t);
  const lead = s.t.length - ids.length; // times with no id kept (older than the ids kept)
  s.t.splice(i, 0, t);
  if (i >= lead) ids.splice(i - lead, 0, Ids.encode(id));
  dropFront(s, ids, Math.max(s.t.length - cap, countUpTo(s.t, horizon)));
  if (ids.length > MAX_EVENT_IDS) ids.splice(0, ids.length - MAX_EVENT_IDS);
  s.e = Ids.join(ids);
}

/** Removes the `n` oldest times and, tail-aligned, their ids (does not write `s.e`). */
function dropFront(s: KeyState, ids: string[], n: number): void {
  if (n <= 0) return;
  const lead = s.t.length - ids.length;
  if (n > lead) ids.splice(0, n - lead);
  s.t.splice(0, n);
}

/** The ids of the newest `count` times (at most `MAX_EVENT_IDS`), oldest first. */
function newestIds(s: KeyState, count: number): string[] {
  const ids = Ids.split(s.e);
  return ids.slice(Math.max(0, ids.length - Math.min(count, MAX_EVENT_IDS)));
}

export function applyThreshold(
  rule: ThresholdRule<any>,
  s: KeyState,
  event: PipewardenEvent,
  t: number,
  horizon: number,
  cap: number,
): Fire | undefined {
  addTime(s, t, event.event.id, horizon, cap);
  if (s.t.length < rule.threshold) return undefined;
  return {
    count: s.t.length,
    firstAt: iso(s.t[0]!),
    lastAt: iso(s.t.at(-1)!),
    eventIds: newestIds(s, s.t.length),
  };
}

export function applyDistinct(
  rule: DistinctRule<any>,
  s: KeyState,
  event: PipewardenEvent,
  t: number,
  horizon: number,
  cap: number,
): Fire | undefined | null {
  const value = rule.field(event);
  if (value === undefined || value === '') return null; // not counted (the key's newest time still moves)
  const v = s.v!;
  const ids = Ids.raw(s.e);
  while (ids.length < v.length) ids.push(''); // a snapshot from before ids were kept
  const id = Ids.encode(event.event.id);
  const i = v.indexOf(value);
  if (i >= 0) {
    if (t >= s.t[i]!) {
      s.t[i] = t;
      ids[i] = id; // the newest event of each value stands for it
    }
  } else {
    v.push(value);
    s.t.push(t);
    ids.push(id);
  }
  // Drop values last seen before the window, and beyond the cap the one seen longest ago.
  for (let j = s.t.length - 1; j >= 0; j--) {
    if (s.t[j]! <= horizon) {
      s.t.splice(j, 1);
      v.splice(j, 1);
      ids.splice(j, 1);
    }
  }
  while (s.t.length > cap) {
    const oldest = s.t.indexOf(Math.min(...s.t));
    s.t.splice(oldest, 1);
    v.splice(oldest, 1);
    ids.splice(oldest, 1);
  }
  s.e = Ids.join(ids);
  if (v.length < rule.threshold) return undefined;
  const order = s.t.map((_, j) => j).sort((a, b) => s.t[b]! - s.t[a]!); // newest first
  const all = Ids.split(s.e);
  return {
    count: v.length,
    values: order.map((j) => v[j]!),
    firstAt: iso(s.t[order.at(-1)!]!),
    lastAt: iso(s.t[order[0]!]!),
    eventIds: order
      .slice(0, MAX_EVENT_IDS)
      .reverse()
      .map((j) => all[j]!)
      .filter((x) => x !== ''),
  };
}

export function applySequence(
  rule: SequenceRule<any>,
  s: KeyState,
  event: PipewardenEvent,
  t: number,
  horizon: number,
  cap: number,
  windowMs: number,
  config: unknown,
): Fire | undefined {
  if (rule.first(event, config)) {
    addTime(s, t, event.event.id, horizon, cap);
    return undefined;
  }
  if (!rule.followedBy(event, config)) return undefined;
  // First-step events strictly before this one, within the window before it.
  const ids = Ids.raw(s.e);
  const lo = countUpTo(s.t, t - windowMs);
  const hi = countUpTo(s.t, t); // times <= t
  const before = s.t.slice(lo, hi);
  const lead = s.t.length - ids.length;
  const contributing = ids.slice(Math.max(0, lo - lead), Math.max(0, hi - lead)).map(decode);
  dropFront(s, ids, countUpTo(s.t, horizon));
  let fire: Fire | undefined;
  if (before.length >= (rule.minFirst ?? 1)) {
    contributing.push(event.event.id);
    fire = {
      count: before.length,
      firstAt: iso(before[0]!),
      lastAt: iso(t),
      eventIds: contributing.slice(-MAX_EVENT_IDS),
    };
    dropFront(s, ids, countUpTo(s.t, t)); // this run is reported; a later success needs new failures
  }
  s.e = Ids.join(ids);
  return fire;
}

function decode(id: string): string {
  return id.includes('%') ? decodeURIComponent(id) : id;
}

/** When an event of the key arrived (ms): `event.ingested`, else its `@timestamp`. */
export function arrival(event: PipewardenEvent): number {
  const t = Date.parse(event.event?.ingested ?? event['@timestamp']);
  return Number.isNaN(t) ? Date.parse(event['@timestamp']) : t;
}

/** Absence: notes the newest arrival of the key and its event. */
export function observeAbsence(s: KeyState, event: PipewardenEvent): void {
  const a = arrival(event);
  if (Number.isNaN(a)) return;
  if (s.t.length === 0 || a > s.t[0]!) {
    s.t = [a];
    s.e = Ids.encode(event.event.id);
  }
  if (a > s.wm) s.wm = a;
}

/** Absence at a check time: the silence to report, if any (one per silence: `fired` holds its start). */
export function judgeAbsence(
  s: KeyState,
  key: string,
  maxMs: number,
  atMs: number,
): { from: number; absence: Omit<Absence, 'rule' | 'keyBy'> } | undefined {
  const last = s.t[0];
  const from = last ?? s.wm; // never seen: silent since watching began
  const silentMs = atMs - from;
  if (silentMs <= maxMs || s.fired === from) return undefined;
  return {
    from,
    absence: {
      key,
      lastSeen: last === undefined ? null : iso(last),
      lastEventId: last === undefined || s.e === '' ? null : decode(s.e),
      since: iso(last === undefined ? s.wm : Math.min(s.wm, last)),
      silentMs,
      maxMs,
      at: iso(atMs),
    },
  };
}

/** Scheduled: counts the event into the key's open period. */
export function observeScheduled(s: KeyState, event: PipewardenEvent, t: number): void {
  s.n = (s.n ?? 0) + 1;
  const ids = Ids.raw(s.e);
  ids.push(Ids.encode(event.event.id));
  if (ids.length > MAX_EVENT_IDS) ids.splice(0, ids.length - MAX_EVENT_IDS);
  s.e = Ids.join(ids);
  s.t = s.t.length === 0 ? [t, t] : [Math.min(s.t[0]!, t), Math.max(s.t[1]!, t)];
}

/** Scheduled at a run: the key's period, then the state starts the next one. */
export function closePeriod(
  rule: ScheduledRule<any>,
  s: KeyState,
  key: string,
  fromMs: number,
  atMs: number,
): Period {
  const period: Period = {
    rule: rule.id,
    keyBy: rule.keyBy,
    key,
    from: iso(fromMs),
    to: iso(atMs),
    count: s.n ?? 0,
    eventIds: Ids.split(s.e),
    firstAt: s.t.length ? iso(s.t[0]!) : null,
    lastAt: s.t.length ? iso(s.t[1]!) : null,
  };
  s.n = 0;
  s.e = '';
  s.t = [];
  s.wm = atMs;
  return period;
}
