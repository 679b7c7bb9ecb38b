// Wires the roles together over the bus and the store. `serve` runs all four; `--role` runs one.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { detectors as allDetectors } from '../detectors/index.ts';
import { hecReplies } from '../ingest-adapters/github-audit/hec.ts';
import { adapters as allAdapters } from '../ingest-adapters/index.ts';
import { Alerter } from './alerting/alerter.ts';
import { FailedAlertSweeper, isDigestRequest } from './alerting/redeliver.ts';
import { createEmailSink } from './alerting/sinks/email.ts';
import { createSlackSink } from './alerting/sinks/slack.ts';
import type { Delivery, Hit, Sink } from './alerting/types.ts';
import { apiRoutes, type Consumer, healthRoutes } from './api/routes.ts';
import { TokenVerifier } from './api/tokens.ts';
import { KafkaBus } from './bus/kafka.ts';
import { readEvents, readHits } from './bus/messages.ts';
import { SqliteBus } from './bus/sqlite.ts';
import type { Bus, Subscription } from './bus/types.ts';
import { ConfigError } from './config/load.ts';
import type { Config, Role } from './config/schema.ts';
import { ROLES } from './config/schema.ts';
import { DetectionEngine, type Lane, rekeyedTopic } from './detect/engine.ts';
import { detectBatch } from './detect/runner.ts';
import { startSilenceWatch } from './detect/silence.ts';
import { createStateStore } from './detect/state-store.ts';
import { eventId } from './event.ts';
import { readinessCheck } from './health.ts';
import { startLogFetchers } from './ingest/build-logs/fetch.ts';
import { buildLogsPlugin } from './ingest/build-logs/plugin.ts';
import { BuildLogWriter, type SecretScanning } from './ingest/build-logs/writer.ts';
import { Counters } from './ingest/metrics.ts';
import { ingestPlugin } from './ingest/plugin.ts';
import { createPollers } from './ingest/pollers/index.ts';
import { PollerRunner } from './ingest/pollers/runner.ts';
import { createSpool, spoolGauges } from './ingest/spool.ts';
import { SyslogListener } from './ingest/syslog/listener.ts';
import { createLogger, type Logger } from './log.ts';
import { SecretEngine } from './secrets/scanner.ts';
import { ElasticsearchStore } from './store/elasticsearch.ts';
import { SqliteStore } from './store/sqlite.ts';
import type { Store } from './store/types.ts';

export interface AppOptions {
  roles?: readonly Role[];
  log?: Logger;
  now?: () => Date;
  /** Listen on this port instead of the configured one (0: any free port; tests). */
  port?: number;
}

/** How long after a start, rebalance or failed attempt the index role checks for redelivered events. */
const REDELIVERY_WINDOW_MS = 60_000;

export interface RunningApp {
  config: Config;
  roles: readonly Role[];
  bus: Bus;
  store: Store;
  server: FastifyInstance;
  url: string;
  metrics: Counters;
  engine?: DetectionEngine;
  alerter?: Alerter;
  /** The syslog listener, when enabled (its bound ports: tcpPort, udpPort). */
  syslog?: SyslogListener;
  stop(): Promise<void>;
}

export function createBus(config: Config, log?: Logger): Bus {
  if (config.mode === 'distributed')
    return new KafkaBus(config.kafka!, {
      ...(log ? { log } : {}),
      // One webhook is one message: the topics must take the largest body the server accepts, plus the
      // event's own fields around the (redacted) payload.
      maxMessageBytes: config.server.bodyLimitBytes + 1024 * 1024,
    });
  mkdirSync(config.embedded.dataDir, { recursive: true });
  return new SqliteBus({
    path: join(config.embedded.dataDir, 'bus.sqlite'),
    retentionMs: config.embedded.retentionHours * 3_600_000,
    ...(log ? { log } : {}),
  });
}

export function createStore(config: Config, log?: Logger): Store {
  if (config.mode === 'distributed') return new ElasticsearchStore(config.elasticsearch!, log ? { log } : {});
  mkdirSync(config.embedded.dataDir, { recursive: true });
  return new SqliteStore({ path: join(config.embedded.dataDir, 'store.sqlite'), ...(log ? { log } : {}) });
}

/**
 * The scanner's settings. The fingerprint key comes from the environment; embedded mode without one
 * generates a key once and keeps it beside the data (mode 0600), distributed mode requires it, because
 * every ingest node must share it for fingerprints to correlate.
 */
