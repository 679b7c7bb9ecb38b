// Telemetry loss: pipewarden going blind. A webhook or audit stream deleted (our feed cut), a burst of
// requests with bad signatures at ingest (someone probing, or a sender whose secret no longer matches),
// and a configured source silent for longer than its expected interval (an absence rule, checked by the
// engine on the configured schedule).
import cron from 'node-cron';
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import { count, MINUTE, mins, minutes, windowAndDedup } from '../../src/detect/config.ts';
import type { Absence, CoverageRow, Detector, Rule, RuleEnv } from '../../src/detect/types.ts';
import type { EventKind, PipewardenEvent } from '../../src/event.ts';
import { table } from '../../src/util/table.ts';

/**
 * What the ingest plugin publishes once per (source, client IP) and interval of rejected requests
 * (src/ingest/rejections.ts builds it from these names; the rules below match on them).
 */
export const INGEST_DATASET = 'pipewarden.ingest';
export const AUTH_FAILED = 'ingest.auth_failed';
export const AUTH_FAILED_KIND: EventKind = 'access.denied';
/** Datasets of pipewarden's own events: they prove nothing about a source's feed. */
export const OWN_DATASET_PREFIX = 'pipewarden.';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** A webhook or audit-log stream deleted (stateless, one hit each). */
    feedDeleted: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    /** Rejected (401) ingest requests, aggregated by the ingest plugin per source and client IP. */
    badSignatures: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** burst: this many rejected requests from one IP within one aggregation interval (10 s). */
        burstCount: count(20),
        /** sustained: rejected requests from one IP in this many intervals within the window. */
        sustainedIntervals: count(6),
        windowMinutes: minutes(30),
        dedupMinutes: minutes(60),
      })
      .prefault({}),
    /** Sources expected to send: silent longer than their interval is a hit (the `silence` absence rule). */
    silence: z
      .strictObject({
        /** node-cron expression of the check. */
        schedule: z
          .string()
          .refine((s) => cron.validate(s), 'must be a valid cron expression')
          .default('*/5 * * * *'),
        /** Source id (adapter id, `pipewarden.source`) → the longest expected silence, in minutes. */
        sources: z
          .record(
            z.string().min(1),
            z
              .number()
              .positive()
              .max(30 * 24 * 60),
          )
          .default({}),
        /** Applied to every other enabled source; null: only the sources listed are watched. */
        defaultMaxMinutes: z
          .number()
          .positive()
          .max(30 * 24 * 60)
          .nullable()
          .default(null),
      })
      .prefault({}),
  })
  .prefault({});

export type TelemetryLossConfig = z.output<typeof configSchema>;

/** Source → longest expected silence (ms): the listed sources, plus every enabled one when a default is set. */
export function expectations(
  config: TelemetryLossConfig,
  enabledSources: readonly string[],
): Map<string, number> {
  const out = new Map<string, number>();
  const d = config.silence.defaultMaxMinutes;
  if (d !== null) for (const s of enabledSources) out.set(s, d * MINUTE);
  for (const [s, m] of Object.entries(config.silence.sources)) out.set(s, m * MINUTE);
  return out;
}

/** Whether the silence rule can watch anything (else it is not declared and sees no event). */
const watchesSources = (c: TelemetryLossConfig) =>
  Object.keys(c.silence.sources).length > 0 || c.silence.defaultMaxMinutes !== null;

function duration(ms: number): string {
  const m = Math.round(ms / MINUTE);
  return m < 120
    ? `${m} min`
    : m < 48 * 60
      ? `${Math.round((m / 60) * 10) / 10} h`
      : `${Math.round((m / 1440) * 10) / 10} days`;
}

function silence(a: Absence) {
  const last =
    a.lastSeen === null
      ? `nothing received since watching began at ${a.since}`
      : `last event at ${a.lastSeen}`;
  return {
    summary: `No events from source ${a.key} for ${duration(a.silentMs)} (expected at least every ${duration(a.maxMs)}); ${last}`,
    context: {
      last_seen: a.lastSeen,
      silent_minutes: Math.round(a.silentMs / MINUTE),
      max_minutes: Math.round(a.maxMs / MINUTE),
    },
  };
}

interface Cut {
  what: string;
  severity: Severity;
}

// Our feed was cut: the sender side of a webhook or audit stream removed. One owner per action (these are
// not in pipeline-weakening). Keys are normalised actions with any scope prefix removed.
const CUTS = table<Cut>({
  'meta.deleted': { what: 'deleted the webhook that feeds pipewarden', severity: 'high' }, // GitHub webhook
  'hook.destroy': { what: 'deleted a webhook', severity: 'high' }, // GitHub audit (repo, org, business hooks)
  'hook.config_changed': { what: 'changed a webhook’s configuration (URL or secret)', severity: 'low' },
  'audit_log_streaming.destroy': { what: 'deleted an audit-log stream', severity: 'critical' },
  // GitLab audit event types that cut or narrow a feed; names from GitLab's "Audit event types" page
  // (doc/user/compliance/audit_event_types.md). The group- and instance-level variants are listed apart.
  destroy_event_streaming_destination: {
    what: 'deleted an audit-event streaming destination',
    severity: 'critical',
  },
  destroy_instance_event_streaming_destination: {
    what: 'deleted an instance audit-event streaming destination',
    severity: 'critical',
  },
  deleted_group_audit_event_streaming_destination: {
    what: 'deleted an audit-event streaming destination',
    severity: 'critical',
  },
  deleted_instance_audit_event_streaming_destination: {
    what: 'deleted an instance audit-event streaming destination',
    severity: 'critical',
  },
  amazon_s3_configuration_deleted: { what: 'deleted the Amazon S3 audit-event stream', severity: 'critical' },
  instance_amazon_s3_configuration_deleted: {
    what: 'deleted the instance Amazon S3 audit-event stream',
    severity: 'critical',
  },
  google_cloud_logging_configuration_deleted: {
    what: 'deleted the Google Cloud Logging audit-event stream',
    severity: 'critical',
  },
  instance_google_cloud_logging_configuration_deleted: {
    what: 'deleted the instance Google Cloud Logging audit-event stream',
    severity: 'critical',
  },
  // A filter narrows what a destination receives: events outside it stop arriving.
  event_type_filters_created: { what: 'filtered the event types an audit stream sends', severity: 'medium' },
  system_hook_destroy: { what: 'deleted a system hook', severity: 'high' },
  webhook_destroyed: { what: 'deleted a webhook', severity: 'high' },
});

