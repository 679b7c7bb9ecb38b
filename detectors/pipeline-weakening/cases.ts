// Positive and negative examples for pipeline-weakening; real GitHub samples go through the real adapters
// (webhooks, and the audit-log normaliser that both the HEC stream and the REST poller use).
import { auditEventToPipewarden } from '../../ingest-adapters/github-audit/normalise.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { bodyEvents, fixtureBody, fixtureEvent, RECEIVED } from '../fixtures.ts';

const fromGithubFixture = (file: string) => fixtureEvent('github', file);

type Body = Record<string, unknown>;
const bodyOf = (adapterId: string, file: string) => fixtureBody(adapterId, file) as Body;

/** The one event a (varied) real body makes through the adapter. */
function one(adapterId: string, body: unknown, headers: Record<string, string> = {}): PipewardenEvent {
  const [e] = bodyEvents(adapterId, body, headers);
  if (!e) throw new Error(`${adapterId}: no event`);
  return e;
}

// GitHub `member` webhooks: the real octokit `member.added` body, its role fields varied as GitHub's
// payload reference defines them (changes.role_name.to, changes.permission.from/to, changes.old_permission).
const memberHook = (action: string, changes?: Body) =>
  one(
    'github',
    { ...bodyOf('github', 'member__added.with-installation.json'), action, ...(changes ? { changes } : {}) },
    { 'x-github-event': 'member' },
  );

// GitHub `team` webhooks: the real octokit `team.edited` body with the repository access GitHub's payload
// reference defines (`repository.permissions`, `changes.repository.permissions.from`).
const PERMS = (level: 'admin' | 'maintain' | 'push' | 'pull') => ({
  admin: level === 'admin',
  maintain: level === 'admin' || level === 'maintain',
  push: level !== 'pull',
  triage: level !== 'pull',
  pull: true,
});
function teamHook(
  action: string,
  level?: 'admin' | 'maintain' | 'push' | 'pull',
  before?: Body,
): PipewardenEvent {
  const b = structuredClone(bodyOf('github', 'team__edited.json')) as Record<string, any>;
  b.action = action;
  b.repository = { ...(b.repository ?? { full_name: 'Codertocat/Hello-World', name: 'Hello-World' }) };
  if (level) b.repository.permissions = PERMS(level);
  b.changes = before ? { repository: { permissions: { from: before } } } : {};
  return one('github', b, { 'x-github-event': 'team' });
}

// GitHub `organization.member_added`: the real body with membership.role varied.
function orgMemberAdded(role: string): PipewardenEvent {
  const body = bodyOf('github', 'organization__member_added.json');
  return one(
    'github',
    { ...body, membership: { ...(body.membership as Body), role } },
    { 'x-github-event': 'organization' },
  );
}

/** A real GitHub audit-log entry with its action and documented role fields varied. */
function auditVaried(file: string, extra: Body): PipewardenEvent {
  return auditEventToPipewarden({ ...bodyOf('github-audit', file), ...extra }, RECEIVED, {
    source: 'github-audit',
    dataset: 'github.audit',
  });
}

/** A real GitLab system hook with its role field varied. */
const gitlabHook = (file: string, extra: Body = {}) =>
  one('gitlab', { ...bodyOf('gitlab', file), ...extra }, { 'x-gitlab-event': 'System Hook' });

/**
 * GitLab's streamed audit example (project_group_link_create) turned into a `member_updated` event with
 * the details GitLab's Members::UpdateService writes: change "access_level", from, to, as.
 */
function gitlabMemberUpdated(from: string, to: string): PipewardenEvent {
  const body = bodyOf('gitlab-audit', 'project_group_link_create.json');
  const member = { target_id: 42, target_type: 'User', target_details: 'Eve Example' };
  return one('gitlab-audit', {
    ...body,
    ...member,
    event_type: 'member_updated',
    details: {
      ...(body.details as Body),
      ...member,
      custom_message: undefined,
      change: 'access_level',
      from,
      to,
      as: to,
    },
  });
}

/**
 * GitLab's streamed audit example (project_group_link_create) as another audit event type, with the
 * `details` GitLab's auditor writes for that type (the source is named beside each row of WEAKENINGS):
 * `details` replace the example's custom_message, `extra` its target or scope (top level and details).
 */
function gitlabAudit(eventType: string, details: Body = {}, extra: Body = {}): PipewardenEvent {
  const body = bodyOf('gitlab-audit', 'project_group_link_create.json');
  const { custom_message: _example, ...base } = body.details as Body;
  return one('gitlab-audit', {
    ...body,
    ...extra,
    event_type: eventType,
    details: { ...base, ...extra, ...details },
  });
}
const PROTECTED_MAIN = { target_id: 39, target_type: 'ProtectedBranch', target_details: 'main' };
const GROUP_SCOPE = { entity_type: 'Group', entity_path: 'example-group', target_type: 'Group' };
/** A protected-branch setting change as ProtectedBranchesChangesAuditor writes it. */
const branchChange = (eventType: string, change: string, from: unknown, to: unknown) =>
  gitlabAudit(eventType, { change, from, to }, PROTECTED_MAIN);
/** An `audit_changes` event (change / from / to) on the example project. */
const settingChange = (eventType: string, change: string, from: unknown, to: unknown, extra: Body = {}) =>
  gitlabAudit(eventType, { change, from, to }, extra);

/** Nexus's documented security.user audit event with its roles varied. */
function nexusUserCreated(roles: string): PipewardenEvent {
  const body = bodyOf('nexus', 'audit.json');
  const audit = body.audit as Body;
  return one('nexus', {
    ...body,
    audit: { ...audit, attributes: { ...(audit.attributes as Body), roles } },
  });
}

/**
 * `set_default_workflow_permissions` with a direction: GitHub's audit entries document no before/after
 * key for it, so no adapter fills pipewarden.change for it yet; the field is set on the normalised event
 * to pin down how the detector reads a direction once a source carries one.
 */
function workflowPermissions(from: string, to: string): PipewardenEvent {
  const e = audit('org.set_default_workflow_permissions');
  e.pipewarden.change = { field: 'default_workflow_permissions', from, to };
  return e;
}

function fromAuditFixture(file: string): PipewardenEvent {
  return auditEventToPipewarden(fixtureBody('github-audit', file), RECEIVED, {
    source: 'github-audit',
    dataset: 'github.audit',
  });
}

