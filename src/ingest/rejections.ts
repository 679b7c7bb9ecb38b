// Rejected ingest requests as a signal for telemetry-loss: the one event the ingest plugin emits for
// them, built from the detector's exported names so the two cannot drift apart.
import { AUTH_FAILED, AUTH_FAILED_KIND, INGEST_DATASET } from '../../detectors/telemetry-loss/index.ts';
import { eventId, type PipewardenEvent } from '../event.ts';

/** Rejected requests from one client IP (none: many addresses) to one source within one interval. */
export interface RejectedAggregate {
  source: string;
  ip?: string;
  count: number;
  first: Date;
  last: Date;
  reasons: Set<string>;
}

/** The normalised event for one aggregate (what telemetry-loss's bad-signature rules count). */
export function rejectedRequestsEvent(
  a: RejectedAggregate,
  ingested: string,
  intervalMs: number,
): PipewardenEvent {
  const first = a.first.toISOString();
  const from = a.ip ?? 'many addresses';
  const e: PipewardenEvent = {
    '@timestamp': first,
    message: `${a.count} request${a.count === 1 ? '' : 's'} to /ingest/${a.source} from ${from} failed authentication: ${[...a.reasons].join('; ')}`,
    event: {
      id: eventId(AUTH_FAILED, a.source, a.ip, first),
      kind: 'event',
      category: ['authentication', 'web'],
      type: ['denied'],
      action: AUTH_FAILED,
      outcome: 'failure',
      dataset: INGEST_DATASET,
      provider: 'pipewarden',
      ingested,
    },
    pipewarden: {
      kind: AUTH_FAILED_KIND,
      source: a.source,
      count: a.count,
      raw: {
        reasons: [...a.reasons],
        first_at: first,
        last_at: a.last.toISOString(),
        interval_ms: intervalMs,
      },
    },
  };
  if (a.ip) e.source = { ip: a.ip };
  return e;
}

/**
 * Requests that fail authentication, aggregated per (source, client IP) over a short interval and
 * published as ONE normalised event per aggregate (kind access.denied, action ingest.auth_failed, the
 * number in pipewarden.count) so a flood of bad signatures is one event per interval, never one per
 * request. Only our own rejection reasons travel: never the body or its headers' secrets.
 */
export class RejectedRequests {
  static readonly MAX_KEYS = 10_000; // beyond this, one "many addresses" aggregate per source
  readonly #open = new Map<string, RejectedAggregate>();
  readonly #publish: (events: PipewardenEvent[]) => Promise<void>;
  readonly #now: () => Date;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(publish: (events: PipewardenEvent[]) => Promise<void>, now: () => Date, intervalMs: number) {
    this.#publish = publish;
    this.#now = now;
    this.#intervalMs = intervalMs;
  }

  add(source: string, ip: string | undefined, reason: string): void {
    const at = this.#now();
    let key = `${source}\u0000${ip ?? ''}`;
    if (!this.#open.has(key) && this.#open.size >= RejectedRequests.MAX_KEYS) {
      key = `${source}\u0000*`;
      ip = undefined;
    }
    const agg = this.#open.get(key);
    if (agg) {
      agg.count++;
      agg.last = at;
      if (agg.reasons.size < 5) agg.reasons.add(reason);
    } else {
      this.#open.set(key, {
        source,
        ...(ip ? { ip } : {}),
        count: 1,
        first: at,
        last: at,
        reasons: new Set([reason]),
      });
    }
  }

  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  /** Publishes and forgets the open aggregates. A bus failure drops them (a signal, not accepted data). */
  async flush(): Promise<void> {
    if (this.#open.size === 0) return;
    const aggregates = [...this.#open.values()];
    this.#open.clear();
    const ingested = this.#now().toISOString();
    await this.#publish(aggregates.map((a) => rejectedRequestsEvent(a, ingested, this.#intervalMs)));
  }
}
