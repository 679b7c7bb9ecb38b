// One root schema composed of every unit's own schema; strict (unknown keys are errors); parsed once.
import { z } from 'zod';
import { detectors } from '../../detectors/index.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import { linksConfigSchema } from '../alerting/deep-links.ts';
import { redeliverConfigSchema } from '../alerting/redeliver.ts';
import { namedReceivers, rootRouteSchema } from '../alerting/routing.ts';
import { implicitReceivers, receiversSchema, sinkConfigShape, sinks } from '../alerting/sinks/index.ts';
import { slackInteractionsConfigSchema } from '../alerting/slack-interactions.ts';
import { throttleConfigSchema } from '../alerting/throttle.ts';
import { kafkaConfigSchema } from '../bus/kafka.ts';
import { buildLogsConfigSchema } from '../ingest/build-logs/config.ts';
import { serverLimitsSchema } from '../ingest/guard.ts';
import { spoolConfigSchema } from '../ingest/spool.ts';
import { syslogConfigSchema } from '../ingest/syslog/config.ts';
import { elasticsearchConfigSchema } from '../store/elasticsearch.ts';
import { trailConfigSchema } from '../trail/config.ts';
import { secretRef } from './secrets.ts';

/**
 * Sections keyed by unit id. Each unit reads its own section through its own config type (the registries
 * keep every unit's type, by `satisfies`); the root leaves the sections open so callers name the unit.
 */
// biome-ignore lint/suspicious/noExplicitAny: the open section type; the unit's own schema checks its values
type UnitSections = Record<string, z.ZodType<any, unknown>>;
const sourcesSchema = z
  .strictObject(Object.fromEntries(adapters.map((a) => [a.id, a.configSchema])) as UnitSections)
  .prefault({});
const detectorsSchema = z
  .strictObject(Object.fromEntries(detectors.map((d) => [d.id, d.configSchema])) as UnitSections)
  .prefault({});

export const ROLES = ['ingest', 'detect', 'alert', 'index'] as const;
export type Role = (typeof ROLES)[number];

