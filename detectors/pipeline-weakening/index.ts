// Changes that take a safeguard out of the pipeline: branch protection or rulesets removed or
// overridden, 2FA or SSO requirements dropped, secret scanning or push protection disabled or bypassed,
// a new owner, admin or maintainer (role changes judged on the new role, see `assess`), deploy keys and
// self-hosted runners added, IP allow lists disabled, default workflow permissions moved to write; for
// GitLab (audit event streaming) also force pushes allowed, code-owner and merge request approval
// requirements loosened, push rules, protected CI/CD variables and environments relaxed. Settings are
// judged by their direction when the event carries it (see `assessSetting`).
// Deleted webhooks and audit streams belong to telemetry-loss; visibility changes to anonymous-access.
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import type { Detector } from '../../src/detect/types.ts';
import type { EventKind, PipewardenEvent } from '../../src/event.ts';
import { table } from '../../src/util/table.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Actors whose changes are expected (e.g. an infrastructure-as-code bot). Matched exactly. */
    ignoreActors: z.array(z.string().min(1)).default([]),
    /** Repositories (owner/name) excluded, e.g. sandboxes. Matched exactly. */
    ignoreRepositories: z.array(z.string().min(1)).default([]),
    /** Normalised actions (as in the table, scope prefix removed) not to report, e.g. "register_self_hosted_runner". */
    ignoreActions: z.array(z.string().min(1)).default([]),
    /**
     * Domains webhooks may send to (a host equal to one, or under it: `example.com` allows
     * `ci.example.com`). Empty: every new webhook is reported at medium; set: only those outside, at high.
     */
    allowedWebhookDomains: z.array(z.string().min(1)).default([]),
    /** Token scopes that make a new token or OAuth authorisation an administrative one (high). */
    adminScopes: z
      .array(z.string().min(1))
      .default([
        'admin:org',
        'admin:enterprise',
        'admin:repo_hook',
        'admin:org_hook',
        'admin:public_key',
        'admin:gpg_key',
        'delete_repo',
        'site_admin',
        'workflow',
      ]),
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

/**
 * One setting a row judges by its direction: `pipewarden.change` names the field and the values before
 * and after. Reported only when `risky` says the move (to, from) loosens the safeguard.
 */
interface Setting {
  /** `pipewarden.change.field` values this setting goes by (a vendor may write one setting several ways). */
  fields: readonly string[];
  /** Whether moving the field to `to` (lower case; `from` when the event carries it) weakens it. */
  risky: (to: string, from: string | undefined) => boolean;
  whatTo: (to: string, field: string) => string;
  /** The severity when the event says it moved the risky way; high unless given. */
  severity?: Severity;
}

interface Weakening extends Finding {
  /**
   * A membership row, judged on the role the event gives `user.target` (see `assessRole`): "change" rows
   * keep `what` / `severity` when the event does not carry the new role; "add" rows are silent then.
   */
  membership?: 'change' | 'add' | 'grant'; // grant: worded as a change, silent like "add" when unknown
  /**
   * A setting row (see `assessSetting`): fires only when `pipewarden.change` moves one of these settings
   * the risky way; when the event does not say (no change, another field, no `to`), fires as the row says.
   */
  settings?: readonly Setting[];
  /**
   * For event types that carry many settings (GitLab `application_setting_updated`, a SAML provider
   * update): only the listed settings, moved the risky way, are reported; anything else is not.
   */
  only?: boolean;
  /** Only when the event names a repository (GitHub's `public_key.create` is a deploy key then, else a user's SSH key). */
  repositoryOnly?: boolean;
  /** Not when the entry records the setting's first creation (audit `operation_type: create`). */
  notOnCreate?: boolean;
  /** Judged by the webhook target against `allowedWebhookDomains` (see `assessWebhook`). */
  webhook?: boolean;
  /** Judged by the scopes granted against `adminScopes` (see `assessScopes`). */
  scopes?: 'judge' | 'admin-only';
}

const hi = (what: string): Weakening => ({ what, severity: 'high' });
const med = (what: string): Weakening => ({ what, severity: 'medium' });
const crit = (what: string): Weakening => ({ what, severity: 'critical' });
const roleChange = (what: string): Weakening => ({ what, severity: 'medium', membership: 'change' });
const memberAdd: Weakening = { what: 'added a member', severity: 'medium', membership: 'add' };

/** GitHub's organisation base permission levels by breadth (a table: the values come from payloads). */
const BASE_PERMISSION = table<number>({ none: 0, read: 1, write: 2, admin: 3 });

/** A setting row: the row's own finding stands when the event does not say which way the setting moved. */
const setting = (w: Weakening, ...settings: Setting[]): Weakening => ({ ...w, settings });
/** A row for an event type that carries many settings: only these, moved the risky way, are reported. */
const only = (...settings: Setting[]): Weakening => ({
  what: 'changed a setting',
  severity: 'medium',
  settings,
  only: true,
});
const list = (field: string | readonly string[]): readonly string[] =>
  typeof field === 'string' ? [field] : field;
/** A safeguard switched off: GitLab writes the values as true / false (or "enabled" / "disabled"). */
const off = (field: string | readonly string[], what: string, severity: Severity = 'high'): Setting => ({
  fields: list(field),
  risky: (to) => to === 'false' || to === 'disabled',
  whatTo: () => what,
  severity,
});
/** A loophole switched on (force push allowed, skipped pipelines count as passed). */
const on = (field: string, what: string, severity: Severity = 'high'): Setting => ({
  fields: [field],
  risky: (to) => to === 'true' || to === 'enabled',
  whatTo: () => what,
  severity,
});
/** A GitHub branch-protection enforcement level ("off" / 0, "non_admins" / 1, "everyone" / 2) that
 * switches a requirement off when it moves to off. */
