// The index role: consumes the events topic and bulk-indexes every event into the store (the audit
// trail); runs the store's own retention sweep where it has one.
import type { ConsumedMessage } from '../bus/types.ts';
import { startTrail, type TrailService } from '../trail/service.ts';
import { consumerGroup, type RoleDeps, type Stoppable } from './types.ts';

/** How long after a start, rebalance or failed attempt the index role checks for redelivered events. */
const REDELIVERY_WINDOW_MS = 60_000;
const RETENTION_SWEEP_MS = 3_600_000;

export async function startIndex(deps: RoleDeps): Promise<Stoppable[]> {
  const stoppables: Stoppable[] = [];
  const retention = await startRetentionSweep(deps);
  if (retention) stoppables.push(retention);
  const redelivery = new RedeliveryWindow();
  // The trail (src/trail): chains what it indexes per partition and signs checkpoints; without a key it
  // only indexes.
  const trail = await startTrail({
    config: deps.config,
    store: deps.store,
    bus: deps.bus,
    log: deps.log,
    now: deps.now,
  });
  stoppables.push(trail);
  stoppables.push(
    await deps.bus.subscribe({
      topic: deps.config.topics.events,
      group: consumerGroup(deps.config, 'index'),
      // Up to what one fetch holds per partition (8 MiB: about 1,100 events of 7 KB): one bulk per partition
      // per fetch. At 1,000, such a fetch became a bulk of 1,000 and one of about 100, a second round trip
      // to Elasticsearch that the partition's next fetch waited for.
      maxBatch: 2000,
      concurrentPartitions: 3, // bulks of different partitions in flight together
      // Kafka: the next fetch (up to a bulk's worth per partition, queued behind its bulk) overlaps the
      // bulks in flight, so Kafka and Elasticsearch no longer take turns; what queues up at a low rate goes
      // in one bulk. Offsets are still committed only after each bulk.
      prefetch: 2000,
      lingerMs: 100, // SQLite bus: one store transaction (and fsync) per 100 ms at most, not per publish
      onAssignment: () => redelivery.suspect(),
      handler: (batch) => indexBatch(deps, trail, redelivery, batch),
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

/**
 * One batch: the valid events into the store, chained by the trail (it reads each message itself: it
 * needs their partitions and offsets). A failure opens the redelivery window and is retried.
 */
async function indexBatch(
  { metrics }: RoleDeps,
  trail: TrailService,
  window: RedeliveryWindow,
  batch: ConsumedMessage[],
) {
  try {
    // Chained or not (the trail decides), each valid event goes to the store.
    await trail.indexer.index(batch, { mayBeRedelivered: window.open });
    metrics.inc('pipewarden_index_events_total', { outcome: 'indexed' }, batch.length);
  } catch (err) {
    metrics.inc('pipewarden_index_events_total', { outcome: 'failed' }, batch.length);
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
