// Harbor project webhooks, in the Default and the CloudEvents payload formats, authenticated only by the
// "Auth Header" string the project admin configured (sent verbatim as Authorization).
import {
  type EventKind,
  eventId,
  type Outcome,
  type PipewardenEvent,
  redactPayload,
} from '../../src/event.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, type IngestAdapter } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';
import { authorizationEquals } from '../docker-distribution/index.ts';

const SECRET_ENV = 'PIPEWARDEN_HARBOR_TOKEN';

const configSchema = secretSourceSchema(SECRET_ENV);

// CloudEvents type ("harbor.artifact.pushed") → the Default format's name.
const FROM_CLOUDEVENTS = table<string>({
  'harbor.artifact.pushed': 'PUSH_ARTIFACT',
  'harbor.artifact.pulled': 'PULL_ARTIFACT',
  'harbor.artifact.deleted': 'DELETE_ARTIFACT',
  'harbor.scan.completed': 'SCANNING_COMPLETED',
  'harbor.scan.stopped': 'SCANNING_STOPPED',
  'harbor.scan.failed': 'SCANNING_FAILED',
  'harbor.quota.exceeded': 'QUOTA_EXCEED',
  'harbor.quota.warned': 'QUOTA_WARNING',
  'harbor.replication.status.changed': 'REPLICATION',
  'harbor.tag_retention.finished': 'TAG_RETENTION',
});

const BY_TYPE = table<{ kind: EventKind; category: string; type: string; outcome: Outcome }>({
  PUSH_ARTIFACT: { kind: 'artifact.publish', category: 'package', type: 'creation', outcome: 'success' },
  PULL_ARTIFACT: { kind: 'artifact.download', category: 'package', type: 'access', outcome: 'success' },
  DELETE_ARTIFACT: { kind: 'artifact.delete', category: 'package', type: 'deletion', outcome: 'success' },
  SCANNING_COMPLETED: { kind: 'security.alert', category: 'vulnerability', type: 'info', outcome: 'success' },
  SCANNING_STOPPED: { kind: 'other', category: 'vulnerability', type: 'end', outcome: 'failure' },
  SCANNING_FAILED: { kind: 'other', category: 'vulnerability', type: 'end', outcome: 'failure' },
  QUOTA_EXCEED: { kind: 'other', category: 'configuration', type: 'info', outcome: 'failure' },
  QUOTA_WARNING: { kind: 'other', category: 'configuration', type: 'info', outcome: 'unknown' },
  REPLICATION: { kind: 'deploy', category: 'package', type: 'change', outcome: 'unknown' },
  TAG_RETENTION: { kind: 'artifact.delete', category: 'package', type: 'deletion', outcome: 'unknown' },
});