const levelOff = (field: string, what: string, severity: Severity = 'high'): Setting => ({
  fields: [field],
  risky: (to) => to === '0' || to === 'off' || to === 'false',
  whatTo: () => what,
  severity,
});
/** A loophole level (force pushes, deletions): anything but off opens it. */
const levelOn = (field: string, what: string, severity: Severity = 'high'): Setting => ({
  fields: [field],
  risky: (to) => to !== '0' && to !== 'off' && to !== 'false',
  whatTo: () => what,
  severity,
});
/** A GitHub branch-protection update row (`protected_branch.update_<field>`), judged by direction. */
const branchRule = (what: string, s: Setting): Weakening => setting(hi(what), s);
/** A security feature disabled (GitHub's repository / organisation / enterprise / new-repository forms). */
const featureOff = (what: string, severity: Severity = 'high'): Weakening => ({ what, severity });

/** A GitLab merge request approval setting's project and group event types; the group row says "(group)". */
const approvalSetting = (
  project: string,
  group: string,
  what: string,
  s: Setting,
): Record<string, Weakening> => ({
  [project]: setting(med(what), s),
  [group]: setting(med(`${what} (group)`), s),
});
/** A GitLab push rule's `group_push_rules_<rule>_updated` and `project_push_rules_<rule>_updated` rows. */
function pushRule(rule: string, field: string, checks: string, stopped: string): Record<string, Weakening> {
  const row = (scope: string) =>
    setting(
      med(`changed the ${scope}push rule that ${checks}`),
      off(field, `${stopped} (${scope}push rule)`, 'medium'),
    );
  return {
    [`group_push_rules_${rule}_updated`]: row('group '),
    [`project_push_rules_${rule}_updated`]: row(''),
  };
}
/** A GitLab CI/CD variable update (`which`: "a CI/CD variable", "a group …"): unprotected or unmasked. */
const ciVariable = (which: string): Weakening =>
  only(
    off('variable protection', `unprotected ${which} (unprotected branches can now read it)`, 'medium'),
    off('variable masking', `unmasked ${which}`, 'medium'),
  );

/**
 * GitLab protected-branch access levels by breadth, as `ProtectedRefAccess` names them ("No one",
 * "Instance admins", "Maintainers", "Developers + Maintainers"); any other entry is a user, group or deploy
 * key allowed by name. The adapter joins the before / after lists with ", " (lower case).
 */
