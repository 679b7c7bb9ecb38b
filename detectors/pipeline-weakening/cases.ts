// Positive and negative examples for pipeline-weakening; real GitHub samples go through the real adapters
// (webhooks, and the audit-log normaliser that both the HEC stream and the REST poller use).
import { auditEventToPipewarden } from '../../ingest-adapters/github-audit/normalise.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { fixtureBody, fixtureEvent, RECEIVED } from '../fixtures.ts';

const fromGithubFixture = (file: string) => fixtureEvent('github', file);

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
  { name: 'org.update_member (role change)', event: audit('org.update_member', { user: 'eve' }), expect: 1 },
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
    name: 'org.set_default_workflow_permissions',
    event: audit('org.set_default_workflow_permissions'),
    expect: 1,
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
];