export function secretScanning(config: Config): SecretScanning {
  const d = config.detectors['secrets-in-build-logs'];
  let key = d.fingerprintKeyEnv?.reveal();
  if (!key) {
    if (config.mode === 'distributed') {
      throw new ConfigError('config', [
        'detectors.secrets-in-build-logs.fingerprintKeyEnv: build logs are enabled in distributed mode but PIPEWARDEN_FINGERPRINT_KEY is not set (>= 16 bytes, shared by every ingest node)',
      ]);
    }
    const file = join(config.embedded.dataDir, 'fingerprint.key');
    mkdirSync(config.embedded.dataDir, { recursive: true });
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    key = readFileSync(file, 'utf8').trim();
  }
  return {
    engine: new SecretEngine(),
    fingerprintKey: key,
    suppressFingerprints: d.suppressFingerprints,
    suppressRules: d.suppressRules,
  };
}

export function createSinks(config: Config): Sink[] {
  const sinks: Sink[] = [];
  if (config.alerting.slack.enabled) sinks.push(createSlackSink(config.alerting.slack) as Sink);
  if (config.alerting.email.enabled) sinks.push(createEmailSink(config.alerting.email) as Sink);
  return sinks;
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

export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const roles = options.roles ?? ROLES;
  const log = options.log ?? createLogger({ level: config.log.level });
  const now = options.now ?? (() => new Date());
  const metrics = new Counters();
  const bus = createBus(config, log);
  // Every consumer group this process runs, for the lag gauge on /metrics.
  const consumers: Consumer[] = [];
  const consumingBus: Bus = {
    kind: bus.kind,
    ensureTopics: (topics) => bus.ensureTopics(topics),
    publish: (topic, messages) => bus.publish(topic, messages),
    subscribe: (o) => {
      consumers.push({ group: o.group, topic: o.topic });
      return bus.subscribe(o);
    },
    lag: (group, topic) => bus.lag(group, topic),
    ping: () => bus.ping(),
    close: () => bus.close(),
  };
  const store = createStore(config, log);
  const spool = createSpool(config, roles, bus, log);
  const ingestBus = spool?.wrap() ?? bus; // what ingest publishes through: the spool when it is on
  const subscriptions: Subscription[] = [];
  const sinks: Sink[] = [];

  await bus.ensureTopics([config.topics.events, config.topics.hits, config.topics.buildLogs]);
  await store.init();

  const server: FastifyInstance = Fastify({
    loggerInstance: log as unknown as FastifyBaseLogger,
    trustProxy: config.server.trustProxy,
    bodyLimit: config.server.bodyLimitBytes,
  });
  server.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'Request failed.');
    const message =
      status === 413
        ? `request body exceeds the limit of ${config.server.bodyLimitBytes} bytes`
        : status >= 500
          ? 'internal error; see the collector log'
          : err.message;
    return reply.status(status).send({ error: STATUS_CODES[status] ?? 'error', message });
  });
  server.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send({ error: 'Not Found', message: `no route for ${req.method} ${req.url.split('?')[0]}` }),
  );
  metrics.describe('pipewarden_detect_events_total', 'Events evaluated by the detect role, by lane.');
  metrics.describe('pipewarden_hits_total', 'Hits raised, by detector and severity.');
  metrics.describe(
    'pipewarden_index_events_total',
    'Events the index role stored (indexed, redeliveries included) or failed to store (failed, retried).',
  );
  metrics.describe(
    'pipewarden_alert_deliveries_total',
    'Alert deliveries by sink and outcome (sent, failed, skipped).',
  );
  const embeddedDisk =
    config.mode === 'embedded'
      ? { dataDir: config.embedded.dataDir, minFreeBytes: config.embedded.minFreeMb * 1024 * 1024 }
      : {};
  const readiness = readinessCheck({ roles, bus, store, ...embeddedDisk, ...(spool ? { spool } : {}) });
  const gauges = () => spoolGauges(spool);
  await server.register(healthRoutes, { bus, store, metrics, consumers, readiness, gauges });

  let pollers: PollerRunner | undefined;
  let syslog: SyslogListener | undefined;
  if (roles.includes('ingest')) {
    // HEC answers {text, code} on its paths; hooked before the ingest plugin so its routes inherit it.
    hecReplies(server);
    await server.register(ingestPlugin, {
      adapters: allAdapters,
      sourceConfigs: config.sources as Record<string, { enabled: boolean }>,
      bus: ingestBus,
      topic: config.topics.events,
      bodyLimitBytes: config.server.bodyLimitBytes,
      metrics,
      now,
    });
    await server.register(apiRoutes, {
      bus,
      store,
      tokens: new TokenVerifier(store),
      metrics,
      testAlert: () => sendTestAlert(config, log, now),
    });
    // Pollers (APIs with no push, e.g. the GitHub audit-log API) run under the ingest role.
    const topic = config.topics.events;
    pollers = new PollerRunner(createPollers(config.sources), { bus, store, topic, log, now });
    pollers.start();
    // Build logs: POST /ingest/build-logs/:job (streamed, own plugin) and the GitHub/GitLab job-log fetchers.
    // Every log is scrubbed of secrets on its way in (BuildLogWriter): only redacted text is published.
    const fetching = config.buildLogs.fetch.github.enabled || config.buildLogs.fetch.gitlab.enabled;
    const writer =
      (config.buildLogs.enabled && config.buildLogs.token) || fetching
        ? new BuildLogWriter({
            bus: ingestBus,
            buildLogsTopic: config.topics.buildLogs,
            eventsTopic: config.topics.events,
            chunkBytes: config.buildLogs.chunkBytes,
            scanning: secretScanning(config),
            now,
          })
        : undefined;
    if (writer && config.buildLogs.enabled && config.buildLogs.token) {
      await server.register(buildLogsPlugin, { writer, token: config.buildLogs.token, metrics });
    }
    const logFetchers = writer
      ? await startLogFetchers({
          bus: consumingBus,
          eventsTopic: config.topics.events,
          writer,
          config: config.buildLogs,
          log,
        })
      : undefined;
    if (logFetchers) subscriptions.push(logFetchers);
    // Syslog listener (off by default): each line goes to the adapter whose line format owns it.
    if (config.syslog.enabled) {
      syslog = new SyslogListener({
        config: config.syslog,
        adapters: allAdapters,
        bus: ingestBus,
        topic: config.topics.events,
        metrics,
        log,
        now,
      });
      await syslog.start();
      subscriptions.push(syslog); // stopped with the consumers: after the HTTP server, before the bus
    }
  }

  let engine: DetectionEngine | undefined;
  if (roles.includes('detect')) {
    const detectorConfigs = config.detectors as Record<string, { enabled: boolean }>;
    engine = new DetectionEngine(
      allDetectors.map((detector) => ({
        detector,
        config: detectorConfigs[detector.id] ?? { enabled: false },
      })),
      { log, trackChanges: true },
    );
    const e = engine;
    // Key state survives restarts as snapshots written before each commit (src/detect/README.md).
    const state = createStateStore(config);
    await state.init();
    // Embedded: one partition, one consumer sees everything. Distributed: rules keyed by something
    // other than the events topic's key run on a re-keyed topic each (`<events>.by-<field>`).
    const distributed = config.mode === 'distributed';
    const lanes: Array<{ lane: Lane; topic: string; group: string }> = distributed
      ? [
          { lane: 'events', topic: config.topics.events, group: 'pipewarden-detect' },
          ...e.rekeyedFields().map((f) => ({
            lane: f,
            topic: rekeyedTopic(config.topics.events, f),
            group: `pipewarden-detect-${rekeyedTopic('', f).slice(1)}`,
          })),
        ]
      : [{ lane: 'all', topic: config.topics.events, group: 'pipewarden-detect' }];
    await bus.ensureTopics(lanes.map((l) => l.topic));
    const detectSubs: Subscription[] = [];
    for (const { lane, topic, group } of lanes) {
      const rekeyFrom = distributed && lane === 'events' ? config.topics.events : undefined;
      detectSubs.push(
        await consumingBus.subscribe({
          topic,
          group,
          // After a rebalance the keys of the new partitions may have moved on elsewhere: reload them.
          onAssignment: () => {
            const dropped = e.forget(lane);
            if (dropped)
              log.info({ lane, dropped }, 'Partitions reassigned; detector state reloads from snapshots.');
          },
          handler: async (batch) => {
            const step = { engine: e, lane, state, now, log, ...(rekeyFrom ? { rekeyFrom } : {}) };
            try {
              const { hits, rekeyed } = await detectBatch(step, batch);
              await Promise.all([
                hits.length
                  ? bus.publish(
                      config.topics.hits,
                      hits.map((h) => ({ key: h.key, value: JSON.stringify(h) })),
                    )
                  : undefined,
                ...[...rekeyed].map(([t, messages]) => bus.publish(t, messages)),
              ]);
              await state.save(e.drainChanges(lane));
              metrics.inc('pipewarden_detect_events_total', { lane }, batch.length);
              for (const h of hits)
                metrics.inc('pipewarden_hits_total', { detector: h.detector, severity: h.severity });
            } catch (err) {
              e.discardChanges(lane); // redelivered from the last snapshot, not counted twice
              throw err;
            }
          },
        }),
      );
    }
    subscriptions.push({
      stop: async () => {
        await Promise.allSettled(detectSubs.map((s) => s.stop()));
        await state.close();
      },
    });
  }

  // --- telemetry-loss: sources gone silent (src/detect/silence.ts) ---------------------------------
  // Part of the detect role but not of the engine: its own consumer group on the events topic and a
  // node-cron check; its hits go to the hits topic like the engine's. Off unless sources are watched.
  if (roles.includes('detect')) {
    const silence = await startSilenceWatch({ config, bus: consumingBus, store, now, log });
    if (silence) subscriptions.push(silence);
  }
  // --- end telemetry-loss ----------------------------------------------------------------------------

  let alerter: Alerter | undefined;
  if (roles.includes('alert')) {
    sinks.push(...createSinks(config));
    alerter = new Alerter(sinks, store, {
      attempts: config.alerting.attempts,
      backoffMs: config.alerting.backoffMs,
      throttle: config.alerting.throttle,
      ...(config.alerting.slack.consoleUrl ? { consoleUrl: config.alerting.slack.consoleUrl } : {}),
      ...(config.alerting.runbookBaseUrl ? { runbookBaseUrl: config.alerting.runbookBaseUrl } : {}),
      log,
      now,
    });
    const a = alerter;
    subscriptions.push(
      await consumingBus.subscribe({
        topic: config.topics.hits,
        group: 'pipewarden-alert',
        maxBatch: 50,
        handler: async (batch) => {
          for (const msg of readHits(batch, log)) {
            // The sweeper asks for digests through this topic, so one consumer sends each (redeliver.ts).
            if (isDigestRequest(msg)) {
              await a.digest(msg.digest, config.alerting.redeliver.maxAgeHours);
              continue;
            }
            const hit = msg;
            const alert = await a.handle(hit);
            for (const [sink, d] of Object.entries(alert.deliveries)) {
              metrics.inc('pipewarden_alert_deliveries_total', { sink, status: d.status });
            }
          }
        },
      }),
    );
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
      subscriptions.push(sweeper);
    }
  }

  // Embedded store retention (Elasticsearch's is the data stream lifecycle, set in its template).
  const retentionDays = config.mode === 'embedded' ? config.embedded.storeRetentionDays : undefined;
  if (retentionDays && roles.includes('index') && store instanceof SqliteStore) {
    const sqlite = store;
    const sweep = () => {
      try {
        const deleted = sqlite.deleteEventsBefore(now().getTime() - retentionDays * 86_400_000);
        if (deleted) log.info({ deleted, retentionDays }, 'Deleted events past the store retention.');
      } catch (err) {
        log.warn({ err }, 'Store retention sweep failed; will retry.');
      }
    };
    sweep();
    const timer = setInterval(sweep, 3_600_000);
    timer.unref();
    subscriptions.push({ stop: async () => clearInterval(timer) });
  }

  if (roles.includes('index')) {
    // Redeliveries come right after a start, a rebalance or a failed attempt: for a while after each,
    // the store checks for events already indexed (see IndexOptions).
    let suspectUntil = Date.now() + REDELIVERY_WINDOW_MS;
    const suspect = () => {
      suspectUntil = Date.now() + REDELIVERY_WINDOW_MS;
    };
    subscriptions.push(
      await consumingBus.subscribe({
        topic: config.topics.events,
        group: 'pipewarden-index',
        maxBatch: 1000,
        onAssignment: suspect,
        handler: async (batch) => {
          const events = readEvents(batch, log);
          if (!events.length) return;
          try {
            await store.indexEvents(events, { mayBeRedelivered: Date.now() < suspectUntil });
            metrics.inc('pipewarden_index_events_total', { outcome: 'indexed' }, events.length);
          } catch (err) {
            metrics.inc('pipewarden_index_events_total', { outcome: 'failed' }, events.length);
            suspect();
            throw err;
          }
        },
      }),
    );
  }

  const address = await server.listen({ host: config.server.host, port: options.port ?? config.server.port });
  log.info(
    {
      roles,
      mode: config.mode,
      address,
      sources: enabledIds(config.sources),
      sinks: sinks.map((s) => s.name),
    },
    'pipewarden is running.',
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // Stop accepting first, then drain and commit what consumers hold, then close the engines.
      await server.close();
      await pollers?.stop();
      await Promise.allSettled(subscriptions.map((s) => s.stop()));
      await Promise.allSettled(sinks.map((s) => s.close?.()));
      await spool?.close(); // what it still holds is forwarded at the next start
      await bus.close();
      await store.close();
      log.info('pipewarden stopped.');
    })();
    return stopping;
  };

  const result: RunningApp = { config, roles, bus, store, server, url: address, metrics, stop };
  if (engine) result.engine = engine;
  if (alerter) result.alerter = alerter;
  if (syslog) result.syslog = syslog;
  return result;
}

function enabledIds(section: Record<string, unknown>): string[] {
  return Object.entries(section)
    .filter(([, v]) => (v as { enabled?: boolean }).enabled)
    .map(([k]) => k);
}
