// Delivers each hit to every sink at or above its minimum severity, retries what can be retried, and
// records the outcome per sink. One sink failing never stops the others.
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { type AlertRecord, type Delivery, type Hit, type Sink, SinkError, severityRank } from './types.ts';

export interface AlerterOptions {
  attempts: number;
  /** Deliver to every sink whatever its detector routes (test alerts). */
  ignoreRoutes?: boolean;
  backoffMs: number;
  log?: Logger;
  now?: () => Date;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Alerter {
  readonly #sinks: Sink[];
  readonly #store: Store | undefined;
  readonly #opts: AlerterOptions;

  /** `store` may be undefined for one-off deliveries (test alerts) that are not recorded. */
  constructor(sinks: Sink[], store: Store | undefined, opts: AlerterOptions) {
    this.#sinks = sinks;
    this.#store = store;
    this.#opts = opts;
  }

  get sinkNames(): string[] {
    return this.#sinks.map((s) => s.name);
  }

  async handle(hit: Hit): Promise<AlertRecord> {
    const store = this.#store;
    if (!store) throw new Error('this alerter has no store to record alerts in');
    const existing = await store.getAlert(hit.id);
    // A redelivered hit that already went out is not sent twice.
    if (existing?.status === 'delivered') return existing;
    const deliveries = await this.deliver(hit, existing?.deliveries ?? {});
    const statuses = Object.values(deliveries).map((d) => d.status);
    const failed = statuses.filter((s) => s === 'failed').length;
    const record: AlertRecord = {
      ...hit,
      status: failed === 0 ? 'delivered' : failed === statuses.length ? 'failed' : 'partial',
      deliveries,
    };
    await store.putAlert(record);
    return record;
  }

  /** Sends to every sink at or above its minimum severity (skipping those already sent), in parallel. */
  async deliver(hit: Hit, previous: Record<string, Delivery> = {}): Promise<Record<string, Delivery>> {
    const results = await Promise.allSettled(
      this.#sinks.map((sink) => this.#deliver(sink, hit, previous[sink.name])),
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

  async #deliver(sink: Sink, hit: Hit, previous: Delivery | undefined): Promise<Delivery> {
    if (previous?.status === 'sent') return previous;
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
    const payload = sink.render(hit);
    let attempts = previous?.attempts ?? 0;
    for (let i = 0; ; i++) {
      attempts++;
      try {
        await sink.send(payload);
        return { status: 'sent', attempts, at: this.#now().toISOString() };
      } catch (err) {
        const retryable = err instanceof SinkError ? err.retryable : true;
        const message = err instanceof Error ? err.message : String(err);
        this.#opts.log?.warn(
          { sink: sink.name, hitId: hit.id, attempt: i + 1, retryable, error: message },
          'Alert delivery failed.',
        );
        if (!retryable || i + 1 >= this.#opts.attempts) {
          return { status: 'failed', attempts, at: this.#now().toISOString(), error: message, retryable };
        }
        await sleep(this.#opts.backoffMs * 2 ** i);
      }
    }
  }
}
