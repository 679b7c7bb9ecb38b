// The shape of a detector (see STYLE.md): metadata, a zod config with defaults, and pure functions.
// Windows, thresholds, distinct counts, sequences and dedup are DECLARED here and RUN by the engine
// (src/detect/engine.ts, design in src/detect/README.md); a detector never keeps state or reads a clock.
import type { z } from 'zod';
import type { Severity } from '../alerting/types.ts';
import type { PipewardenEvent } from '../event.ts';

export interface DetectorContext<C> {
  config: C;
  /** Processing time (replay: the event's own time). Windows never use it: they run on event time. */
  now: Date;
}

/** One finding. Context values must already be redacted: they travel to Slack, email and the index. */
export interface Match {
  summary: string;
  severity?: Severity; // overrides the detector's (or rule's) default for this match
  context?: Record<string, string | number | boolean | null>;
}

/**
 * The fields a stateful rule may key its state on. A fixed vocabulary because each one is a way of
 * partitioning the bus: in distributed mode the detect role re-publishes the events a rule needs to
 * `<events topic>.by-<field>` keyed by that field, so one consumer sees every event of a key.
 * `user.name` is the events topic's own key (src/event.ts partitionKey), so it needs no re-keying.
 */
export const KEY_FIELDS = [
  'user.name',
  'source.ip',
  'pipewarden.repository',
  'organization.name',
  'pipewarden.source',
  'pipewarden.environment',
  // A published artefact's mutable name (registry repository:tag, repository/path): one key per name, so
  // state can remember the digest it pointed to (artifact-integrity's tag-moved / redeploy rules).
  'pipewarden.artifact_ref',
  // The credential that acted (vendor token id, else its hash), prefixed with the provider so two
  // vendors' numbering cannot collide: state per token, not per actor (exfiltration's token-new-address).
  'pipewarden.token',
] as const;
export type KeyField = (typeof KEY_FIELDS)[number];

/** The value of a key field on an event; undefined (or empty) means the rule does not see the event. */
export function keyValue(event: PipewardenEvent, field: KeyField): string | undefined {
  let v: string | undefined;
  switch (field) {
    case 'user.name':
      v = event.user?.name;
      break;
    case 'source.ip':
      v = event.source?.ip;
      break;
    case 'pipewarden.repository':
      v = event.pipewarden.repository;
      break;
    case 'organization.name':
      v = event.organization?.name;
      break;
    case 'pipewarden.source':
      v = event.pipewarden.source;
      break;
    case 'pipewarden.environment':
      v = event.pipewarden.environment;
      break;
    case 'pipewarden.artifact_ref':
      v = event.pipewarden.artifact_ref;
      break;
    case 'pipewarden.token': {
      const t = event.pipewarden.token;
      const id = t?.id ?? t?.hashed;
      v = id ? `${event.event.provider}:${id}` : undefined;
      break;
    }
  }
  return v === '' ? undefined : v;
}

/** Contributing event ids a hit carries at most (the newest; `Hit.event_total` says how many there were). */
export const MAX_EVENT_IDS = 100;

/** What the engine hands a rule's `describe` when the rule fires for one key. */
export interface Firing {
  rule: string;
  keyBy: KeyField;
  key: string;
  /**
   * threshold: matching events in the window (never more than the threshold is retained, so this is
   * at least the threshold); distinct: distinct values in the window; sequence: first-step events
   * in the window before the `followedBy` event.
   */
  count: number;
  /** distinct: the distinct values in the window, newest first (at most 2 × threshold kept). */
  values?: string[];
  /** Event time of the oldest and newest event counted (ISO 8601). */
  firstAt: string;
  lastAt: string;
  windowMs: number;
  /** The event that completed the rule; the hit carries its actor, IP and repository. */
  event: PipewardenEvent;
  /**
   * Ids of the events that contributed (threshold: the counted events; distinct: the newest event of
   * each value; sequence: the first-step events, then the completing one), oldest first, at most
   * `MAX_EVENT_IDS` (the newest). The hit's `event_ids`.
   */
  eventIds: string[];
}

/** What the engine hands an absence rule's `describe` when a key has been silent too long. */
export interface Absence {
  rule: string;
  keyBy: KeyField;
  key: string;
  /** Arrival time (ISO) of the key's newest event, or null when none arrived since watching began. */
  lastSeen: string | null;
  /** Id of that event, when known. */
  lastEventId: string | null;
  /** When the engine began watching the key (ISO): the silence of a key never seen counts from here. */
  since: string;
  /** How long the key has been silent at the check, and the longest silence tolerated (ms). */
  silentMs: number;
  maxMs: number;
  /** The scheduled check that found it (ISO). */
  at: string;
}

