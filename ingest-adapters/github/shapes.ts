// The fields GitHub's webhook reference ("Webhook events and payloads", docs.github.com) documents for each
// event this adapter maps, as data: X-GitHub-Event is not signed, so a body must carry what its declared
// event always carries (src/ingest/shape.ts). Only fields present in every action of the event are listed;
// action values are checked only for the generic events that have no object of their own (repository,
// organization, installation, …), whose action sets have been stable for years: elsewhere GitHub adds
// actions over time, and a new one must not be refused.
import type { Markers, Shape } from '../../src/ingest/shape.ts';
import { table } from '../../src/util/table.ts';

const A = { action: 'string' } as const;

export const GITHUB_SHAPES = table<Shape>({
  branch_protection_rule: { ...A, rule: 'object' },
  branch_protection_configuration: { action: ['enabled', 'disabled'], repository: 'object' },
  repository_ruleset: { ...A, repository_ruleset: 'object' },
  repository: {
    action: [
      'archived',
      'created',
      'deleted',
      'edited',
      'privatized',
      'publicized',
      'renamed',
      'transferred',
      'unarchived',
    ],
    repository: 'object',
  },
  public: { action: 'absent', repository: 'object', ref: 'absent', sha: 'absent', workflow: 'absent' },
  meta: { ...A, hook: 'object', hook_id: 'number' },
  repository_advisory: { ...A, repository_advisory: 'object' },
  member: { ...A, member: 'object', repository: 'object' },
  membership: { ...A, member: 'object', team: 'object', scope: 'string' },
  organization: {
    action: ['deleted', 'member_added', 'member_invited', 'member_removed', 'renamed'],
    organization: 'object',
    repository: 'absent',
  },
  team: { ...A, team: 'object' },
  team_add: { team: 'object', repository: 'object' },
  deploy_key: { ...A, key: 'object', 'key.key': 'string' },
  installation: {
    action: ['created', 'deleted', 'new_permissions_accepted', 'suspend', 'unsuspend'],
    installation: 'object',
    repository: 'absent',
  },
  installation_repositories: {
    action: ['added', 'removed'],
    installation: 'object',
    repository_selection: 'string',
  },
  installation_target: { ...A, installation: 'object', account: 'object', target_type: 'string' },
  github_app_authorization: { action: ['revoked'], sender: 'object', repository: 'absent' },
  org_block: { ...A, blocked_user: 'object' },
  personal_access_token_request: { ...A, personal_access_token_request: 'object' },
  deployment: { ...A, deployment: 'object' },
  deployment_status: { ...A, deployment_status: 'object', deployment: 'object' },
  deployment_review: { action: ['approved', 'rejected', 'requested'], since: 'string' },
  deployment_protection_rule: { action: ['requested'], environment: 'string', event: 'string' },
  workflow_run: { ...A, workflow_run: 'object' },
  workflow_job: { ...A, workflow_job: 'object' },
  workflow_dispatch: { action: 'absent', ref: 'string', workflow: 'string' },
  check_run: { ...A, check_run: 'object' },
  check_suite: { ...A, check_suite: 'object' },
  status: { action: 'absent', sha: 'string', state: 'string', context: 'string' },
  push: { action: 'absent', ref: 'string', before: 'string', after: 'string' },
  create: { action: 'absent', ref: 'string', ref_type: 'string', master_branch: 'string' },
  delete: { action: 'absent', ref: 'string', ref_type: 'string' },
  secret_scanning_alert: { ...A, alert: 'object', 'alert.secret_type': 'string' },
  secret_scanning_alert_location: { ...A, alert: 'object', location: 'object' },
  code_scanning_alert: { ...A, alert: 'object', 'alert.tool': 'object' },
  dependabot_alert: { ...A, alert: 'object', 'alert.security_advisory': 'object' },
  repository_vulnerability_alert: { ...A, alert: 'object', 'alert.affected_package_name': 'string' },
  security_advisory: { ...A, security_advisory: 'object' },
  package: { ...A, package: 'object' },
  registry_package: { ...A, registry_package: 'object' },
  enterprise: { action: ['anonymous_access_enabled', 'anonymous_access_disabled'], repository: 'absent' },
  ping: { zen: 'string', hook_id: 'number' },
});

const ALERTS = [
  'secret_scanning_alert',
  'secret_scanning_alert_location',
  'code_scanning_alert',
  'dependabot_alert',
  'repository_vulnerability_alert',
];

/**
 * Top-level objects only these events carry, per the same reference: a `branch_protection_rule` body (it
 * has `rule`) cannot be passed off as a `repository` deletion, a `create` (it has `master_branch`) as a
 * `delete`. Objects that many events carry (repository, organization, installation, sender) are not markers.
 */
export const GITHUB_MARKERS: Markers = new Map<string, readonly string[]>([
  ['rule', ['branch_protection_rule']],
  ['repository_ruleset', ['repository_ruleset']],
  ['repository_advisory', ['repository_advisory']],
  ['key', ['deploy_key']],
  ['blocked_user', ['org_block']],
  ['personal_access_token_request', ['personal_access_token_request']],
  ['team', ['team', 'membership', 'team_add']],
  ['member', ['member', 'membership']],
  ['membership', ['organization']],
  ['invitation', ['organization']],
  ['hook', ['meta', 'ping']],
  ['zen', ['ping']],
  [
    'deployment',
    ['deployment', 'deployment_status', 'deployment_protection_rule', 'deployment_review', 'workflow_job'],
  ],
  [
    'workflow_run',
    ['workflow_run', 'deployment', 'deployment_status', 'deployment_protection_rule', 'deployment_review'],
  ],
  ['workflow_job_run', ['deployment_review']],
  ['workflow_job_runs', ['deployment_review']],
  ['client_payload', ['repository_dispatch']],
  ['deployment_status', ['deployment_status']],
  ['workflow_job', ['workflow_job']],
  ['check_run', ['check_run', 'deployment_status']],
  ['check_suite', ['check_suite']],
  ['alert', ALERTS],
  ['security_advisory', ['security_advisory']],
  ['package', ['package']],
  ['registry_package', ['registry_package']],
  ['commits', ['push']],
  ['master_branch', ['create']],
]);
