// Alert-flood control. A burst of hits (a spraying attack, a misbehaving source, a noisy detector) must not
// bury the one alert that matters under hundreds of Slack messages and mails, nor get the bot rate-limited.
// Each sink has a budget of alerts per sliding window; past it, alerts below `critical` are stored as
// `held` instead of sent, and the sweeper later sends one digest per sink that counts them by detector and
// severity and says where to find them (GET /api/alerts?status=held). Critical alerts always go out.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  type AlertRecord,
  type Delivery,
  type Hit,
  SEVERITIES,
  type Severity,
  severityRank,
} from './types.ts';

export const throttleConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Alerts each sink sends per window before holding the rest for a digest. */
    maxPerWindow: z.number().int().min(1).max(10_000).default(30),
    windowMinutes: z
      .number()
      .positive()
      .max(24 * 60)
      .default(10),
    /** Alerts at or above this severity are never held. */
    neverHold: z.enum(SEVERITIES).default('critical'),
    /**
     * Later hits of an incident that edit its message (Slack chat.update and a thread reply, PagerDuty and
     * Opsgenie on the same key). budget: each spends the budget and past it waits for the digest, like a new
     * alert. quiet: they never spend it; past it the message is still brought up to date (count, last time,
     * status) but no thread reply is posted. A new incident past the budget is held either way.
     */
    edits: z.enum(['budget', 'quiet']).default('budget'),
  })
  .prefault({});
export type ThrottleConfig = Omit<z.output<typeof throttleConfigSchema>, 'edits'> &
  Partial<Pick<z.output<typeof throttleConfigSchema>, 'edits'>>;

/** Sliding-window count of what each sink sent, in this process. */
export class SinkBudget {
  readonly #config: ThrottleConfig;
  readonly #sent = new Map<string, number[]>();

  constructor(config: ThrottleConfig) {
    this.#config = config;
  }

  /** Whether `sink` may send an alert of `severity` at `now`; when not, the reason to record. */
  check(sink: string, severity: Severity, now: number): { ok: true } | { ok: false; reason: string } {
    const c = this.#config;
    if (!c.enabled || severityRank(severity) >= severityRank(c.neverHold)) return { ok: true };
    if (this.#recent(sink, now).length < c.maxPerWindow) return { ok: true };
    return {
      ok: false,
      reason: `${sink} sent ${c.maxPerWindow} alerts in the last ${c.windowMinutes} min; held for the digest`,
    };
  }

  record(sink: string, now: number): void {
    this.#recent(sink, now).push(now);
  }

  /**
   * Counts a send before it is made, so that hits handled at the same time cannot all pass `check` on the
   * last free slot; the returned function gives the slot back (the send failed).
   */
  reserve(sink: string, now: number): () => void {
    const times = this.#recent(sink, now);
    times.push(now);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const i = times.lastIndexOf(now);
      if (i >= 0) times.splice(i, 1);
    };
  }

  #recent(sink: string, now: number): number[] {
    const since = now - this.#config.windowMinutes * 60_000;
    let times = this.#sent.get(sink);
    if (!times) {
      times = [];
      this.#sent.set(sink, times);
    }
    let drop = 0;
    while (drop < times.length && times[drop]! <= since) drop++;
    if (drop) times.splice(0, drop);
    return times;
  }
}

/** An alert's overall status from its deliveries. */
export function overallStatus(deliveries: Record<string, Delivery>): AlertRecord['status'] {
  const statuses = Object.values(deliveries).map((d) => d.status);
  if (statuses.includes('pending')) return 'pending';
  const failed = statuses.filter((s) => s === 'failed').length;
  if (failed > 0) return failed === statuses.length ? 'failed' : 'partial';
  if (statuses.includes('held')) return 'held';
  // nobody could be told: no sink is configured
  if (statuses.length === 0) return 'undelivered';
  return statuses.includes('digested') && !statuses.includes('sent') ? 'digested' : 'delivered';
}

/** At most this many held alerts are summarised in one digest; the rest wait for the next. */
export const DIGEST_MAX = 500;

/**
 * Pure: the digest for the alerts `sink` held, as a hit every sink can render. Its id derives from the
 * held alerts' ids, so a digest requested twice for the same alerts is one alert.
 */
export function buildDigest(sink: string, held: AlertRecord[], now: Date, consoleUrl?: string): Hit {
  const ids = held.map((a) => a.id).sort();
  const byDetector = new Map<string, { count: number; worst: Severity }>();
  let worst: Severity = 'info';
  for (const a of held) {
    const d = byDetector.get(a.detector) ?? { count: 0, worst: 'info' as Severity };
    d.count++;
    if (severityRank(a.severity) > severityRank(d.worst)) d.worst = a.severity;
    if (severityRank(a.severity) > severityRank(worst)) worst = a.severity;
    byDetector.set(a.detector, d);
  }
  const times = held.map((a) => a['@timestamp']).sort();
  const detectors = [...byDetector.entries()].sort((a, b) => b[1].count - a[1].count);
  const counts = detectors.map(([id, d]) => `${id} ×${d.count} (worst ${d.worst})`).join(', ');
  const top = (values: Array<string | undefined>) => {
    const n = new Map<string, number>();
    for (const v of values) if (v) n.set(v, (n.get(v) ?? 0) + 1);
    return [...n.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 5)
      .map(([v, c]) => `${v} ×${c}`)
      .join(', ');
  };
  const repositories = top(held.map((a) => a.repository));
  const actors = top(held.map((a) => a.actor));
  const where = `${consoleUrl ? consoleUrl.replace(/\/$/, '') : ''}/api/alerts?status=held`;
  return {
    id: `digest-${createHash('sha256')
      .update(`${sink}\u0000${ids.join('\u0000')}`)
      .digest('base64url')
      .slice(0, 32)}`,
    '@timestamp': times[times.length - 1] ?? now.toISOString(),
    detected_at: now.toISOString(),
    detector: 'alert-digest',
    title: `${held.length} alerts held back from ${sink}`,
    severity: worst,
    summary: `${sink} reached its alert budget, so ${held.length} alerts were held back: ${counts}.${repositories ? ` Top repositories: ${repositories}.` : ''}${actors ? ` Top actors: ${actors}.` : ''} Every one is stored; list them with GET ${where.replace('status=held', 'status=digested')}.`,
    description:
      'pipewarden holds alerts below the never-hold severity once a sink has sent its budget for the window (alerting.throttle), and summarises them here.',
    runbook: 'README.md#alerts',
    key: `digest:${sink}`,
    event_ids: [],
    source: 'pipewarden',
    context: {
      sink,
      held: held.length,
      first: times[0] ?? null,
      last: times[times.length - 1] ?? null,
      ...Object.fromEntries(detectors.map(([id, d]) => [`detector.${id}`, d.count])),
      ...(repositories ? { repositories } : {}),
      ...(actors ? { actors } : {}),
    },
  };
}