/** A GitHub audit-log entry (the documented shape) through the real normaliser. */
function audit(action: string, extra: Record<string, unknown> = {}): PipewardenEvent {
  return auditEventToPipewarden(
    {
      action,
      actor: 'mallory',
      actor_ip: '203.0.113.9',
      org: 'octo-org',
      created_at: 1717243200000,
      _document_id: `doc-${action}`,
      ...extra,
    },
    RECEIVED,
    { source: 'github-audit', dataset: 'github.audit' },
  );
}

export const cases: DetectorCase[] = [
  {
    name: 'branch protection rule deleted (real GitHub sample)',
    event: fromGithubFixture('branch_protection_rule__deleted.json'),
    expect: 1,
    summaryIncludes: 'deleted a branch protection rule',
  },
  {
    name: 'deploy key added (real GitHub sample)',
    event: fromGithubFixture('deploy_key__created.json'),
    expect: 1,
  },
  {
    name: 'vulnerability alerts disabled (real GitHub audit sample, repository_ prefix)',
    event: fromAuditFixture('repository_vulnerability_alerts.disable.json'),
    expect: 1,
    summaryIncludes: 'disabled vulnerability',
  },
  {
    name: 'webhook deleted is owned by telemetry-loss, not reported twice (real GitHub meta sample)',
    event: fromGithubFixture('meta__deleted.json'),
    expect: 0,
  },
  {
    name: 'branch protection rule created is not a weakening',
    event: fromGithubFixture('branch_protection_rule__created.1.json'),
    expect: 0,
  },
  {
    name: 'protected branch created is not a weakening (real GitHub audit sample)',
    event: fromAuditFixture('protected_branch.create.json'),
    expect: 0,
  },
  {
    name: 'a push refused by branch protection is the safeguard working (real GitHub audit sample)',
    event: fromAuditFixture('protected_branch.rejected_ref_update.json'),
    expect: 0,
  },
  {
    name: 'an audit stream configuration update is not a weakening here (real GitHub audit sample)',
    event: fromAuditFixture('audit_log_streaming.update.json'),
    expect: 0,
  },
  {
    name: 'an ordinary push is not a weakening',
    event: fromGithubFixture('push__default.json'),
    expect: 0,
  },
  {
    name: 'an ignored actor is not reported',
    event: fromGithubFixture('branch_protection_rule__deleted.json'),
    config: { ignoreActors: ['Codertocat'] },
    expect: 0,
  },
  {
    name: 'an ignored action is not reported',
    event: audit('org.register_self_hosted_runner'),
    config: { ignoreActions: ['register_self_hosted_runner'] },
    expect: 0,
  },
  {
    name: "audit team.promote_maintainer: a team maintainer can widen the team's repository access",
    event: audit('team.promote_maintainer', { team: 'octo-org/deployers', user: 'eve' }),
    expect: 1,
    summaryIncludes: 'mallory promoted a team member to team maintainer on octo-org',
  },
  {
    name: 'audit team.demote_maintainer is not a weakening',
    event: audit('team.demote_maintainer', { team: 'octo-org/deployers', user: 'eve' }),
    expect: 0,
  },
  {
    name: 'protected_branch.destroy',
    event: audit('protected_branch.destroy', { repo: 'octo-org/api' }),
    expect: 1,
  },
  {
    name: 'protected_branch.policy_override (admin pushed past the rules)',
    event: audit('protected_branch.policy_override', { repo: 'octo-org/api', branch: 'refs/heads/main' }),
    expect: 1,
    summaryIncludes: 'overrode a branch protection requirement on octo-org/api (branch main)',
  },
  {
    name: 'repository_ruleset.destroy',
    event: audit('repository_ruleset.destroy', { repo: 'octo-org/api' }),
    expect: 1,
  },
  {
    name: 'org.disable_two_factor_requirement',
    event: audit('org.disable_two_factor_requirement'),
    expect: 1,
    summaryIncludes: 'mallory disabled the two-factor authentication requirement on octo-org',
  },
  {
    name: 'business.disable_two_factor_requirement',
    event: audit('business.disable_two_factor_requirement'),
    expect: 1,
  },
  { name: 'org.disable_saml', event: audit('org.disable_saml'), expect: 1 },
  { name: 'business.disable_saml', event: audit('business.disable_saml', { business: 'acme' }), expect: 1 },
  {
    name: 'secret_scanning_push_protection.bypass',
    event: audit('secret_scanning_push_protection.bypass', { repo: 'octo-org/api' }),
    expect: 1,
    summaryIncludes: 'bypassed secret scanning push protection',
  },
  {
    name: 'repository_secret_scanning_push_protection.disable',
    event: audit('repository_secret_scanning_push_protection.disable', { repo: 'octo-org/api' }),
    expect: 1,
  },
  {
    name: 'business_secret_scanning_push_protection.disable',
    event: audit('business_secret_scanning_push_protection.disable', { business: 'acme' }),
    expect: 1,
  },
  {
    name: 'business.add_admin (new enterprise owner)',
    event: audit('business.add_admin', { business: 'acme' }),
    expect: 1,
  },
  {
    name: 'org.update_member without the new role: direction unknown, reported as before',
    event: audit('org.update_member', { user: 'eve' }),
    expect: 1,
    summaryIncludes: 'changed a member’s role (possibly to owner or admin)',
  },
  // Role changes, judged on the new role
  {
    name: 'org.update_member read → admin (real audit entry, documented permission fields): promotion',
    event: auditVaried('org.add_member.json', {
      action: 'org.update_member',
      permission: 'admin',
      old_permission: 'read',
    }),
    expect: 1,
    summaryIncludes: 'github-actor granted admin to github-user (was read) on Example-Org',
  },
  {
    name: 'org.update_member admin → read: a demotion is not reported',
    event: auditVaried('org.add_member.json', {
      action: 'org.update_member',
      permission: 'read',
      old_permission: 'admin',
    }),
    expect: 0,
  },
  {
    name: 'repo.update_member write → maintain (new_repo_permission): promotion on a repository',
    event: auditVaried('repo.add_member.json', {
      action: 'repo.update_member',
      new_repo_permission: 'maintain',
      old_repo_permission: 'write',
    }),
    expect: 1,
    summaryIncludes: 'granted maintain to github-user (was write) on Example-Org/repo-abc-123',
  },
  {
    name: 'repo.update_member read → write: not an elevation',
    event: auditVaried('repo.add_member.json', {
      action: 'repo.update_member',
      new_repo_permission: 'write',
      old_repo_permission: 'read',
    }),
    expect: 0,
  },
  {
    name: 'org.add_member as admin (real audit entry with its documented permission field)',
    event: auditVaried('org.add_member.json', { permission: 'admin' }),
    expect: 1,
    summaryIncludes: 'added github-user as admin on Example-Org',
  },
  {
    name: 'org.add_member as a plain member is not reported',
    event: auditVaried('org.add_member.json', { permission: 'read' }),
    expect: 0,
  },
  {
    name: 'org.add_member without a role (real audit sample) is not reported',
    event: fromAuditFixture('org.add_member.json'),
    expect: 0,
  },
  {
    name: 'member.edited write → admin (GitHub webhook, changes.permission): promotion',
    event: memberHook('edited', { permission: { from: 'write', to: 'admin' } }),
    expect: 1,
    summaryIncludes: 'granted admin to hacktocat (was write) on Codertocat/Hello-World',
  },
  {
    name: 'member.edited admin → read: a demotion is not reported',
    event: memberHook('edited', { permission: { from: 'admin', to: 'read' } }),
    expect: 0,
  },
  {
    name: 'member.edited with only changes.old_permission.from (octokit example shape): direction unknown',
    event: memberHook('edited', { old_permission: { from: 'write' } }),
    expect: 1,
    summaryIncludes: 'possibly to admin',
  },
  {
    name: 'member.added with role_name admin',
    event: memberHook('added', { role_name: { to: 'admin' } }),
    expect: 1,
    summaryIncludes: 'added hacktocat as admin on Codertocat/Hello-World',
  },
  {
    name: 'member.added without a role (real GitHub sample) is not reported',
    event: fromGithubFixture('member__added.with-installation.json'),
    expect: 0,
  },
  {
    name: 'organization.member_added as a plain member (real GitHub sample) is not reported',
    event: fromGithubFixture('organization__member_added.json'),
    expect: 0,
  },
  {
    name: 'organization.member_added with membership.role admin',
    event: orgMemberAdded('admin'),
    expect: 1,
    summaryIncludes: 'Codertocat added hacktocat as admin on Octocoders',
  },
  {
    name: 'GitLab user_add_to_group as Maintainer (real system hook)',
    event: fixtureEvent('gitlab', 'system__user_add_to_group.json'),
    expect: 1,
    summaryIncludes: 'added johnsmith as maintainer on storecloud',
  },
  {
    name: 'GitLab user_add_to_group as Owner',
    event: gitlabHook('system__user_add_to_group.json', { group_access: 'Owner' }),
    expect: 1,
    summaryIncludes: 'added johnsmith as owner',
  },
  {
    name: 'GitLab group member added as Guest (real member hook) is not reported',
    event: fixtureEvent('gitlab', 'member.json'),
    expect: 0,
  },
  {
    name: 'GitLab user_update_for_group to Maintainer (real system hook)',
    event: fixtureEvent('gitlab', 'system__user_update_for_group.json'),
    expect: 1,
    summaryIncludes: 'granted maintainer to johnsmith on storecloud',
  },
  {
    name: 'GitLab user_update_for_group to Developer is not an elevation',
    event: gitlabHook('system__user_update_for_group.json', { group_access: 'Developer' }),
    expect: 0,
  },
  {
    name: 'GitLab user_remove_from_team (real system hook) is not reported',
    event: fixtureEvent('gitlab', 'system__user_remove_from_team.json'),
    expect: 0,
  },
  {
    name: 'GitLab audit member_updated Developer → Owner',
    event: gitlabMemberUpdated('Developer', 'Owner'),
    expect: 1,
    summaryIncludes: 'granted owner to Eve Example (was developer) on example-group/example-project',
  },
  {
    name: 'GitLab audit member_updated Owner → Developer: a demotion is not reported',
    event: gitlabMemberUpdated('Owner', 'Developer'),
    expect: 0,
  },
  {
    name: 'GitLab audit member_updated Owner → Maintainer: still elevated, but lower: not reported',
    event: gitlabMemberUpdated('Owner', 'Maintainer'),
    expect: 0,
  },
  {
    name: 'GitLab audit member_updated Maintainer → Maintainer (only the expiry changed) is not reported',
    event: gitlabMemberUpdated('Maintainer', 'Maintainer'),
    expect: 0,
  },
  {
    name: 'Nexus user created with nx-admin (real Sonatype example)',
    event: fixtureEvent('nexus', 'audit.json'),
    expect: 1,
    summaryIncludes: 'admin added testuser as nx-admin',
  },
  {
    name: 'Nexus user created with only nx-anonymous is not reported',
    event: nexusUserCreated('nx-anonymous'),
    expect: 0,
  },
  {
    name: 'repo.register_self_hosted_runner',
    event: audit('repo.register_self_hosted_runner', { repo: 'octo-org/api' }),
    expect: 1,
  },
  { name: 'org.register_self_hosted_runner', event: audit('org.register_self_hosted_runner'), expect: 1 },
  {
    name: 'enterprise.register_self_hosted_runner',
    event: audit('enterprise.register_self_hosted_runner'),
    expect: 1,
  },
  { name: 'ip_allow_list.disable', event: audit('ip_allow_list.disable'), expect: 1 },
  {
    name: 'org.set_default_workflow_permissions, direction unknown: reported as before',
    event: audit('org.set_default_workflow_permissions'),
    expect: 1,
    summaryIncludes: 'changed the default GITHUB_TOKEN workflow permissions',
  },
  {
    name: 'default workflow permissions read → write',
    event: workflowPermissions('read', 'write'),
    expect: 1,
    summaryIncludes: 'set the default GITHUB_TOKEN workflow permissions to write',
  },
  {
    name: 'default workflow permissions write → read is the hardening direction: not reported',
    event: workflowPermissions('write', 'read'),
    expect: 0,
  },
  {
    name: 'repo.remove_self_hosted_runner is not a weakening',
    event: audit('repo.remove_self_hosted_runner'),
    expect: 0,
  },
  {
    name: 'org.enable_two_factor_requirement is not a weakening',
    event: audit('org.enable_two_factor_requirement'),
    expect: 0,
  },
  { name: 'ip_allow_list.enable is not a weakening', event: audit('ip_allow_list.enable'), expect: 0 },
  // GitLab audit event streaming: the event types and details named in WEAKENINGS, through the real adapter.
  {
    name: 'GitLab protected_branch_removed',
    event: gitlabAudit('protected_branch_removed', {}, PROTECTED_MAIN),
    expect: 1,
    summaryIncludes:
      'example-user removed the protection of a branch on example-group/example-project (branch main)',
  },
  {
    name: 'GitLab protected_branch_created is not a weakening',
    event: gitlabAudit('protected_branch_created', {}, PROTECTED_MAIN),
    expect: 0,
  },
  {
    name: 'GitLab force push allowed on a protected branch (false → true)',
    event: branchChange('protected_branch_allow_force_push_updated', 'allow force push', false, true),
    expect: 1,
    summaryIncludes:
      'allowed force pushes to a protected branch on example-group/example-project (branch main)',
  },
  {
    name: 'GitLab force push disallowed again (true → false) is not reported',
    event: branchChange('protected_branch_allow_force_push_updated', 'allow force push', true, false),
    expect: 0,
  },
  {
    name: 'GitLab force push setting changed, direction not in the event: reported as the row says',
    event: gitlabAudit('protected_branch_allow_force_push_updated', {}, PROTECTED_MAIN),
    expect: 1,
    summaryIncludes: 'changed whether force pushes are allowed on a protected branch',
  },
  {
    name: 'GitLab code owner approval no longer required (true → false)',
    event: branchChange(
      'protected_branch_code_owner_approval_required_updated',
      'code owner approval required',
      true,
      false,
    ),
    expect: 1,
    summaryIncludes: 'removed the code owner approval requirement from a protected branch',
  },
  {
    name: 'GitLab code owner approval required again (false → true) is not reported',
    event: branchChange(
      'protected_branch_code_owner_approval_required_updated',
      'code owner approval required',
      false,
      true,
    ),
    expect: 0,
  },
  {
    name: 'GitLab protected branch: push opened from Maintainers to Developers + Maintainers',
    event: branchChange(
      'protected_branch_updated',
      'allowed to push',
      ['Maintainers'],
      ['Developers + Maintainers'],
    ),
    expect: 1,
    summaryIncludes: 'widened “allowed to push” on a protected branch to developers + maintainers',
  },
  {
    name: 'GitLab protected branch: a named user allowed to merge besides Maintainers',
    event: branchChange(
      'protected_branch_updated',
      'allowed to merge',
      ['Maintainers'],
      ['Maintainers', 'Eve Example'],
    ),
    expect: 1,
  },
  {
    name: 'GitLab protected branch: push narrowed to No one is not reported',
    event: branchChange(
      'protected_branch_updated',
      'allowed to push',
      ['Developers + Maintainers'],
      ['No one'],
    ),
    expect: 0,
  },
  {
    name: 'GitLab approval_rule_deleted',
    event: gitlabAudit(
      'approval_rule_deleted',
      { custom_message: 'Deleted approval rule' },
      { target_type: 'ApprovalProjectRule', target_id: 5, target_details: 'Security' },
    ),
    expect: 1,
    summaryIncludes: 'deleted a merge request approval rule',
  },
  {
    name: 'GitLab update_approval_rules: required approvals 2 → 0',
    event: settingChange('update_approval_rules', 'number of required approvals', 2, 0),
    expect: 1,
    summaryIncludes: 'lowered the number of required approvals of an approval rule to 0',
  },
  {
    name: 'GitLab update_approval_rules: required approvals 1 → 2 is not reported',
    event: settingChange('update_approval_rules', 'number of required approvals', 1, 2),
    expect: 0,
  },
  {
    name: 'GitLab update_approval_rules without a count (other rule edits) is not reported',
    event: gitlabAudit('update_approval_rules', { custom_message: 'Updated approval rule' }),
    expect: 0,
  },
  {
    name: 'GitLab project lets authors approve their own merge requests (prevent: true → false)',
    event: settingChange(
      'project_merge_requests_author_approval_updated',
      'prevent merge request approval from authors',
      true,
      false,
    ),
    expect: 1,
    summaryIncludes:
      'let merge request authors approve their own merge requests on example-group/example-project',
  },
  {
    name: 'GitLab project prevents author approval again (false → true) is not reported',
    event: settingChange(
      'project_merge_requests_author_approval_updated',
      'prevent merge request approval from authors',
      false,
      true,
    ),
    expect: 0,
  },
  {
    name: 'GitLab group lets committers approve (allow_committer_approval_updated, prevent: true → false)',
    event: settingChange(
      'allow_committer_approval_updated',
      'prevent merge request approval from committers',
      true,
      false,
      GROUP_SCOPE,
    ),
    expect: 1,
    summaryIncludes: 'let committers approve merge requests they added commits to on example-group',
  },
  {
    name: 'GitLab project keeps approvals on push (reset: true → false)',
    event: settingChange(
      'project_reset_approvals_on_push_updated',
      'require new approvals when new commits are added to an MR',
      true,
      false,
    ),
    expect: 1,
  },
  {
    name: 'GitLab project password for approvals dropped (a permission.change in the adapter)',
    event: settingChange(
      'project_require_password_to_approve_updated',
      'require user password for approvals',
      true,
      false,
    ),
    expect: 1,
    summaryIncludes: 'dropped the password requirement for approvals',
  },
  {
    name: 'GitLab merge without a successful pipeline allowed (true → false)',
    event: settingChange(
      'project_only_allow_merge_if_pipeline_succeeds_updated',
      'only_allow_merge_if_pipeline_succeeds',
      true,
      false,
    ),
    expect: 1,
  },
  {
    name: 'GitLab skipped pipelines no longer count as passed (true → false) is not reported',
    event: settingChange(
      'allow_merge_on_skipped_pipeline_updated',
      'allow_merge_on_skipped_pipeline',
      true,
      false,
    ),
    expect: 0,
  },
  {
    name: 'GitLab group 2FA requirement disabled (true → false)',
    event: settingChange(
      'group_require_two_factor_authentication_updated',
      'require_two_factor_authentication',
      true,
      false,
      GROUP_SCOPE,
    ),
    expect: 1,
    summaryIncludes: 'example-user disabled the two-factor authentication requirement on example-group',
  },
  {
    name: 'GitLab group 2FA requirement enabled (false → true) is not reported',
    event: settingChange(
      'group_require_two_factor_authentication_updated',
      'require_two_factor_authentication',
      false,
      true,
      GROUP_SCOPE,
    ),
    expect: 0,
  },
  {
    name: 'GitLab instance 2FA requirement disabled (application_setting_updated)',
    event: settingChange('application_setting_updated', 'require_two_factor_authentication', true, false),
    expect: 1,
    summaryIncludes: 'disabled the instance-wide two-factor authentication requirement',
  },
  {
    name: 'GitLab instance 2FA requirement enabled is not reported',
    event: settingChange('application_setting_updated', 'require_two_factor_authentication', false, true),
    expect: 0,
  },
  {
    name: 'GitLab any other application setting is not reported',
    event: settingChange('application_setting_updated', 'signup_enabled', false, true),
    expect: 0,
  },
  {
    name: 'GitLab group SAML SSO enforcement turned off (message parsed by the adapter)',
    event: gitlabAudit(
      'group_saml_provider_update',
      {
        custom_message:
          'Group SAML SSO configuration changed: sso_url changed from https://idp.example/a to https://idp.example/b. enforced_sso changed from true to false. ',
      },
      GROUP_SCOPE,
    ),
    expect: 1,
    summaryIncludes: 'stopped enforcing SAML single sign-on for the group on example-group',
  },
  {
    name: 'GitLab group SAML SSO enforcement turned on is not reported',
    event: gitlabAudit(
      'group_saml_provider_update',
      { custom_message: 'Group SAML SSO configuration changed: enforced_sso changed from false to true. ' },
      GROUP_SCOPE,
    ),
    expect: 0,
  },
  {
    name: 'GitLab group SAML certificate rotated is not reported',
    event: gitlabAudit(
      'group_saml_provider_update',
      {
        custom_message:
          'Group SAML SSO configuration changed: certificate_fingerprint changed from aa to bb. ',
      },
      GROUP_SCOPE,
    ),
    expect: 0,
  },
  {
    name: 'GitLab project secret push protection disabled',
    event: gitlabAudit('project_security_setting_updated', {
      custom_message: 'Secret push protection has been disabled',
    }),
    expect: 1,
    summaryIncludes: 'disabled secret push protection on example-group/example-project',
  },
  {
    name: 'GitLab project secret push protection disabled through the API (`…` to false)',
    event: gitlabAudit('project_security_setting_updated', {
      custom_message: 'User Example updated `secret_push_protection_enabled` to false',
    }),
    expect: 1,
  },
  {
    name: 'GitLab project secret push protection enabled is not reported',
    event: gitlabAudit('project_security_setting_updated', {
      custom_message: 'Secret push protection has been enabled',
    }),
    expect: 0,
  },
  {
    name: 'GitLab project validity checks disabled (same event type) is not a push protection change',
    event: gitlabAudit('project_security_setting_updated', {
      custom_message: 'Validity checks has been disabled',
    }),
    expect: 0,
  },
  {
    name: 'GitLab group secret push protection disabled',
    event: gitlabAudit(
      'group_secret_push_protection_updated',
      {
        custom_message:
          'Secret push protection has been disabled for group Example Group and all of its inherited groups/projects',
      },
      GROUP_SCOPE,
    ),
    expect: 1,
    summaryIncludes: 'disabled secret push protection for a group and its projects on example-group',
  },
  {
    name: 'GitLab group secret push protection enabled is not reported',
    event: gitlabAudit(
      'group_secret_push_protection_updated',
      {
        custom_message:
          'Secret push protection has been enabled for group Example Group and all of its inherited groups/projects',
      },
      GROUP_SCOPE,
    ),
    expect: 0,
  },
  {
    name: 'GitLab skip_secret_push_protection (a security alert in the adapter)',
    event: gitlabAudit('skip_secret_push_protection', {
      custom_message: 'Secret push protection skipped via commit message on branch main',
    }),
    expect: 1,
    summaryIncludes: 'skipped secret push protection on a push',
  },
  {
    name: 'GitLab group push rule for secret files switched off (true → false)',
    event: settingChange(
      'group_push_rules_prevent_secrets_updated',
      'prevent pushing secret files',
      true,
      false,
      GROUP_SCOPE,
    ),
    expect: 1,
    summaryIncludes: 'stopped rejecting pushes of secret files (group push rule)',
  },
  {
    name: 'GitLab group push rule for secret files switched on is not reported',
    event: settingChange(
      'group_push_rules_prevent_secrets_updated',
      'prevent pushing secret files',
      false,
      true,
      GROUP_SCOPE,
    ),
    expect: 0,
  },
  {
    name: 'GitLab project push rule for unsigned commits switched off',
    event: settingChange(
      'project_push_rules_reject_unsigned_commits_updated',
      'reject unsigned commits',
      true,
      false,
    ),
    expect: 1,
  },
  {
    name: 'GitLab CI/CD variable unprotected (variable protection true → false)',
    event: settingChange('ci_variable_updated', 'variable protection', true, false),
    expect: 1,
    summaryIncludes: 'unprotected a CI/CD variable',
  },
  {
    name: 'GitLab CI/CD variable protected is not reported',
    event: settingChange('ci_variable_updated', 'variable protection', false, true),
    expect: 0,
  },
  {
    name: 'GitLab CI/CD job token allowlist disabled',
    event: gitlabAudit('secure_ci_job_token_inbound_disabled'),
    expect: 1,
  },
  {
    name: 'GitLab CI/CD job token allowlist enabled is not reported',
    event: gitlabAudit('secure_ci_job_token_inbound_enabled'),
    expect: 0,
  },
  { name: 'GitLab deploy_key_added', event: gitlabAudit('deploy_key_added'), expect: 1 },
  { name: 'GitLab deploy_token_created', event: gitlabAudit('deploy_token_created'), expect: 1 },
  { name: 'GitLab deploy_key_removed is not reported', event: gitlabAudit('deploy_key_removed'), expect: 0 },
  { name: 'GitLab ci_runner_created', event: gitlabAudit('ci_runner_created'), expect: 1 },
  {
    name: 'GitLab ci_runner_registered',
    event: gitlabAudit('ci_runner_registered'),
    expect: 1,
  },
  {
    name: 'GitLab environment_unprotected',
    event: gitlabAudit('environment_unprotected'),
    expect: 1,
    summaryIncludes: 'unprotected an environment',
  },
  {
    name: 'GitLab compliance_framework_removed',
    event: gitlabAudit('compliance_framework_removed'),
    expect: 1,
  },
  { name: 'GitLab delete_status_check', event: gitlabAudit('delete_status_check'), expect: 1 },
  {
    name: 'GitLab destroy_compliance_framework',
    event: gitlabAudit('destroy_compliance_framework', {}, GROUP_SCOPE),
    expect: 1,
    summaryIncludes: 'deleted a compliance framework on example-group',
  },
  { name: 'GitLab security_policy_delete', event: gitlabAudit('security_policy_delete'), expect: 1 },
  {
    name: 'GitLab audit stream destination deleted is telemetry-loss’s, not reported here',
    event: gitlabAudit('destroy_event_streaming_destination', {}, GROUP_SCOPE),
    expect: 0,
  },
  {
    name: 'GitLab an ignored action is not reported',
    event: gitlabAudit('deploy_key_added'),
    config: { ignoreActions: ['deploy_key_added'] },
    expect: 0,
  },
  // ---- Issue 11: security features switched off in every scope and form (action names per GitHub's
  // "Audit log events for your enterprise / organization" pages; entries as documented there).
  ...[
    'business_advanced_security.disabled',
    'business_advanced_security.disabled_for_new_repos',
    'business_secret_scanning.disable',
    'business_secret_scanning.disabled_for_new_repos',
    'business_secret_scanning_push_protection.disable',
    'business_secret_scanning_push_protection.disabled_for_new_repos',
    'business_secret_scanning_custom_pattern_push_protection.disabled',
    'business_secret_scanning_push_protection_custom_message.disable',
    'org.advanced_security_disabled_on_all_repos',
    'org.advanced_security_disabled_for_new_repos',
    'org.advanced_security_policy_selected_member_disabled',
    'org.secret_scanning_push_protection_disable',
    'repo.advanced_security_disabled',
    'repository_secret_scanning.disable',
    'repository_secret_scanning_push_protection.disable',
    'repository_secret_scanning_custom_pattern.delete',
    'repository_vulnerability_alerts.disable',
    'repository_vulnerability_alerts_auto_dismissal.disable',
    'dependabot_alerts.disable',
    'dependabot_alerts_new_repos.disable',
    'dependabot_security_updates.disable',
    'dependabot_security_updates_new_repos.disable',
    'dependency_graph.disable',
    'dependency_graph_new_repos.disable',
    'secret_scanning.disable',
    'secret_scanning_new_repos.disable',
    'repository_code_scanning_default_setup.disable',
    'business.members_can_update_protected_branches.disable',
  ].map(
    (action): DetectorCase => ({
      name: `${action} (audit) is reported`,
      event: audit(action, action.startsWith('repo') ? { repo: 'octo-org/octo-repo' } : {}),
      expect: 1,
    }),
  ),
  {
    name: 'business_advanced_security.disabled is classified, not "other", by the audit adapter',
    event: audit('business_advanced_security.disabled', { business: 'octo-enterprise' }),
    expect: 1,
    summaryIncludes: 'disabled GitHub Advanced Security',
  },
  {
    name: 'business_advanced_security.enabled is not a weakening',
    event: audit('business_advanced_security.enabled'),
    expect: 0,
  },
  { name: 'dependency_graph.enable is not a weakening', event: audit('dependency_graph.enable'), expect: 0 },
  // SAML / SSO under every name.
  ...[
    'org.disable_saml',
    'org.saml_disabled',
    'business.disable_saml',
    'business.disable_oidc',
    'org.disable_two_factor_requirement',
    'business.disable_two_factor_requirement',
  ].map((action): DetectorCase => ({ name: `${action} is critical`, event: audit(action), expect: 1 })),
  { name: 'org.saml_enabled is not a weakening', event: audit('org.saml_enabled'), expect: 0 },
  // IP allow list direction.
  {
    name: 'ip_allow_list_entry.create widens access and is reported',
    event: audit('ip_allow_list_entry.create', { operation_type: 'create' }),
    expect: 1,
    summaryIncludes: 'added an IP allow list entry',
  },
  {
    name: 'ip_allow_list_entry.destroy tightens access and is not reported',
    event: audit('ip_allow_list_entry.destroy', { operation_type: 'remove' }),
    expect: 0,
  },
  // Deploy keys from the audit log.
  {
    name: 'public_key.create with a repository is a deploy key',
    event: audit('public_key.create', { repo: 'octo-org/octo-repo', operation_type: 'create' }),
    expect: 1,
    summaryIncludes: 'added a deploy key on octo-org/octo-repo',
  },
  {
    name: 'public_key.create without a repository is a user SSH key',
    event: audit('public_key.create'),
    expect: 0,
  },
  // Workflow token permissions: creation is not a weakening.
  {
    name: 'org.set_default_workflow_permissions with operation_type create is not reported',
    event: audit('org.set_default_workflow_permissions', { operation_type: 'create' }),
    expect: 0,
  },
  {
    name: 'org.set_default_workflow_permissions with operation_type modify is reported',
    event: audit('org.set_default_workflow_permissions', { operation_type: 'modify' }),
    expect: 1,
  },
  // GitHub branch protection updates, by the documented enforcement level.
  ...(
    [
      [
        'protected_branch.update_allow_force_pushes_enforcement_level',
        'allow_force_pushes_enforcement_level',
        2,
        1,
        'allowed force pushes',
      ],
      [
        'protected_branch.update_allow_force_pushes_enforcement_level',
        'allow_force_pushes_enforcement_level',
        0,
        0,
        '',
      ],
      [
        'protected_branch.update_allow_deletions_enforcement_level',
        'allow_deletions_enforcement_level',
        'everyone',
        1,
        'deleted',
      ],
      [
        'protected_branch.update_pull_request_reviews_enforcement_level',
        'pull_request_reviews_enforcement_level',
        0,
        1,
        'stopped requiring pull request reviews',
      ],
      [
        'protected_branch.update_pull_request_reviews_enforcement_level',
        'pull_request_reviews_enforcement_level',
        2,
        0,
        '',
      ],
      [
        'protected_branch.update_required_status_checks_enforcement_level',
        'required_status_checks_enforcement_level',
        'off',
        1,
        'status checks',
      ],
      ['protected_branch.update_admin_enforced', 'admin_enforced', false, 1, 'exempted administrators'],
      ['protected_branch.update_admin_enforced', 'admin_enforced', true, 0, ''],
      [
        'protected_branch.update_linear_history_requirement_enforcement_level',
        'linear_history_requirement_enforcement_level',
        0,
        1,
        'linear history',
      ],
      [
        'protected_branch.update_signature_requirement_enforcement_level',
        'signature_requirement_enforcement_level',
        0,
        1,
        'signed commits',
      ],
      [
        'protected_branch.update_require_code_owner_review',
        'require_code_owner_review',
        false,
        1,
        'code owner review',
      ],
      [
        'protected_branch.update_required_approving_review_count',
        'required_approving_review_count',
        0,
        1,
        'lowered',
      ],
    ] as const
  ).map(
    ([action, field, value, n, text]): DetectorCase => ({
      name: `${action} ${field}=${value} → ${n}`,
      event: auditVaried('protected_branch.create.json', { action, [field]: value }),
      expect: n,
      ...(text ? { summaryIncludes: text } : {}),
    }),
  ),
  {
    name: 'protected_branch.update_required_status_checks_enforcement_level with no level is reported',
    event: auditVaried('protected_branch.create.json', {
      action: 'protected_branch.update_required_status_checks_enforcement_level',
    }),
    expect: 1,
  },
  {
    name: 'branch_protection_rule.edited (webhook) that allows force pushes',
    event: one(
      'github',
      {
        ...bodyOf('github', 'branch_protection_rule__created.1.json'),
        action: 'edited',
        rule: {
          ...(bodyOf('github', 'branch_protection_rule__created.1.json').rule as Body),
          allow_force_pushes_enforcement_level: 'everyone',
        },
        changes: { allow_force_pushes_enforcement_level: { from: 'off' } },
      },
      { 'x-github-event': 'branch_protection_rule' },
    ),
    expect: 1,
    summaryIncludes: 'allowed force pushes',
  },
  {
    name: 'branch_protection_rule.edited (webhook) that requires more reviews is not reported',
    event: one(
      'github',
      {
        ...bodyOf('github', 'branch_protection_rule__created.1.json'),
        action: 'edited',
        rule: {
          ...(bodyOf('github', 'branch_protection_rule__created.1.json').rule as Body),
          pull_request_reviews_enforcement_level: 'everyone',
        },
        changes: { pull_request_reviews_enforcement_level: { from: 'off' } },
      },
      { 'x-github-event': 'branch_protection_rule' },
    ),
    expect: 0,
  },
  // Environments.
  {
    name: 'environment.delete',
    event: audit('environment.delete', { repo: 'octo-org/octo-repo' }),
    expect: 1,
  },
  {
    name: 'environment.remove_protection_rule',
    event: audit('environment.remove_protection_rule', { repo: 'octo-org/octo-repo' }),
    expect: 1,
  },
  { name: 'environment.create is not a weakening', event: audit('environment.create'), expect: 0 },
  // Apps, OAuth apps, tokens, webhooks, transfers.
  {
    name: 'integration_installation.create (real entry)',
    event: fromAuditFixture('integration_installation.create.json'),
    expect: 1,
  },
  {
    name: 'installation.created (webhook)',
    event: fromGithubFixture('installation__created.with-requester.json'),
    expect: 1,
  },
  {
    name: 'installation.new_permissions_accepted (webhook)',
    event: fromGithubFixture('installation__new_permissions_accepted.json'),
    expect: 1,
  },
  {
    name: 'org.oauth_app_access_approved (real entry)',
    event: fromAuditFixture('org.oauth_app_access_approved.json'),
    expect: 1,
  },
  { name: 'oauth_authorization.create', event: audit('oauth_authorization.create'), expect: 1 },
  {
    name: 'oauth_access.create with admin:org scope is high',
    event: audit('oauth_access.create', { scopes: ['repo', 'admin:org'] }),
    expect: 1,
    summaryIncludes: 'administrative scopes (admin:org)',
  },
  {
    name: 'oauth_access.create with read scopes is not reported',
    event: audit('oauth_access.create', { scopes: ['read:user'] }),
    expect: 0,
  },
  {
    name: 'oauth_access.create without scopes is not reported',
    event: audit('oauth_access.create'),
    expect: 0,
  },
  {
    name: 'personal_access_token.access_granted',
    event: audit('personal_access_token.access_granted'),
    expect: 1,
  },
  {
    name: 'hook.create to a domain outside the allowed ones is high',
    event: audit('hook.create', { repo: 'octo-org/octo-repo', config: { url: 'https://webhook.site/abc' } }),
    config: { allowedWebhookDomains: ['example.com'] },
    expect: 1,
    summaryIncludes: 'outside the allowed domains',
  },
  {
    name: 'hook.create to an allowed domain is not reported',
    event: audit('hook.create', {
      repo: 'octo-org/octo-repo',
      config: { url: 'https://ci.example.com/hook' },
    }),
    config: { allowedWebhookDomains: ['example.com'] },
    expect: 0,
  },
  {
    name: 'hook.create with no allow list is reported',
    event: audit('hook.create', { repo: 'octo-org/octo-repo' }),
    expect: 1,
  },
  { name: 'repo.transfer (real entry)', event: fromAuditFixture('repo.transfer.json'), expect: 1 },
  {
    name: 'repo.transfer_outgoing',
    event: audit('repo.transfer_outgoing', { repo: 'octo-org/octo-repo' }),
    expect: 1,
  },
  {
    name: 'repository.transferred (webhook)',
    event: fromGithubFixture('repository__transferred.with-installation.json'),
    expect: 1,
  },
  {
    name: 'org.add_outside_collaborator',
    event: audit('org.add_outside_collaborator', { user: 'outsider' }),
    expect: 1,
  },
  ...[
    'org.runner_group_created',
    'org.runner_group_updated',
    'org.runner_group_runners_added',
    'org.update_saml_provider_settings',
    'business.referrer_override_disable',
    'repo.create_actions_secret',
    'environment.create_actions_secret',
    'codespaces.create_an_org_secret',
    'repo.destroy',
  ].map(
    (action): DetectorCase => ({
      name: `${action} (audit)`,
      event: audit(action, { repo: 'octo-org/api' }),
      expect: 1,
    }),
  ),
  {
    name: 'repository.deleted (GHES webhook sample)',
    event: fromGithubFixture('ghes__repository__deleted.json'),
    expect: 1,
  },
  {
    name: 'repo.update_actions_secret is not reported',
    event: audit('repo.update_actions_secret'),
    expect: 0,
  },
  // GitHub webhook security_and_analysis (payload per GitHub's webhook reference: changes.from.security_and_analysis
  // before, repository.security_and_analysis after), built on the real repository.edited body.
  ...(
    [
      ['secret_scanning', 'enabled', 'disabled', 1],
      ['advanced_security', 'enabled', 'disabled', 1],
      ['dependabot_security_updates', 'enabled', 'disabled', 1],
      ['secret_scanning', 'disabled', 'enabled', 0],
    ] as const
  ).map(
    ([feature, from, to, n]): DetectorCase => ({
      name: `security_and_analysis webhook: ${feature} ${from} → ${to}`,
      event: one(
        'github',
        {
          ...bodyOf('github', 'repository__edited.json'),
          action: undefined,
          changes: { from: { security_and_analysis: { [feature]: { status: from } } } },
          repository: {
            ...(bodyOf('github', 'repository__edited.json').repository as Body),
            security_and_analysis: { [feature]: { status: to } },
          },
        },
        { 'x-github-event': 'security_and_analysis' },
      ),
      expect: n,
    }),
  ),
  {
    name: 'repository_ruleset.edited (webhook)',
    event: one(
      'github',
      { ...bodyOf('github', 'repository__edited.json'), action: 'edited' },
      { 'x-github-event': 'repository_ruleset' },
    ),
    expect: 1,
  },
  {
    name: 'a security feature switched off under a name the table does not list (fallback)',
    event: audit('org.code_scanning_default_setup_disabled_for_new_repos'),
    expect: 1,
    summaryIncludes: 'for new repositories',
  },
  {
    name: 'business_code_security.disabled (fallback)',
    event: audit('business_code_security.disabled'),
    expect: 1,
  },
  {
    name: 'business_code_security.enabled is not reported',
    event: audit('business_code_security.enabled'),
    expect: 0,
  },
  ...[
    'org.set_fork_pr_workflows_policy',
    'business.set_fork_pr_workflows_policy',
    'repo.set_actions_fork_pr_approvals_policy',
  ].map((action): DetectorCase => ({ name: `${action} (audit)`, event: audit(action), expect: 1 })),
  // Base permission, team repository access, a user's own 2FA (GitHub audit; issue 11, recall)
  {
    name: 'org.update_default_repository_permission read → write: every member can now push everywhere',
    event: audit('org.update_default_repository_permission', { permission: 'write', old_permission: 'read' }),
    expect: 1,
    summaryIncludes: 'raised the base repository permission of every organisation member to write',
  },
  {
    name: 'business.update_default_repository_permission none → admin (enterprise scope)',
    event: audit('business.update_default_repository_permission', {
      permission: 'admin',
      old_permission: 'none',
    }),
    expect: 1,
    summaryIncludes: 'to admin',
  },
  {
    name: 'org.update_default_repository_permission write → read tightens: not reported',
    event: audit('org.update_default_repository_permission', { permission: 'read', old_permission: 'write' }),
    expect: 0,
  },
  {
    name: 'org.update_default_repository_permission none → read: reading is not a weakening',
    event: audit('org.update_default_repository_permission', { permission: 'read', old_permission: 'none' }),
    expect: 0,
  },
  {
    name: 'team.add_repository with admin: a team now administers the repository',
    event: audit('team.add_repository', {
      team: 'octo-org/contractors',
      repo: 'octo-org/api',
      permission: 'admin',
    }),
    expect: 1,
    summaryIncludes: 'added octo-org/contractors as admin',
  },
  {
    name: 'team.add_repository with write: not an elevation',
    event: audit('team.add_repository', {
      team: 'octo-org/contractors',
      repo: 'octo-org/api',
      permission: 'write',
    }),
    expect: 0,
  },
  {
    name: 'team.update_repository_permission write → maintain',
    event: audit('team.update_repository_permission', {
      team: 'octo-org/contractors',
      repo: 'octo-org/api',
      permission: 'maintain',
      old_permission: 'write',
    }),
    expect: 1,
    summaryIncludes: 'granted maintain to octo-org/contractors (was write)',
  },
  {
    name: 'two_factor_authentication.disabled (a user’s own account)',
    event: audit('two_factor_authentication.disabled', { user: 'mallory' }),
    expect: 1,
    summaryIncludes: 'switched off two-factor authentication',
  },
  {
    name: 'two_factor_authentication.enabled is not a weakening',
    event: audit('two_factor_authentication.enabled', { user: 'mallory' }),
    expect: 0,
  },
  {
    name: 'team webhook: a team added to a repository with admin',
    event: teamHook('added_to_repository', 'admin'),
    expect: 1,
    summaryIncludes: 'as admin',
  },
  {
    name: 'team webhook: a team added to a repository with write is not an elevation',
    event: teamHook('added_to_repository', 'push'),
    expect: 0,
  },
  {
    name: 'team webhook: a team’s access edited from write to maintain',
    event: teamHook('edited', 'maintain', { maintain: false }),
    expect: 1,
    summaryIncludes: 'granted maintain',
  },
  {
    name: 'team webhook: the real team.edited (name or description) is not a permission change',
    event: fromGithubFixture('team__edited.json'),
    expect: 0,
  },
  {
    name: 'GitLab audit: a user made instance administrator (user_admin_status_updated false → true)',
    event: gitlabAudit(
      'user_admin_status_updated',
      { change: 'admin status', from: false, to: true, target_type: 'User', target_details: 'eve' },
      { entity_type: 'User', entity_path: 'eve', target_type: 'User', target_details: 'eve', target_id: 42 },
    ),
    expect: 1,
    summaryIncludes: 'made a user an instance administrator',
    hitMatches: { severity: 'critical' },
  },
  {
    name: 'GitLab audit: admin status removed (true → false) is not a weakening',
    event: gitlabAudit(
      'user_admin_status_updated',
      { change: 'admin status', from: true, to: false },
      { entity_type: 'User', entity_path: 'eve', target_type: 'User', target_details: 'eve', target_id: 42 },
    ),
    expect: 0,
  },
  {
    name: 'GitLab audit: a user made instance auditor',
    event: gitlabAudit(
      'user_auditor_status_updated',
      { change: 'auditor status', from: false, to: true },
      { entity_type: 'User', entity_path: 'eve', target_type: 'User', target_details: 'eve', target_id: 42 },
    ),
    expect: 1,
    summaryIncludes: 'instance auditor',
  },
  {
    name: 'GitLab audit_json.log: change "admin status" to true (the real visibility line, varied)',
    event: (() => {
      const line = JSON.parse(
        fixtureBody('gitlab-logs', 'audit_json.log__project_visibility_Private-_Public.json') as string,
      );
      return one(
        'gitlab-logs',
        JSON.stringify({ ...line, change: 'admin status', from: false, to: true, entity_type: 'User' }),
      );
    })(),
    expect: 1,
    summaryIncludes: 'made a user an instance administrator',
  },
];
