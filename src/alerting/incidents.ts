// Incidents instead of repeats: hits with the same group key (alerting.route.group_by; default detector +
// rule + key) within group_interval of the incident's last hit form one incident with a count and first/last
// times. The first hit notifies; later ones update what each receiver already has (Slack edits its message
// and replies in the thread; email repeats at most every repeat_interval). Incidents live in the store's
// state documents (both stores), so they survive restarts and every alert replica sees them. Hits are keyed
// by `key` on the bus, so with the default group_by one consumer handles all hits of a group, in order; the
// alert role handles hits of different groups at the same time and those of one group one after another
// (src/alerting/lanes.ts). A hit is counted into its incident after the sends, together with what each
// receiver then holds (`settle`).
import { createHash } from 'node:crypto';
import type { Store } from '../store/types.ts';
import { fieldOf, type GROUP_FIELDS } from './routing.ts';
import { type Hit, type IncidentInfo, type Severity, type SinkRef, severityRank } from './types.ts';

export type GroupField = (typeof GROUP_FIELDS)[number];

/** What one receiver was last sent for an incident. */
export interface IncidentNotice {
  /** Where the receiver's message is (Slack: channel and ts), when the sink can edit it. */
  ref?: SinkRef;
  /** When it was last sent (first message or an update), and the count it showed. */
  at: string;
  count: number;
  /** The hit it was sent for: a redelivered hit whose record was not written finds its send here. */
  hit?: string;
}

export interface Incident extends IncidentInfo {
  group: string;
  detector: string;
  title: string;
  severity: Severity;
  key: string;
  /** Recent hit ids (bounded): a redelivered hit is not counted twice. */
  hits: string[];
  notified: Record<string, IncidentNotice>;
  /** Per receiver, the status it was last brought in line with (lifecycle.ts followMark). */
  followed?: Record<string, string>;
}

/** How many hit ids an incident remembers for redelivery checks. */
const HIT_IDS_MAX = 500;

export interface IncidentOptions {
  groupBy: readonly GroupField[];
  groupIntervalMs: number;
  repeatIntervalMs: number;
}

/** Pure: the group key of a hit (the values of group_by, in order). */
export function groupKey(hit: Hit, groupBy: readonly GroupField[]): string {
  return groupBy.map((f) => `${f}=${fieldOf(hit, f) ?? ''}`).join('\u0000');
}

const hash = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 24);

export interface Tracked {
  incident: Incident;
  /** This hit opened the incident: notify as usual. */
  first: boolean;
}

export class IncidentTracker {
  readonly #store: Store;
  readonly opts: IncidentOptions;

  constructor(store: Store, opts: IncidentOptions) {
    this.#store = store;
    this.opts = opts;
  }

