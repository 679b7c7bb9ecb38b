// Delivers each hit to every sink at or above its minimum severity, retries what can be retried, and
// records the outcome per sink. One sink failing never stops the others.
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { type LinksConfig, vendorLink, wantsFacts } from './deep-links.ts';
import {
  groupKey,
  type Incident,
  type IncidentNotice,
  type IncidentTracker,
  incidentInfo,
  type Tracked,
} from './incidents.ts';
import { followMark } from './lifecycle.ts';
import { AlertOutbox, alertRecord, type OutboxOptions } from './outbox.ts';
import type { Router } from './routing.ts';
import type { Silences } from './silences.ts';
import { buildDigest, DIGEST_MAX, overallStatus, SinkBudget, type ThrottleConfig } from './throttle.ts';
import {
  type AlertRecord,
  type Delivery,
  type Hit,
  type Sink,
  SinkError,
  type SinkRef,
  severityRank,
} from './types.ts';

export interface AlerterOptions {
  attempts: number;
  /** Deliver to every sink whatever its detector routes (test alerts). */
  ignoreRoutes?: boolean;
  backoffMs: number;
  /** Alert budget per sink; without it nothing is held. */
  throttle?: ThrottleConfig;
  /** Linked from digests. */
  consoleUrl?: string;
  /** Relative runbook paths are resolved against it before rendering. */
  runbookBaseUrl?: string;
  /** The longest wait a receiver's Retry-After is honoured for; asked for more, this round gives up. */
  maxRetryAfterMs?: number;
  /** How the final alert record write is retried before the batch is redelivered (see outbox.ts). */
  outbox?: Omit<OutboxOptions, 'log'>;
  /** The routing tree (routing.ts); without it every sink is a receiver of every hit. */
  router?: Router;
  /** Groups repeats into incidents (incidents.ts); without it every hit notifies on its own. */
  incidents?: IncidentTracker;
  /** Hits matching an active silence are recorded as silenced and not sent. */
  silences?: Silences;
  /** Base URLs of the vendors' web UIs, for the link to the hit's page there (deep-links.ts). */
  links?: LinksConfig;
  log?: Logger;
  now?: () => Date;
}

const MAX_RETRY_AFTER_MS = 60_000;

/** What each receiver was sent for an alert, as notices on its incident (settled by IncidentTracker.settle). */
function noticesOf(
  record: AlertRecord,
  incident: Incident | undefined,
): Record<string, Omit<IncidentNotice, 'count'>> {
  const notices: Record<string, Omit<IncidentNotice, 'count'>> = {};
  for (const [sink, d] of Object.entries(record.deliveries)) {
    if (d.status !== 'sent') continue;
    const ref = d.ref ?? incident?.notified[sink]?.ref;
    notices[sink] = { ...(ref ? { ref } : {}), at: d.at, hit: record.id };
  }
  return notices;
}

/**
 * Whether a delivered alert's incident lacks it (the record and the incident are written at the same time,
 * after the sends: the record may have landed alone): not counted, or a receiver's notice missing.
 */
