// One GitHub audit-log entry (streamed or polled; same shape) → one normalised event.
import { type EventKind, eventId, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { idStr, type Json, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';

export const obj = (v: unknown): Json | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;

interface Classification {
  kind: EventKind;
  category: string;
}

type WithToken = PipewardenEvent['pipewarden'];

// Action → kind, first match wins. Names per GitHub's "Audit log events" reference.
const RULES: Array<[RegExp, Classification]> = [
  [
    /(^|\.)failed_login$|^user\.two_factor_(challenge|recovery)_failure$/,
    { kind: 'login.failure', category: 'authentication' },
  ],
  [/^user\.login$/, { kind: 'login.success', category: 'authentication' }],
  [/^user\.logout$/, { kind: 'logout', category: 'authentication' }],
  // A push refused by branch protection.
  [/^protected_branch\.rejected_ref_update$/, { kind: 'access.denied', category: 'configuration' }],
  [/^git\.push$/, { kind: 'code.push', category: 'configuration' }],
  [
    /^workflows\.(approve|reject)_workflow_job$|^environment\.(approve|reject)/,
    { kind: 'deploy', category: 'process' },
  ],
  [/^workflows\./, { kind: 'build', category: 'process' }],
  [
    /^secret_scanning_push_protection\.bypass$|^secret_scanning_alert\.|^repository_vulnerability_alert\.|^dependabot_alerts?\.(create|reopen)/,
    { kind: 'security.alert', category: 'vulnerability' },
  ],
  [
    /^(team|integration_installation|integration_installation_request|oauth_application|oauth_authorization|oauth_access|personal_access_token|public_key|deploy_key|org_credential_authorization|business_member|role|org\.(add|remove|invite|update|cancel_invitation|reinstate|block|unblock)_|org\.oauth_app_access|org\.(add|remove)_billing_manager|repo\.(add|remove|update)_member|business\.(add|remove|invite)_)/,
    { kind: 'permission.change', category: 'iam' },
  ],
  [
    /^(repo|org|business|enterprise|protected_branch|hook|audit_log_streaming|environment|ip_allow_list|actions|codespaces|pages|packages|migration|repository_ruleset)\.|^(repository_|secret_scanning|dependabot|org_secret_scanning)/,
    { kind: 'config.change', category: 'configuration' },
  ],
  // Enterprise and organisation security features: `business_advanced_security.disabled`,
  // `business_secret_scanning_push_protection.disable`, `org_secret_scanning_custom_pattern.delete`,
  // `dependency_graph.disable`, `code_scanning…`, `private_repository_forking.enable`, `ip_allow_list_entry.create`.
  [
    /^(business|enterprise|org|organization)_[a-z_]+\.|^(dependency_graph|code_scanning|advanced_security|private_repository_forking|ip_allow_list_entry|required_status_check|ssh_certificate_(authority|requirement)|vulnerability_alert_rule)[a-z_]*\./,
    { kind: 'config.change', category: 'configuration' },
  ],
];

function classify(action: string, entry: Json): Classification {
  if (action === 'api.request') {
    // Streamed API requests (opt-in): refusals are the signal, the rest is audit trail.
    const status = typeof entry.status_code === 'number' ? entry.status_code : 0;
    return status === 401 || status === 403
      ? { kind: 'access.denied', category: 'web' }
      : { kind: 'other', category: 'web' };
  }
  for (const [re, cls] of RULES) if (re.test(action)) return cls;
  return { kind: 'other', category: 'web' };
}

function typeOf(action: string, entry: Json): string {
  const op = str(entry.operation_type);
  if (op === 'create') return 'creation';
  if (op === 'remove') return 'deletion';
  if (op === 'access') return 'access';
  const verb = action.slice(action.indexOf('.') + 1);
  if (/^(create|add|invite)/.test(verb)) return 'creation';
  if (/^(destroy|delete|remove)/.test(verb)) return 'deletion';
  if (/login|logout/.test(verb)) return 'start';
  return 'change';
}

/** Epoch milliseconds (GitHub's format) or an ISO string → ISO string. */
function epochMs(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0 && v < 1e14) return new Date(v).toISOString();
  if (typeof v === 'string' && v !== '') {
    const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (Number.isFinite(t) && t > 0 && t < 1e14) return new Date(t).toISOString();
  }
  return undefined;
}

interface RoleFields {
  field: string; // the name pipewarden.change.field carries
  to: string[]; // entry keys holding the new role, first present wins
  from?: string[]; // entry keys holding the old one (updates only)
}

/**
 * Membership actions whose entries carry the role they set, with the keys GitHub's "Audit log events"
 * reference lists for them: `org.update_member` (`permission`, `old_permission`), `org.add_member`
 * (`permission`), `repo.update_member` (`new_repo_permission`, `old_repo_permission`, and the base roles
 * `new_repo_base_role`, `old_repo_base_role` behind a custom role). Other membership actions
 * (`repo.add_member`, `team.add_member`, `business.add_admin`, `org.invite_member`) document no role.
 */
const ROLE_FIELDS = table<RoleFields>({
  'org.update_member': { field: 'permission', to: ['permission'], from: ['old_permission'] },
  'org.add_member': { field: 'permission', to: ['permission'] },
  'repo.update_member': {
    field: 'repo_permission',
    to: ['new_repo_permission', 'new_repo_base_role'],
    from: ['old_repo_permission', 'old_repo_base_role'],
  },
  // A team's access to a repository (the team is the target: `team`): granted, or its level changed.
  'team.add_repository': { field: 'permission', to: ['permission'] },
  'team.update_repository_permission': {
    field: 'permission',
    to: ['permission', 'new_permission'],
    from: ['old_permission', 'permission_was'],
  },
});

const firstLower = (entry: Json, keys: string[] | undefined): string | undefined => {
  for (const k of keys ?? []) {
    const v = str(entry[k]);
    if (v) return v.toLowerCase();
  }
  return undefined;
};

/** The account a permission change was applied to (`user`, `user_id`: "the user affected") and its role. */
function roleChange(
  action: string,
  entry: Json,
): { target?: NonNullable<NonNullable<PipewardenEvent['user']>['target']>; change?: WithToken['change'] } {
  const fields = ROLE_FIELDS[action];
  const team = action.startsWith('team.') && fields ? str(entry.team) : undefined;
  const name = team ?? str(entry.user);
  const id = team ? undefined : idStr(entry.user_id);
  const to = fields ? firstLower(entry, fields.to) : undefined;
  const from = fields ? firstLower(entry, fields.from) : undefined;
  const target =
    name || id || to
      ? { ...(name ? { name } : {}), ...(id ? { id } : {}), ...(to ? { roles: [to] } : {}) }
      : undefined;
  const change =
    fields?.from && (from || to)
      ? { field: fields.field, ...(from ? { from } : {}), ...(to ? { to } : {}) }
      : undefined;
  return { ...(target ? { target } : {}), ...(change ? { change } : {}) };
}

const scalar = (v: unknown): string | undefined =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
    ? String(v).toLowerCase()
    : undefined;

/**
 * The setting a non-membership entry moved, where the entry documents it: a branch protection update
 * (`protected_branch.update_allow_force_pushes_enforcement_level` carries `allow_force_pushes_enforcement_level`,
 * `protected_branch.update_admin_enforced` carries `admin_enforced`, …: the field named after the action),
 * a visibility change (`repo.access`: `visibility`, `previous_visibility`), the scopes a new token or OAuth
 * authorisation was granted (`scopes`).
 */
function settingChange(action: string, entry: Json): WithToken['change'] | undefined {
  const pb = /^protected_branch\.(?:update_)?([a-z_]+)$/.exec(action);
  if (pb) {
    const to = scalar(entry[pb[1]!]);
    return to === undefined ? undefined : { field: pb[1]!, to };
  }
  if (/^(?:repo|repository)\.access$/.test(action)) {
    const to = scalar(entry.visibility);
    const from = scalar(entry.previous_visibility);
    return to || from ? { field: 'visibility', ...(from ? { from } : {}), ...(to ? { to } : {}) } : undefined;
  }
  // The base permission every organisation member has on every repository (GraphQL
  // OrgUpdateDefaultRepositoryPermissionAuditEntry: permission, permissionWas).
  if (/^(?:org|business)\.update_default_repository_permission$/.test(action)) {
    const to = scalar(entry.permission);
    const from = scalar(entry.old_permission) ?? scalar(entry.permission_was);
    return to || from
      ? { field: 'default_repository_permission', ...(from ? { from } : {}), ...(to ? { to } : {}) }
      : undefined;
  }
  const scopes = Array.isArray(entry.scopes)
    ? entry.scopes.filter((x): x is string => typeof x === 'string').join(',')
    : scalar(entry.scopes);
  if (scopes && /^(oauth_access|oauth_authorization|personal_access_token)\./.test(action))
    return { field: 'scopes', to: scopes.toLowerCase() };
  return undefined;
}

export interface AuditContext {
  source: string;
  dataset: string;
  /** Fallback time (HEC envelope `time`, in seconds) when the entry has neither @timestamp nor created_at. */
  envelopeTime?: unknown;
}

export function auditEventToPipewarden(input: unknown, receivedAt: Date, ctx: AuditContext): PipewardenEvent {
  const entry = obj(input);
  if (!entry) throw new AdapterInputError('a GitHub audit-log entry must be a JSON object');
  const action = str(entry.action);
  if (!action) throw new AdapterInputError('a GitHub audit-log entry must have an "action"');
  const cls = classify(action, entry);
  const docId = str(entry._document_id);
  const actor = str(entry.actor);
  const repository = str(entry.repo) ?? str(entry.repository);
  const org = str(entry.org) ?? str(entry.business) ?? str(entry.enterprise);
  const data = obj(entry.data);
  const envelope =
    typeof ctx.envelopeTime === 'number'
      ? epochMs(Math.round(ctx.envelopeTime * 1000))
      : epochMs(ctx.envelopeTime);
  const when =
    epochMs(entry['@timestamp']) ?? epochMs(entry.created_at) ?? envelope ?? receivedAt.toISOString();

  const pw: WithToken = { kind: cls.kind, source: ctx.source, raw: redactPayload(entry) };
  if (docId) pw.delivery_id = docId;
  if (repository) pw.repository = repository;
  const branch =
    str(entry.branch) ??
    str(data?.head_branch) ??
    str(data?.branch) ??
    (action.startsWith('protected_branch.') ? str(entry.name) : undefined);
  if (branch) pw.branch = branch.replace(/^refs\/(heads|tags)\//, '');
  const environment = str(entry.environment_name) ?? str(data?.environment_name);
  if (environment) pw.environment = environment;
  const run = idStr(data?.workflow_run_id) ?? idStr(entry.workflow_run_id);
  if (run) pw.pipeline = run;
  const commit = str(data?.head_sha) ?? str(entry.head_sha);
  if (commit) pw.commit = commit;
  const visibility =
    str(entry.visibility) ??
    (typeof entry.public_repo === 'boolean' ? (entry.public_repo ? 'public' : 'private') : undefined);
  if (visibility) pw.visibility = visibility;
  const hashed = str(entry.hashed_token);
  if (hashed) {
    pw.token = {
      hashed,
      ...(idStr(entry.token_id) ? { id: idStr(entry.token_id) } : {}),
      ...(str(entry.token_scopes) ? { scopes: str(entry.token_scopes) } : {}),
      ...(str(entry.programmatic_access_type) ? { type: str(entry.programmatic_access_type) } : {}),
    };
  }

  const target = str(entry.user);
  const member = cls.kind === 'permission.change' ? roleChange(action, entry) : {};
  if (member.change) pw.change = member.change;
  else {
    const moved = settingChange(action, entry);
    if (moved) pw.change = moved;
  }
  const where = repository ?? org;
  const outcome =
    cls.kind === 'login.failure' || cls.kind === 'access.denied'
      ? 'failure'
      : cls.kind === 'login.success'
        ? 'success'
        : 'unknown';
  const event = makeEvent({
    at: when,
    message: `${actor ?? 'someone'} ${action}${target ? ` (user ${target})` : ''}${where ? ` on ${where}` : ''}`,
    id: eventId('github-audit', docId ?? JSON.stringify(entry)),
    category: [cls.category],
    type: [typeOf(action, entry)],
    action,
    outcome,
    dataset: ctx.dataset,
    provider: 'github',
    receivedAt,
    pipewarden: pw,
  });
  if (actor || member.target) {
    event.user = {
      ...(actor ? { name: actor } : {}),
      ...(idStr(entry.actor_id) ? { id: idStr(entry.actor_id) } : {}),
      ...(entry.actor_is_bot === true ? { type: 'Bot' } : {}),
      ...(member.target ? { target: member.target } : {}),
    };
  }
  const ip = str(entry.actor_ip);
  if (ip) event.source = { ip };
  const ua = str(entry.user_agent);
  if (ua) event.user_agent = { original: ua };
  if (org) event.organization = { name: org };
  // A webhook's target (hook.create / hook.config_changed carry `config.url`): where the data goes.
  const hookUrl = action.startsWith('hook.') ? str(obj(entry.config)?.url) : undefined;
  const route = hookUrl ?? str(entry.route) ?? str(entry.url);
  if (route) event.url = { original: route };
  return event;
}
