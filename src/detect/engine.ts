// Runs every enabled detector over each event: stateless `match`, and the declared stateful rules
// (threshold, distinct, sequence) with per-key window state on event time, dedup, pruning and
// snapshots of changed state; and, at the times of their schedules (`tick`), the time-driven rules
// (absence, scheduled) with the same key state and snapshots. The work of each rule type is one
// function in rule-types.ts. Design and its reasons: src/detect/README.md.
import type { Hit } from '../alerting/types.ts';
import { eventId, type PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import { KeyStates, times } from './key-states.ts';
import {
  applyDistinct,
  applySequence,
  applyThreshold,
  closePeriod,
  type Fire,
  Ids,
  judgeAbsence,
  type KeyState,
  NONE,
  newState,
  observeAbsence,
  observeScheduled,
} from './rule-types.ts';
import { Schedule } from './schedule.ts';
import {
  type Absence,
  type Detector,
  type Firing,
  KEY_FIELDS,
  type KeyField,
  keyValue,
  MAX_EVENT_IDS,
  type Match,
  type Rule,
  type RuleEnv,
  type TimeRule,
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
  /** What time-driven rules may need beyond their config (default: no enabled sources); `tick` may override. */
  env?: RuleEnv;
}

/** What one `tick` raised; `undo()` puts the states it changed back (when its hits could not be published). */
export interface TickResult {
  hits: Hit[];
  undo(): void;
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
  t: number[]; // threshold / sequence: event times (ms), ascending; distinct: last-seen times (see KeyState)
  v?: string[]; // distinct: values, parallel to t
  e?: string; // contributing event ids, space-joined (rule-types.ts `Ids`)
  n?: number; // scheduled: events in the open period
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

interface CompiledRule {
  detector: Detector<any>;
  config: { enabled: boolean };
  rule: Rule<any>;
  windowMs: number;
  dedupMs: number;
  cap: number; // timestamps or values kept per key
  states: KeyStates; // packed (key-states.ts); insertion order = last touched, so the front expires first
  /** Time-driven rules: their schedule, and the next time it runs (undefined until the first tick). */
  schedule?: Schedule;
  next?: number;
  /** The previous run (or the first tick): where a new key's open period starts. */
  last?: number;
  /** Time-driven keys loaded only for a check: another consumer may own them, so they are reloaded each time. */
  borrowed?: Set<string>;
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
const MAX_SILENCE_MS = 30 * 86_400_000;
const PRUNE_EVERY = 1024;
/** A tick after a long pause runs at most this many past times of one schedule (then the last one due). */
const MAX_RUNS_PER_TICK = 1000;
const SKIP_LIMIT = 10_000_000;
/** Time-driven state is kept this long past its newest change in the snapshot store (then it expires). */
const TIME_STATE_TTL_MS = 31 * 86_400_000;
/** Events re-published for absence rules only: one per key and this interval is enough (newest arrival). */
const HEARTBEAT_MS = 60_000;

function isTime(rule: Rule<any>): rule is TimeRule<any> {
  return rule.type === 'absence' || rule.type === 'scheduled';
}

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
  readonly #deleted = new Map<string, CompiledRule>(); // pruned keys, by state id
  #watermark = NONE; // newest (clamped) event time seen by this engine
  #sincePrune = 0;
  // Last time a (detector, key, summary) fired through `match`, for declared dedup periods. Bounded by pruning.
  readonly #lastFired = new Map<string, number>();
  readonly #env: RuleEnv;
  // (field, key) → arrival time last re-published for absence rules only (see HEARTBEAT_MS).
  readonly #heartbeats = new Map<string, number>();

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
    this.#env = options.env ?? { enabledSources: [] };
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
    const absenceOnly = new Map<KeyField, string>();
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
      if (r.rule.type === 'absence') absenceOnly.set(f, key);
      else out.set(f, key);
    }
    // An absence rule needs only the newest arrival of a key: a heartbeat per key and interval will do.
    for (const [f, key] of absenceOnly) {
      if (out.has(f)) continue;
      const hb = `${f}\u0000${key}`;
      const at = Date.parse(event.event?.ingested ?? event['@timestamp']);
      const last = this.#heartbeats.get(hb);
      if (last !== undefined && at >= last && at - last < HEARTBEAT_MS) continue;
      if (this.#heartbeats.size >= 100_000) this.#heartbeats.clear();
      this.#heartbeats.set(hb, at);
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

  /**
   * Puts snapshot entries back into memory (not marked changed). Unknown detectors or rules are ignored.
   * `borrowed`: loaded only for a time-driven check (see `timeStateIds`).
   */
  restore(entries: Iterable<StateEntry>, options: { borrowed?: boolean } = {}): number {
    let n = 0;
    for (const e of entries) {
      const r = this.#rules.find((x) => x.detector.id === e.detector && x.rule.id === e.rule);
      if (!r || r.states.has(e.key)) continue;
      const s = e.state;
      const t = s.t.slice(-r.cap);
      const v = s.v ? s.v.slice(-r.cap) : r.rule.type === 'distinct' ? [] : undefined;
      let ids = s.e ?? '';
      if (t.length < s.t.length && ids !== '') {
        // Fewer times kept than saved (a lower cap since): keep the ids of the times kept (both tail-aligned).
        const raw = ids.split(' ');
        ids = raw.slice(raw.length - Math.min(raw.length, t.length)).join(' ');
      }
      r.states.set(e.key, {
        t,
        v,
        e: ids,
        ...(r.rule.type === 'scheduled' ? { n: s.n ?? 0 } : {}),
        wm: s.wm,
        fired: s.fired ?? NONE,
        src: s.src,
        off: s.off ?? -1,
      });
      if (options.borrowed) r.borrowed?.add(e.key);
      if (!isTime(r.rule) && s.wm > this.#watermark) this.#watermark = s.wm;
      n++;
    }
    return n;
  }

  /**
   * Key states of `lane` changed since the last call, and every key pruned (needs `trackChanges`).
   * Per lane, so one consumer never snapshots state whose hits another consumer has not yet published.
   */
  drainChanges(lane: Lane = 'all', options: { timeOnly?: boolean } = {}): StateChanges {
    const upserts: StateEntry[] = [];
    for (const [id, { rule: r, key }] of this.#dirty) {
      if (!inLane(r, lane) || (options.timeOnly && !isTime(r.rule))) continue;
      this.#dirty.delete(id);
      const s = r.states.get(key);
      if (!s) continue;
      const state: KeyStateJson = { t: s.t, wm: s.wm, fired: s.fired === NONE ? null : s.fired };
      if (s.v) state.v = s.v;
      if (s.e !== '') state.e = s.e;
      if (s.n) state.n = s.n;
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
    const deletes: string[] = [];
    for (const [id, r] of this.#deleted) {
      if (options.timeOnly && !isTime(r.rule)) continue;
      deletes.push(id);
      this.#deleted.delete(id);
    }
    return { upserts, deletes };
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
      r.borrowed?.clear();
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
      if (r.schedule) continue; // time-driven keys are judged and dropped by `tick`
      // Front = least recently touched; stop at the first live one (amortised O(1) per event).
      for (const [key, x] of r.states.packed()) {
        const until = windowExpiry(r, times(x));
        if (until > horizon && r.states.size <= this.#maxKeys) break;
        if (until > horizon) this.stats.evicted++;
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

  /** One event through one rule: the checks every type shares, then the type's own function. */
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
    // The same event at another offset (published again after a send whose outcome was unknown, or
    // replayed): it already counts if its id is among the key's contributing ids (the newest MAX_EVENT_IDS).
    if (s && s.e !== '' && hasId(s.e, event.event.id)) {
      this.stats.redelivered++;
      return;
    }
    if (s && !r.schedule && t <= s.wm - r.windowMs) {
      this.stats.late++;
      return;
    }
    if (s)
      r.states.delete(key); // re-inserted below: keeps the map in last-touched order
    else {
      s = newState(rule.type);
      if (rule.type === 'scheduled') s.wm = r.last ?? t; // the open period began at the previous run
    }
    try {
      this.#change(r, s, key, event, t, now, position, hits);
    } finally {
      r.states.set(key, s); // the state is packed: the change is kept by setting it
    }
  }

  /** What `#apply` does to a key's state once it is known to count (`s` is written back by the caller). */
  #change(
    r: CompiledRule,
    s: KeyState,
    key: string,
    event: PipewardenEvent,
    t: number,
    now: Date,
    position: BusPosition | undefined,
    hits: Hit[],
  ): void {
    const { rule, config } = r;
    r.borrowed?.delete(key); // an event of the key reached this consumer: it owns the key
    if (position) {
      s.src = `${position.topic}/${position.partition}`;
      s.off = Number(position.offset);
    }
    this.#touch(r, key);
    if (r.schedule) {
      if (rule.type === 'absence') observeAbsence(s, event);
      else if (rule.type === 'scheduled') observeScheduled(s, event, t);
      return; // judged by `tick`
    }
    if (t > s.wm) s.wm = t;
    const horizon = s.wm - r.windowMs; // a time counts while it is > horizon
    let fire: Fire | undefined | null;
    if (rule.type === 'threshold') fire = applyThreshold(rule, s, event, t, horizon, r.cap);
    else if (rule.type === 'distinct') fire = applyDistinct(rule, s, event, t, horizon, r.cap);
    else if (rule.type === 'sequence')
      fire = applySequence(rule, s, event, t, horizon, r.cap, r.windowMs, config);
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
    const m = (rule as Exclude<Rule<any>, TimeRule<any>>).describe(firing, { config, now });
    hits.push(makeRuleHit(r.detector, rule, firing, m, now));
  }

  #touch(r: CompiledRule, key: string): void {
    if (!this.#track) return;
    const id = stateId(r.detector.id, r.rule.id, key);
    this.#dirty.set(id, { rule: r, key });
    this.#deleted.delete(id);
  }

  /**
   * Runs the time-driven rules of `lane` whose schedule has a time in (previous tick, `now`], at each
   * such time in order (so replay, ticking at each event's time, gives the live answer). The first tick
   * starts the watch: keys a rule expects and that no snapshot knows are silent from then on. Before a
   * tick, load what `timeStateIds` names (keys another consumer may have advanced).
   */
  tick(now: Date, options: { lane?: Lane; env?: RuleEnv } = {}): TickResult {
    const lane = options.lane ?? 'all';
    const env = options.env ?? this.#env;
    const nowMs = now.getTime();
    const hits: Hit[] = [];
    const before = new Map<CompiledRule, Map<string, KeyState | undefined>>();
    for (const r of this.#rules) {
      if (!r.schedule || !inLane(r, lane)) continue;
      const saved = new Map<string, KeyState | undefined>();
      before.set(r, saved);
      try {
        const expected = this.#expected(r, env);
        for (const key of expected.keys()) {
          if (r.states.has(key)) continue;
          saved.set(key, undefined);
          const s = newState(r.rule.type);
          s.wm = nowMs; // watching begins
          r.borrowed?.add(key);
          r.states.set(key, s);
          this.#touch(r, key);
        }
        if (r.next === undefined) {
          r.next = r.schedule.next(nowMs);
          r.last = nowMs;
          continue;
        }
        let runs = 0;
        while (r.next <= nowMs) {
          let at = r.next;
          if (++runs >= MAX_RUNS_PER_TICK) {
            // After a long pause: skip to the last time due (scheduled periods in between merge into it).
            for (
              let i = 0, n = r.schedule.next(at);
              n <= nowMs && i < SKIP_LIMIT;
              i++, n = r.schedule.next(n)
            )
              at = n;
          }
          this.#run(r, at, expected, saved, hits);
          r.last = at;
          r.next = r.schedule.next(at);
          if (runs >= MAX_RUNS_PER_TICK && r.next <= nowMs) r.next = r.schedule.next(nowMs);
        }
      } catch (err) {
        const id = r.detector.id;
        this.stats.errors[id] = (this.stats.errors[id] ?? 0) + 1;
        this.#log?.error(
          { detector: id, rule: r.rule.id, err },
          'Time-driven rule threw; skipped this check.',
        );
      }
    }
    this.stats.hits += hits.length;
    return {
      hits,
      undo: () => {
        for (const [r, saved] of before) {
          for (const [key, s] of saved) {
            if (s) r.states.set(key, s);
            else r.states.delete(key);
            this.#touch(r, key);
          }
        }
      },
    };
  }

  /**
   * Ids of the time-driven key states of `lane` to load from the snapshot store before a tick: the keys
   * its rules expect that are not in memory. Drops the states earlier ticks borrowed first (another
   * consumer owns those keys and may have moved them on), so they are read afresh.
   */
  timeStateIds(options: { lane?: Lane; env?: RuleEnv } = {}): string[] {
    const lane = options.lane ?? 'all';
    const env = options.env ?? this.#env;
    const out: string[] = [];
    for (const r of this.#rules) {
      if (!r.schedule || !inLane(r, lane)) continue;
      // Without change tracking nothing is saved, so there is nothing to reload from.
      for (const key of this.#track ? (r.borrowed ?? []) : []) {
        if (this.#dirty.has(stateId(r.detector.id, r.rule.id, key))) continue; // not saved yet
        r.states.delete(key);
        r.borrowed?.delete(key);
      }
      try {
        for (const key of this.#expected(r, env).keys())
          if (!r.states.has(key)) out.push(stateId(r.detector.id, r.rule.id, key));
      } catch {
        // counted when the tick calls it again
      }
    }
    return out;
  }

  /**
   * The absence rules of `lane` that watch every key they see (`windowMs`): before a tick, the keys the
   * snapshot store holds for them are loaded too (`entriesOf`, by time-driven.ts), so a key silent across a restart is
   * still judged.
   */
  listedRules(lane: Lane = 'all'): Array<{ detector: string; rule: string }> {
    return this.#rules
      .filter((r) => r.rule.type === 'absence' && r.rule.windowMs !== undefined && inLane(r, lane))
      .map((r) => ({ detector: r.detector.id, rule: r.rule.id }));
  }

  /** When the next time-driven check of `lane` is due (ms), once a first tick started the watch. */
  nextTick(lane: Lane = 'all'): number | undefined {
    let next: number | undefined;
    for (const r of this.#rules)
      if (r.next !== undefined && inLane(r, lane) && (next === undefined || r.next < next)) next = r.next;
    return next;
  }

  /** Does this engine hold any time-driven rule (in `lane`)? */
  hasTimeRules(lane: Lane = 'all'): boolean {
    return this.#rules.some((r) => r.schedule !== undefined && inLane(r, lane));
  }

  /** Keys a time-driven rule expects, with their window (absence) or 0 (scheduled). */
  #expected(r: CompiledRule, env: RuleEnv): Map<string, number> {
    const rule = r.rule;
    if (rule.type === 'absence') {
      const m = new Map<string, number>();
      for (const [k, ms] of rule.expect?.(env, r.config) ?? []) {
        if (!Number.isFinite(ms) || ms < MIN_WINDOW_MS || ms > MAX_SILENCE_MS)
          throw new Error(`${r.detector.id}/${rule.id}: expected silence for ${k} out of range`);
        m.set(k, ms);
      }
      return m;
    }
    if (rule.type === 'scheduled') return new Map((rule.expect?.(env, r.config) ?? []).map((k) => [k, 0]));
    return new Map();
  }

  /** One run of a time-driven rule at `atMs`. `saved` collects the states before their first change. */
  #run(
    r: CompiledRule,
    atMs: number,
    expected: Map<string, number>,
    saved: Map<string, KeyState | undefined>,
    hits: Hit[],
  ): void {
    const { rule, config, detector } = r;
    const now = new Date(atMs);
    const keep = (key: string, s: KeyState) => {
      if (!saved.has(key)) saved.set(key, structuredClone(s));
      this.#touch(r, key);
    };
    for (const [key, s] of [...r.states]) {
      if (rule.type === 'absence') {
        const maxMs = expected.get(key) ?? r.windowMs;
        if (!expected.has(key) && !rule.windowMs) {
          keep(key, s);
          this.#drop(r, key); // seen, but not watched
          continue;
        }
        const found = judgeAbsence(s, key, maxMs, atMs);
        if (found) {
          keep(key, s);
          s.fired = found.from;
          r.states.set(key, s);
          const absence: Absence = { ...found.absence, rule: rule.id, keyBy: rule.keyBy };
          const m = rule.describe(absence, { config, now });
          hits.push(
            makeTimeHit(
              detector,
              rule,
              key,
              m,
              now,
              found.from,
              absence.lastEventId ? [absence.lastEventId] : [],
            ),
          );
        } else if (!expected.has(key) && s.fired !== NONE && s.fired === (s.t[0] ?? s.wm)) {
          keep(key, s);
          this.#drop(r, key); // reported, and not expected: a new event starts it again
        }
      } else if (rule.type === 'scheduled') {
        if (s.n === 0 && !expected.has(key)) {
          keep(key, s);
          this.#drop(r, key);
          continue;
        }
        keep(key, s);
        const period = closePeriod(rule, s, key, s.wm === NONE ? atMs : s.wm, atMs);
        r.states.set(key, s);
        const m = rule.check(period, { config, now });
        if (m)
          hits.push(
            makeTimeHit(detector, rule, key, m, now, atMs, period.eventIds, period.count, {
              count: period.count,
              period_from: period.from,
              period_to: period.to,
            }),
          );
      }
    }
  }

  #drop(r: CompiledRule, key: string): void {
    r.states.delete(key);
    r.borrowed?.delete(key);
    this.#forget(r, key);
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
    this.#deleted.set(id, r);
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

/** `expiresAt` of a window rule's state, from its newest time and last firing alone. */
function windowExpiry(r: CompiledRule, s: { wm: number; fired: number }): number {
  return Math.max(s.wm + r.windowMs, s.fired + r.dedupMs);
}

function expiresAt(r: CompiledRule, s: KeyState): number {
  if (r.schedule) {
    // Judged and dropped by `tick`; the snapshot store forgets a key nothing touched for a month.
    const newest = Math.max(s.wm, s.t.at(-1) ?? NONE, s.fired);
    return (newest === NONE ? 0 : newest) + TIME_STATE_TTL_MS;
  }
  return windowExpiry(r, s);
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
    if (isTime(rule)) {
      let schedule: Schedule | undefined;
      try {
        schedule = new Schedule(rule.schedule);
      } catch (err) {
        bad((err as Error).message);
      }
      const windowMs = rule.type === 'absence' ? rule.windowMs : undefined;
      if (
        windowMs !== undefined &&
        (!Number.isInteger(windowMs) || windowMs < MIN_WINDOW_MS || windowMs > MAX_SILENCE_MS)
      )
        bad(`windowMs must be an integer in ${MIN_WINDOW_MS}..${MAX_SILENCE_MS}`);
      if (rule.type === 'absence' && windowMs === undefined && !rule.expect)
        bad('an absence rule needs windowMs, expect or both');
      if (schedule)
        out.push({
          detector,
          config,
          rule,
          windowMs: windowMs ?? 0,
          dedupMs: 0,
          cap: 1,
          states: new KeyStates(),
          schedule,
        });
      continue;
    }
    if (!Number.isInteger(rule.windowMs) || rule.windowMs < MIN_WINDOW_MS || rule.windowMs > MAX_WINDOW_MS)
      bad(`windowMs must be an integer in ${MIN_WINDOW_MS}..${MAX_WINDOW_MS}`);
    const dedupMs = rule.dedupMs ?? rule.windowMs;
    if (!Number.isInteger(dedupMs) || dedupMs < 0 || dedupMs > MAX_WINDOW_MS) bad('dedupMs out of range');
    const n = rule.type === 'sequence' ? (rule.minFirst ?? 1) : rule.threshold;
    if (!Number.isInteger(n) || n < 1 || n > MAX_COUNT)
      bad(`threshold / minFirst must be an integer in 1..${MAX_COUNT}`);
    const cap = rule.type === 'threshold' ? n : rule.type === 'distinct' ? 2 * n : Math.max(n, 10);
    out.push({ detector, config, rule, windowMs: rule.windowMs, dedupMs, cap, states: new KeyStates() });
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

/** Whether space-joined ids (`KeyState.e`, see `Ids`) hold `id`, without splitting them. */
function hasId(e: string, id: string): boolean {
  const encoded = Ids.encode(id);
  for (let i = e.indexOf(encoded); i !== -1; i = e.indexOf(encoded, i + 1)) {
    const end = i + encoded.length;
    if ((i === 0 || e.charCodeAt(i - 1) === 32) && (end === e.length || e.charCodeAt(end) === 32))
      return true;
  }
  return false;
}

/** A rule's hit: id from detector, rule and completing event (redelivery yields the same id). */
function makeRuleHit(detector: Detector<any>, rule: Rule<any>, f: Firing, m: Match, now: Date): Hit {
  const hit = makeHit(detector, f.event, f.key, m, 0, now);
  hit.id = eventId('hit', detector.id, rule.id, f.event.event.id);
  hit.severity = m.severity ?? rule.severity ?? detector.severity;
  setEventIds(hit, f.eventIds, f.event.event.id, rule.type === 'sequence' ? f.count + 1 : f.count);
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

/** The contributing ids (the completing event always among them), and the total when more contributed. */
function setEventIds(hit: Hit, ids: string[], completing: string, total: number): void {
  const list = ids.includes(completing) ? ids : [...ids, completing].slice(-MAX_EVENT_IDS);
  hit.event_ids = list;
  const all = Math.max(total, list.length);
  if (all > list.length) hit.event_total = all;
}

/** A time-driven rule's hit: at the check time, id from detector, rule, key and what it judged (`basis`). */
function makeTimeHit(
  detector: Detector<any>,
  rule: TimeRule<any>,
  key: string,
  m: Match,
  now: Date,
  basis: number,
  eventIds: string[],
  total = eventIds.length,
  context: Record<string, string | number | boolean | null> = {},
): Hit {
  const at = now.toISOString();
  const hit: Hit = {
    id: eventId('hit', detector.id, rule.id, key, basis),
    '@timestamp': at,
    detected_at: at,
    detector: detector.id,
    title: detector.title,
    severity: m.severity ?? rule.severity ?? detector.severity,
    summary: m.summary,
    description: detector.description,
    runbook: detector.runbook,
    key,
    event_ids: eventIds.slice(-MAX_EVENT_IDS),
    source: rule.keyBy === 'pipewarden.source' ? key : 'pipewarden',
    context: { ...context, ...m.context, rule: rule.id, key_by: rule.keyBy },
  };
  if (total > hit.event_ids.length) hit.event_total = total;
  if (detector.reference) hit.reference = detector.reference;
  return hit;
}
