// The alert role: consumes hits, delivers them through every enabled sink (retries, throttle, digests),
// records each delivery in the store, and sweeps failed deliveries back onto the hits topic.
import { Alerter } from '../alerting/alerter.ts';
import { groupKey, IncidentTracker } from '../alerting/incidents.ts';
import { Lanes } from '../alerting/lanes.ts';
import { isLifecycleRequest } from '../alerting/lifecycle.ts';
import { FailedAlertSweeper, isDigestRequest } from '../alerting/redeliver.ts';
import { Router } from '../alerting/routing.ts';
import { Silences } from '../alerting/silences.ts';
import { consoleUrlOf, implicitReceivers, sinkConfigKeys } from '../alerting/sinks/index.ts';
import type { Delivery, Hit, Sink } from '../alerting/types.ts';
import { readHits } from '../bus/messages.ts';
import type { ConsumedMessage } from '../bus/types.ts';
import type { Config } from '../config/schema.ts';
import { eventId } from '../event.ts';
import { createSinks } from '../factories.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { consumerGroup, type RoleDeps, type Stoppable } from './types.ts';

export interface AlertRole {
  alerter: Alerter;
  sinks: Sink[];
  stoppables: Stoppable[];
}

export async function startAlert(deps: RoleDeps): Promise<AlertRole> {
  const { config, bus, store, log, now } = deps;
  const sinks = createSinks(config);
  if (!sinks.length)
    log.warn(
      { sinks: sinkConfigKeys() },
      'No alert sink is enabled: hits are stored as undelivered alerts and nobody is told.',
    );
  const consoleUrl = consoleUrlOf(config.alerting) ?? config.server.publicUrl;
  const alerter = new Alerter(sinks, store, {
    attempts: config.alerting.attempts,
    backoffMs: config.alerting.backoffMs,
    throttle: config.alerting.throttle,
    ...(consoleUrl ? { consoleUrl } : {}),
    ...(config.alerting.runbookBaseUrl ? { runbookBaseUrl: config.alerting.runbookBaseUrl } : {}),
    router: routerOf(config),
    incidents: incidentTracker(config, store),
    silences: new Silences(store, now),
    links: config.alerting.links,
    log,
    now,
  });
  const lanes = new Lanes(ALERT_CONCURRENCY);
  const consumer = await bus.subscribe({
    topic: config.topics.hits,
    group: consumerGroup(config, 'alert'),
    maxBatch: 200,
    // Each partition's batches are handed over as they come, not after the other partitions' (Kafka).
    concurrentPartitions: config.kafka?.partitions ?? 1,
    // Kafka: the next fetch runs while hits are in flight, so a hit held up by a slow store write or sink
    // does not hold back the hits of other partitions fetched after it (offsets still commit after each batch).
    prefetch: 200,
    handler: (batch) => alertBatch(deps, alerter, lanes, batch),
  });
  const stoppables: Stoppable[] = [consumer];
  // Deliveries that failed for a reason that can pass are requeued on a schedule (see redeliver.ts).
  // The same sweep asks for digests of held alerts, so it runs when either needs it.
  if (config.alerting.redeliver.enabled || config.alerting.throttle.enabled) {
    const sweeper = new FailedAlertSweeper({
      store,
      bus,
      topic: config.topics.hits,
      config: config.alerting.redeliver,
      sinks: sinks.map((x) => x.name),
      log,
      now,
    });
    sweeper.start();
    stoppables.push(sweeper);
  }
  return { alerter, sinks, stoppables };
}

/** Incidents as alerting.route groups them (the alert role and the Slack buttons share them). */
export function incidentTracker(config: Config, store: Store): IncidentTracker {
  return new IncidentTracker(store, {
    groupBy: config.alerting.route.group_by,
    groupIntervalMs: config.alerting.route.group_interval,
    repeatIntervalMs: config.alerting.route.repeat_interval,
  });
}

/** The routing tree of the config; the default route's receivers are the alerting.<sink> sinks. */
export function routerOf(config: Config): Router {
  return new Router(config.alerting.route, implicitReceivers(config.alerting));
}

/** Hits handled at the same time by one alert process (each of its own incident). */
export const ALERT_CONCURRENCY = 32;

/**
 * One batch of the hits topic. Hits of different incidents are handled concurrently, those of one incident
 * (its group key: alerting.route.group_by) in order, one after another, across the partitions handled at
 * once too. Resolves only once every hit of the batch is recorded (the bus commits the offsets then);
 * rejects when any failed, and the batch comes back: a hit already delivered is not sent again (outbox.ts),
 * and the later hits of a failed hit's incident wait for it instead of overtaking it.
 */
export async function alertBatch(
  { config, metrics, log }: Pick<RoleDeps, 'config' | 'metrics' | 'log'>,
  alerter: Alerter,
  lanes: Lanes,
  batch: ConsumedMessage[],
): Promise<void> {
  const tracker = alerter.incidents;
  const lane = (hit: Hit) => (tracker ? groupKey(hit, tracker.opts.groupBy) : `hit:${hit.id}`);
  let running: Promise<unknown>[] = [];
  const settle = async () => {
    const failed = (await Promise.allSettled(running)).find((r) => r.status === 'rejected');
    running = [];
    if (failed) throw failed.reason;
  };
  for (const msg of readHits(batch, log)) {
    // A digest or lifecycle request waits for the hits before it, and the hits after it wait for it.
    // The sweeper asks for digests through this topic, so one consumer sends each (redeliver.ts).
    if (isDigestRequest(msg)) {
      await settle();
      await alerter.digest(msg.digest, config.alerting.redeliver.maxAgeHours);
      continue;
    }
    // Someone acknowledged or resolved an incident: its receivers follow (lifecycle.ts).
    if (isLifecycleRequest(msg)) {
      await settle();
      for (const [sink, d] of Object.entries(await alerter.follow(msg.lifecycle)))
        metrics.inc('pipewarden_alert_lifecycle_total', { sink, status: d.status });
      continue;
    }
    running.push(
      lanes.run(lane(msg), async () => {
        const alert = await alerter.handle(msg);
        for (const [sink, d] of Object.entries(alert.deliveries))
          metrics.inc('pipewarden_alert_deliveries_total', { sink, status: d.status });
      }),
    );
  }
  await settle();
}

/** A synthetic hit through every enabled sink, with fresh sinks (the alert role may run elsewhere). */
export async function sendTestAlert(
  config: Config,
  log: Logger,
  now: () => Date,
): Promise<Record<string, Delivery>> {
  const sinks = createSinks(config);
  try {
    const at = now().toISOString();
    const hit: Hit = {
      id: eventId('test-alert', at),
      '@timestamp': at,
      detected_at: at,
      detector: 'pipewarden-test',
      title: 'pipewarden test alert',
      severity: 'critical', // every sink's minimum severity lets it through
      summary: 'A test alert sent on request to check the alert sinks. No action needed.',
      description: 'Sent by POST /api/alerts/test or `pipewarden alert test`.',
      runbook: 'README.md#http-api',
      key: 'test',
      event_ids: [],
      source: 'pipewarden',
      context: { test: true },
    };
    const alerter = new Alerter(sinks, undefined, {
      attempts: 1,
      backoffMs: 0,
      ignoreRoutes: true,
      ...(config.alerting.runbookBaseUrl ? { runbookBaseUrl: config.alerting.runbookBaseUrl } : {}),
      log,
      now,
    });
    return await alerter.deliver(hit);
  } finally {
    await Promise.allSettled(sinks.map((s) => s.close?.()));
  }
}