export const configSchema = z
  .strictObject({
    /** embedded: one process, SQLite for bus and store. distributed: Kafka and Elasticsearch. */
    mode: z.enum(['embedded', 'distributed']).default('embedded'),
    server: z
      .strictObject({
        // Loopback by default: exposing the collector is a decision, made in the file.
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Largest accepted request body; GitHub caps webhook payloads at 25 MB. */
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .max(100 * 1024 * 1024)
          .default(25 * 1024 * 1024),
        /** Trust X-Forwarded-For from a reverse proxy (only behind one you run). */
        trustProxy: z.boolean().default(false),
        /** When its variable is set, /metrics asks for Authorization: Bearer <token>. */
        metricsTokenEnv: secretRef('PIPEWARDEN_METRICS_TOKEN'),
        /** Timeouts and caps on unauthenticated requests (src/ingest/guard.ts). */
        limits: serverLimitsSchema,
        /** Where people reach the console (behind a proxy, its public address); alerts link here. */
        publicUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** Minutes without use that end a console session (fractions allowed); it never outlives its token. */
        sessionMinutes: z
          .number()
          .positive()
          .max(7 * 24 * 60)
          .default(12 * 60),
      })
      .prefault({}),
    embedded: z
      .strictObject({
        dataDir: z.string().min(1).default('./data'),
        /** How long messages stay on the embedded bus after they were written. */
        retentionHours: z
          .number()
          .positive()
          .default(24 * 7),
        /** Days events stay in the embedded store (audit trail); absent: kept until deleted. Alerts stay. */
        storeRetentionDays: z.number().int().min(1).max(36_500).optional(),
        /** /readyz says not ready when the data directory has less free space than this (MiB). */
        minFreeMb: z.number().int().min(0).default(64),
      })
      .prefault({}),
    kafka: kafkaConfigSchema.optional(),
    elasticsearch: elasticsearchConfigSchema.optional(),
    topics: z
      .strictObject({
        events: z.string().min(1).default('pipewarden.events'),
        hits: z.string().min(1).default('pipewarden.hits'),
        buildLogs: z.string().min(1).default('pipewarden.build-logs'),
      })
      .prefault({}),
    /** The ingest role's options. */
    ingest: z
      .strictObject({
        /** A durable local spool for events while the bus is unreachable (src/ingest/spool.ts). */
        spool: spoolConfigSchema.prefault({}),
      })
      .prefault({}),
    sources: sourcesSchema,
    /** Streaming build-log uploads and the GitHub/GitLab job-log fetchers (src/ingest/build-logs). */
    buildLogs: buildLogsConfigSchema,
    /** Syslog listener (src/ingest/syslog): routes lines to the adapter whose line format owns them. */
    syslog: syslogConfigSchema,
    detectors: detectorsSchema,
    /** Tamper-evident trail: hash chain, signed checkpoints, anchors (src/trail). */
    trail: trailConfigSchema,
    alerting: z
      .strictObject({
        // One key per registered sink (src/alerting/sinks/index.ts), each with its own schema.
        ...sinkConfigShape(),
        /** Named receivers, each one sink with its own settings (routing.ts). */
        receivers: receiversSchema,
        /** Buttons on Slack incident messages: POST /slack/interactions (slack-interactions.ts). */
        slackInteractions: slackInteractionsConfigSchema,
        /** The routing tree: which receivers get which hits, and how hits group into incidents. */
        route: rootRouteSchema,
        /** Links to the vendor's page for a hit (settings, job, repository), on configured hosts only (deep-links.ts). */
        links: linksConfigSchema,
        /** Attempts per sink for a retryable failure, with exponential backoff from backoffMs. */
        attempts: z.number().int().min(1).max(10).default(3),
        backoffMs: z.number().int().min(0).default(500),
        /** Later attempts for deliveries that failed for a reason that can pass; also sends digests. */
        redeliver: redeliverConfigSchema,
        /** Alert budget per sink; past it, alerts below neverHold wait for a digest (throttle.ts). */
        throttle: throttleConfigSchema,
        /**
         * Where the detectors' runbooks are published (e.g. the repository's blob URL ending in '/'):
         * runbook paths such as detectors/x/README.md#runbook become links in Slack and email.
         */
        runbookBaseUrl: z
          .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
          .refine((u) => u.endsWith('/'), "must end with '/'")
          .optional(),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    // Routes must name real detectors: a typo would silently drop alerts from a sink.
    const known = new Set(detectors.map((d) => d.id));
    for (const { id: sink } of sinks) {
      c.alerting[sink].detectors.forEach((id, i) => {
        if (!known.has(id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['alerting', sink, 'detectors', i],
            message: `unknown detector '${id}'; detectors are ${[...known].join(', ')}`,
          });
        }
      });
    }
    // A route naming an unknown receiver would drop alerts silently: name its path.
    const implicit = implicitReceivers(c.alerting);
    const receivers = new Set([...implicit, ...Object.keys(c.alerting.receivers)]);
    for (const name of implicit)
      if (Object.hasOwn(c.alerting.receivers, name))
        ctx.addIssue({
          code: 'custom',
          path: ['alerting', 'receivers', name],
          message: `'${name}' is already the receiver of alerting.${name}; name this one differently`,
        });
    for (const { name, path } of namedReceivers(c.alerting.route)) {
      if (!receivers.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['alerting', 'route', ...path],
          message: `unknown receiver '${name}'; receivers are ${[...receivers].join(', ') || 'none (add alerting.receivers)'}`,
        });
    }
    if (c.mode === 'distributed') {
      if (!c.kafka)
        ctx.addIssue({
          code: 'custom',
          path: ['kafka'],
          message: 'required in distributed mode (brokers: [host:port])',
        });
      if (!c.elasticsearch) {
        ctx.addIssue({
          code: 'custom',
          path: ['elasticsearch'],
          message: 'required in distributed mode (node: http://host:9200)',
        });
      }
    }
  });

export type Config = z.output<typeof configSchema>;