/** What the engine hands a scheduled rule's `check` for one key at one run. */
export interface Period {
  rule: string;
  keyBy: KeyField;
  key: string;
  /** The previous run (or when watching began) and this run (ISO): the period's bounds. */
  from: string;
  to: string;
  /** Matching events that arrived in the period, and the ids of the newest `MAX_EVENT_IDS` of them. */
  count: number;
  eventIds: string[];
  /** Event time of the oldest and newest of them; null when none arrived. */
  firstAt: string | null;
  lastAt: string | null;
}

/** What time-driven rules may need beyond their detector's config (given by the caller of the engine). */
export interface RuleEnv {
  /** Ids of the enabled sources (`pipewarden.source`). */
  enabledSources: readonly string[];
}

interface RuleCommon<C> {
  /** Kebab-case, unique within the detector. Part of the hit id, the state key and `context.rule`. */
  id: string;
  /** What state is grouped on. Events with no value for the field are not seen by the rule. */
  keyBy: KeyField;
  /** Which events (of those the detector `appliesTo`) the rule counts. Pure. Default: all of them. */
  when?(event: PipewardenEvent, config: C): boolean;
  /** Sliding window on event time (`@timestamp`), in ms. 1 s .. 7 days. */
  windowMs: number;
  /** After a hit for a key, further hits of this rule for that key are suppressed this long (event
   * time). Default: `windowMs`. 0: no suppression. */
  dedupMs?: number;
  severity?: Severity; // default: the detector's
  /** The finding, from the aggregate. Pure. May return its own severity and redacted context. */
  describe(firing: Firing, ctx: DetectorContext<C>): Match;
}

/** Fires when at least `threshold` matching events for one key fall within `windowMs`. */
export interface ThresholdRule<C> extends RuleCommon<C> {
  type: 'threshold';
  /** 1 .. 1000. The engine keeps at most this many timestamps per key (exact edges, bounded memory). */
  threshold: number;
}

/** Fires when at least `threshold` distinct values of `field` for one key fall within `windowMs`. */
export interface DistinctRule<C> extends RuleCommon<C> {
  type: 'distinct';
  /** 1 .. 1000. At most 2 × threshold values are kept per key (the most recently seen). */
  threshold: number;
  /** The value counted, e.g. the user name for "distinct users per IP". Undefined: not counted. */
  field(event: PipewardenEvent): string | undefined;
}

/**
 * Fires on a `followedBy` event when at least `minFirst` `first` events for the same key happened within
 * `windowMs` before it (e.g. failures then a success). The first-step state of the key is cleared
 * when it fires, so one run fires once.
 */
export interface SequenceRule<C> extends RuleCommon<C> {
  type: 'sequence';
  first(event: PipewardenEvent, config: C): boolean;
  followedBy(event: PipewardenEvent, config: C): boolean;
  /** 1 .. 1000 (default 1). */
  minFirst?: number;
}

/**
 * Time-driven, for a missing signal: fires when no matching event arrived for a key for longer than
 * its window. Judged at the times of `schedule` (cron, as node-cron reads it), on arrival time
 * (`event.ingested`, else `@timestamp`): a source that sends late-stamped events still proves its feed
 * works. One hit per silence: a new event ends it. Keys in `expect` are watched from the first check
 * even if never seen; other keys once seen, when `windowMs` is set.
 */
export interface AbsenceRule<C> {
  type: 'absence';
  id: string;
  keyBy: KeyField;
  when?(event: PipewardenEvent, config: C): boolean;
  /** Cron expression of the checks. */
  schedule: string;
  /** Longest tolerated silence (ms, 1 s .. 30 days) of every key seen; omitted: only `expect` keys. */
  windowMs?: number;
  /** Keys watched from the start, each with its own longest silence (ms). Pure. */
  expect?(env: RuleEnv, config: C): ReadonlyMap<string, number>;
  severity?: Severity;
  describe(absence: Absence, ctx: DetectorContext<C>): Match;
}

/**
 * Time-driven, for periodic checks: at each time of `schedule`, `check` sees per key the matching
 * events that arrived since the previous run (a period aligned to the schedule), and may return a
 * finding. Keys in `expect` are checked at every run, also when they saw nothing.
 */
