// Composes the roles over the bus and the store. `serve` runs all four; `--role` runs some. Each role
// lives in src/roles/ and hands back what must be stopped; the factories are in src/factories.ts.
import type { FastifyInstance } from 'fastify';
import type { Alerter } from './alerting/alerter.ts';
import type { Sink } from './alerting/types.ts';
import { healthRoutes } from './api/routes.ts';
import type { Bus } from './bus/types.ts';
import type { Config, Role } from './config/schema.ts';
import { ROLES } from './config/schema.ts';
import type { DetectionEngine } from './detect/engine.ts';
import { createBus, createStore } from './factories.ts';
import { readinessCheck } from './health.ts';
import { createSpool, spoolGauges } from './ingest/spool.ts';
import type { SyslogListener } from './ingest/syslog/listener.ts';
import { createLogger, type Logger } from './log.ts';
import { Counters } from './metrics.ts';
import { startAlert } from './roles/alert.ts';
import { registerApi } from './roles/api.ts';
import { startDetect } from './roles/detect.ts';
import { startIndex } from './roles/index.ts';
import { startIngest } from './roles/ingest.ts';
import type { RoleDeps, Stoppable } from './roles/types.ts';
import { createServer, listen } from './server.ts';
import type { Store } from './store/types.ts';

export { createBus, createSinks, createStore, secretScanning } from './factories.ts';
export { sendTestAlert } from './roles/alert.ts';

export interface AppOptions {
  roles?: readonly Role[];
  log?: Logger;
  now?: () => Date;
  /** Listen on this port instead of the configured one (0: any free port; tests). */
  port?: number;
  /** Listen on this address instead of the configured one. */
  host?: string;
}

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

export async function startApp(config: Config, options: AppOptions = {}): Promise<RunningApp> {
  const roles = options.roles ?? ROLES;
  const log = options.log ?? createLogger({ level: config.log.level });
  const now = options.now ?? (() => new Date());
  const metrics = new Counters();
  const bus = createBus(config, log);
  const store = createStore(config, log);
  // The ingest role publishes through the spool when it is on (ingest.spool): durable while the bus is away.
  const spool = createSpool(config, roles, bus, log);
  const deps: RoleDeps = { config, bus, store, metrics, log, now };
  const stoppables: Stoppable[] = [];
  let sinks: Sink[] = [];

  await bus.ensureTopics([config.topics.events, config.topics.hits, config.topics.buildLogs]);
  await store.init();

  const server = createServer(config, log);
  describeMetrics(metrics);
  const embeddedDisk =
    config.mode === 'embedded'
      ? { dataDir: config.embedded.dataDir, minFreeBytes: config.embedded.minFreeMb * 1024 * 1024 }
      : {};
  const readiness = readinessCheck({ roles, bus, store, ...embeddedDisk, ...(spool ? { spool } : {}) });
  await server.register(healthRoutes, {
    bus,
    store,
    metrics,
    readiness,
    gauges: () => spoolGauges(spool),
    metricsToken: config.server.metricsTokenEnv,
  });

  const result: Omit<RunningApp, 'url' | 'stop'> = { config, roles, bus, store, server, metrics };
  if (roles.includes('ingest')) {
    const ingest = await startIngest(spool ? { ...deps, bus: spool.wrap() } : deps, server);
    await registerApi(deps, server);
    stoppables.push(...ingest.stoppables);
    if (ingest.syslog) result.syslog = ingest.syslog;
  }
  if (roles.includes('detect')) {
    const detect = await startDetect(deps);
    stoppables.push(...detect.stoppables);
    result.engine = detect.engine;
  }
  if (roles.includes('alert')) {
    const alert = await startAlert(deps);
    stoppables.push(...alert.stoppables);
    sinks = alert.sinks;
    result.alerter = alert.alerter;
  }
  if (roles.includes('index')) stoppables.push(...(await startIndex(deps)));

  const address = await listen(
    server,
    options.host ?? config.server.host,
    options.port ?? config.server.port,
  ).catch(async (err: unknown) => {
    await shutdown(); // what the roles started must not keep the process alive
    throw err;
  });
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
  async function shutdown(): Promise<void> {
    // Stop accepting first, then drain and commit what consumers hold, then close the engines.
    await server.close();
    await Promise.allSettled(stoppables.map((s) => s.stop()));
    await Promise.allSettled(sinks.map((s) => s.close?.()));
    await spool?.close(); // what it still holds is forwarded at the next start
    await bus.close();
    await store.close();
  }
  const stop = () => {
    stopping ??= shutdown().then(() => log.info('pipewarden stopped.'));
    return stopping;
  };
  return { ...result, url: address, stop };
}

function describeMetrics(metrics: Counters): void {
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
  metrics.describe(
    'pipewarden_alert_lifecycle_total',
    'Incident acknowledgements and resolutions passed on to receivers, by sink and outcome.',
  );
}

function enabledIds(section: Record<string, unknown>): string[] {
  return Object.entries(section)
    .filter(([, v]) => (v as { enabled?: boolean }).enabled)
    .map(([k]) => k);
}
