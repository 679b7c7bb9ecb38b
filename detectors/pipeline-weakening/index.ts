// Changes that take a safeguard out of the pipeline: branch protection or rulesets removed or
// overridden, 2FA or SSO requirements dropped, secret scanning or push protection disabled or bypassed,
// a new owner, admin or maintainer (role changes judged on the new role, see `assess`), deploy keys and
// self-hosted runners added, IP allow lists disabled, default workflow permissions moved to write.
// Deleted webhooks and audit streams belong to telemetry-loss.
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import type { Detector } from '../../src/detect/types.ts';
import type { EventKind, PipewardenEvent } from '../../src/event.ts';
import { table } from '../../src/util/table.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Actors whose changes are expected (e.g. an infrastructure-as-code bot). Matched exactly. */
    ignoreActors: z.array(z.string().min(1)).default([]),
    /** Repositories (owner/name) excluded, e.g. sandboxes. Matched exactly. */
    ignoreRepositories: z.array(z.string().min(1)).default([]),
    /** Normalised actions (as in the table, scope prefix removed) not to report, e.g. "register_self_hosted_runner". */
    ignoreActions: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

interface Finding {
  what: string;
  severity: Severity;
  /** Role rows: whom the role went to, the role and the one it replaced (for the hit's context). */
  target?: string;
  role?: string;
  from?: string;
}

interface Weakening extends Finding {
  /**
   * A membership row, judged on the role the event gives `user.target` (see `assessRole`): "change" rows
   * keep `what` / `severity` when the event does not carry the new role; "add" rows are silent then.
   */
  membership?: 'change' | 'add';
  /** A setting row: fires only when `pipewarden.change` moves `field` to one of `risky`, or when unknown. */
  setting?: { field: string; risky: ReadonlySet<string>; whatTo: (to: string) => string };
}

const hi = (what: string): Weakening => ({ what, severity: 'high' });
const med = (what: string): Weakening => ({ what, severity: 'medium' });
const crit = (what: string): Weakening => ({ what, severity: 'critical' });
const roleChange = (what: string): Weakening => ({ what, severity: 'medium', membership: 'change' });
const memberAdd: Weakening = { what: 'added a member', severity: 'medium', membership: 'add' };

/**
 * One table of action suffixes, scope-agnostic: the key is the normalised `event.action` with its scope
 * prefix removed (see `unscoped`), so `org.register_self_hosted_runner`,
 * `enterprise.register_self_hosted_runner` and `repo.register_self_hosted_runner` all hit one row, and
 * `business_secret_scanning.disable` and `repository_secret_scanning.disable` hit `secret_scanning.disable`.
 * GitHub webhook names (`branch_protection_rule.deleted`) and audit-log names (`protected_branch.destroy`)
 * sit side by side.
 */