export interface ScheduledRule<C> {
  type: 'scheduled';
  id: string;
  keyBy: KeyField;
  when?(event: PipewardenEvent, config: C): boolean;
  schedule: string;
  expect?(env: RuleEnv, config: C): readonly string[];
  severity?: Severity;
  check(period: Period, ctx: DetectorContext<C>): Match | null;
}

export type WindowRule<C> = ThresholdRule<C> | DistinctRule<C> | SequenceRule<C>;
export type TimeRule<C> = AbsenceRule<C> | ScheduledRule<C>;
export type Rule<C> = WindowRule<C> | TimeRule<C>;

/** An OWASP Top 10 CI/CD Security Risks id (detectors/owasp.ts has their names). */
export type OwaspRisk =
  | 'CICD-SEC-1'
  | 'CICD-SEC-2'
  | 'CICD-SEC-3'
  | 'CICD-SEC-4'
  | 'CICD-SEC-5'
  | 'CICD-SEC-6'
  | 'CICD-SEC-7'
  | 'CICD-SEC-8'
  | 'CICD-SEC-9'
  | 'CICD-SEC-10';

/**
 * One coverage row of a detector: a family of findings (a rule, a check, a group of table entries), the
 * OWASP risks it covers and the sources (adapter ids, or `build-logs`) whose events it reads.
 */
export interface CoverageRow {
  row: string; // kebab-case, unique within the detector
  what: string; // one line for the table's reader
  owasp: OwaspRisk[];
  sources: string[];
}

export interface Detector<C extends { enabled: boolean } = { enabled: boolean }> {
  id: string; // kebab-case, equal to the folder name
  title: string;
  severity: Severity;
  description: string;
  runbook: string; // repo path of the README section the person on call reads
  reference?: string;
  /**
   * What it covers, by OWASP CI/CD risk and source: the README's coverage table is generated from it
   * (`node scripts/owasp-coverage.ts --write`). Every registered detector declares rows (a test checks).
   */
  coverage?: readonly CoverageRow[];
  configSchema: z.ZodType<C, any>;
  /** Gate for both `match` and every rule. Pure. */
  appliesTo(event: PipewardenEvent, config: C): boolean;
  /** What the engine groups `match` hits on for dedup (default: actor, else source IP, else repository). */
  key?(event: PipewardenEvent): string;
  /** Stateless: a finding per event. Pure: no clock, no environment, no globals. Optional when `rules` is given. */
  match?(event: PipewardenEvent, ctx: DetectorContext<C>): Match | Match[] | null;
  /** Suppress repeated `match` hits for the same key and summary within this many ms (run by the engine). */
  dedupMs?: number;
  /**
   * Stateful rules, declared from the parsed config (so thresholds and windows are configurable).
   * Called once when the engine starts. Pure.
   */
  rules?(config: C): Rule<C>[];
  /**
   * A detector that reads build logs scanned for secrets at the edge declares the scanner's settings from
   * its config: the fingerprint key (absent: the collector makes one in embedded mode and refuses to start
   * in distributed mode) and what never to report. `keyPath` names the setting in config errors.
   */
  buildLogScanning?(config: C): {
    fingerprintKey: string | undefined;
    keyPath: string;
    suppressFingerprints: string[];
    suppressRules: string[];
  };
}

/**
 * A positive or negative example beside each detector, run by one generic test through the real engine.
 * Give `event` (one event) or `events` (a sequence, evaluated in order by one engine).
 */
export interface DetectorCase {
  name: string;
  event?: PipewardenEvent;
  events?: PipewardenEvent[];
  config?: Record<string, unknown>; // raw config, parsed by the detector's schema
  /** Processing time. Default: `events` cases use each event's `@timestamp` (like replay); an `event`
   * case uses 2024-06-01T12:00:00Z. */
  now?: string;
  /** Number of hits expected over the whole case (all rules and `match`); 0 for a negative case. */
  expect: number;
  /** Hits expected per rule id (`match` for the stateless path), when given. */
  expectByRule?: Record<string, number>;
  /** Substring the first hit's summary must contain, when given. */
  summaryIncludes?: string;
  /**
   * Time-driven rules: the engine's clock runs with the events (a tick at each event's time, the first
   * one starting the watch) and then on to this time; scheduled checks run at their times in between.
   */
  until?: string;
  /** Time-driven rules: the enabled sources (default: none). */
  enabledSources?: string[];
  /** Fields the first hit must have (toMatchObject; `actor: undefined` means it has none), when given. */
  hitMatches?: Record<string, unknown>;
}
