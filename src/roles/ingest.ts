// The ingest role: every adapter's route, the build-log uploads and fetchers, the pollers and the syslog
// listener. It only turns what arrives into events on the bus; the other roles read them from there.
import type { FastifyInstance } from 'fastify';
import { adapters } from '../../ingest-adapters/index.ts';
import { secretScanning } from '../factories.ts';
import { fetchingEnabled, startLogFetchers } from '../ingest/build-logs/fetch.ts';
import { buildLogsPlugin } from '../ingest/build-logs/plugin.ts';
import { BuildLogWriter } from '../ingest/build-logs/writer.ts';
import { ingestPlugin } from '../ingest/plugin.ts';
import { createPollers } from '../ingest/pollers/index.ts';
import { PollerRunner } from '../ingest/pollers/runner.ts';
import { SyslogListener } from '../ingest/syslog/listener.ts';
import type { RoleDeps, Stoppable } from './types.ts';

export interface IngestRole {
  /** Pollers first (they publish on a schedule), then the log fetchers and the syslog listener. */
  stoppables: Stoppable[];
  /** The syslog listener, when enabled. */
  syslog?: SyslogListener;
}

export async function startIngest(deps: RoleDeps, server: FastifyInstance): Promise<IngestRole> {
  const { config, bus, metrics, now } = deps;
  // Sources that answer in their own shape (HEC's {text, code}) hook in before the routes, which inherit it.
  for (const adapter of adapters) adapter.httpHooks?.(server);
  await server.register(ingestPlugin, {
    adapters,
    sourceConfigs: config.sources as Record<string, { enabled: boolean }>,
    bus,
    topic: config.topics.events,
    bodyLimitBytes: config.server.bodyLimitBytes,
    limits: config.server.limits,
    metrics,
    now,
  });
  const stoppables: Stoppable[] = [startPollers(deps)];
  const logFetchers = await startBuildLogs(deps, server);
  if (logFetchers) stoppables.push(logFetchers);
  const syslog = await startSyslog(deps);
  if (syslog) stoppables.push(syslog);
  return { stoppables, ...(syslog ? { syslog } : {}) };
}

/** Pollers pull the APIs that have no push (e.g. the GitHub audit-log API). */
function startPollers({ config, bus, store, log, now }: RoleDeps): PollerRunner {
  const pollers = new PollerRunner(createPollers(config.sources), {
    bus,
    store,
    topic: config.topics.events,
    log,
    now,
  });
  pollers.start();
  return pollers;
}

/**
 * Build logs: POST /ingest/build-logs/:job (streamed, own plugin) and the adapters' job-log fetchers.
 * Every log is scrubbed of secrets on its way in (BuildLogWriter): only redacted text is published.
 */
async function startBuildLogs(deps: RoleDeps, server: FastifyInstance): Promise<Stoppable | undefined> {
  const { config, bus, metrics, log, now } = deps;
  const uploads = config.buildLogs.enabled && config.buildLogs.token ? config.buildLogs.token : undefined;
  const fetching = fetchingEnabled(config.buildLogs.fetch);
  if (!uploads && !fetching) return undefined;
  const writer = new BuildLogWriter({
    bus,
    buildLogsTopic: config.topics.buildLogs,
    eventsTopic: config.topics.events,
    chunkBytes: config.buildLogs.chunkBytes,
    scanning: secretScanning(config),
    now,
  });
  if (uploads) await server.register(buildLogsPlugin, { writer, token: uploads, metrics });
  return startLogFetchers({ bus, eventsTopic: config.topics.events, writer, config: config.buildLogs, log });
}

/** Syslog listener (off by default): each line goes to the adapter whose line format owns it. */
async function startSyslog({
  config,
  bus,
  metrics,
  log,
  now,
}: RoleDeps): Promise<SyslogListener | undefined> {
  if (!config.syslog.enabled) return undefined;
  const syslog = new SyslogListener({
    config: config.syslog,
    adapters,
    bus,
    topic: config.topics.events,
    metrics,
    log,
    now,
  });
  await syslog.start();
  return syslog;
}