export const WEAKENINGS = table<Weakening>({
  // Branch protection and rulesets
  'branch_protection_rule.deleted': hi('deleted a branch protection rule'),
  'branch_protection_configuration.disabled': hi('disabled branch protection'),
  'protected_branch.destroy': hi('deleted a branch protection rule'),
  'protected_branch.policy_override': hi('overrode a branch protection requirement'),
  'ruleset.deleted': hi('deleted a ruleset'), // webhook repository_ruleset.deleted
  'ruleset.destroy': hi('deleted a ruleset'), // audit repository_ruleset.destroy, org ruleset
  // 2FA and SSO requirements
  disable_two_factor_requirement: crit('disabled the two-factor authentication requirement'),
  disable_saml: crit('disabled SAML single sign-on'),
  disable_oidc: crit('disabled OIDC single sign-on'),
  disable_oauth_app_restrictions: hi('disabled OAuth app access restrictions'),
  // Secret scanning, push protection, vulnerability alerts
  'secret_scanning.disable': hi('disabled secret scanning'),
  'secret_scanning_new_repos.disable': med('disabled secret scanning for new repositories'),
  'secret_scanning_push_protection.disable': hi('disabled secret scanning push protection'),
  'secret_scanning_push_protection_new_repos.disable': med('disabled push protection for new repositories'),
  'secret_scanning_push_protection.bypass': hi(
    'bypassed secret scanning push protection (pushed a detected secret)',
  ),
  'vulnerability_alerts.disable': med('disabled vulnerability (Dependabot) alerts'),
  'dependabot_alerts.disable': med('disabled Dependabot alerts'),
  // New enterprise owners
  add_admin: hi('added an enterprise owner'), // business.add_admin
  invite_admin: med('invited an enterprise owner'), // business.invite_admin
  // Role changes and members added with a role, judged on the new role (assessRole). The text and
  // severity here are for a change whose event does not carry the new role.
  update_member: roleChange('changed a member’s role (possibly to owner or admin)'), // audit org. / repo.
  add_member: memberAdd, // audit org.add_member (`permission`); repo.add_member carries no role
  'member.added': memberAdd, // webhook: repository collaborator added (changes.role_name / permission)
  'member.edited': roleChange('changed a collaborator’s permission (possibly to admin)'), // webhook
  'organization.member_added': memberAdd, // webhook: membership.role
  user_add_to_group: memberAdd, // GitLab system / member hook: group_access
  user_update_for_group: roleChange('changed a group member’s role'),
  user_add_to_team: memberAdd, // GitLab system hook, project member: access_level
  user_update_for_team: roleChange('changed a project member’s role'),
  member_created: memberAdd, // GitLab audit event: details.as
  member_updated: roleChange('changed a member’s access level'), // GitLab audit: details.change/from/to
  'audit.security.user.created': memberAdd, // Nexus: a user created with its roles (nx-admin)
  // Keys and runners: new ways in that bypass a user
  'deploy_key.created': med('added a deploy key'),
  register_self_hosted_runner: med('registered a self-hosted runner'),
  ci_runner_registered: med('registered a CI runner'), // GitLab audit event type
  // Network restrictions
  'ip_allow_list.disable': hi('disabled the IP allow list'),
  'ip_allow_list.disable_for_installed_apps': med('disabled the IP allow list for installed apps'),
  'ip_allow_list_entry.destroy': med('removed an IP allow list entry'),
  // Actions token permissions: read → write is the weakening. GitHub's audit entries document no
  // before/after for it, so it fires unless an event's pipewarden.change says it moved to read.
  set_default_workflow_permissions: {
    ...med('changed the default GITHUB_TOKEN workflow permissions'),
    setting: {
      field: 'default_workflow_permissions',
      risky: new Set(['write']),
      whatTo: (to) => `set the default GITHUB_TOKEN workflow permissions to ${to}`,
    },
  },
  set_actions_can_approve_pull_requests: med('let GitHub Actions approve pull requests'),
});

// A leading scope: "repo." / "org." / "enterprise." / "business." (audit log), or the same words glued to
// the category with "_" ("business_secret_scanning", "repository_ruleset", "org_secret_scanning").
const SCOPE = /^(?:repo|repository|org|organization|enterprise|business)[._]/;

/** The action without its scope prefix: the key of WEAKENINGS. */
export function unscoped(action: string): string {
  return action.replace(SCOPE, '');
}

// Kinds the adapters give these actions (push-protection bypasses are security alerts in the audit log;
// "other" because an adapter may not classify a new scope yet, e.g. business_secret_scanning_*).
const KINDS: ReadonlySet<EventKind> = new Set([
  'config.change',
  'permission.change',
  'security.alert',
  'other',
]);

function lookup(event: PipewardenEvent): Weakening | undefined {
  return WEAKENINGS[event.event.action] ?? WEAKENINGS[unscoped(event.event.action)];
}

/**
 * Elevated roles by rank, lower-case vendor names: GitHub's repository `maintain` / `admin` and
 * organisation `admin`, GitLab's `maintainer` / `owner` (access levels 40 / 50), Nexus's built-in
 * `nx-admin`. Anything not listed (read, triage, write, member, guest, reporter, developer, custom roles)
 * is not an elevation. A table: the keys come from payloads.
 */
const ELEVATED = table<number>({
  maintain: 40,
  maintainer: 40,
  admin: 50,
  owner: 50,
  'nx-admin': 50,
});
const rank = (role: string | undefined): number => (role ? (ELEVATED[role.toLowerCase()] ?? 0) : 0);

