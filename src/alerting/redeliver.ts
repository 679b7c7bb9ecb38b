// Alerts whose delivery failed for a reason that can pass (rate limit, outage, timeout) are tried again
// later: the sweeper puts their hits back on the hits topic, where the alert role sends only to the sinks
// that have not got them. Going through the bus (keyed as before) means one consumer handles each hit in
// order, so several alert replicas sweeping at once still send nothing twice. Digests of held alerts
// (throttle.ts) are asked for the same way: a `{ "digest": "<sink>" }` message keyed `digest:<sink>`.
import cron, { type ScheduledTask } from 'node-cron';
import { z } from 'zod';
import type { Bus } from '../bus/types.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import type { AlertRecord, Hit } from './types.ts';

export const redeliverConfigSchema = z
  .strictObject({
    /** Requeue failed deliveries. The sweep itself also runs, on `schedule`, while alerting.throttle is on. */
    enabled: z.boolean().default(true),
    /** node-cron expression of the sweep (redeliveries and digests of held alerts). */
    schedule: z
      .string()
      .refine((s) => cron.validate(s), 'must be a valid cron expression')
      .default('*/5 * * * *'),
    /** Alerts older than this are no longer retried (a day-old alert in Slack helps nobody). */
    maxAgeHours: z
      .number()
      .positive()
      .max(24 * 30)
      .default(24),
    /** Give up on a sink after this many attempts in all. */
    maxAttempts: z.number().int().min(1).max(100).default(10),
  })
  .prefault({});
export type RedeliverConfig = z.output<typeof redeliverConfigSchema>;

export interface SweeperOptions {
  store: Store;
  bus: Bus;
  topic: string;
  config: RedeliverConfig;
  /** Sink names, for digest requests. */
  sinks?: string[];
  log: Logger;
  now?: () => Date;
}

/** A request, on the hits topic, for a digest of what a sink holds. */
export interface DigestRequest {
  digest: string;
}

export function isDigestRequest(m: unknown): m is DigestRequest {
  return typeof m === 'object' && m !== null && typeof (m as DigestRequest).digest === 'string';
}

/** Whether an alert has a failed delivery worth another attempt. */
export function needsRedelivery(alert: AlertRecord, config: RedeliverConfig, now: Date): boolean {
  if (Date.parse(alert.detected_at) < now.getTime() - config.maxAgeHours * 3_600_000) return false;
  return Object.values(alert.deliveries).some(
    (d) => d.status === 'failed' && d.retryable === true && d.attempts < config.maxAttempts,
  );
}

export class FailedAlertSweeper {
  readonly #o: SweeperOptions;
  #task: ScheduledTask | undefined;

  constructor(options: SweeperOptions) {
    this.#o = options;
  }

  start(): void {
    this.#task = cron.schedule(
      this.#o.config.schedule,
      () =>
        void this.sweep().catch((err: unknown) =>
          this.#o.log.error({ err }, 'Alert redelivery sweep failed.'),
        ),
      { name: 'alerting:redeliver', noOverlap: true },
    );
  }

  async stop(): Promise<void> {
    await this.#task?.stop();
  }

  /** Puts every alert that needs another attempt back on the hits topic; returns how many. */
  async sweep(): Promise<number> {
    const { store, bus, topic, config, log } = this.#o;
    const now = this.#o.now?.() ?? new Date();
    const from = new Date(now.getTime() - config.maxAgeHours * 3_600_000).toISOString();
    let requeued = 0;
    const holding = new Set<string>();
    for (const status of ['partial', 'failed', 'held'] as const) {
      let cursor: string | undefined;
      do {
        const page = await store.searchAlerts({ status, from, size: 200, ...(cursor ? { cursor } : {}) });
        for (const a of page.items)
          for (const [sink, d] of Object.entries(a.deliveries)) if (d.status === 'held') holding.add(sink);
        const due = config.enabled ? page.items.filter((a) => needsRedelivery(a, config, now)) : [];
        if (due.length) {
          await bus.publish(
            topic,
            due.map((a) => ({ key: a.key, value: JSON.stringify(hitOf(a)) })),
          );
          requeued += due.length;
        }
        cursor = page.next;
      } while (cursor);
    }
    if (requeued) log.info({ requeued }, 'Requeued alerts whose delivery failed.');
    const digests = [...holding].filter((s) => !this.#o.sinks || this.#o.sinks.includes(s)).sort();
    if (digests.length) {
      await bus.publish(
        topic,
        digests.map((sink) => ({ key: `digest:${sink}`, value: JSON.stringify({ digest: sink }) })),
      );
      log.info({ sinks: digests }, 'Asked for digests of held alerts.');
    }
    return requeued;
  }
}

function hitOf(alert: AlertRecord): Hit {
  const { status: _status, deliveries: _deliveries, ...hit } = alert;
  return hit;
}
