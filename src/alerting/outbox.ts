// The alert outbox: the intent to send is recorded before any sink is tried, and each sink's outcome as
// soon as it is known, so that a redelivered hit resumes where it stopped instead of sending again.
//
// Order per hit (Alerter.handle):
//   1. read the record; `delivered` → nothing to do;
//   2. write the record with every sink still to try as `pending` — if the store refuses, nothing is sent
//      and the hit comes back with its batch;
//   3. send; after each sink but the last to answer, rewrite the record (best effort, serialised);
//   4. write the final record, retrying for a while (`recordAttempts`), and at the same time the incident
//      counting the hit, with what each receiver now holds (IncidentTracker.settle; each notice names the
//      hit it was sent for). If either fails the batch is redelivered: a hit found `delivered` settles its
//      incident again when it lacks the hit, a hit found `pending` takes the sends its incident names as
//      made, and the sends this process already made are remembered here, so a redelivery to this process
//      retries only the writes.
// What remains: a sink that accepted the message, then the process dies (kill -9, OOM, node loss) or its
// partitions move to another alert instance before the outcome is stored. A redelivery then finds the
// sink `pending` and sends again (at least once: losing a security alert is worse than a duplicate).
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { overallStatus } from './throttle.ts';
import type { AlertRecord, Delivery, Hit } from './types.ts';

/** At most this many hits' unrecorded sends are remembered (oldest forgotten first). */
const MAX_REMEMBERED = 10_000;

export interface OutboxOptions {
  /** Attempts at the final write of an alert record before the batch is given up for redelivery. */
  recordAttempts?: number;
  /** Backoff before the second attempt, doubled each time. */
  recordBackoffMs?: number;
  log?: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function alertRecord(hit: Hit, deliveries: Record<string, Delivery>): AlertRecord {
  return { ...hit, status: overallStatus(deliveries), deliveries: { ...deliveries } };
}

export class AlertOutbox {
  readonly #store: Store;
  readonly #opts: OutboxOptions;
  /** hit id → sink → a `sent` delivery the store has not recorded yet. */
  readonly #unrecorded = new Map<string, Map<string, Delivery>>();

  constructor(store: Store, opts: OutboxOptions = {}) {
    this.#store = store;
    this.#opts = opts;
  }

  /** Sends this process made for the hit whose outcome the store may not hold yet. */
  unrecorded(hitId: string): Record<string, Delivery> {
    return Object.fromEntries(this.#unrecorded.get(hitId) ?? []);
  }

  /** How many hits have sends not yet recorded (for tests and metrics). */
  get unrecordedCount(): number {
    return this.#unrecorded.size;
  }

  /** Step 2: throws when the store refuses, before anything is sent. */
  async recordIntent(hit: Hit, deliveries: Record<string, Delivery>): Promise<void> {
    await this.#store.putAlert(alertRecord(hit, deliveries));
  }

  /** Step 3: remembers a send before trying to record it; a failed write here is retried by `recordFinal`. */
  async recordProgress(hit: Hit, sink: string, delivery: Delivery, deliveries: Record<string, Delivery>) {
    this.remember(hit.id, sink, delivery);
    try {
      await this.#store.putAlert(alertRecord(hit, deliveries));
    } catch (err) {
      this.#opts.log?.warn({ hitId: hit.id, sink, err }, 'Could not record a delivery yet; will retry.');
    }
  }

  /** Step 4: retried with backoff; throws (the batch is redelivered) only when every attempt failed. */
  async recordFinal(record: AlertRecord): Promise<void> {
    const attempts = this.#opts.recordAttempts ?? 6;
    let backoff = this.#opts.recordBackoffMs ?? 250;
    for (let i = 1; ; i++) {
      try {
        await this.#store.putAlert(record);
        this.#unrecorded.delete(record.id);
        return;
      } catch (err) {
        if (i >= attempts) throw err;
        this.#opts.log?.warn(
          { hitId: record.id, attempt: i, err },
          'Could not record the alert deliveries; retrying.',
        );
        await sleep(backoff);
        backoff *= 2;
      }
    }
  }

  /** The store holds the hit's outcome (found `delivered`): nothing left to remember. */
  forget(hitId: string): void {
    this.#unrecorded.delete(hitId);
  }

  /**
   * A send the store does not hold yet, remembered until `recordFinal` writes it (the last receiver to
   * answer is recorded by the final write only, with no progress write of its own).
   */
  remember(hitId: string, sink: string, delivery: Delivery): void {
    if (delivery.status !== 'sent') return;
    let sinks = this.#unrecorded.get(hitId);
    if (!sinks) {
      if (this.#unrecorded.size >= MAX_REMEMBERED) {
        const oldest = this.#unrecorded.keys().next().value;
        if (oldest !== undefined) this.#unrecorded.delete(oldest);
      }
      sinks = new Map();
      this.#unrecorded.set(hitId, sinks);
    }
    sinks.set(sink, delivery);
  }
}
