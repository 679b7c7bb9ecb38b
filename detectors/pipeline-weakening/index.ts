// Changes that take a safeguard out of the pipeline: branch protection or rulesets removed or
// overridden, 2FA or SSO requirements dropped, secret scanning or push protection disabled or bypassed,
// a new enterprise owner, deploy keys and self-hosted runners added, IP allow lists disabled, default
// workflow permissions changed. Deleted webhooks and audit streams belong to telemetry-loss.
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

interface Weakening {
  what: string;
  severity: Severity;
}

const hi = (what: string): Weakening => ({ what, severity: 'high' });
const med = (what: string): Weakening => ({ what, severity: 'medium' });
const crit = (what: string): Weakening => ({ what, severity: 'critical' });

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
  // New enterprise owners (organisation role changes need the new role, which events do not carry yet)
  add_admin: hi('added an enterprise owner'), // business.add_admin
  invite_admin: med('invited an enterprise owner'), // business.invite_admin
  update_member: med('changed a member’s role (possibly to owner or admin)'), // org. / repo.update_member
  // Keys and runners: new ways in that bypass a user
  'deploy_key.created': med('added a deploy key'),
  register_self_hosted_runner: med('registered a self-hosted runner'),
  ci_runner_registered: med('registered a CI runner'), // GitLab audit event type
  // Network restrictions
  'ip_allow_list.disable': hi('disabled the IP allow list'),
  'ip_allow_list.disable_for_installed_apps': med('disabled the IP allow list for installed apps'),
  'ip_allow_list_entry.destroy': med('removed an IP allow list entry'),
  // Actions token permissions (the direction is not in the event yet: read → write is the weakening)
  set_default_workflow_permissions: med('changed the default GITHUB_TOKEN workflow permissions'),
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

export const pipelineWeakening: Detector<Config> = {
  id: 'pipeline-weakening',
  title: 'Pipeline safeguard weakened',
  severity: 'high',
  description:
    'A change removed or bypassed a safeguard of the delivery pipeline: branch protection or a ruleset deleted or overridden, 2FA or SSO requirement disabled, secret scanning or push protection disabled or bypassed, a new owner, a deploy key or self-hosted runner added, an IP allow list disabled, workflow token permissions changed.',
  runbook: 'detectors/pipeline-weakening/README.md#runbook',
  reference:
    'https://docs.github.com/en/organizations/keeping-your-organization-secure/managing-security-settings-for-your-organization/audit-log-events-for-your-organization',
  configSchema,
  dedupMs: 0,

  appliesTo(event, config) {
    return (
      KINDS.has(event.pipewarden.kind) &&
      lookup(event) !== undefined &&
      !config.ignoreActions.includes(unscoped(event.event.action)) &&
      !config.ignoreActors.includes(event.user?.name ?? '') &&
      !config.ignoreRepositories.includes(event.pipewarden.repository ?? '')
    );
  },

  key(event) {
    return event.pipewarden.repository ?? event.organization?.name ?? 'global';
  },

  match(event) {
    const w = lookup(event);
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
        ...(event.source?.ip ? { source_ip: event.source.ip } : {}),
      },
    };
  },
};