/**
 * A membership row against the new role: `pipewarden.change.to`, else the highest-ranked of
 * `user.target.roles`. Unknown → the row's own finding ("change" rows) or nothing ("add" rows). Known:
 * reported only if elevated and higher than the role it replaced (so owner → maintainer, admin → admin
 * with a new expiry date, or anything → write are not). Organisation scope (no repository: an org,
 * enterprise, group or instance role) is high; a repository or project role is medium.
 */
function assessRole(event: PipewardenEvent, w: Weakening): Finding | undefined {
  const change = event.pipewarden.change;
  const target = event.user?.target;
  const roles = change?.to ? [change.to] : (target?.roles ?? []);
  if (roles.length === 0) return w.membership === 'change' ? w : undefined;
  const role = roles.reduce((best, r) => (rank(r) > rank(best) ? r : best));
  if (rank(role) === 0 || rank(role) <= rank(change?.from)) return undefined;
  const from = change?.from;
  const who = target?.name ?? target?.id ?? 'a member';
  const org = event.pipewarden.repository === undefined;
  return {
    what:
      w.membership === 'add'
        ? `added ${who} as ${role}`
        : `granted ${role} to ${who}${from ? ` (was ${from})` : ''}`,
    severity: org ? 'high' : 'medium',
    target: who,
    role,
    ...(from ? { from } : {}),
  };
}

/** A setting row: the direction when the event carries it, else the row as it stands. */
function assessSetting(event: PipewardenEvent, w: Weakening): Finding | undefined {
  const s = w.setting!;
  const change = event.pipewarden.change;
  if (change?.field !== s.field || change.to === undefined) return w;
  const to = change.to.toLowerCase();
  if (!s.risky.has(to) || change.from?.toLowerCase() === to) return undefined;
  return { what: s.whatTo(to), severity: 'high', ...(change.from ? { from: change.from } : {}) };
}

/** What the event is found to be, or undefined when it is not (or not in this direction) a weakening. */
function assess(event: PipewardenEvent): Finding | undefined {
  const w = lookup(event);
  if (!w) return undefined;
  if (w.membership) return assessRole(event, w);
  if (w.setting) return assessSetting(event, w);
  return w;
}

export const pipelineWeakening: Detector<Config> = {
  id: 'pipeline-weakening',
  title: 'Pipeline safeguard weakened',
  severity: 'high',
  description:
    'A change removed or bypassed a safeguard of the delivery pipeline: branch protection or a ruleset deleted or overridden, 2FA or SSO requirement disabled, secret scanning or push protection disabled or bypassed, a new owner, admin or maintainer, a deploy key or self-hosted runner added, an IP allow list disabled, workflow token permissions raised to write.',
  runbook: 'detectors/pipeline-weakening/README.md#runbook',
  reference:
    'https://docs.github.com/en/organizations/keeping-your-organization-secure/managing-security-settings-for-your-organization/audit-log-events-for-your-organization',
  configSchema,
  dedupMs: 0,

  appliesTo(event, config) {
    return (
      KINDS.has(event.pipewarden.kind) &&
      assess(event) !== undefined &&
      !config.ignoreActions.includes(unscoped(event.event.action)) &&
      !config.ignoreActors.includes(event.user?.name ?? '') &&
      !config.ignoreRepositories.includes(event.pipewarden.repository ?? '')
    );
  },

  key(event) {
    return event.pipewarden.repository ?? event.organization?.name ?? 'global';
  },

  match(event) {
    const w = assess(event);
    if (!w) return null;
    const where = event.pipewarden.repository ?? event.organization?.name ?? 'an unknown scope';
    const branch = event.pipewarden.branch ? ` (branch ${event.pipewarden.branch})` : '';
    return {
      summary: `${event.user?.name ?? 'An unknown actor'} ${w.what} on ${where}${branch}`,
      severity: w.severity,
      context: {
        action: event.event.action,
        provider: event.event.provider,
        dataset: event.event.dataset,
        scope: where,
        ...(w.target ? { target: w.target } : {}),
        ...(w.role ? { role: w.role } : {}),
        ...(w.from ? { from: w.from } : {}),
        ...(event.source?.ip ? { source_ip: event.source.ip } : {}),
      },
    };
  },
};