export function incidentLacks(record: AlertRecord, incident: Incident | undefined): boolean {
  if (!record.incident_id) return false;
  if (!incident) return true;
  if (incident.id !== record.incident_id) return false; // the group has moved on to another incident
  if (!incident.hits.includes(record.id)) return true;
  return Object.entries(record.deliveries).some(([sink, d]) => {
    if (d.status !== 'sent') return false;
    const known = incident.notified[sink];
    return !known || Date.parse(known.at) < Date.parse(d.at);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Alerter {
  readonly #sinks: Sink[];
  readonly #store: Store | undefined;
  readonly #opts: AlerterOptions;
  readonly #budget: SinkBudget | undefined;
  readonly #outbox: AlertOutbox | undefined;

  /** `store` may be undefined for one-off deliveries (test alerts) that are not recorded. */
  constructor(sinks: Sink[], store: Store | undefined, opts: AlerterOptions) {
    this.#sinks = sinks;
    this.#store = store;
    this.#opts = opts;
    this.#budget = opts.throttle ? new SinkBudget(opts.throttle) : undefined;
    this.#outbox = store
      ? new AlertOutbox(store, { ...opts.outbox, ...(opts.log ? { log: opts.log } : {}) })
      : undefined;
  }

  /** How hits are grouped into incidents, when they are. */
  get incidents(): IncidentTracker | undefined {
    return this.#opts.incidents;
  }

  get sinkNames(): string[] {
    return this.#sinks.map((s) => s.name);
  }

  /**
   * Delivers a hit through the outbox (outbox.ts): the intent is stored before any sink is tried, each
   * outcome right after, so a redelivered hit resumes instead of repeating what already went out.
   * Throws, having sent nothing, when the intent cannot be stored; the caller's batch comes back later.
   * Store round trips, one after another: the record and the incident read at once; the intent; the sends;
   * the final record and the incident (counting the hit, with what each receiver holds) written at once.
   */
  async handle(incoming: Hit): Promise<AlertRecord> {
    const store = this.#store;
    const outbox = this.#outbox;
    if (!store || !outbox) throw new Error('this alerter has no store to record alerts in');
    const tracker = this.#opts.incidents;
    // The record and the incident are read at once (the incident is not needed when the hit went out).
    const [existing, current] = await Promise.all([
      store.getAlert(incoming.id),
      tracker?.get(groupKey(incoming, tracker.opts.groupBy)),
    ]);
    // A redelivered hit that already went out is not sent twice.
    if (existing?.status === 'delivered') {
      outbox.forget(incoming.id);
      // Its record and its incident are written at the same time: the incident may lack it.
      if (tracker && existing.incident_id && incidentLacks(existing, current))
        await tracker.settle(incoming, existing.incident_id, noticesOf(existing, current));
      return existing;
    }
    const hit = await this.#withVendorLink(incoming);
    // A hit matching an active silence is recorded as silenced (with the silence's id) and never sent.
    if (existing?.status === 'silenced') return existing;
    const silence = existing ? undefined : await this.#opts.silences?.matching(hit);
    if (silence) {
      const silenced: AlertRecord = { ...hit, status: 'silenced', deliveries: {}, silence: silence.id };
      await store.putAlert(silenced);
      return silenced;
    }
    // What the store says, overlaid with sends this process made but could not record yet.
    const deliveries: Record<string, Delivery> = {
      ...existing?.deliveries,
      ...outbox.unrecorded(hit.id),
    };
    // Sends the incident holds for this hit and the record does not (its write landed alone).
    for (const [sink, n] of Object.entries(current?.notified ?? {}))
      if (n.hit === hit.id && deliveries[sink]?.status !== 'sent')
        deliveries[sink] = {
          status: 'sent',
          attempts: deliveries[sink]?.attempts ?? 1,
          at: n.at,
          ...(n.ref ? { ref: n.ref } : {}),
        };
    const tracked = tracker?.count(hit, current).tracked;
    const shown: Hit = tracked ? { ...hit, incident: incidentInfo(tracked.incident) } : hit;
    const toSend: Sink[] = [];
    const updates = new Map<string, SinkRef>(); // receiver → its message to edit, for incident updates
    const routed = this.#routed(hit);
    const quiet = new Set<string>(); // receivers whose edit goes out past the budget, without a thread reply
    const quietEdits = this.#opts.throttle?.edits === 'quiet';
    // Budget slots taken for the sends below (given back when a send fails): hits handled at the same time
    // see each other's sends in the budget.
    const slots = new Map<string, () => void>();
    for (const sink of this.#sinks) {
      const notice = tracked && !tracked.first ? tracked.incident.notified[sink.name] : undefined;
      const edit = notice?.ref && sink.update ? notice.ref : undefined;
      // throttle.edits: quiet — an edit of a message the receiver has is not a new alert: no budget
      const unbudgeted = quietEdits && edit !== undefined;
      let decided = this.#decide(sink, hit, deliveries[sink.name], routed, unbudgeted);
      if (!decided && tracked && !tracked.first) {
        if (edit) {
          updates.set(sink.name, edit);
          if (unbudgeted && this.#overBudget(sink, hit)) quiet.add(sink.name);
        } else decided = this.#repeatLater(sink, tracked, notice);
      }
      if (decided) deliveries[sink.name] = decided;
      else {
        toSend.push(sink);
        if (this.#budget && !unbudgeted)
          slots.set(sink.name, this.#budget.reserve(sink.name, this.#now().getTime()));
      }
    }
    const notices: Record<string, Omit<IncidentNotice, 'count'>> = {};
    const previous = new Map(toSend.map((s) => [s.name, deliveries[s.name]]));
    if (toSend.length > 0) {
      const at = this.#now().toISOString();
      for (const s of toSend)
        deliveries[s.name] = { status: 'pending', attempts: deliveries[s.name]?.attempts ?? 0, at };
    }
    if (toSend.length > 0) {
      try {
        await outbox.recordIntent(hit, deliveries);
      } catch (err) {
        for (const release of slots.values()) release();
        throw err;
      }
    }
    let progress: Promise<void> = Promise.resolve();
    if (toSend.length > 0) {
      let unanswered = toSend.length;
      await Promise.allSettled(
        toSend.map(async (sink) => {
          const ref = updates.get(sink.name);
          const delivery = await this.#send(
            sink,
            shown,
            previous.get(sink.name),
            ref,
            quiet.has(sink.name),
          ).catch(
            (err: unknown): Delivery => ({
              status: 'failed',
              attempts: (previous.get(sink.name)?.attempts ?? 0) + 1,
              at: this.#now().toISOString(),
              error: String(err),
            }),
          );
          if (delivery.status === 'sent') {
            if (tracked) {
              const kept = delivery.ref ?? ref;
              notices[sink.name] = { ...(kept ? { ref: kept } : {}), at: delivery.at, hit: hit.id };
            }
          } else slots.get(sink.name)?.();
          deliveries[sink.name] = delivery;
          // Recorded at once while other receivers have not answered yet (the last one's is the final
          // write); serialised, so an older snapshot never overwrites a newer one.
          if (--unanswered > 0)
            progress = progress.then(() => outbox.recordProgress(hit, sink.name, delivery, deliveries));
          else outbox.remember(hit.id, sink.name, delivery);
        }),
      );
    }
    await progress;
    const record: AlertRecord = {
      ...alertRecord(hit, deliveries),
      ...(tracked ? { incident_id: tracked.incident.id } : {}),
    };
    // The record, and the incident counting the hit with what each receiver now holds, at the same time:
    // when only the record lands, the redelivered hit finds it delivered and settles the incident then;
    // when only the incident does, the redelivered hit finds its sends there.
    await Promise.all([
      outbox.recordFinal(record),
      tracked ? tracker!.settle(hit, tracked.incident.id, notices) : undefined,
    ]);
    return record;
  }

  /**
   * Brings every receiver that holds the incident (a Slack message, a PagerDuty incident) in line with its
   * current status, after someone acknowledged or resolved it (lifecycle.ts). A receiver already given this
   * status is skipped, so a redelivered request repeats nothing; each one is recorded right after it
   * answered. Returns what each receiver did (for tests and metrics): sent, failed or skipped.
   */
  async follow(incidentId: string): Promise<Record<string, Delivery>> {
    const tracker = this.#opts.incidents;
    const store = this.#store;
    const out: Record<string, Delivery> = {};
    if (!tracker || !store) return out;
    const incident = await tracker.byId(incidentId);
    const mark = incident && followMark(incident);
    if (!incident || !mark) return out;
    const last = await store.getAlert(incident.hits[incident.hits.length - 1] ?? '');
    if (!last) return out;
    const { status: _s, deliveries: _d, incident_id: _i, silence: _x, triage: _t, ...hit } = last;
    const shown: Hit = this.#withRunbookLink({ ...hit, incident: incidentInfo(incident) });
    const holders = this.#sinks.filter((s) => s.follow && incident.notified[s.name]?.ref);
    await Promise.allSettled(
      holders.map(async (sink) => {
        const at = this.#now().toISOString();
        if (incident.followed?.[sink.name] === mark) {
          out[sink.name] = { status: 'skipped', attempts: 0, at, reason: 'already follows this status' };
          return;
        }
        out[sink.name] = await this.#retry(sink, hit.id, () =>
          sink.follow!(incident.notified[sink.name]!.ref!, shown),
        );
      }),
    );
    // one write for every receiver that answered (parallel writes of the same document would lose some)
    const marks = Object.entries(out).filter(([, d]) => d.status === 'sent');
    await tracker.followed(incident.id, Object.fromEntries(marks.map(([name]) => [name, mark])));
    const failed = Object.entries(out).filter(([, d]) => d.status === 'failed');
    if (failed.length)
      this.#opts.log?.warn(
        { incident: incident.id, receivers: failed.map(([n]) => n) },
        'Some receivers could not be told the incident status; the next change or hit tells them.',
      );
    return out;
  }

  /**
   * Sends one digest to `sinkName` for the alerts it holds, then marks them digested. Safe to run twice
   * for the same alerts (each is re-read before it is counted, and the digest id derives from them).
   * Returns how many alerts the digest covered (0 when there was nothing to send or the send failed).
   */
  async digest(sinkName: string, maxAgeHours = 24): Promise<number> {
    const store = this.#store;
    const sink = this.#sinks.find((s) => s.name === sinkName);
    if (!store || !sink) return 0;
    const now = this.#now();
    const from = new Date(now.getTime() - maxAgeHours * 3_600_000).toISOString();
    const held: AlertRecord[] = [];
    for (const status of ['held', 'partial'] as const) {
      let cursor: string | undefined;
      do {
        const page = await store.searchAlerts({ status, from, size: 200, ...(cursor ? { cursor } : {}) });
        for (const candidate of page.items) {
          if (held.length >= DIGEST_MAX) break;
          if (candidate.deliveries[sinkName]?.status !== 'held') continue;
          // Search can lag behind writes; the stored record is the truth.
          const current = await store.getAlert(candidate.id);
          if (current?.deliveries[sinkName]?.status === 'held') held.push(current);
        }
        cursor = held.length >= DIGEST_MAX ? undefined : page.next;
      } while (cursor);
    }
    if (!held.length) return 0;
    const digest = buildDigest(sinkName, held, now, this.#opts.consoleUrl);
    const delivery = await this.#send(sink, digest, undefined);
    const others = Object.fromEntries(
      this.#sinks
        .filter((s) => s !== sink)
        .map((s): [string, Delivery] => [
          s.name,
          { status: 'skipped', attempts: 0, at: now.toISOString(), reason: `digest for ${sinkName}` },
        ]),
    );
    const deliveries = { ...others, [sinkName]: delivery };
    await store.putAlert({ ...digest, status: overallStatus(deliveries), deliveries });
    if (delivery.status !== 'sent') return 0;
    for (const alert of held) {
      const updated = {
        ...alert.deliveries,
        [sinkName]: {
          status: 'digested',
          attempts: 0,
          at: delivery.at,
          digest: digest.id,
        } satisfies Delivery,
      };
      await store.putAlert({ ...alert, status: overallStatus(updated), deliveries: updated });
    }
    this.#opts.log?.info(
      { sink: sinkName, digest: digest.id, held: held.length },
      'Sent a digest of held alerts.',
    );
    return held.length;
  }

  /** Sends to every sink at or above its minimum severity (skipping those already sent), in parallel. */
  async deliver(hit: Hit, previous: Record<string, Delivery> = {}): Promise<Record<string, Delivery>> {
    const routed = this.#routed(hit);
    const results = await Promise.allSettled(
      this.#sinks.map(async (sink) => {
        const decided = this.#decide(sink, hit, previous[sink.name], routed);
        if (decided) return decided;
        const delivery = await this.#send(sink, hit, previous[sink.name]);
        if (delivery.status === 'sent') this.#budget?.record(sink.name, this.#now().getTime());
        return delivery;
      }),
    );
    const deliveries: Record<string, Delivery> = {};
    results.forEach((r, i) => {
      const sink = this.#sinks[i]!;
      deliveries[sink.name] =
        r.status === 'fulfilled'
          ? r.value
          : { status: 'failed', attempts: 1, at: this.#now().toISOString(), error: String(r.reason) };
    });
    return deliveries;
  }

  #now(): Date {
    return this.#opts.now?.() ?? new Date();
  }

  /**
   * A later hit of an incident, for a receiver that cannot edit its message: sent again only when its last
   * message is older than repeat_interval (or it never got one); otherwise counted, and shown next time.
   */
  #repeatLater(sink: Sink, tracked: Tracked, notice: IncidentNotice | undefined): Delivery | undefined {
    if (!notice) return undefined;
    const every = this.#opts.incidents!.opts.repeatIntervalMs;
    if (this.#now().getTime() - Date.parse(notice.at) >= every) return undefined;
    const { id, count } = tracked.incident;
    return {
      status: 'skipped',
      attempts: 0,
      at: this.#now().toISOString(),
      reason: `counted into incident ${id} (${count} hits); ${sink.name} repeats it at most every ${Math.round(every / 60_000)} min`,
    };
  }

  /** The receivers the routing tree gives the hit; undefined: every sink (no tree, or test alerts). */
  #routed(hit: Hit): Set<string> | undefined {
    if (this.#opts.ignoreRoutes || !this.#opts.router) return undefined;
    return new Set(this.#opts.router.route(hit).receivers);
  }

  /** The outcome for a sink that is not to be sent now (already sent, not routed, held…); undefined: send. */
  #decide(
    sink: Sink,
    hit: Hit,
    previous: Delivery | undefined,
    routed?: Set<string>,
    unbudgeted = false,
  ): Delivery | undefined {
    if (previous?.status === 'sent') return previous;
    if (routed && !routed.has(sink.name)) {
      return {
        status: 'skipped',
        attempts: 0,
        at: this.#now().toISOString(),
        reason: `no route sends this hit to ${sink.name}`,
      };
    }
    if (!this.#opts.ignoreRoutes && sink.detectors?.length && !sink.detectors.includes(hit.detector)) {
      return {
        status: 'skipped',
        attempts: 0,
        at: this.#now().toISOString(),
        reason: `${hit.detector} is not routed to ${sink.name}`,
      };
    }
    if (severityRank(hit.severity) < severityRank(sink.minSeverity)) {
      return {
        status: 'skipped',
        attempts: 0,
        at: this.#now().toISOString(),
        reason: `below ${sink.name} minimum severity ${sink.minSeverity}`,
      };
    }
    // A held alert stays held until a digest covers it; a redelivery does not send it after all.
    if (previous?.status === 'held' || previous?.status === 'digested') return previous;
    if (this.#budget && this.#store && !unbudgeted) {
      const verdict = this.#budget.check(sink.name, hit.severity, this.#now().getTime());
      if (!verdict.ok)
        return { status: 'held', attempts: 0, at: this.#now().toISOString(), reason: verdict.reason };
    }
    return undefined;
  }

  /** `attempt` with the alerter's retries and backoff (as #send); never throws. */
  async #retry(sink: Sink, hitId: string, attempt: () => Promise<void>): Promise<Delivery> {
    for (let i = 0; ; i++) {
      try {
        await attempt();
        return { status: 'sent', attempts: i + 1, at: this.#now().toISOString(), update: true };
      } catch (err) {
        const retryable = err instanceof SinkError ? err.retryable : true;
        const message = err instanceof Error ? err.message : String(err);
        this.#opts.log?.warn(
          { sink: sink.name, hitId, attempt: i + 1, retryable, error: message },
          'Passing the incident status on failed.',
        );
        const retryAfterMs = err instanceof SinkError ? err.retryAfterMs : undefined;
        const tooLong = (retryAfterMs ?? 0) > (this.#opts.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS);
        if (!retryable || tooLong || i + 1 >= this.#opts.attempts)
          return {
            status: 'failed',
            attempts: i + 1,
            at: this.#now().toISOString(),
            error: message,
            retryable,
          };
        await sleep(Math.max(this.#opts.backoffMs * 2 ** i, retryAfterMs ?? 0));
      }
    }
  }

  /** The hit with its vendor page (deep-links.ts); the triggering event is read only when the hit lacks its action or job. */
  async #withVendorLink(hit: Hit): Promise<Hit> {
    const links = this.#opts.links;
    if (!links || hit.vendor_link) return hit;
    let facts = {};
    const last = hit.event_ids[hit.event_ids.length - 1];
    if (last && this.#store && wantsFacts(hit, links)) {
      const event = await this.#store.getEvent(last).catch(() => undefined);
      if (event) facts = { action: event.event.action, job: event.pipewarden.job };
    }
    const found = vendorLink(hit, links, facts);
    return found ? { ...hit, vendor_link: found } : hit;
  }

  /** Whether the sink's budget is spent for a hit of this severity (for edits that do not spend it). */
  #overBudget(sink: Sink, hit: Hit): boolean {
    return this.#budget ? !this.#budget.check(sink.name, hit.severity, this.#now().getTime()).ok : false;
  }

  /** A repository path as runbook becomes a link under runbookBaseUrl; an absolute URL is kept. */
  #withRunbookLink(hit: Hit): Hit {
    const base = this.#opts.runbookBaseUrl;
    if (!base || /^[a-z][a-z0-9+.-]*:/i.test(hit.runbook)) return hit;
    return { ...hit, runbook: new URL(hit.runbook.replace(/^\/+/, ''), base).toString() };
  }

  /**
   * Renders and sends with retries and backoff, or with `ref`, updates the receiver's message of the
   * incident instead; never throws.
   */
  async #send(
    sink: Sink,
    hit: Hit,
    previous: Delivery | undefined,
    ref?: SinkRef,
    quiet = false,
  ): Promise<Delivery> {
    const linked = this.#withRunbookLink(hit);
    const payload = ref ? undefined : sink.render(linked);
    let attempts = previous?.attempts ?? 0;
    for (let i = 0; ; i++) {
      attempts++;
      try {
        if (ref) {
          await sink.update!(ref, linked, quiet ? { quiet } : undefined);
          return {
            status: 'sent',
            attempts,
            at: this.#now().toISOString(),
            update: true,
            ...(quiet ? { reason: 'past the flood budget: message updated, no thread reply' } : {}),
          };
        }
        const sent = await sink.send(payload);
        return { status: 'sent', attempts, at: this.#now().toISOString(), ...(sent ? { ref: sent } : {}) };
      } catch (err) {
        const retryable = err instanceof SinkError ? err.retryable : true;
        const message = err instanceof Error ? err.message : String(err);
        this.#opts.log?.warn(
          { sink: sink.name, hitId: hit.id, attempt: i + 1, retryable, error: message },
          'Alert delivery failed.',
        );
        // A receiver's Retry-After is honoured up to a bound; past it the redeliver sweep tries later.
        const retryAfterMs = err instanceof SinkError ? err.retryAfterMs : undefined;
        const tooLong = (retryAfterMs ?? 0) > (this.#opts.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS);
        if (!retryable || tooLong || i + 1 >= this.#opts.attempts) {
          return { status: 'failed', attempts, at: this.#now().toISOString(), error: message, retryable };
        }
        await sleep(Math.max(this.#opts.backoffMs * 2 ** i, retryAfterMs ?? 0));
      }
    }
  }
}