/** ISO text of a millisecond time, or undefined when it is not a representable date. */
function validTime(ms: number): string | undefined {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

// Harbor's own services act as these operators: not people.
const SERVICE_OPERATORS = new Set(['harbor-jobservice', 'auto', 'harbor-core', 'admin-server']);
// Replication and retention events name how the job was triggered in `operator`, not who: not a user.
const TRIGGER_OPERATORS = new Set(['manual', 'schedule', 'scheduled', 'event_based']);

function normalise(payload: Json, receivedAt: Date): PipewardenEvent {
  const ceType = str(payload.specversion) ? str(payload.type) : undefined;
  const type = ceType ? (FROM_CLOUDEVENTS[ceType] ?? ceType) : str(payload.type);
  if (!type) throw new AdapterInputError('Harbor webhook body needs "type"');
  const data = obj(ceType ? payload.data : payload.event_data) ?? {};
  const base = BY_TYPE[type] ?? {
    kind: 'other' as const,
    category: 'package',
    type: 'info',
    outcome: 'unknown' as const,
  };
  const operator = str(payload.operator);
  const anonymous = operator === 'anonymous';
  const kind: EventKind =
    anonymous && ['artifact.publish', 'artifact.download', 'artifact.delete'].includes(base.kind)
      ? 'access.anonymous'
      : base.kind;
  const resources = Array.isArray(data.resources)
    ? data.resources.map(obj).filter((r): r is Json => r !== undefined)
    : [];
  const repo = obj(data.repository);
  const repoName = str(repo?.repo_full_name);
  const first = resources[0];
  const artifact =
    str(first?.resource_url) ??
    (repoName && str(first?.digest) ? `${repoName}@${str(first?.digest)}` : undefined);
  const occur =
    typeof payload.occur_at === 'number' ? payload.occur_at * 1000 : Date.parse(str(payload.time) ?? '');
  const id = str(payload.id);
  const pw: PipewardenEvent['pipewarden'] = { kind, source: 'harbor', raw: redactPayload(payload) };
  if (id) pw.delivery_id = id;
  if (repoName) pw.repository = repoName;
  if (artifact) pw.artifact = artifact;
  // A push by tag: the tag names mutable content and `digest` is what it points to now. A push by digest
  // (replication, `tag` equal to the digest) names immutable content: no ref.
  const digest = str(first?.digest);
  if (digest) pw.artifact_digest = digest;
  const tag = str(first?.tag);
  if (repoName && tag && !/^sha\d+:/.test(tag)) {
    pw.artifact_ref = `${repoName}:${tag}`;
    pw.artifact_version = tag;
  }
  if (str(repo?.repo_type)) pw.visibility = str(repo?.repo_type)!;
  const severity = resources
    .flatMap((r) => Object.values(obj(r.scan_overview) ?? {}).map((o) => str(obj(o)?.severity)))
    .find((s) => s !== undefined);
  const event = makeEvent({
    at: validTime(occur) ?? receivedAt.toISOString(),
    message: `${operator ?? 'Harbor'} ${type.toLowerCase().replace(/_/g, ' ')}${artifact ? ` ${artifact}` : repoName ? ` ${repoName}` : ''}${severity ? ` (severity ${severity})` : ''}`,
    id: eventId('harbor', id ?? JSON.stringify(payload)),
    category: kind === 'access.anonymous' ? [base.category, 'web'] : [base.category],
    type: [base.type],
    action: ceType ?? type,
    outcome: base.outcome,
    dataset: ceType ? 'harbor.cloudevents' : 'harbor.webhook',
    provider: 'harbor',
    receivedAt,
    pipewarden: pw,
  });
  const trigger = operator !== undefined && TRIGGER_OPERATORS.has(operator.toLowerCase());
  if (trigger) event.pipewarden.trigger = operator.toLowerCase();
  if (operator && !anonymous && !trigger) {
    event.user = {
      name: operator,
      ...(operator.startsWith('robot$')
        ? { type: 'robot' }
        : SERVICE_OPERATORS.has(operator)
          ? { type: 'service' }
          : {}),
    };
  }
  return event;
}

export const harbor: IngestAdapter<typeof configSchema._output> = {
  id: 'harbor',
  title: 'Harbor webhooks (Default and CloudEvents)',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'build',
      source: 'Harbor webhooks (Default and CloudEvents)',
      route: '`POST /ingest/harbor`',
      auth: 'the configured `Authorization` ("Auth Header") value, constant-time',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ authorization: `Bearer ${secret}` }),
    // The "Auth Header" string is sent, and compared, whole.
    secretValue: (secret) => `Bearer ${secret}`,
  },
  contentTypes: ['application/json', 'application/cloudevents+json'],

  // The credential is a header: checked before the body is read (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) => harbor.verify(NO_BODY, headers, config, now),

  verify(_rawBody, headers, config) {
    return authorizationEquals(headers, config.secret?.reveal());
  },

  deliveryId(_headers, body) {
    // CloudEvents carry a unique id; the Default format has none (event ids come from the body instead).
    const o = obj(body);
    return o && str(o.specversion) ? str(o.id) : undefined;
  },

  toEvents(body, _headers, receivedAt) {
    const payload = obj(body);
    if (!payload) throw new AdapterInputError('Harbor webhook body must be a JSON object');
    return { events: [normalise(payload, receivedAt)] };
  },
};
