// Runs every enabled detector over each event: stateless `match`, and the declared stateful rules
// (threshold, distinct, sequence) with per-key window state on event time, dedup, pruning and
// snapshots of changed state. Design and its reasons: src/detect/README.md.
import type { Hit } from '../alerting/types.ts';
import { eventId, type PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import {
  type Detector,
  type Firing,
  KEY_FIELDS,
  type KeyField,
  keyValue,
  type Match,
  type Rule,
} from './types.ts';

export interface EnabledDetector {
  detector: Detector<any>;
  config: { enabled: boolean };
}

export interface EngineStats {
  events: number;
  hits: number;
  suppressed: number;
  errors: Record<string, number>; // by detector id
  /** Events older than their key's window when they arrived: not counted. */
  late: number;
  /** Events a key's state had already applied (bus redelivery after a restart): not counted twice. */
  redelivered: number;
  /** Key states dropped because a rule held more than `maxKeysPerRule` keys (oldest touched first). */
  evicted: number;
}

export interface EngineOptions {
  log?: Logger;
  /** Event times later than `now` + this are taken as `now` (a wrong clock must not expire every window). Default 5 min. */
  maxClockSkewMs?: number;
  /** Key state stays this long past its window (event time), for sources that report late. Default 10 min. */
  allowedLatenessMs?: number;
  /** Upper bound of keys per rule; beyond it the least recently touched key is dropped. Default 1,000,000. */
  maxKeysPerRule?: number;
  /** Record changed and pruned keys for `drainChanges()` (the detect role's snapshots). Default false. */
  trackChanges?: boolean;
}

/**
 * Which part of the work one evaluation does. `all`: everything (embedded mode, replay, tests).
 * `events`: what a consumer of the events topic can do correctly — `match` and the rules keyed by the
 * topic's own key (`user.name`). A key field: the rules keyed by it, on the re-keyed topic.
 */
export type Lane = 'all' | 'events' | KeyField;

/** The key field the events topic is partitioned by (src/event.ts partitionKey prefers it). */
export const EVENTS_TOPIC_KEY: KeyField = 'user.name';

/** Where a consumed message came from; lets key state skip what it has already applied. */
export interface BusPosition {
  topic: string;
  partition: number;
  offset: string;
}

/** The serialisable state of one rule for one key. */
export interface KeyStateJson {
  t: number[]; // threshold / sequence: event times (ms), ascending; distinct: last-seen times
  v?: string[]; // distinct: values, parallel to t
  wm: number; // newest event time applied
  fired: number | null; // event time of the last hit
  src?: string; // topic/partition of the last applied event
  off?: number; // its offset
}

export interface StateEntry {
  id: string; // stable, derived from detector, rule and key
  detector: string;
  rule: string;
  key: string;
  expiresAt: number; // event time (ms) after which the entry is useless
  state: KeyStateJson;
}

export interface StateChanges {
  upserts: StateEntry[];
  deletes: string[];
}

interface KeyState {
  t: number[];
  v: string[] | undefined;
  wm: number;
  fired: number;
  src: string | undefined;
  off: number;
}

interface CompiledRule {
  detector: Detector<any>;
  config: { enabled: boolean };
  rule: Rule<any>;
  windowMs: number;
  dedupMs: number;
  cap: number; // timestamps or values kept per key
  states: Map<string, KeyState>; // insertion order = last touched, so the front expires first
}

interface DetectorPlan {
  detector: Detector<any>;
  config: { enabled: boolean };
  rules: CompiledRule[];
  byLane: Map<Lane, CompiledRule[]>; // filled on first use
}

const MAX_COUNT = 1000;
const MIN_WINDOW_MS = 1_000;
const MAX_WINDOW_MS = 7 * 86_400_000;
const PRUNE_EVERY = 1024;
const NONE = Number.NEGATIVE_INFINITY;

export function defaultKey(e: PipewardenEvent): string {
  return e.user?.name ?? e.source?.ip ?? e.pipewarden.repository ?? 'global';
}

/** Topic suffix for a key field: `source.ip` → `by-source-ip`. */
export function rekeyedTopic(eventsTopic: string, field: KeyField): string {
  return `${eventsTopic}.by-${field.replaceAll('.', '-').replaceAll('_', '-')}`;
}

export function stateId(detector: string, rule: string, key: string): string {
  return eventId('detect-state', detector, rule, key);
}

export class DetectionEngine {
  readonly stats: EngineStats = {
    events: 0,
    hits: 0,
    suppressed: 0,
    errors: {},
    late: 0,
    redelivered: 0,
    evicted: 0,
  };
  readonly #plans: DetectorPlan[];
  readonly #rules: CompiledRule[];
  readonly #log: Logger | undefined;
  readonly #skewMs: number;
  readonly #latenessMs: number;
  readonly #maxKeys: number;
  readonly #track: boolean;
  readonly #dirty = new Map<string, { rule: CompiledRule; key: string }>();
  readonly #deleted = new Set<string>();
  #watermark = NONE; // newest (clamped) event time seen by this engine
  #sincePrune = 0;
  // Last time a (detector, key, summary) fired through `match`, for declared dedup periods. Bounded by pruning.
  readonly #lastFired = new Map<string, number>();

  constructor(detectors: EnabledDetector[], logOrOptions?: Logger | EngineOptions) {
    const options: EngineOptions =
      logOrOptions && 'info' in logOrOptions && typeof logOrOptions.info === 'function'
        ? { log: logOrOptions as Logger }
        : ((logOrOptions as EngineOptions | undefined) ?? {});
    this.#log = options.log;
    this.#skewMs = options.maxClockSkewMs ?? 5 * 60_000;
    this.#latenessMs = options.allowedLatenessMs ?? 10 * 60_000;
    this.#maxKeys = options.maxKeysPerRule ?? 1_000_000;
    this.#track = options.trackChanges ?? false;
    const problems: string[] = [];
    this.#plans = detectors
      .filter((d) => d.config.enabled)
      .map(({ detector, config }) => ({
        detector,
        config,
        rules: compileRules(detector, config, problems),
        byLane: new Map(),
      }));
    if (problems.length) throw new Error(`invalid detector rules:\n  - ${problems.join('\n  - ')}`);
    this.#rules = this.#plans.flatMap((p) => p.rules);
  }

  get detectorIds(): string[] {
    return this.#plans.map((p) => p.detector.id);
  }

  /** Keys held in memory, over every rule. */
  get keyCount(): number {
    let n = 0;
    for (const r of this.#rules) n += r.states.size;
    return n;
  }

  /** Key fields used by enabled rules that the events topic is not partitioned by: each needs a re-keyed topic. */
  rekeyedFields(): KeyField[] {
    const used = new Set(this.#rules.map((r) => r.rule.keyBy));
    return KEY_FIELDS.filter((f) => f !== EVENTS_TOPIC_KEY && used.has(f));
  }

  /**
   * For the events lane in distributed mode: the (field, key) pairs under which this event must be
   * re-published so that the consumer of that field's topic sees every event of the key.
   */
  rekeyTargets(event: PipewardenEvent): Array<{ keyBy: KeyField; key: string }> {
    const out = new Map<KeyField, string>();
    for (const r of this.#rules) {
      const f = r.rule.keyBy;
      if (f === EVENTS_TOPIC_KEY || out.has(f)) continue;
      const key = keyValue(event, f);
      if (key === undefined) continue;
      try {
        if (!r.detector.appliesTo(event, r.config) || (r.rule.when && !r.rule.when(event, r.config)))
          continue;
      } catch {
        continue; // the consumer of the re-keyed topic would only throw again; it is counted there
      }
      out.set(f, key);
    }
    return [...out].map(([keyBy, key]) => ({ keyBy, key }));
  }

  /** Ids of the key states this event would touch in `lane` that are not in memory (to load from a snapshot). */
  missingState(event: PipewardenEvent, lane: Lane = 'all'): string[] {
    const out: string[] = [];
    for (const r of this.#rules) {
      if (!inLane(r, lane)) continue;
      const key = keyValue(event, r.rule.keyBy);
      if (key === undefined || r.states.has(key)) continue;
      try {
        if (!r.detector.appliesTo(event, r.config) || (r.rule.when && !r.rule.when(event, r.config)))
          continue;
      } catch {
        continue;
      }
      out.push(stateId(r.detector.id, r.rule.id, key));
    }
    return out;
  }

  /** Puts snapshot entries back into memory (not marked changed). Unknown detectors or rules are ignored. */
  restore(entries: Iterable<StateEntry>): number {
    let n = 0;
    for (const e of entries) {
      const r = this.#rules.find((x) => x.detector.id === e.detector && x.rule.id === e.rule);
      if (!r || r.states.has(e.key)) continue;
      const s = e.state;
      r.states.set(e.key, {
        t: s.t.slice(-r.cap),
        v: s.v ? s.v.slice(-r.cap) : r.rule.type === 'distinct' ? [] : undefined,
        wm: s.wm,
        fired: s.fired ?? NONE,
        src: s.src,
        off: s.off ?? -1,
      });
      if (s.wm > this.#watermark) this.#watermark = s.wm;
      n++;
    }
    return n;
  }

  /**
   * Key states of `lane` changed since the last call, and every key pruned (needs `trackChanges`).
   * Per lane, so one consumer never snapshots state whose hits another consumer has not yet published.
   */
  drainChanges(lane: Lane = 'all'): StateChanges {
    const upserts: StateEntry[] = [];
    for (const [id, { rule: r, key }] of this.#dirty) {
      if (!inLane(r, lane)) continue;
      this.#dirty.delete(id);
      const s = r.states.get(key);
      if (!s) continue;
      const state: KeyStateJson = { t: s.t, wm: s.wm, fired: s.fired === NONE ? null : s.fired };
      if (s.v) state.v = s.v;
      if (s.src !== undefined) {
        state.src = s.src;
        state.off = s.off;
      }
      upserts.push({
        id: stateId(r.detector.id, r.rule.id, key),
        detector: r.detector.id,
        rule: r.rule.id,
        key,
        expiresAt: expiresAt(r, s) + this.#latenessMs,
        state,
      });
    }
    const changes = { upserts, deletes: [...this.#deleted] };
    this.#deleted.clear();
    return changes;
  }

  /**
   * Forgets the in-memory state of `lane` changed since the last drain, so that a batch whose hits
   * could not be published is re-evaluated from the last snapshot when the bus redelivers it.
   */
  discardChanges(lane: Lane = 'all'): number {
    let n = 0;
    for (const [id, { rule: r, key }] of this.#dirty) {
      if (!inLane(r, lane)) continue;
      this.#dirty.delete(id);
      r.states.delete(key);
      n++;
    }
    return n;
  }

  /**
   * Drops every key state of `lane` from memory (changed or not), so the next event of each key loads
   * the latest snapshot. For a rebalance: another instance may have advanced these keys meanwhile.
   */
  forget(lane: Lane = 'all'): number {
    let n = 0;
    for (const [id, { rule: r }] of this.#dirty) if (inLane(r, lane)) this.#dirty.delete(id);
    for (const r of this.#rules) {
      if (!inLane(r, lane)) continue;
      n += r.states.size;
      r.states.clear();
    }
    return n;
  }

  /**
   * Hits for one event. `now` is the processing time, passed in so replays are deterministic (replay
   * passes the event's own time); windows run on the event's `@timestamp`.
   */
  evaluate(event: PipewardenEvent, now: Date, options: { lane?: Lane; position?: BusPosition } = {}): Hit[] {
    const lane = options.lane ?? 'all';
    this.stats.events++;
    const nowMs = now.getTime();
    const t = this.#eventTime(event, nowMs);
    if (t > this.#watermark) this.#watermark = t;
    const hits: Hit[] = [];
    for (const plan of this.#plans) {
      const { detector, config } = plan;
      const stateless = (lane === 'all' || lane === 'events') && detector.match !== undefined;
      let rules = plan.byLane.get(lane);
      if (!rules) {
        rules = plan.rules.filter((r) => inLane(r, lane));
        plan.byLane.set(lane, rules);
      }
      if (!stateless && rules.length === 0) continue;
      try {
        if (!detector.appliesTo(event, config)) continue;
        if (stateless) this.#match(detector, config, event, now, hits);
        for (const r of rules) this.#apply(r, event, t, now, options.position, hits);
      } catch (err) {
        this.stats.errors[detector.id] = (this.stats.errors[detector.id] ?? 0) + 1;
        this.#log?.error(
          { detector: detector.id, eventId: event.event.id, err },
          'Detector threw; skipped it for this event.',
        );
      }
    }
    if (++this.#sincePrune >= PRUNE_EVERY) this.prune();
    this.stats.hits += hits.length;
    return hits;
  }

  /** Drops key states whose window (and dedup period) ended before the engine's event-time watermark. */
  prune(): void {
    this.#sincePrune = 0;
    const horizon = this.#watermark - this.#latenessMs;
    for (const r of this.#rules) {
      // Front = least recently touched; stop at the first live one (amortised O(1) per event).
      for (const [key, s] of r.states) {
        if (expiresAt(r, s) > horizon && r.states.size <= this.#maxKeys) break;
        if (expiresAt(r, s) > horizon) this.stats.evicted++;
        r.states.delete(key);
        this.#forget(r, key);
      }
    }
  }

  #match(
    detector: Detector<any>,
    config: { enabled: boolean },
    event: PipewardenEvent,
    now: Date,
    hits: Hit[],
  ): void {
    const m = detector.match!(event, { config, now });
    const matches = m === null ? [] : Array.isArray(m) ? m : [m];
    const key = (detector.key ?? defaultKey)(event);
    for (const [i, match] of matches.entries()) {
      if (
        detector.dedupMs &&
        this.#suppressed(detector.id, key, match.summary, detector.dedupMs, now.getTime())
      ) {
        this.stats.suppressed++;
        continue;
      }
      hits.push(makeHit(detector, event, key, match, i, now));
    }
  }

  #apply(
    r: CompiledRule,
    event: PipewardenEvent,
    t: number,
    now: Date,
    position: BusPosition | undefined,
    hits: Hit[],
  ): void {
    const { rule, config } = r;
    const key = keyValue(event, rule.keyBy);
    if (key === undefined) return;
    if (rule.when && !rule.when(event, config)) return;
    let s = r.states.get(key);
    if (s && position) {
      const src = `${position.topic}/${position.partition}`;
      if (s.src === src && Number(position.offset) <= s.off) {
        this.stats.redelivered++;
        return;
      }
    }
    if (s && t <= s.wm - r.windowMs) {
      this.stats.late++;
      return;
    }
    if (s)
      r.states.delete(key); // re-inserted below: keeps the map in last-touched order
    else
      s = {
        t: [],
        v: rule.type === 'distinct' ? [] : undefined,
        wm: NONE,
        fired: NONE,
        src: undefined,
        off: -1,
      };
    r.states.set(key, s);
    if (position) {
      s.src = `${position.topic}/${position.partition}`;
      s.off = Number(position.offset);
    }
    if (t > s.wm) s.wm = t;
    if (this.#track) {
      const id = stateId(r.detector.id, rule.id, key);
      this.#dirty.set(id, { rule: r, key });
      this.#deleted.delete(id);
    }

    let fire: Omit<Firing, 'rule' | 'keyBy' | 'key' | 'windowMs' | 'event'> | undefined;
    const horizon = s.wm - r.windowMs; // a time counts while it is > horizon
    if (rule.type === 'threshold') {
      insertSorted(s.t, t, r.cap);
      dropUpTo(s.t, horizon);
      if (s.t.length >= rule.threshold)
        fire = { count: s.t.length, firstAt: iso(s.t[0]!), lastAt: iso(s.t.at(-1)!) };
    } else if (rule.type === 'distinct') {
      const value = rule.field(event);
      if (value === undefined || value === '') return;
      const v = s.v!;
      const i = v.indexOf(value);
      if (i >= 0) {
        if (t > s.t[i]!) s.t[i] = t;
      } else {
        v.push(value);
        s.t.push(t);
      }
      // Drop values last seen before the window, and beyond the cap the one seen longest ago.
      for (let j = s.t.length - 1; j >= 0; j--) {
        if (s.t[j]! <= horizon) {
          s.t.splice(j, 1);
          v.splice(j, 1);
        }
      }
      while (s.t.length > r.cap) {
        const oldest = s.t.indexOf(Math.min(...s.t));
        s.t.splice(oldest, 1);
        v.splice(oldest, 1);
      }
      if (v.length >= rule.threshold) {
        const order = s.t.map((_, j) => j).sort((a, b) => s!.t[b]! - s!.t[a]!);
        fire = {
          count: v.length,
          values: order.map((j) => v[j]!),
          firstAt: iso(s.t[order.at(-1)!]!),
          lastAt: iso(s.t[order[0]!]!),
        };
      }
    } else {
      if (rule.first(event, config)) {
        insertSorted(s.t, t, r.cap);
        dropUpTo(s.t, horizon);
      } else if (rule.followedBy(event, config)) {
        // First-step events strictly before this one, within the window before it.
        const before = s.t.filter((x) => x <= t && x > t - r.windowMs);
        dropUpTo(s.t, horizon);
        if (before.length >= (rule.minFirst ?? 1)) {
          fire = { count: before.length, firstAt: iso(before[0]!), lastAt: iso(t) };
          s.t = s.t.filter((x) => x > t); // this run is reported; a later success needs new failures
        }
      }
    }
    if (!fire) return;
    if (r.dedupMs > 0 && s.fired !== NONE && s.wm - s.fired < r.dedupMs) {
      this.stats.suppressed++;
      return;
    }
    s.fired = s.wm;
    const firing: Firing = {
      ...fire,
      rule: rule.id,
      keyBy: rule.keyBy,
      key,
      windowMs: r.windowMs,
      event,
    };
    const m = rule.describe(firing, { config, now });
    hits.push(makeRuleHit(r.detector, rule, firing, m, now));
  }

  #eventTime(event: PipewardenEvent, nowMs: number): number {
    const t = Date.parse(event['@timestamp']);
    if (Number.isNaN(t)) return nowMs;
    return Math.min(t, nowMs + this.#skewMs);
  }

  #forget(r: CompiledRule, key: string): void {
    if (!this.#track) return;
    const id = stateId(r.detector.id, r.rule.id, key);
    this.#dirty.delete(id);
    this.#deleted.add(id);
  }

  #suppressed(id: string, key: string, summary: string, periodMs: number, nowMs: number): boolean {
    const k = `${id}\u0000${key}\u0000${summary}`;
    const last = this.#lastFired.get(k);
    if (last !== undefined && nowMs - last < periodMs) return true;
    this.#lastFired.set(k, nowMs);
    if (this.#lastFired.size > 100_000) {
      for (const [kk, t] of this.#lastFired) if (nowMs - t > periodMs) this.#lastFired.delete(kk);
    }
    return false;
  }
}

function inLane(r: CompiledRule, lane: Lane): boolean {
  if (lane === 'all') return true;
  if (lane === 'events') return r.rule.keyBy === EVENTS_TOPIC_KEY;
  return r.rule.keyBy === lane;
}

function expiresAt(r: CompiledRule, s: KeyState): number {
  return Math.max(s.wm + r.windowMs, s.fired + r.dedupMs);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Inserts into an ascending array, keeping only the newest `cap` values. */
function insertSorted(a: number[], t: number, cap: number): void {
  let i = a.length;
  while (i > 0 && a[i - 1]! > t) i--;
  a.splice(i, 0, t);
  if (a.length > cap) a.splice(0, a.length - cap);
}

/** Removes the leading values <= horizon from an ascending array. */
function dropUpTo(a: number[], horizon: number): void {
  let n = 0;
  while (n < a.length && a[n]! <= horizon) n++;
  if (n) a.splice(0, n);
}

function compileRules(
  detector: Detector<any>,
  config: { enabled: boolean },
  problems: string[],
): CompiledRule[] {
  if (!detector.rules) {
    if (!detector.match) problems.push(`${detector.id}: declares neither match nor rules`);
    return [];
  }
  let rules: Rule<any>[];
  try {
    rules = detector.rules(config);
  } catch (err) {
    problems.push(`${detector.id}: rules() threw: ${(err as Error).message}`);
    return [];
  }
  const seen = new Set<string>();
  const out: CompiledRule[] = [];
  for (const rule of rules) {
    const where = `${detector.id}/${rule.id}`;
    const bad = (msg: string) => problems.push(`${where}: ${msg}`);
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(rule.id) || rule.id === 'match')
      bad('id must be kebab-case and not "match"');
    if (seen.has(rule.id)) bad('duplicate rule id');
    seen.add(rule.id);
    if (!(KEY_FIELDS as readonly string[]).includes(rule.keyBy)) bad(`unknown keyBy ${rule.keyBy}`);
    if (!Number.isInteger(rule.windowMs) || rule.windowMs < MIN_WINDOW_MS || rule.windowMs > MAX_WINDOW_MS)
      bad(`windowMs must be an integer in ${MIN_WINDOW_MS}..${MAX_WINDOW_MS}`);
    const dedupMs = rule.dedupMs ?? rule.windowMs;
    if (!Number.isInteger(dedupMs) || dedupMs < 0 || dedupMs > MAX_WINDOW_MS) bad('dedupMs out of range');
    const n = rule.type === 'sequence' ? (rule.minFirst ?? 1) : rule.threshold;
    if (!Number.isInteger(n) || n < 1 || n > MAX_COUNT)
      bad(`threshold / minFirst must be an integer in 1..${MAX_COUNT}`);
    const cap = rule.type === 'threshold' ? n : rule.type === 'distinct' ? 2 * n : Math.max(n, 10);
    out.push({ detector, config, rule, windowMs: rule.windowMs, dedupMs, cap, states: new Map() });
  }
  return out;
}

export function makeHit(
  detector: Detector<any>,
  event: PipewardenEvent,
  key: string,
  m: Match,
  index: number,
  now: Date,
): Hit {
  const hit: Hit = {
    id: eventId('hit', detector.id, event.event.id, index),
    '@timestamp': event['@timestamp'],
    detected_at: now.toISOString(),
    detector: detector.id,
    title: detector.title,
    severity: m.severity ?? detector.severity,
    summary: m.summary,
    description: detector.description,
    runbook: detector.runbook,
    key,
    event_ids: [event.event.id],
    source: event.pipewarden.source,
    context: m.context ?? {},
  };
  if (detector.reference) hit.reference = detector.reference;
  if (event.user?.name) hit.actor = event.user.name;
  if (event.pipewarden.repository) hit.repository = event.pipewarden.repository;
  if (event.source?.ip) hit.source_ip = event.source.ip;
  if (event.pipewarden.environment) hit.environment = event.pipewarden.environment;
  if (event.organization?.name) hit.organization = event.organization.name;
  // a deep link to the vendor's object (the build, the run); only http(s), never a vendor's javascript:
  const link = event.pipewarden.build_url ?? event.url?.original;
  if (link && /^https?:\/\/[^\s]{1,2000}$/i.test(link)) hit.link = link;
  return hit;
}

/** A rule's hit: id from detector, rule and completing event (redelivery yields the same id). */
function makeRuleHit(detector: Detector<any>, rule: Rule<any>, f: Firing, m: Match, now: Date): Hit {
  const hit = makeHit(detector, f.event, f.key, m, 0, now);
  hit.id = eventId('hit', detector.id, rule.id, f.event.event.id);
  hit.severity = m.severity ?? rule.severity ?? detector.severity;
  hit.context = {
    ...m.context,
    rule: rule.id,
    key_by: rule.keyBy,
    count: f.count,
    window_ms: f.windowMs,
    first_at: f.firstAt,
    last_at: f.lastAt,
  };
  // A distinct-count hit is about many values (users sprayed from one IP): its last event's user is not
  // its actor; the detector names the set in its context (e.g. targets: "5 users from 203.0.113.7").
  if (rule.type === 'distinct') delete hit.actor;
  return hit;
}