const SCOPE = /^(?:repo|repository|org|organization|enterprise|business|project|group|instance)[._]/;

function cutOf(e: PipewardenEvent): Cut | undefined {
  return CUTS[e.event.action] ?? CUTS[e.event.action.replace(SCOPE, '')];
}

const isAuthFailure = (e: PipewardenEvent) =>
  e.event.dataset === INGEST_DATASET && e.event.action === AUTH_FAILED;

/** Sources every push and poll adapter shares: silence, and rejected deliveries at ingest. */
const ALL_PUSH = [
  'github',
  'github-audit',
  'gitlab',
  'gitlab-audit',
  'gitlab-logs',
  'bitbucket',
  'bitbucket-server',
  'azure-devops',
  'circleci',
  'jenkins',
  'artifactory',
  'nexus',
  'harbor',
  'docker-distribution',
];

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'silent-source',
    what: 'a source silent longer than expected',
    owasp: ['CICD-SEC-10'],
    sources: ALL_PUSH,
  },
  {
    row: 'feed-deleted',
    what: 'a webhook or audit stream that feeds pipewarden deleted',
    owasp: ['CICD-SEC-10'],
    sources: ['github', 'github-audit', 'gitlab-audit'],
  },
  {
    row: 'bad-signatures',
    what: 'bursts of deliveries with bad signatures (probing, or a sender whose secret no longer matches)',
    owasp: ['CICD-SEC-10'],
    sources: ALL_PUSH,
  },
];

export const telemetryLoss: Detector<Config> = {
  id: 'telemetry-loss',
  title: 'Telemetry loss',
  severity: 'high',
  description:
    'pipewarden may be going blind: a source stopped sending for longer than expected, a webhook or audit-log stream that feeds it was deleted, or requests with bad signatures are arriving in bursts (probing, or a sender whose secret no longer matches).',
  runbook: 'detectors/telemetry-loss/README.md#runbook',
  reference: 'https://attack.mitre.org/techniques/T1562/008/',
  coverage,
  configSchema,
  dedupMs: 0,

  appliesTo(event, config) {
    return isAuthFailure(event) || cutOf(event) !== undefined || watchesSources(config);
  },

  key(event) {
    return event.pipewarden.repository ?? event.organization?.name ?? event.pipewarden.source;
  },

  match(event, { config }) {
    if (!config.feedDeleted.enabled || isAuthFailure(event)) return null;
    const cut = cutOf(event);
    if (!cut) return null;
    const where =
      event.pipewarden.repository ?? event.organization?.name ?? `the ${event.event.provider} instance`;
    return {
      summary: `${event.user?.name ?? 'Someone'} ${cut.what} on ${where}: pipewarden may stop receiving its events`,
      severity: cut.severity,
      context: { action: event.event.action, provider: event.event.provider, scope: where },
    };
  },

  rules(config) {
    const rules: Rule<Config>[] = [];
    if (watchesSources(config))
      rules.push({
        id: 'silence',
        type: 'absence',
        keyBy: 'pipewarden.source',
        schedule: config.silence.schedule,
        // Our own aggregates (rejected requests) prove nothing about the source's feed.
        when: (e) => !e.event.dataset?.startsWith(OWN_DATASET_PREFIX),
        expect: (env: RuleEnv, c) => expectations(c, env.enabledSources),
        describe: silence,
      });
    const b = config.badSignatures;
    if (!b.enabled) return rules;
    const n = (e: PipewardenEvent) => e.pipewarden.count ?? 1;
    const { windowMs, dedupMs } = windowAndDedup(b);
    rules.push(
      {
        id: 'bad-signature-burst',
        type: 'threshold',
        keyBy: 'source.ip',
        threshold: 1,
        windowMs,
        dedupMs,
        when: (e) => isAuthFailure(e) && n(e) >= b.burstCount,
        describe: (x) => ({
          summary: `${n(x.event)} ingest requests with bad credentials from ${x.key} to /ingest/${x.event.pipewarden.source} within seconds (probing, or a sender with a stale secret)`,
          context: { source_ip: x.key, ingest_source: x.event.pipewarden.source, rejected: n(x.event) },
        }),
      },
      {
        id: 'bad-signature-sustained',
        type: 'threshold',
        keyBy: 'source.ip',
        threshold: b.sustainedIntervals,
        windowMs,
        dedupMs,
        severity: 'medium',
        when: isAuthFailure,
        describe: (x) => ({
          summary: `Ingest requests with bad credentials from ${x.key} kept arriving: ${x.count} bursts within ${mins(x.windowMs)} (latest to /ingest/${x.event.pipewarden.source})`,
          context: { source_ip: x.key, ingest_source: x.event.pipewarden.source },
        }),
      },
    );
    return rules;
  },
};

type Config = TelemetryLossConfig;