const BRANCH_ACCESS = table<number>({
  'no one': 0,
  'instance admins': 1,
  maintainers: 2,
  'developers + maintainers': 3,
});
/** Whether the new access list lets in someone the old one did not: a broader role, or a new name. */
function widens(to: string, from: string | undefined): boolean {
  if (from === undefined) return true;
  const entries = (s: string) => s.split(', ').filter((x) => x !== '');
  const before = entries(from);
  const after = entries(to);
  const breadth = (l: string[]) => Math.max(0, ...l.map((x) => BRANCH_ACCESS[x] ?? 0));
  return (
    breadth(after) > breadth(before) ||
    after.some((x) => BRANCH_ACCESS[x] === undefined && !before.includes(x))
  );
}
/** Fewer required approvals than before (or none, when the event does not say what it was). */
function fewer(to: string, from: string | undefined): boolean {
  return from === undefined ? Number(to) === 0 : Number(to) < Number(from);
}

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
  // GitHub audit: the base permission every organisation member has on every repository, raised to write
  // or admin (org. / business.update_default_repository_permission: `permission`, `old_permission`).
  update_default_repository_permission: setting(
    med('changed the base repository permission of every organisation member'),
    {
      fields: ['default_repository_permission'],
      risky: (to, from) =>
        (BASE_PERMISSION[to] ?? 0) >= 2 && (BASE_PERMISSION[to] ?? 0) > (BASE_PERMISSION[from ?? ''] ?? 0),
      whatTo: (to) => `raised the base repository permission of every organisation member to ${to}`,
    },
  ),
  // GitHub audit: a team given access to a repository, or its level changed; judged on the new level
  // (maintain / admin elevate), the team as the target.
  'team.add_repository': {
    what: 'gave a team access to a repository',
    severity: 'medium',
    membership: 'add',
  },
  'team.update_repository_permission': roleChange(
    'changed a team’s repository permission (possibly to admin)',
  ),
  // The same from the `team` webhook: added_to_repository, and edited with `changes.repository.permissions`
  // (silent when the level is unknown: most team edits are names and descriptions).
  'team.added_to_repository': {
    what: 'gave a team access to a repository',
    severity: 'medium',
    membership: 'add',
  },
  'team.edited': { what: 'changed a team', severity: 'medium', membership: 'grant' },
  // GitHub audit (enterprise, GHES): a user switched off two-factor authentication for their own account.
  'two_factor_authentication.disabled': med('switched off two-factor authentication for their account'),
  // GitHub audit: a team member made a team maintainer (can change the team's members and repository access).
  'team.promote_maintainer': med('promoted a team member to team maintainer'),
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
  // GitLab audit: a user made instance administrator or auditor (ee/lib/audit/user_changes_auditor.rb:
  // change "admin status" / "auditor status", from false to true). Unknown direction: as the row says.
  user_admin_status_updated: setting(hi('changed a user’s instance administrator status'), {
    fields: ['admin status'],
    risky: (to) => to === 'true',
    whatTo: () => 'made a user an instance administrator',
    severity: 'critical',
  }),
  // The same in audit_json.log (gitlab-logs): `change` "admin status" / "auditor status".
  'change.admin_status': setting(hi('changed a user’s instance administrator status'), {
    fields: ['admin status'],
    risky: (to) => to === 'true',
    whatTo: () => 'made a user an instance administrator',
    severity: 'critical',
  }),
  user_auditor_status_updated: setting(med('changed a user’s instance auditor status (reads everything)'), {
    fields: ['auditor status'],
    risky: (to) => to === 'true',
    whatTo: () => 'made a user an instance auditor (read access to every group and project)',
    severity: 'medium',
  }),
  // Keys and runners: new ways in that bypass a user
  'deploy_key.created': med('added a deploy key'),
  register_self_hosted_runner: med('registered a self-hosted runner'),
  ci_runner_registered: med('registered a CI runner'), // GitLab audit event type
  // Network restrictions
  'ip_allow_list.disable': hi('disabled the IP allow list'),
  'ip_allow_list.disable_for_installed_apps': med('disabled the IP allow list for installed apps'),
  // Adding or changing an allow list entry widens who may connect; removing one tightens (not reported).
  'ip_allow_list_entry.create': med('added an IP allow list entry (widens who may connect)'),
  'ip_allow_list_entry.update': med('changed an IP allow list entry'),
  // Actions token permissions: read → write is the weakening. GitHub's audit entries document no
  // before/after for it, so it fires unless an event's pipewarden.change says it moved to read, or the
  // entry records the setting's creation (`operation_type: create`, event.type creation).
  set_default_workflow_permissions: {
    ...setting(med('changed the default GITHUB_TOKEN workflow permissions'), {
      fields: ['default_workflow_permissions'],
      risky: (to) => to === 'write',
      whatTo: (to) => `set the default GITHUB_TOKEN workflow permissions to ${to}`,
    }),
    notOnCreate: true,
  },
  set_workflow_permission_can_approve_pr: {
    ...med('let GitHub Actions approve pull requests'),
    notOnCreate: true,
  },
  // ---- GitHub: security features switched off, every scope (repo., org., business_, repository_, new repos)
  'advanced_security.disabled': featureOff('disabled GitHub Advanced Security', 'critical'), // business_advanced_security.disabled
  'advanced_security.disabled_for_new_repos': featureOff(
    'disabled GitHub Advanced Security for new repositories',
  ),
  advanced_security_disabled: featureOff('disabled GitHub Advanced Security', 'critical'), // repo.advanced_security_disabled
  advanced_security_disabled_on_all_repos: featureOff(
    'disabled GitHub Advanced Security on all repositories',
    'critical',
  ),
  advanced_security_disabled_for_new_repos: featureOff(
    'disabled GitHub Advanced Security for new repositories',
  ),
  advanced_security_policy_selected_member_disabled: featureOff(
    'prevented GitHub Advanced Security from being enabled',
  ),
  'advanced_security.disable': featureOff('disabled GitHub Advanced Security', 'critical'),
  'secret_scanning.disabled_for_new_repos': med('disabled secret scanning for new repositories'),
  secret_scanning_disabled_for_new_repos: med('disabled secret scanning for new repositories'),
  'secret_scanning_push_protection.disabled_for_new_repos': med(
    'disabled push protection for new repositories',
  ),
  secret_scanning_push_protection_disable: hi('disabled secret scanning push protection'), // org.secret_scanning_push_protection_disable
  secret_scanning_push_protection_disabled_for_new_repos: med(
    'disabled push protection for new repositories',
  ),
  'secret_scanning_push_protection_custom_message.disable': med(
    'disabled the push protection custom message',
  ),
  'secret_scanning_custom_pattern.delete': med('deleted a secret scanning custom pattern'),
  'secret_scanning_custom_pattern_push_protection.disabled': hi(
    'disabled push protection for a custom secret pattern',
  ),
  secret_scanning_custom_pattern_push_protection_disabled: hi(
    'disabled push protection for a custom secret pattern',
  ),
  'secret_scanning_non_provider_patterns.disabled': med('disabled secret scanning for non-provider patterns'),
  'secret_scanning_validity_checks.disabled': med('disabled secret scanning validity checks'),
  'dependabot_alerts_new_repos.disable': med('disabled Dependabot alerts for new repositories'),
  'dependabot_security_updates.disable': hi('disabled Dependabot security updates'),
  'dependabot_security_updates_new_repos.disable': med(
    'disabled Dependabot security updates for new repositories',
  ),
  'vulnerability_alerts_auto_dismissal.disable': med(
    'disabled automatic dismissal of low-impact Dependabot alerts',
  ),
  'dependency_graph.disable': hi('disabled the dependency graph'),
  'dependency_graph_new_repos.disable': med('disabled the dependency graph for new repositories'),
  'code_scanning.disable': hi('disabled code scanning'),
  'code_scanning_default_setup.disable': hi('disabled code scanning default setup'),
  'code_scanning_default_setup.disabled': hi('disabled code scanning default setup'),
  code_scanning_default_setup_disabled: hi('disabled code scanning default setup'),
  'code_scanning_default_setup_new_repos.disable': med(
    'disabled code scanning default setup for new repositories',
  ),
  'vulnerability_alert_rule.disable': med('disabled a Dependabot alert rule'),
  'vulnerability_alert_rule.force_disable': med('disabled a Dependabot alert rule'),
  'members_can_update_protected_branches.disable': med('changed who may update branch protection rules'),
  // ---- SAML / SSO / SSH CA under every name GitHub has used (org. and business. forms)
  saml_disabled: crit('disabled SAML single sign-on'),
  disable_saml_sso: crit('disabled SAML single sign-on'),
  'saml_provider.destroy': crit('removed the SAML identity provider'),
  'ssh_certificate_requirement.disable': hi('dropped the SSH certificate requirement'),
  'ssh_certificate_authority.destroy': med('deleted an SSH certificate authority'),
  // ---- GitHub branch protection updates (audit protected_branch.update_*; webhook
  // branch_protection_rule.edited with `changes`): judged by the documented enforcement level / flag.
  'protected_branch.update_allow_force_pushes_enforcement_level': branchRule(
    'changed whether force pushes are allowed on a protected branch',
    levelOn('allow_force_pushes_enforcement_level', 'allowed force pushes to a protected branch'),
  ),
  'protected_branch.update_allow_deletions_enforcement_level': branchRule(
    'changed whether a protected branch may be deleted',
    levelOn('allow_deletions_enforcement_level', 'allowed a protected branch to be deleted'),
  ),
  'protected_branch.update_pull_request_reviews_enforcement_level': branchRule(
    'changed the required pull request reviews of a protected branch',
    levelOff(
      'pull_request_reviews_enforcement_level',
      'stopped requiring pull request reviews on a protected branch',
    ),
  ),
  'protected_branch.update_required_status_checks_enforcement_level': branchRule(
    'changed the required status checks of a protected branch',
    levelOff(
      'required_status_checks_enforcement_level',
      'stopped requiring status checks on a protected branch',
    ),
  ),
  'protected_branch.update_admin_enforced': branchRule(
    'changed whether branch protection applies to administrators',
    levelOff('admin_enforced', 'exempted administrators from branch protection'),
  ),
  'protected_branch.update_linear_history_requirement_enforcement_level': branchRule(
    'changed the linear history requirement of a protected branch',
    levelOff(
      'linear_history_requirement_enforcement_level',
      'dropped the linear history requirement of a protected branch',
      'medium',
    ),
  ),
  'protected_branch.update_signature_requirement_enforcement_level': branchRule(
    'changed the signed commits requirement of a protected branch',
    levelOff(
      'signature_requirement_enforcement_level',
      'stopped requiring signed commits on a protected branch',
    ),
  ),
  'protected_branch.update_require_code_owner_review': branchRule(
    'changed the code owner review requirement of a protected branch',
    levelOff('require_code_owner_review', 'stopped requiring code owner review on a protected branch'),
  ),
  'protected_branch.update_require_last_push_approval': branchRule(
    'changed whether the last push needs approval on a protected branch',
    levelOff('require_last_push_approval', 'stopped requiring approval of the most recent push', 'medium'),
  ),
  'protected_branch.update_required_approving_review_count': setting(
    med('changed the number of required approving reviews of a protected branch'),
    {
      fields: ['required_approving_review_count'],
      risky: fewer,
      whatTo: (to) => `lowered the required approving reviews of a protected branch to ${to}`,
    },
  ),
  'protected_branch.dismiss_stale_reviews': setting(
    med('changed whether new pushes dismiss stale reviews'),
    levelOff(
      'dismiss_stale_reviews',
      'kept approvals when new commits are pushed to a protected branch',
      'medium',
    ),
  ),
  'protected_branch.update_ignore_approvals_from_contributors': med(
    'changed whether contributors’ approvals count on a protected branch',
  ),
  'protected_branch.authorized_users_teams': med('changed who may push to a protected branch'),
  'protected_branch.branch_allowances': med('changed who may bypass a protected branch'),
  'protected_branch.required_status_override': hi(
    'overrode the required status checks of a protected branch',
  ),
  'protected_branch.review_policy_override': hi('overrode the required reviews of a protected branch'),
  'protected_branch.review_policy_and_required_status_override': hi(
    'overrode the required reviews and status checks of a protected branch',
  ),
  'required_status_check.destroy': med('removed a required status check'),
  'ruleset.update': med('changed a ruleset'),
  'branch_protection_rule.edited': setting(
    med('changed a branch protection rule'),
    levelOn('allow_force_pushes_enforcement_level', 'allowed force pushes to a protected branch'),
    levelOn('allow_deletions_enforcement_level', 'allowed a protected branch to be deleted'),
    levelOff(
      'pull_request_reviews_enforcement_level',
      'stopped requiring pull request reviews on a protected branch',
    ),
    levelOff(
      'required_status_checks_enforcement_level',
      'stopped requiring status checks on a protected branch',
    ),
    levelOff('admin_enforced', 'exempted administrators from branch protection'),
    levelOff(
      'linear_history_requirement_enforcement_level',
      'dropped the linear history requirement of a protected branch',
      'medium',
    ),
    levelOff(
      'signature_requirement_enforcement_level',
      'stopped requiring signed commits on a protected branch',
    ),
    levelOff('require_code_owner_review', 'stopped requiring code owner review on a protected branch'),
    levelOff('dismiss_stale_reviews_on_push', 'kept approvals when new commits are pushed', 'medium'),
    {
      fields: ['required_approving_review_count'],
      risky: fewer,
      whatTo: (to) => `lowered the required approving reviews to ${to}`,
      severity: 'medium',
    },
  ),
  // ---- GitHub environments (deployment gates)
  'environment.delete': hi('deleted a deployment environment'),
  'environment.remove_protection_rule': hi('removed a protection rule from a deployment environment'),
  'environment.update_protection_rule': med('changed a protection rule of a deployment environment'),
  // ---- Ways in that bypass users: apps, OAuth apps, tokens, keys, webhooks, transfers
  'public_key.create': { ...med('added a deploy key'), repositoryOnly: true }, // audit: a deploy key when it names a repository
  'integration_installation.create': med('installed a GitHub App'),
  'integration_installation.repositories_added': med('gave a GitHub App access to more repositories'),
  'integration_installation.version_updated': med('accepted new permissions for a GitHub App'),
  'installation.created': med('installed a GitHub App'), // webhook
  'installation.new_permissions_accepted': med('accepted new permissions for a GitHub App'), // webhook
  'installation_repositories.added': med('gave a GitHub App access to more repositories'), // webhook
  'oauth_authorization.create': { ...med('authorised an OAuth app'), scopes: 'judge' },
  'oauth_application.create': med('created an OAuth app'),
  oauth_app_access_approved: med('approved an OAuth app’s access to the organisation'),
  'personal_access_token.access_granted': {
    ...med('granted a personal access token access'),
    scopes: 'judge',
  },
  'personal_access_token.request_created': {
    ...med('requested personal access token access'),
    scopes: 'judge',
  },
  'oauth_access.create': { ...med('created an access token'), scopes: 'admin-only' },
  'hook.create': { ...med('created a webhook'), webhook: true },
  'hook.config_changed': { ...med('changed where a webhook sends data'), webhook: true },
  transfer: hi('transferred a repository'), // repo.transfer (audit)
  transfer_outgoing: hi('transferred a repository out of the organisation'), // repo.transfer_outgoing
  transfer_start: med('started transferring a repository'), // repo.transfer_start
  'repository.transferred': hi('transferred a repository'), // webhook
  // Runner groups decide which repositories may use self-hosted runners (Sigma's runner-changes rule).
  runner_group_created: med('created a self-hosted runner group'),
  runner_group_updated: med('changed a self-hosted runner group (which repositories may use it)'),
  runner_group_runners_added: med('added runners to a self-hosted runner group'),
  runner_group_runners_updated: med('changed the runners of a self-hosted runner group'),
  // SSO settings changed, referrer policy override disabled (enterprise).
  update_saml_provider_settings: med('changed the SAML single sign-on provider settings'),
  referrer_override_disable: med('disabled the referrer policy override'),
  // New Actions / Codespaces / environment secrets: credentials placed where workflows can read them.
  create_actions_secret: { what: 'created an Actions secret', severity: 'low' },
  'environment.create_actions_secret': { what: 'created an environment Actions secret', severity: 'low' },
  'codespaces.create_an_org_secret': { what: 'created a Codespaces organisation secret', severity: 'low' },
  // Repositories deleted: code, history and its audit trail gone (audit repo.destroy, webhook repository.deleted).
  'repo.destroy': hi('deleted a repository'),
  'repository.deleted': hi('deleted a repository'),
  // Webhook security_and_analysis: the feature that moved (adapter), reported when it moved to disabled.
  security_and_analysis: only(
    off('advanced_security', 'disabled GitHub Advanced Security', 'critical'),
    off('secret_scanning', 'disabled secret scanning'),
    off('secret_scanning_push_protection', 'disabled secret scanning push protection'),
    off(
      'secret_scanning_non_provider_patterns',
      'disabled secret scanning for non-provider patterns',
      'medium',
    ),
    off('secret_scanning_validity_checks', 'disabled secret scanning validity checks', 'medium'),
    off('dependabot_security_updates', 'disabled Dependabot security updates'),
    off('code_security', 'disabled GitHub Code Security', 'critical'),
    off('secret_protection', 'disabled GitHub Secret Protection', 'critical'),
  ),
  'ruleset.edited': med('changed a ruleset'), // webhook repository_ruleset.edited
  'personal_access_token_request.approved': med('approved a fine-grained personal access token request'),
  // Outside collaborators: someone outside the organisation given repository access.
  add_outside_collaborator: med('added an outside collaborator'),
  set_actions_can_approve_pull_requests: med('let GitHub Actions approve pull requests'),
  // Fork pull request workflows (PPE, CICD-SEC-4): running them, sending them write tokens or secrets, and
  // who needs approval first (business. / org. / repo. forms).
  set_fork_pr_workflows_policy: med(
    'changed the policy for workflows from fork pull requests (may run them with write tokens or secrets)',
  ),
  set_actions_fork_pr_approvals_policy: med(
    'changed which fork pull requests need approval before their workflows run',
  ),
  // GitLab audit event streaming: `event.action` is the GitLab audit event type. Every name below is on
  // GitLab's "Audit event types" page (doc/user/compliance/audit_event_types.md in gitlab-org/gitlab,
  // docs.gitlab.com/ee/user/compliance/audit_event_types.html); the `details` each one carries (change /
  // from / to, or only custom_message) are from the auditor named beside it (gitlab-org/gitlab paths).
  // Branch protection: ee/lib/audit/protected_branches_changes_auditor.rb (change "allow force push",
  // "code owner approval required", from / to booleans; protected_branch_updated: change "allowed to push" /
  // "allowed to merge", from / to lists of access levels).
  protected_branch_removed: hi('removed the protection of a branch'),
  protected_branch_updated: setting(med('changed who may push to or merge into a protected branch'), {
    fields: ['allowed to push', 'allowed to merge'],
    risky: widens,
    whatTo: (to, field) => `widened “${field}” on a protected branch to ${to}`,
  }),
  protected_branch_allow_force_push_updated: setting(
    hi('changed whether force pushes are allowed on a protected branch'),
    on('allow force push', 'allowed force pushes to a protected branch'),
  ),
  protected_branch_code_owner_approval_required_updated: setting(
    hi('changed the code owner approval requirement of a protected branch'),
    off(
      'code owner approval required',
      'removed the code owner approval requirement from a protected branch',
    ),
  ),
  // Approval rules: ee/app/services/approval_rules/project_rule_destroy_service.rb (custom_message only);
  // update_service.rb (change "number of required approvals", from / to). Other rule edits are not judged.
  approval_rule_deleted: hi('deleted a merge request approval rule'),
  update_approval_rules: only({
    fields: ['number of required approvals'],
    risky: fewer,
    whatTo: (to) => `lowered the number of required approvals of an approval rule to ${to}`,
  }),
  // Merge request approval settings, project (ee/lib/audit/project_changes_auditor.rb) and group
  // (ee/lib/audit/group_merge_request_approval_setting_changes_auditor.rb with
  // GroupMergeRequestApprovalSetting::AUDIT_LOG_ALLOWLIST): change is the UI wording, from / to its value
  // (GitLab negates the allow_* columns to match), so false is the weakening.
  ...approvalSetting(
    'project_merge_requests_author_approval_updated',
    'allow_author_approval_updated',
    'changed whether merge request authors may approve their own merge requests',
    off(
      'prevent merge request approval from authors',
      'let merge request authors approve their own merge requests',
    ),
  ),
  ...approvalSetting(
    'project_merge_requests_disable_committers_approval_updated',
    'allow_committer_approval_updated',
    'changed whether committers may approve merge requests',
    off(
      'prevent merge request approval from committers',
      'let committers approve merge requests they added commits to',
    ),
  ),
  ...approvalSetting(
    'project_reset_approvals_on_push_updated',
    'retain_approvals_on_push_updated',
    'changed whether new commits reset merge request approvals',
    off(
      'require new approvals when new commits are added to an MR',
      'kept merge request approvals when new commits are pushed',
    ),
  ),
  ...approvalSetting(
    'project_disable_overriding_approvers_per_merge_request_updated',
    'allow_overrides_to_approver_list_per_merge_request_updated',
    'changed whether approval rules may be edited in merge requests',
    off(
      'prevent users from modifying MR approval rules in merge requests',
      'let users edit approval rules in merge requests',
    ),
  ),
  ...approvalSetting(
    'project_require_password_to_approve_updated',
    'require_password_to_approve_updated',
    'changed whether approving needs the user’s password',
    off('require user password for approvals', 'dropped the password requirement for approvals', 'medium'),
  ),
  // Project: ProjectSettingChangesAuditor (change "require_reauthentication_to_approve"); the group event's
  // wording is not confirmed, so a group event fires as the row says.
  require_reauthentication_to_approve_updated: setting(
    med('changed whether approving needs re-authentication'),
    off(
      'require_reauthentication_to_approve',
      'dropped the re-authentication requirement for approvals',
      'medium',
    ),
  ),
  // Pipeline gates: project_changes_auditor.rb, project_setting_changes_auditor.rb (change = column name).
  project_only_allow_merge_if_pipeline_succeeds_updated: setting(
    med('changed whether merging needs a successful pipeline'),
    off('only_allow_merge_if_pipeline_succeeds', 'allowed merging without a successful pipeline', 'medium'),
  ),
  allow_merge_on_skipped_pipeline_updated: setting(
    med('changed whether skipped pipelines count as successful'),
    on('allow_merge_on_skipped_pipeline', 'let merge requests with skipped pipelines merge', 'medium'),
  ),
  // 2FA and SSO: ee/lib/audit/group_changes_auditor.rb (change "require_two_factor_authentication");
  // ee/lib/audit/application_setting_changes_auditor.rb (one event per changed column, change = column
  // name); ee/app/services/group_saml/saml_provider/base_service.rb (custom_message only: "Group SAML SSO
  // configuration changed: enforced_sso changed from true to false. …", parsed by the adapter).
  group_require_two_factor_authentication_updated: setting(
    hi('changed the group two-factor authentication requirement'),
    off(
      'require_two_factor_authentication',
      'disabled the two-factor authentication requirement',
      'critical',
    ),
  ),
  application_setting_updated: only(
    off(
      'require_two_factor_authentication',
      'disabled the instance-wide two-factor authentication requirement',
      'critical',
    ),
    off(
      'require_admin_two_factor_authentication',
      'disabled the two-factor authentication requirement for administrators',
      'critical',
    ),
  ),
  group_saml_provider_update: only(
    off('enabled', 'disabled SAML single sign-on for the group', 'critical'),
    off('enforced_sso', 'stopped enforcing SAML single sign-on for the group', 'critical'),
    off('git_check_enforced', 'stopped enforcing SAML single sign-on for Git activity'),
  ),
  // Secret push protection: Security::Configuration::SetGroupSecretPushProtectionService and
  // SetProjectSecretPushProtectionService ("Secret push protection has been disabled …"), the project
  // security settings API ("updated `secret_push_protection_enabled` to false"),
  // Projects::ProjectSecuritySettingChangesAuditor ("Changed pre_receive_secret_detection_enabled from true
  // to false"): custom_message only, parsed by the adapter. project_security_setting_updated also carries
  // other settings (validity checks): only push protection is judged.
  // Gitlab::Checks::SecretPushProtection::AuditLogger: skip_secret_push_protection.
  group_secret_push_protection_updated: setting(
    med('changed secret push protection for a group and its projects'),
    off('secret push protection', 'disabled secret push protection for a group and its projects'),
  ),
  project_security_setting_updated: only(
    off(
      ['secret push protection', 'secret_push_protection_enabled', 'pre_receive_secret_detection_enabled'],
      'disabled secret push protection',
    ),
  ),
  skip_secret_push_protection: hi('skipped secret push protection on a push'),
  // Push rules: ee/lib/audit/push_rules/group_push_rules_changes_auditor.rb and
  // project_push_rules_changes_auditor.rb (change = PushRuleable::AUDIT_LOG_ALLOWLIST wording).
  ...pushRule(
    'prevent_secrets',
    'prevent pushing secret files',
    'rejects secret files',
    'stopped rejecting pushes of secret files',
  ),
  ...pushRule(
    'reject_unsigned_commits',
    'reject unsigned commits',
    'rejects unsigned commits',
    'stopped rejecting unsigned commits',
  ),
  ...pushRule(
    'commit_committer_check',
    'reject unverified users',
    'rejects unverified committers',
    'stopped rejecting commits from unverified users',
  ),
  ...pushRule(
    'reject_member_check',
    'check whether the commit author is a GitLab user',
    'checks commit authors',
    'stopped checking that commit authors are GitLab users',
  ),
  ...pushRule(
    'reject_deny_delete_tag',
    'do not allow users to remove Git tags with git push',
    'protects tags from deletion',
    'allowed Git tags to be deleted with git push',
  ),
  // CI/CD variables: ee/app/services/ci/audit_variable_change_service.rb (change "variable protection" /
  // "variable masking", from / to); other variable edits are not judged.
  ci_variable_updated: ciVariable('a CI/CD variable'),
  ci_group_variable_updated: ciVariable('a group CI/CD variable'),
  ci_instance_variable_updated: ciVariable('an instance CI/CD variable'),
  secure_ci_job_token_inbound_disabled: med(
    'disabled the CI/CD job token allowlist (any project’s job token may access it)',
  ),
  // New ways in without a user (ci_runner_registered is above).
  ci_runner_created: med('created a CI runner'),
  deploy_key_added: med('added a deploy key'),
  deploy_token_created: med('created a deploy token'),
  group_deploy_token_created: med('created a group deploy token'),
  // Environments, compliance, status checks and security policies (custom_message only).
  environment_unprotected: hi('unprotected an environment'),
  protected_environment_approval_rule_deleted: hi(
    'removed a deployment approval rule from a protected environment',
  ),
  compliance_framework_removed: med('removed a compliance framework from a project'),
  // The same unassignment under its older name (14.1): ee/lib/audit/compliance_framework_changes_auditor.rb.
  compliance_framework_deleted: med('removed a compliance framework from a project'),
  destroy_compliance_framework: med('deleted a compliance framework'),
  delete_status_check: med('deleted an external status check'),
  security_policy_delete: med('deleted a security policy'),
});