  #stateKey(group: string): string {
    return `incident:${hash(group)}`;
  }

  async get(group: string): Promise<Incident | undefined> {
    const raw = await this.#store.getState(this.#stateKey(group));
    return raw ? (JSON.parse(raw) as Incident) : undefined;
  }

  /** By incident id (Slack buttons, the API). */
  async byId(id: string): Promise<Incident | undefined> {
    const group = await this.#store.getState(`incident-id:${id}`);
    if (group === undefined) return undefined;
    const incident = await this.get(group);
    return incident?.id === id ? incident : undefined;
  }

  async put(incident: Incident): Promise<void> {
    await this.#store.putState(this.#stateKey(incident.group), JSON.stringify(incident));
  }

  /**
   * Counts the hit into its group's incident, or opens a new one (none yet, resolved, or the last hit is
   * older than group_interval). A hit already counted (redelivery) changes nothing.
   */
  async track(hit: Hit): Promise<Tracked> {
    const counted = this.count(hit, await this.get(groupKey(hit, this.opts.groupBy)));
    await counted.save?.();
    return counted.tracked;
  }

  /**
   * `track` in two steps, for a caller that read the group's incident (`get`) together with other things
   * and stores it together with other writes: what the incident becomes with the hit, and `save` to store
   * it (absent when nothing changed). `current` must be the latest of the group.
   */
  count(hit: Hit, current: Incident | undefined): { tracked: Tracked; save?: () => Promise<void> } {
    const group = groupKey(hit, this.opts.groupBy);
    const at = hit['@timestamp'];
    if (current?.hits.includes(hit.id)) {
      const first = current.hits[0] === hit.id;
      // redelivered: the incident was stored, its id's entry may not have been (written at the same time)
      const save = first ? () => this.#store.putState(`incident-id:${current.id}`, group) : undefined;
      return { tracked: { incident: current, first }, ...(save ? { save } : {}) };
    }
    const fresh =
      current &&
      current.status !== 'resolved' &&
      Date.parse(at) - Date.parse(current.last_at) <= this.opts.groupIntervalMs;
    if (current && fresh) {
      const incident: Incident = {
        ...current,
        count: current.count + 1,
        first_at: at < current.first_at ? at : current.first_at,
        last_at: at > current.last_at ? at : current.last_at,
        severity:
          severityRank(hit.severity) > severityRank(current.severity) ? hit.severity : current.severity,
        hits: [...current.hits, hit.id].slice(-HIT_IDS_MAX),
        last_summary: hit.summary,
      };
      return { tracked: { incident, first: false }, save: () => this.put(incident) };
    }
    const incident: Incident = {
      id: `inc-${hash(`${group}\u0000${hit.id}`)}`,
      group,
      detector: hit.detector,
      title: hit.title,
      severity: hit.severity,
      key: hit.key,
      count: 1,
      first_at: at,
      last_at: at,
      status: 'open',
      hits: [hit.id],
      notified: {},
      last_summary: hit.summary,
    };
    const save = async () => {
      // two documents, written at once: a redelivered hit finds itself counted in either case
      await Promise.all([this.put(incident), this.#store.putState(`incident-id:${incident.id}`, group)]);
    };
    return { tracked: { incident, first: true }, save };
  }

  /**
   * After the sends: counts the hit into its incident and records what each receiver was sent for it
   * (`notices`; their counts are set here), in one write of the incident. Re-read first: a status change
   * may have landed meanwhile. Nothing is written when the group's incident is no longer
   * `incidentId` (resolved and reopened meanwhile) or nothing changed; a hit that opened the incident
   * writes its id's entry too (again, on redelivery: the two writes go at the same time).
   */
  async settle(
    hit: Hit,
    incidentId: string,
    notices: Record<string, Omit<IncidentNotice, 'count'>>,
  ): Promise<Incident | undefined> {
    const current = await this.get(groupKey(hit, this.opts.groupBy));
    const { incident, first } = this.count(hit, current).tracked;
    if (incident.id !== incidentId) return undefined;
    const at = incident.hits.lastIndexOf(hit.id);
    // the count the incident had when this hit was counted into it
    const count = incident.count - (incident.hits.length - 1 - at);
    const fresh = Object.entries(notices).filter(
      ([sink, n]) => !(incident.notified[sink] && Date.parse(incident.notified[sink].at) > Date.parse(n.at)),
    );
    const unchanged = incident === current && !fresh.length;
    const next: Incident = {
      ...incident,
      notified: { ...incident.notified, ...Object.fromEntries(fresh.map(([k, n]) => [k, { ...n, count }])) },
    };
    await Promise.all([
      unchanged ? undefined : this.put(next),
      first ? this.#store.putState(`incident-id:${incident.id}`, incident.group) : undefined,
    ]);
    return next;
  }

  /** Records which status each receiver now shows (re-read first, as `settle`). */
  async followed(id: string, marks: Record<string, string>): Promise<void> {
    if (!Object.keys(marks).length) return;
    const current = await this.byId(id);
    if (!current) return;
    await this.put({ ...current, followed: { ...current.followed, ...marks } });
  }

  /** Acknowledge or resolve; `by` names who (a Slack user, an API token). */
  async setStatus(id: string, status: 'acknowledged' | 'resolved', by: string, at: string) {
    const incident = await this.byId(id);
    if (!incident) return undefined;
    const next: Incident = {
      ...incident,
      status,
      ...(status === 'acknowledged' ? { acknowledged_by: by, acknowledged_at: at } : {}),
      ...(status === 'resolved' ? { resolved_by: by, resolved_at: at } : {}),
    };
    await this.put(next);
    return next;
  }
}

/** The part of an incident a renderer shows. */
export function incidentInfo(incident: Incident): IncidentInfo {
  const { id, count, first_at, last_at, status, acknowledged_by, acknowledged_at, resolved_by, resolved_at } =
    incident;
  return {
    id,
    count,
    first_at,
    last_at,
    status,
    ...(incident.last_summary !== undefined ? { last_summary: incident.last_summary } : {}),
    ...(acknowledged_by !== undefined ? { acknowledged_by } : {}),
    ...(acknowledged_at !== undefined ? { acknowledged_at } : {}),
    ...(resolved_by !== undefined ? { resolved_by } : {}),
    ...(resolved_at !== undefined ? { resolved_at } : {}),
  };
}
