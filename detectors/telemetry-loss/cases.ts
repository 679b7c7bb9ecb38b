// Positive and negative examples for telemetry-loss: feeds cut (real GitHub samples through the real
// adapters), bursts of bad signatures (the aggregate events built by the ingest plugin's own module,
// src/ingest/rejections.ts; test/unit/ingest-http.test.ts runs the plugin's real output through this
// detector), and silent sources (the `silence` absence rule, its checks run by the engine's clock
// through `until`; restarts and the detect role's wiring in test/unit/silence.test.ts).
import { auditEventToPipewarden } from '../../ingest-adapters/github-audit/normalise.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { rejectedRequestsEvent } from '../../src/ingest/rejections.ts';
import { bodyEvents, fixtureBody, fixtureEvent, RECEIVED } from '../fixtures.ts';

const fromGithub = (file: string) => fixtureEvent('github', file);

/** A real streamed GitLab audit event, renamed to another documented event type. */
function gitlabAudit(eventType: string): PipewardenEvent {
  const body = fixtureBody('gitlab-audit', 'project_group_link_create.json') as Record<string, unknown>;
  const [event] = bodyEvents('gitlab-audit', { ...body, event_type: eventType, event_name: eventType });
  if (!event) throw new Error(`gitlab-audit made no event for ${eventType}`);
  return event;
}

const audit = (action: string, extra: Record<string, unknown> = {}) =>
  auditEventToPipewarden(
    {
      action,
      actor: 'mallory',
      org: 'octo-org',
      created_at: 1717243200000,
      _document_id: `doc-${action}`,
      ...extra,
    },
    RECEIVED,
    { source: 'github-audit', dataset: 'github.audit' },
  );

/** One aggregate of rejected ingest requests, built by the ingest plugin's own module. */
function rejected(atMs: number, count: number, ip = '203.0.113.50', source = 'github'): PipewardenEvent {
  const at = new Date(atMs);
  return rejectedRequestsEvent(
    {
      source,
      ip,
      count,
      first: at,
      last: at,
      reasons: new Set(['X-Hub-Signature-256 does not match the body']),
    },
    at.toISOString(),
    10_000,
  );
}

const T0 = Date.parse('2024-06-01T09:00:00Z');
const MIN = 60_000;

/** A real GitHub push through the real adapter, received (and stamped) at `atMs`. */
function pushAt(atMs: number, source = 'github'): PipewardenEvent {
  const e = fromGithub('push__default.json');
  const at = new Date(atMs).toISOString();
  return {
    ...e,
    '@timestamp': at,
    event: { ...e.event, id: `${e.event.id}-${atMs}`, ingested: at },
    pipewarden: { ...e.pipewarden, source },
  };
}
const silenceConfig = (sources: Record<string, number>, extra: Record<string, unknown> = {}) => ({
  silence: { schedule: '*/5 * * * *', sources, ...extra },
  badSignatures: { enabled: false },
});
const iso = (ms: number) => new Date(ms).toISOString();
const every10s = (n: number, count: number, ip?: string) =>
  Array.from({ length: n }, (_, i) => rejected(T0 + i * 10_000, count, ip));

