// Hits (what a detector found) and alerts (a hit with its delivery status per sink).
import type { z } from 'zod';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export interface Hit {
  id: string; // content-derived from detector id and the triggering event ids: redelivery is harmless
  '@timestamp': string; // when the triggering event happened
  detected_at: string;
  detector: string;
  title: string;
  severity: Severity;
  summary: string; // one sentence for the person on call; redacted context only
  description: string;
  runbook: string; // URL or repo path of the detector's README runbook
  reference?: string;
  key: string; // what the detector grouped on (actor, IP, repository)
  event_ids: string[]; // the contributing events, oldest first; at most 100 (the newest)
  /** How many events contributed, when more than `event_ids` lists. */
  event_total?: number;
  source: string; // adapter id of the triggering event
  actor?: string;
  repository?: string;
  source_ip?: string;
  environment?: string; // the triggering event's deployment environment, when it names one
  organization?: string; // the triggering event's organisation, when it names one
  /** The object at the vendor (the Jenkins build, the pipeline run), when the event carries its http(s) URL. */
  link?: string;
  /**
   * Set by the alerter: the page at the vendor to act on (branch protection settings, the job's
   * configuration, the repository), built on the source's configured base URL only (deep-links.ts).
   */
  vendor_link?: VendorLink;
  context: Record<string, string | number | boolean | null>; // redacted, flat, small
  /** Set by the alerter when rendering: the incident this hit belongs to (incidents.ts). */
  incident?: IncidentInfo;
}

/** What a message shows of an incident: how many hits, since when, and who acted on it. */
export interface IncidentInfo {
  id: string;
  count: number;
  first_at: string;
  last_at: string;
  status: 'open' | 'acknowledged' | 'resolved';
  /** The latest hit's summary (what is new, for updates). */
  last_summary?: string;
  acknowledged_by?: string;
  acknowledged_at?: string;
  resolved_by?: string;
  resolved_at?: string;
}

/** A link to the vendor's page for a hit, with what the page is. */
export interface VendorLink {
  url: string;
  label: string;
}

/** Where a sink put a message it can later edit (Slack: channel and ts). */
export type SinkRef = Record<string, string>;

/**
 * held: the sink was over its alert budget (see throttle.ts), so the alert waits for the next digest;
 * digested: it went out in a digest message (`digest` names that message's alert id);
 * pending: about to be sent (the outbox's intent, outbox.ts): a redelivery that finds it sends it.
 */
export type DeliveryStatus = 'sent' | 'failed' | 'skipped' | 'held' | 'digested' | 'pending';

export interface Delivery {
  status: DeliveryStatus;
  attempts: number;
  at: string; // time of the last attempt
  error?: string; // last error, for failed deliveries
  retryable?: boolean; // for failed deliveries: whether another attempt can help (rate limit, 5xx, timeout)
  reason?: string; // for skipped: below the sink's minimum severity, ...; for held: the budget
  digest?: string; // for digested: the id of the digest alert that summarised this one
  ref?: SinkRef; // for sent: where the message is, when the sink can edit it (Slack)
  update?: boolean; // for sent: an update of the incident's message rather than a new one
}

export const ALERT_STATUSES = [
  'pending',
  'delivered',
  'held',
  'digested',
  'partial',
  'failed',
  'undelivered',
  'silenced',
] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export interface AlertRecord extends Hit {
  /**
   * delivered: every enabled sink sent, digested or skipped; held: none failed, some wait for a digest;
   * partial: some failed; failed: all failed; pending: some sink is being sent or was interrupted
   * before its outcome was stored (outbox.ts); digested: what was held went out in a digest;
   * undelivered: no sink is configured, so nobody was told; silenced: matched a silence, never sent.
   */
  status: AlertStatus;
  deliveries: Record<string, Delivery>;
  /** The incident this hit was counted into (incidents.ts). */
  incident_id?: string;
  /** For status silenced: the silence that held it back (src/alerting/silences.ts). */
  silence?: string;
  /** What responders did with it in the console (src/console/triage.ts). */
  triage?: Triage;
}

export const TRIAGE_STATES = ['open', 'acknowledged', 'resolved'] as const;
export const RESOLUTIONS = ['true_positive', 'false_positive', 'expected'] as const;

export interface TriageAction {
  action: 'acknowledge' | 'assign' | 'resolve' | 'comment' | 'reopen';
  by: string;
  at: string;
  assignee?: string;
  resolution?: (typeof RESOLUTIONS)[number];
  text?: string;
}

export interface Triage {
  state: (typeof TRIAGE_STATES)[number];
  assignee?: string;
  resolution?: (typeof RESOLUTIONS)[number];
  history: TriageAction[];
}

/** What a sink's sender reports. `retryable` tells the alerter whether another attempt can help. */
export class SinkError extends Error {
  override name = 'SinkError';
  readonly retryable: boolean;
  /** How long the receiver asked us to wait before the next attempt (HTTP Retry-After), when it said. */
  readonly retryAfterMs?: number;
  constructor(message: string, retryable: boolean, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    this.retryable = retryable;
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * An alert sink: `render` is pure and tested by value; `send` only moves bytes.
 * Built by a factory from its validated config, so a missing option fails at load time, not at 3 a.m.
 */
export interface Sink<P = unknown> {
  /** The receiver's name: the sink id for alerting.<sink>, the configured name for alerting.receivers. */
  readonly name: string;
  /** The sink id of the registry ("slack", "email"), when the name is a receiver's. */
  readonly type?: string;
  readonly minSeverity: Severity;
  /** When non-empty, only hits of these detectors are routed to this sink. */
  readonly detectors?: readonly string[];
  render(hit: Hit): P;
  /** Resolves when delivered (with where the message is, when the sink can edit it); rejects with SinkError. */
  send(payload: P): Promise<SinkRef | undefined | void>;
  /**
   * For sinks that can edit what they sent: brings the message at `ref` up to date with the incident
   * (`hit.incident`) and says what is new (Slack: chat.update, then a reply in the thread).
   */
  update?(ref: SinkRef, hit: Hit, options?: { quiet?: boolean }): Promise<void>;
  /**
   * For sinks that hold the incident (a message, a PagerDuty incident): brings what is at `ref` in line
   * with the incident's status after someone acknowledged or resolved it (`hit.incident`; lifecycle.ts).
   */
  follow?(ref: SinkRef, hit: Hit): Promise<void>;
  close?(): Promise<void>;
}

/** What every sink's config has; the alerter and the config checks read these. */
export interface SinkConfigBase {
  enabled: boolean;
  minSeverity: Severity;
  /** Route only these detectors' alerts here (ids); empty: every detector. */
  detectors: string[];
  /** pipewarden's API or console, linked from messages and digests (a sink may offer it). */
  consoleUrl?: string;
}

/**
 * One entry of the sink registry (src/alerting/sinks/index.ts): the config key under `alerting`, the
 * docs and the factory all derive from it, so adding a sink is its file plus one registry line.
 */
export interface SinkDefinition<C extends SinkConfigBase = SinkConfigBase> {
  /** kebab-case; the file (or folder) name, the key under `alerting`, and the delivery's name. */
  id: string;
  title: string;
  /** One line for the README's sink table: what it sends and how. */
  summary: string;
  /** The environment variables its secrets come from by default (README, example config). */
  secretEnvs: readonly string[];
  configSchema: z.ZodType<C, unknown>;
  /** Called only when the sink is enabled; the schema has already checked what it needs. */
  create(config: C): Sink;
}
