// The index role: consumes the events topic and bulk-indexes every event into the store (the audit
// trail); runs the store's own retention sweep where it has one.
import { readEvents } from '../bus/messages.ts';
import type { ConsumedMessage } from '../bus/types.ts';
import type { RoleDeps, Stoppable } from './types.ts';

/** How long after a start, rebalance or failed attempt the index role checks for redelivered events. */
const REDELIVERY_WINDOW_MS = 60_000;
const RETENTION_SWEEP_MS = 3_600_000;

export async function startIndex(deps: RoleDeps): Promise<Stoppable[]> {
  const stoppables: Stoppable[] = [];
  const retention = await startRetentionSweep(deps);
  if (retention) stoppables.push(retention);
  const redelivery = new RedeliveryWindow();
  stoppables.push(
    await deps.bus.subscribe({
      topic: deps.config.topics.events,
      group: 'pipewarden-index',
      maxBatch: 1000,
      concurrentPartitions: 3, // bulks of different partitions in flight together
      onAssignment: () => redelivery.suspect(),
      handler: (batch) => indexBatch(deps, redelivery, batch),
    }),
  );
  return stoppables;
}

/**
 * Redeliveries come right after a start, a rebalance or a failed attempt: for a while after each, the
 * store checks for events already indexed (see IndexOptions).
 */
class RedeliveryWindow {
  #until = Date.now() + REDELIVERY_WINDOW_MS;
  suspect(): void {
    this.#until = Date.now() + REDELIVERY_WINDOW_MS;
  }
  get open(): boolean {
    return Date.now() < this.#until;
  }
}

/** One batch: the valid events into the store. A failure opens the redelivery window and is retried. */
async function indexBatch(
  { store, log, metrics }: RoleDeps,
  window: RedeliveryWindow,
  batch: ConsumedMessage[],
) {
  const events = readEvents(batch, log);
  if (!events.length) return;
  try {
    await store.indexEvents(events, { mayBeRedelivered: window.open });
    metrics.inc('pipewarden_index_events_total', { outcome: 'indexed' }, events.length);
  } catch (err) {
    metrics.inc('pipewarden_index_events_total', { outcome: 'failed' }, events.length);
    window.suspect();
    throw err;
  }
}

/** The store's own retention (embedded), at start and hourly; absent where the store has none to run. */
async function startRetentionSweep({ store, log, now }: RoleDeps): Promise<Stoppable | undefined> {
  if (!store.sweepRetention) return undefined;
  const sweepRetention = store.sweepRetention.bind(store);
  const sweep = async () => {
    try {
      const deleted = await sweepRetention(now());
      if (deleted) log.info({ deleted }, 'Deleted events past the store retention.');
    } catch (err) {
      log.warn({ err }, 'Store retention sweep failed; will retry.');
    }
  };
  await sweep();
  const timer = setInterval(sweep, RETENTION_SWEEP_MS);
  timer.unref();
  return { stop: async () => clearInterval(timer) };
}