export const cases: DetectorCase[] = [
  {
    name: 'the webhook feeding pipewarden deleted (real GitHub meta sample)',
    event: fromGithub('meta__deleted.json'),
    expect: 1,
    summaryIncludes: 'Codertocat deleted the webhook that feeds pipewarden on Codertocat/Hello-World',
  },
  { name: 'audit hook.destroy', event: audit('hook.destroy', { repo: 'octo-org/api' }), expect: 1 },
  {
    name: 'audit audit_log_streaming.destroy',
    event: audit('audit_log_streaming.destroy', { business: 'acme' }),
    expect: 1,
    summaryIncludes: 'deleted an audit-log stream',
  },
  {
    name: 'an audit stream updated (still enabled) is not a cut (real GitHub audit sample)',
    event: auditEventToPipewarden(fixtureBody('github-audit', 'audit_log_streaming.update.json'), RECEIVED, {
      source: 'github-audit',
      dataset: 'github.audit',
    }),
    expect: 0,
  },
  ...(
    [
      ['destroy_event_streaming_destination', 'deleted an audit-event streaming destination'],
      ['amazon_s3_configuration_deleted', 'deleted the Amazon S3 audit-event stream'],
      ['instance_google_cloud_logging_configuration_deleted', 'Google Cloud Logging audit-event stream'],
      ['event_type_filters_created', 'filtered the event types an audit stream sends'],
      ['webhook_destroyed', 'deleted a webhook'],
    ] as const
  ).map(([type, text]) => ({
    name: `GitLab audit ${type} (a real streamed event, renamed)`,
    event: gitlabAudit(type),
    expect: 1,
    summaryIncludes: text,
  })),
  {
    name: 'a GitLab streaming destination created is not a cut',
    event: gitlabAudit('create_event_streaming_destination'),
    expect: 0,
  },
  {
    name: 'a webhook created is not a cut',
    event: audit('hook.create', { repo: 'octo-org/api' }),
    expect: 0,
  },
  {
    name: 'feed deletions switched off',
    event: fromGithub('meta__deleted.json'),
    config: { feedDeleted: { enabled: false } },
    expect: 0,
  },
  {
    name: 'a burst: 25 bad signatures from one address within one interval',
    event: rejected(T0, 25),
    expect: 1,
    expectByRule: { 'bad-signature-burst': 1 },
    summaryIncludes: '25 ingest requests with bad credentials from 203.0.113.50 to /ingest/github',
  },
  { name: 'three bad signatures in an interval are not a burst', event: rejected(T0, 3), expect: 0 },
  {
    name: 'sustained: bad signatures in 6 intervals within 30 min',
    events: every10s(6, 1),
    expect: 1,
    expectByRule: { 'bad-signature-sustained': 1 },
  },
  { name: 'bad signatures in 5 intervals are not sustained', events: every10s(5, 1), expect: 0 },
  {
    name: 'a long burst pages once per rule within the dedup period',
    events: every10s(12, 30),
    expect: 2,
    expectByRule: { 'bad-signature-burst': 1, 'bad-signature-sustained': 1 },
  },
  {
    name: 'two addresses are counted apart',
    events: [...every10s(3, 1, '198.51.100.1'), ...every10s(3, 1, '198.51.100.2')],
    expect: 0,
  },
  {
    name: 'bad-signature rules switched off',
    event: rejected(T0, 500),
    config: { badSignatures: { enabled: false } },
    expect: 0,
  },
  {
    name: 'a watched source silent past its interval: one hit per silence, at the first check after it',
    events: [pushAt(T0)],
    config: silenceConfig({ github: 60 }),
    until: iso(T0 + 3 * 60 * MIN),
    expect: 1,
    expectByRule: { silence: 1 },
    summaryIncludes: `No events from source github for 65 min (expected at least every 60 min); last event at ${iso(T0)}`,
  },
  {
    name: 'a source that keeps sending within its interval is not silent',
    events: [0, 30, 60, 90, 120, 150].map((m) => pushAt(T0 + m * MIN)),
    config: silenceConfig({ github: 60 }),
    until: iso(T0 + 200 * MIN),
    expect: 0,
  },
  {
    name: 'a watched source never heard from is silent since the watch began',
    events: [pushAt(T0)],
    config: silenceConfig({ github: 600, jenkins: 30 }),
    until: iso(T0 + 60 * MIN),
    expect: 1,
    summaryIncludes: `No events from source jenkins for 35 min (expected at least every 30 min); nothing received since watching began at ${iso(T0)}`,
  },
  {
    name: 'a new event ends a silence; the next silence is a new hit',
    events: [pushAt(T0), pushAt(T0 + 120 * MIN)],
    config: silenceConfig({ github: 60 }),
    until: iso(T0 + 190 * MIN),
    expect: 2,
  },
  {
    name: 'pipewarden’s own rejected-request aggregates do not count as a source speaking',
    events: [pushAt(T0), ...[10, 20, 30, 40, 50, 60].map((m) => rejected(T0 + m * MIN, 1))],
    config: silenceConfig({ github: 60 }),
    until: iso(T0 + 70 * MIN),
    expect: 1,
    expectByRule: { silence: 1 },
  },
  {
    name: 'defaultMaxMinutes watches every enabled source',
    events: [pushAt(T0), pushAt(T0 + 50 * MIN)],
    config: silenceConfig({}, { defaultMaxMinutes: 60 }),
    enabledSources: ['github', 'jenkins'],
    until: iso(T0 + 70 * MIN),
    expect: 1,
    summaryIncludes: 'No events from source jenkins',
  },
  {
    name: 'no source watched: no silence, however long',
    events: [pushAt(T0)],
    config: { silence: { schedule: '*/5 * * * *' } },
    enabledSources: ['github', 'jenkins'],
    until: iso(T0 + 30 * 24 * 60 * MIN),
    expect: 0,
  },
];