// A leading scope: "repo." / "org." / "enterprise." / "business." (audit log), or the same words glued to
// the category with "_" ("business_secret_scanning", "repository_ruleset", "org_secret_scanning").
const SCOPE = /^(?:repo|repository|org|organization|enterprise|business)[._]/;

/** The action without its scope prefix: the key of WEAKENINGS. */
export function unscoped(action: string): string {
  return action.replace(SCOPE, '');
}

// Kinds the adapters give these actions (push-protection bypasses are security alerts in GitHub's audit log
// and GitLab's skip_secret_push_protection;
// "other" because an adapter may not classify a new scope yet, e.g. business_secret_scanning_*).
const KINDS: ReadonlySet<EventKind> = new Set([
  'config.change',
  'permission.change',
  'security.alert',
  'other',
]);

// Any other GitHub security feature switched off, in names the table does not list yet (GitHub adds scopes
// and forms often): a feature word, then `.disable` / `.disabled` / `_disabled…` (e.g.
// `org.code_scanning_default_setup_disabled_for_new_repos`, `business_code_security.disabled`).
const FEATURE_OFF =
  /^(?:[a-z_]*_)?(?:secret_scanning|secret_protection|advanced_security|code_security|dependabot|dependency_graph|code_scanning|push_protection|vulnerability_alerts?)[a-z_]*[._]disabled?(?:_[a-z_]+)?$/;

