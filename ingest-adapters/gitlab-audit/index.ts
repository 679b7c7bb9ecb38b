// GitLab audit event streaming (Ultimate, group or instance destinations): one JSON event per request.
import { type EventKind, eventId, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { tokenEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';
import { emailsIn } from '../gitlab-logs/index.ts';

const SECRET_ENV = 'PIPEWARDEN_GITLAB_AUDIT_STREAMING_TOKEN';

const configSchema = secretSourceSchema(SECRET_ENV);

interface Classification {
  kind: EventKind;
  category: string;
  type: string;
}

/**
 * Event types whose names the patterns below would leave as `other` (all on GitLab's "Audit event types"
 * page, doc/user/compliance/audit_event_types.md in gitlab-org/gitlab). `skip_secret_push_protection` is a
 * push let past secret push protection: a security alert, like GitHub's push-protection bypass.
 */
const KNOWN_TYPES = table<Classification>({
  skip_secret_push_protection: { kind: 'security.alert', category: 'vulnerability', type: 'info' },
  group_saml_provider_update: { kind: 'config.change', category: 'configuration', type: 'change' },
  ci_runner_registered: { kind: 'config.change', category: 'configuration', type: 'creation' },
  compliance_framework_removed: { kind: 'config.change', category: 'configuration', type: 'deletion' },
  destroy_compliance_framework: { kind: 'config.change', category: 'configuration', type: 'deletion' },
  delete_status_check: { kind: 'config.change', category: 'configuration', type: 'deletion' },
  security_policy_delete: { kind: 'config.change', category: 'configuration', type: 'deletion' },
});

function classify(eventType: string, details: Json): Classification {
  const known = KNOWN_TYPES[eventType];
  if (known) return known;
  const message = details.custom_message;
  const gitAction = str(obj(message)?.action);
  if (
    details.failed_login !== undefined ||
    (/failed|failure/.test(eventType) && /login|auth|sign_in/.test(eventType))
  ) {
    return { kind: 'login.failure', category: 'authentication', type: 'start' };
  }
  if (/^(user_)?(logged_in|login_succeeded|authenticated)|^user_login/.test(eventType)) {
    return { kind: 'login.success', category: 'authentication', type: 'start' };
  }
  if (eventType === 'repository_git_operation') {
    // git-receive-pack is a push; upload-pack (clone, fetch) and UI downloads are reads.
    return gitAction === 'git-receive-pack'
      ? { kind: 'code.push', category: 'configuration', type: 'change' }
      : { kind: 'other', category: 'file', type: 'access' };
  }
  if (details.change === 'visibility' || /visibility/.test(eventType)) {
    return { kind: 'config.change', category: 'configuration', type: 'change' };
  }
  const type = /(_create|_created|_added|_add)$/.test(eventType)
    ? 'creation'
    : /(_destroy|_deleted|_delete|_removed|_remove|_revoked)$/.test(eventType)
      ? 'deletion'
      : 'change';
  if (
    /member|access_token|deploy_key|deploy_token|ssh_key|gpg_key|group_link|role|permission|user_|admin|two_factor|password/.test(
      eventType,
    )
  ) {
    return { kind: 'permission.change', category: 'iam', type };
  }
  if (
    /protected|approval_rule|environment|setting|_(created|updated|deleted|destroyed|enabled|disabled|changed)$/.test(
      eventType,
    )
  ) {
    return { kind: 'config.change', category: 'configuration', type };
  }
  return { kind: 'other', category: 'web', type: 'info' };
}

/**
 * A before/after value as text, lower case: GitLab writes roles as "Maintainer", visibility as "Public",
 * settings as true / false, and a protected branch's access levels as a list (["Maintainers"], joined here
 * with ", ").
 */
function value(v: unknown): string | undefined {
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const items = v.map((x) => (typeof x === 'boolean' ? String(x) : idStr(x)));
    return items.every((x) => x !== undefined) ? items.join(', ').toLowerCase() : undefined;
  }
  return idStr(v)?.toLowerCase();
}

/**
 * The setting a change moved and who it was applied to. Keys as GitLab's audit events write them
 * (`details` of AuditEventService / Gitlab::Audit::Auditor in gitlabhq, and the streamed examples in
 * fixtures/): `change` + `from` / `to` for updates (`member_updated`: change "access_level", from
 * "Developer", to "Maintainer"; visibility: "Private" → "Public"); `add` + `as` for grants
 * (`member_created`: add "user_access", as "Developer"); `remove` for removals; `target_id`,
 * `target_type`, `target_details` (a member's display name, a group's path) for the subject.
 */
function changeOf(details: Json): PipewardenEvent['pipewarden']['change'] {
  const field = str(details.change);
  const from = value(details.from);
  const to = value(details.to);
  if (!field) return changeInMessage(str(details.custom_message));
  if (from === undefined && to === undefined) return undefined;
  return { field, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}

type Change = NonNullable<PipewardenEvent['pipewarden']['change']>;

// Events that say what changed only in their message (gitlab-org/gitlab):
// "Changed pre_receive_secret_detection_enabled from true to false" (Projects::ProjectSecuritySettingChangesAuditor),
const CHANGED = /^Changed (\w+) from (\w+) to (\w+)$/;
// "User Jane updated `secret_push_protection_enabled` to false" (projects API, security settings),
const UPDATED_TO = /updated `(\w+)` to (\w+)$/;
// "Secret push protection has been disabled for group …" (Security::Configuration::Set*SecretPushProtectionService),
const SWITCHED = /^([A-Za-z][\w ]*?) has been (enabled|disabled)\b/;
// "Group SAML SSO configuration changed: enforced_sso changed from true to false. enabled changed to true. "
// (ee/app/services/group_saml/saml_provider/base_service.rb): one clause per attribute.
const SAML = 'Group SAML SSO configuration changed:';
const CLAUSE = /(\w+) changed (?:from (\S+) )?to (\S+?)\.(?=\s|$)/g;

/**
 * The change a message describes, in the same shape as `details.change` / `from` / `to`. A SAML message
 * may list several attributes and an event carries one change: a setting switched off (true → false) is
 * the one kept, else the first.
 */
function changeInMessage(message: string | undefined): Change | undefined {
  if (!message) return undefined;
  const changed = CHANGED.exec(message);
  if (changed) return { field: changed[1]!, from: changed[2]!.toLowerCase(), to: changed[3]!.toLowerCase() };
  const updated = UPDATED_TO.exec(message);
  if (updated) return { field: updated[1]!, to: updated[2]!.toLowerCase() };
  const switched = SWITCHED.exec(message);
  if (switched) return { field: switched[1]!.toLowerCase(), to: switched[2]! };
  if (!message.startsWith(SAML)) return undefined;
  const clauses: Change[] = [...message.slice(SAML.length).matchAll(CLAUSE)].map(([, field, from, to]) => ({
    field: field!,
    ...(from !== undefined ? { from: from.toLowerCase() } : {}),
    to: to!.toLowerCase(),
  }));
  return clauses.find((c) => c.from === 'true' && c.to === 'false') ?? clauses[0];
}

function targetOf(
  p: Json,
  details: Json,
): NonNullable<NonNullable<PipewardenEvent['user']>['target']> | undefined {
  const type = str(p.target_type) ?? str(details.target_type);
  if (type !== 'User' && type !== 'Group') return undefined;
  const name = str(p.target_details) ?? str(details.target_details);
  const id = idStr(p.target_id) ?? idStr(details.target_id);
  // `as` is the role held after a grant or an update; a removal leaves none to report.
  const role = details.remove === undefined ? value(details.as) : undefined;
  if (!name && !id) return undefined;
  return { ...(name ? { name } : {}), ...(id ? { id } : {}), ...(role ? { roles: [role] } : {}) };
}

export const gitlabAudit: IngestAdapter<typeof configSchema._output> = {
  id: 'gitlab-audit',
  title: 'GitLab audit event streaming',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'GitLab audit event streaming',
      route: '`POST /ingest/gitlab-audit`',
      auth: '`X-Gitlab-Event-Streaming-Token`, constant-time',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ 'x-gitlab-event-streaming-token': secret }),
  },
  // GitLab's default Content-Type for streaming destinations is form-urlencoded, yet the body is JSON.
  contentTypes: ['application/json', 'application/x-www-form-urlencoded'],

  // The credential is a header: checked before the body is read (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) => gitlabAudit.verify(NO_BODY, headers, config, now),

  verify(_raw, headers, config) {
    const sent = header(headers, 'x-gitlab-event-streaming-token');
    if (!sent) return { ok: false, reason: 'missing X-Gitlab-Event-Streaming-Token header' };
    const key = config.secret?.reveal();
    if (!key || !tokenEquals(key, sent))
      return { ok: false, reason: 'X-Gitlab-Event-Streaming-Token does not match' };
    return { ok: true };
  },

  parse(raw) {
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new AdapterInputError(
        `GitLab audit events are JSON (whatever the Content-Type says): ${(err as Error).message}`,
      );
    }
  },

  // "GitLab can stream a single event more than once": same id, same created_at. The time is part of the
  // key so that two instances (or a reset sequence) reusing a small id are not taken for one event.
  deliveryId(_headers, body) {
    const b = obj(body);
    const id = idStr(b?.id);
    return id ? `${id}@${str(b?.created_at) ?? ''}` : undefined;
  },

  toEvents(body, headers, receivedAt) {
    const p = obj(body);
    if (!p) throw new AdapterInputError('a GitLab audit event must be a JSON object');
    const eventType = str(p.event_type) ?? header(headers, 'x-gitlab-audit-event-type');
    if (!eventType) throw new AdapterInputError('a GitLab audit event must have an event_type');
    const details = obj(p.details) ?? {};
    const cls = classify(eventType, details);
    const delivery = gitlabAudit.deliveryId(headers, p);
    const gitAction = str(obj(details.custom_message)?.action);
    const custom = str(details.custom_message);
    const action = gitAction ? `${eventType}.${gitAction}` : eventType;
    const entityPath = str(p.entity_path) ?? str(details.entity_path);
    const entityType = str(p.entity_type);
    const authorClass = str(details.author_class);
    // A failed sign-in has no author (id -1): the name tried is the target.
    const actor =
      cls.kind === 'login.failure'
        ? (str(p.target_details) ?? str(details.target_details) ?? str(p.author_name))
        : (str(p.author_name) ?? str(details.author_name));
    const ip = str(p.ip_address) ?? str(details.ip_address);
    const created = str(p.created_at);
    const when =
      created && !Number.isNaN(Date.parse(created))
        ? new Date(created).toISOString()
        : receivedAt.toISOString();

    const pw: PipewardenEvent['pipewarden'] = {
      kind: cls.kind,
      source: 'gitlab-audit',
      raw: redactPayload(p),
    };
    if (delivery) pw.delivery_id = delivery;
    if (entityPath && entityType === 'Project') pw.repository = entityPath;
    const to = str(details.to);
    if (details.change === 'visibility' && to) pw.visibility = to.toLowerCase();
    const change = changeOf(details);
    if (change) pw.change = change;
    // CVE-2023-7028: a password reset asked for several addresses ("Ask for password reset", target_details
    // a JSON array of emails).
    else if (custom === 'Ask for password reset') {
      const n = emailsIn(str(p.target_details) ?? str(details.target_details));
      if (n !== undefined) pw.change = { field: 'password reset emails', to: String(n) };
    }
    // Protected-branch events name the branch (or wildcard) as their target.
    const targetType = str(p.target_type) ?? str(details.target_type);
    const branch = str(p.target_details) ?? str(details.target_details);
    if (targetType === 'ProtectedBranch' && branch) pw.branch = branch;
    const target = cls.kind === 'permission.change' ? targetOf(p, details) : undefined;

    const outcome =
      cls.kind === 'login.failure' ? 'failure' : cls.kind === 'login.success' ? 'success' : 'unknown';
    const event = makeEvent({
      at: when,
      message: `${actor ?? 'someone'}${authorClass && authorClass !== 'User' ? ` (${authorClass})` : ''} ${
        custom ?? action.replace(/[._]/g, ' ')
      }${entityPath ? ` on ${entityPath}` : ''}${ip ? ` from ${ip}` : ''}`,
      id: eventId('gitlab-audit', delivery ?? JSON.stringify(p)),
      category: [cls.category],
      type: [cls.type],
      action,
      outcome,
      dataset: 'gitlab.audit',
      provider: 'gitlab',
      receivedAt,
      pipewarden: pw,
    });
    if (actor || target) {
      const id = actor ? idStr(p.author_id) : undefined;
      event.user = {
        ...(actor ? { name: actor } : {}),
        ...(id && Number(id) > 0 ? { id } : {}),
        ...(actor && authorClass ? { type: authorClass } : {}),
        ...(target ? { target } : {}),
      };
    }
    if (ip) event.source = { ip };
    const top = entityPath?.split('/')[0];
    if (top) event.organization = { name: top };
    return { events: [event] };
  },
};