function lookup(event: PipewardenEvent): Weakening | undefined {
  const action = event.event.action;
  const bare = unscoped(action);
  const row = WEAKENINGS[action] ?? WEAKENINGS[bare];
  if (row) return row;
  if (action.length <= 200 && FEATURE_OFF.test(bare))
    return /new_repos/.test(bare)
      ? med(`switched off a security feature for new repositories (${bare})`)
      : hi(`switched off a security feature (${bare})`);
  return undefined;
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
  const from = change?.from;
  const role = roles.reduce((best, r) => (rank(r) > rank(best) ? r : best));
  if (rank(role) === 0 || rank(role) <= rank(from)) return undefined;
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

/**
 * A setting row: the direction when the event carries it. The setting `pipewarden.change` names, moved the
 * risky way → its own finding; another way, or not moved → nothing. No change, another field or no `to`:
 * the row as it stands, unless the row is `only` (then nothing).
 */
function assessSetting(event: PipewardenEvent, w: Weakening): Finding | undefined {
  const change = event.pipewarden.change;
  const s = change ? w.settings?.find((x) => x.fields.includes(change.field)) : undefined;
  if (!change || !s || change.to === undefined) return w.only ? undefined : w;
  const to = change.to.toLowerCase();
  const from = change.from?.toLowerCase();
  if (from === to || !s.risky(to, from)) return undefined;
  return {
    what: s.whatTo(to, change.field),
    severity: s.severity ?? 'high',
    ...(change.from ? { from: change.from } : {}),
  };
}

/** A webhook's target host against the allowed domains: outside → high, inside → nothing. */
function assessWebhook(event: PipewardenEvent, w: Weakening, config: Config): Finding | undefined {
  let host: string | undefined;
  try {
    host = event.url?.original ? new URL(event.url.original).hostname.toLowerCase() : undefined;
  } catch {
    host = undefined;
  }
  if (!host || config.allowedWebhookDomains.length === 0)
    return host ? { ...w, what: `${w.what} sending to ${host}` } : w;
  const allowed = config.allowedWebhookDomains.some((d) => {
    const dom = d.toLowerCase().replace(/^\*?\./, '');
    return host === dom || host.endsWith(`.${dom}`);
  });
  return allowed
    ? undefined
    : { what: `${w.what} sending to ${host}, outside the allowed domains`, severity: 'high' };
}

/** A new token's scopes (`pipewarden.change` field "scopes"): administrative → high; none → nothing. */
function assessScopes(event: PipewardenEvent, w: Weakening, config: Config): Finding | undefined {
  const change = event.pipewarden.change;
  const granted =
    change?.field === 'scopes' && change.to ? change.to.split(/[,\s]+/).filter(Boolean) : undefined;
  if (!granted) return w.scopes === 'admin-only' ? undefined : w;
  const admin = granted.filter((g) => config.adminScopes.includes(g));
  if (admin.length === 0) return undefined;
  return { what: `${w.what} with administrative scopes (${admin.join(', ')})`, severity: 'high' };
}

/** What the event is found to be, or undefined when it is not (or not in this direction) a weakening. */
function assess(event: PipewardenEvent, config: Config): Finding | undefined {
  const w = lookup(event);
  if (!w) return undefined;
  if (w.repositoryOnly && !event.pipewarden.repository) return undefined;
  if (w.notOnCreate && event.event.type.includes('creation')) return undefined;
  if (w.webhook) return assessWebhook(event, w, config);
  if (w.scopes) return assessScopes(event, w, config);
  if (w.membership) return assessRole(event, w);
  if (w.settings) return assessSetting(event, w);
  return w;
}

export const pipelineWeakening: Detector<Config> = {
  id: 'pipeline-weakening',
  title: 'Pipeline safeguard weakened',
  severity: 'high',
  description:
    'A change removed or bypassed a safeguard of the delivery pipeline: branch protection or a ruleset deleted, overridden or loosened (force push allowed, code owner approval dropped), merge request approval requirements loosened, 2FA or SSO requirement disabled, secret scanning or push protection disabled or bypassed, a new owner, admin or maintainer, a deploy key, deploy token or self-hosted runner added, an IP allow list disabled, workflow token permissions raised to write.',
  runbook: 'detectors/pipeline-weakening/README.md#runbook',
  reference:
    'https://docs.github.com/en/organizations/keeping-your-organization-secure/managing-security-settings-for-your-organization/audit-log-events-for-your-organization',
  configSchema,
  // A getter: the rows are built from GROUPS, declared below the detector.
  get coverage() {
    return coverage;
  },
  dedupMs: 0,

  appliesTo(event, config) {
    return (
      KINDS.has(event.pipewarden.kind) &&
      assess(event, config) !== undefined &&
      !config.ignoreActions.includes(unscoped(event.event.action)) &&
      !config.ignoreActors.includes(event.user?.name ?? '') &&
      !config.ignoreRepositories.includes(event.pipewarden.repository ?? '')
    );
  },

  key(event) {
    return event.pipewarden.repository ?? event.organization?.name ?? 'global';
  },

  match(event, { config }) {
    const w = assess(event, config);
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

/**
 * The detector's coverage rows: each WEAKENINGS entry belongs to the first group whose pattern matches its
 * key (a test fails when an entry matches none), and each group declares its OWASP risks and sources.
 */
export const GROUPS: Array<CoverageRow & { keys: RegExp }> = [
  {
    row: 'environments',
    what: 'deployment environments deleted, unprotected or their approval rules removed',
    owasp: ['CICD-SEC-1'],
    sources: ['github-audit', 'gitlab-audit'],
    keys: /environment/,
  },
  {
    row: 'branch-protection',
    what: 'branch protection and rulesets deleted, overridden or loosened (force pushes, reviews, status checks, admins, signatures, linear history)',
    owasp: ['CICD-SEC-1'],
    sources: ['github', 'github-audit', 'gitlab-audit'],
    keys: /branch_protection|protected_branch|ruleset|required_status_check|members_can_update_protected_branches/,
  },
  {
    row: 'push-rules',
    what: 'GitLab push rules loosened (secret files, unsigned commits, unverified authors, tag deletion)',
    owasp: ['CICD-SEC-1'],
    sources: ['gitlab-audit'],
    keys: /push_rules/,
  },
  {
    row: 'auth-requirements',
    what: '2FA, SAML/OIDC SSO, OAuth app restrictions, SSH certificate requirements disabled',
    owasp: ['CICD-SEC-2'],
    sources: ['github-audit', 'gitlab-audit'],
    keys: /two_factor|saml|oidc|oauth_app_restrictions|ssh_certificate|application_setting|referrer_override/,
  },
  {
    row: 'security-features',
    what: 'secret scanning, push protection, Advanced Security, Dependabot, dependency graph, code scanning switched off or bypassed (repository, organisation, enterprise, new repositories)',
    owasp: ['CICD-SEC-6', 'CICD-SEC-3'],
    sources: ['github', 'github-audit', 'gitlab-audit'],
    keys: /secret_scanning|secret_push_protection|advanced_security|dependabot|vulnerability_alert|dependency_graph|code_scanning|security_setting|security_and_analysis/,
  },
  {
    row: 'workflow-token',
    what: 'default GITHUB_TOKEN permissions raised to write, Actions allowed to approve, fork pull request workflow and approval policies changed, CI job token allowlist off',
    owasp: ['CICD-SEC-5', 'CICD-SEC-4'],
    sources: ['github-audit', 'gitlab-audit'],
    keys: /workflow_permission|actions_can_approve|job_token|fork_pr/,
  },
  {
    row: 'non-human-access',
    what: 'deploy keys and tokens, GitHub Apps installed or granted permissions, OAuth apps authorised, PATs with admin scopes, outside collaborators',
    owasp: ['CICD-SEC-2', 'CICD-SEC-8'],
    sources: ['github', 'github-audit', 'gitlab-audit'],
    keys: /deploy_key|deploy_token|public_key|installation|oauth|personal_access_token|outside_collaborator/,
  },
  {
    row: 'merge-approvals',
    what: 'merge request approval rules and settings, pipeline gates, compliance frameworks, status checks, security policies loosened',
    owasp: ['CICD-SEC-1'],
    sources: ['github-audit', 'gitlab-audit'],
    keys: /approv|merge|pipeline|compliance_framework|status_check|security_policy/,
  },
  {
    row: 'elevated-roles',
    what: 'new owners, admins, maintainers (members added or promoted, by the new role)',
    owasp: ['CICD-SEC-2'],
    sources: ['github', 'github-audit', 'gitlab', 'gitlab-audit', 'nexus'],
    keys: /member|admin|promote|user_add|user_update|audit\.security\.user|default_repository_permission|team\.(?:add_repository|update_repository_permission|added_to_repository|edited)|auditor_status/,
  },
  {
    row: 'runners',
    what: 'self-hosted and CI runners registered or created',
    owasp: ['CICD-SEC-5', 'CICD-SEC-7'],
    sources: ['github-audit', 'gitlab-audit'],
    keys: /runner/,
  },
  {
    row: 'ci-variables',
    what: 'CI/CD variables (project, group, instance) unprotected or unmasked',
    owasp: ['CICD-SEC-6', 'CICD-SEC-7'],
    sources: ['gitlab-audit'],
    keys: /ci_.*variable/,
  },
  {
    row: 'network',
    what: 'IP allow list disabled, entries added or changed (widening)',
    owasp: ['CICD-SEC-7'],
    sources: ['github-audit'],
    keys: /ip_allow_list/,
  },
  {
    row: 'secrets-and-deletions',
    what: 'Actions, environment and Codespaces secrets created; repositories deleted',
    owasp: ['CICD-SEC-6', 'CICD-SEC-10'],
    sources: ['github', 'github-audit'],
    keys: /secret|destroy|deleted$/,
  },
  {
    row: 'egress',
    what: 'webhooks created or redirected outside the allowed domains, repositories transferred out',
    owasp: ['CICD-SEC-8', 'CICD-SEC-7'],
    sources: ['github', 'github-audit'],
    keys: /hook|transfer/,
  },
];

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = GROUPS.map(({ keys: _keys, ...row }) => row);

/** The group a WEAKENINGS key belongs to (first match), or undefined. */
export function groupOf(key: string): string | undefined {
  return GROUPS.find((g) => g.keys.test(key))?.row;
}
