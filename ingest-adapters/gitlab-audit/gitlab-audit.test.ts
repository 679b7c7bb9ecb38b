import { describe, expect, it } from 'vitest';
import { pipelineWeakening } from '../../detectors/pipeline-weakening/index.ts';
import { Secret } from '../../src/config/secrets.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { gitlabAudit } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test') };
const at = new Date('2024-06-01T10:00:00Z');

const expected: Record<string, [kind: string, action: string, actor: string]> = {
  'http_fetch_deploytoken.json': ['other', 'repository_git_operation.git-upload-pack', 'deploy-token-name'],
  'http_push_user.json': ['code.push', 'repository_git_operation.git-receive-pack', 'Administrator'],
  'mr88509_clone.json': ['other', 'repository_git_operation.git-upload-pack', 'Administrator'],
  'mr_approval.json': ['other', 'audit_operation', 'example_username'],
  'project_fork.json': ['other', 'project_fork_operation', 'example_username'],
  'project_group_link_create.json': ['permission.change', 'project_group_link_create', 'example-user'],
  'ssh_fetch_deploykey.json': ['other', 'repository_git_operation.git-upload-pack', 'deploy-key-name'],
  'ssh_fetch_user.json': ['other', 'repository_git_operation.git-upload-pack', 'Administrator'],
  'ssh_push_user.json': ['code.push', 'repository_git_operation.git-receive-pack', 'Administrator'],
  'ui_download.json': ['other', 'repository_git_operation', 'example_username'],
};
const samples = listSamples('gitlab-audit').map((f) => loadSample('gitlab-audit', f));
const parse = (raw: string) => gitlabAudit.parse!(Buffer.from(raw), {});

describe('gitlab-audit', () => {
  it('has an expectation for every fixture', () => {
    expect(listSamples('gitlab-audit')).toEqual(Object.keys(expected).sort());
  });

  it('verifies the streaming token in constant time and refuses anything else', () => {
    for (const s of samples) {
      expect(
        gitlabAudit.verify(Buffer.from(rawBody(s)), lowerHeaders(s.headers), config, at),
        s.file,
      ).toEqual({ ok: true });
    }
    const raw = Buffer.from('{}');
    expect(gitlabAudit.verify(raw, {}, config, at).ok).toBe(false);
    expect(gitlabAudit.verify(raw, { 'x-gitlab-event-streaming-token': `${SECRET}x` }, config, at).ok).toBe(
      false,
    );
    expect(gitlabAudit.verify(raw, { 'x-gitlab-token': SECRET }, config, at).ok).toBe(false);
    expect(
      gitlabAudit.verify(
        raw,
        { 'x-gitlab-event-streaming-token': SECRET },
        { enabled: true, secret: undefined },
        at,
      ).ok,
    ).toBe(false);
    expect(gitlabAudit.contentTypes).toContain('application/x-www-form-urlencoded');
  });

  it('normalises every fixture (JSON despite the form Content-Type) with actor, IP and project', () => {
    for (const s of samples) {
      const headers = lowerHeaders(s.headers);
      const body = parse(rawBody(s));
      const e = gitlabAudit.toEvents(body, headers, at).events[0]!;
      expect([e.pipewarden.kind, e.event.action, e.user?.name], s.file).toEqual(expected[s.file]);
      expect(e.source?.ip).toBe('127.0.0.1');
      expect(e.pipewarden.repository).toBeTruthy();
      expect(e['@timestamp']).toBe(new Date((s.body as { created_at: string }).created_at).toISOString());
      expect(gitlabAudit.deliveryId(headers, body)).toBe(
        `${(s.body as { id: number }).id}@${(s.body as { created_at: string }).created_at}`,
      );
      expect(EVENT_KINDS).toContain(e.pipewarden.kind);
    }
    const token = gitlabAudit.toEvents(
      samples.find((s) => s.file === 'http_fetch_deploytoken.json')!.body,
      {},
      at,
    ).events[0]!;
    expect(token.user?.type).toBe('DeployToken');
    expect(token.message).toMatch(/DeployToken/);
  });

  it('turns a failed standard login into login.failure, and visibility changes into config.change', () => {
    const failed = {
      id: 99,
      author_id: -1,
      entity_id: -1,
      entity_type: 'User',
      event_type: 'login_failed_with_standard_authentication',
      details: {
        failed_login: 'STANDARD',
        author_name: 'alice',
        target_details: 'alice',
        ip_address: '198.51.100.4',
        entity_path: 'alice',
      },
      ip_address: '198.51.100.4',
      author_name: 'alice',
      entity_path: 'alice',
      target_details: 'alice',
      created_at: '2024-05-01T00:00:00Z',
    };
    const e = gitlabAudit.toEvents(failed, {}, at).events[0]!;
    expect([e.pipewarden.kind, e.event.outcome, e.user?.name, e.source?.ip]).toEqual([
      'login.failure',
      'failure',
      'alice',
      '198.51.100.4',
    ]);
    expect(e.user?.id).toBeUndefined();
    const vis = {
      id: 100,
      author_id: 3,
      entity_type: 'Project',
      entity_path: 'g/p',
      event_type: 'project_visibility_level_updated',
      details: { change: 'visibility', from: 'Private', to: 'Public' },
      author_name: 'bob',
      created_at: '2024-05-01T00:00:00Z',
    };
    const v = gitlabAudit.toEvents(vis, {}, at).events[0]!;
    expect([v.pipewarden.kind, v.pipewarden.visibility, v.pipewarden.repository]).toEqual([
      'config.change',
      'public',
      'g/p',
    ]);
  });

  it('records the member or group a permission change applies to, and any change/from/to', () => {
    const link = gitlabAudit.toEvents(
      samples.find((s) => s.file === 'project_group_link_create.json')!.body,
      {},
      at,
    ).events[0]!;
    // The group the project was shared with; this example carries no `as`, so no role.
    expect(link.user).toMatchObject({ name: 'example-user', target: { name: 'another-group', id: '31' } });
    expect(link.user?.target?.roles).toBeUndefined();
    expect(link.pipewarden.change).toBeUndefined();
    // Streamed examples about merge requests or git operations name no member.
    for (const s of samples.filter((x) => x.file !== 'project_group_link_create.json')) {
      expect(gitlabAudit.toEvents(s.body, {}, at).events[0]!.user?.target, s.file).toBeUndefined();
    }
    // Members::UpdateService's details: change "access_level", from, to, as; target is the user.
    const base = {
      author_id: 3,
      author_name: 'bob',
      entity_type: 'Group',
      entity_path: 'acme',
      created_at: '2024-05-01T00:00:00Z',
    };
    const member = { target_id: 42, target_type: 'User', target_details: 'Eve Example' };
    const updated = gitlabAudit.toEvents(
      {
        ...base,
        ...member,
        id: 101,
        event_type: 'member_updated',
        details: { ...member, change: 'access_level', from: 'Developer', to: 'Maintainer', as: 'Maintainer' },
      },
      {},
      at,
    ).events[0]!;
    expect(updated.pipewarden.kind).toBe('permission.change');
    expect(updated.pipewarden.change).toEqual({ field: 'access_level', from: 'developer', to: 'maintainer' });
    expect(updated.user).toEqual({
      name: 'bob',
      id: '3',
      target: { name: 'Eve Example', id: '42', roles: ['maintainer'] },
    });
    const created = gitlabAudit.toEvents(
      {
        ...base,
        ...member,
        id: 102,
        event_type: 'member_created',
        details: { ...member, add: 'user_access', as: 'Owner' },
      },
      {},
      at,
    ).events[0]!;
    expect([created.user?.target?.roles, created.pipewarden.change]).toEqual([['owner'], undefined]);
    const removed = gitlabAudit.toEvents(
      {
        ...base,
        ...member,
        id: 103,
        event_type: 'member_destroyed',
        details: { ...member, remove: 'user_access', as: 'Owner' },
      },
      {},
      at,
    ).events[0]!;
    expect(removed.user?.target).toEqual({ name: 'Eve Example', id: '42' });
    // The same change/from/to keys describe other settings, e.g. visibility.
    const vis = gitlabAudit.toEvents(
      {
        id: 104,
        author_id: 3,
        entity_type: 'Project',
        entity_path: 'g/p',
        event_type: 'project_visibility_level_updated',
        details: { change: 'visibility', from: 'Private', to: 'Public' },
        author_name: 'bob',
        created_at: '2024-05-01T00:00:00Z',
      },
      {},
      at,
    ).events[0]!;
    expect([vis.pipewarden.change, vis.user?.target]).toEqual([
      { field: 'visibility', from: 'private', to: 'public' },
      undefined,
    ]);
  });

  it('refuses bodies that are not JSON objects with an event_type', () => {
    expect(() => parse('event_type=x&id=1')).toThrow(AdapterInputError);
    expect(() => gitlabAudit.toEvents([1], {}, at)).toThrow(AdapterInputError);
    expect(() => gitlabAudit.toEvents({ id: 1 }, {}, at)).toThrow(/event_type/);
  });

  describe('pipeline-weakening event types', () => {
    // GitLab's streamed example, turned into the event types pipeline-weakening reads, with the details
    // their auditors write (gitlab-org/gitlab: ee/lib/audit/*_changes_auditor.rb and the services named
    // in detectors/pipeline-weakening/index.ts).
    const link = samples.find((s) => s.file === 'project_group_link_create.json')!.body as Record<
      string,
      unknown
    >;
    const event = (
      eventType: string,
      details: Record<string, unknown> = {},
      extra: Record<string, unknown> = {},
    ) => {
      const { custom_message: _example, ...base } = link.details as Record<string, unknown>;
      return gitlabAudit.toEvents(
        { ...link, ...extra, event_type: eventType, details: { ...base, ...extra, ...details } },
        {},
        at,
      ).events[0]!;
    };
    const branch = { target_id: 39, target_type: 'ProtectedBranch', target_details: 'main' };

    it('gives each type a kind pipeline-weakening reads, with the type itself as the action', () => {
      const kinds: Record<string, string> = {
        protected_branch_removed: 'config.change',
        protected_branch_updated: 'config.change',
        protected_branch_allow_force_push_updated: 'config.change',
        protected_branch_code_owner_approval_required_updated: 'config.change',
        approval_rule_deleted: 'config.change',
        update_approval_rules: 'config.change',
        project_merge_requests_author_approval_updated: 'config.change',
        allow_author_approval_updated: 'config.change',
        project_require_password_to_approve_updated: 'permission.change',
        group_require_two_factor_authentication_updated: 'permission.change',
        application_setting_updated: 'config.change',
        group_saml_provider_update: 'config.change',
        group_secret_push_protection_updated: 'config.change',
        project_security_setting_updated: 'config.change',
        skip_secret_push_protection: 'security.alert',
        group_push_rules_prevent_secrets_updated: 'config.change',
        project_push_rules_reject_unsigned_commits_updated: 'config.change',
        ci_variable_updated: 'config.change',
        secure_ci_job_token_inbound_disabled: 'config.change',
        ci_runner_created: 'config.change',
        ci_runner_registered: 'config.change',
        deploy_key_added: 'permission.change',
        deploy_token_created: 'permission.change',
        group_deploy_token_created: 'permission.change',
        environment_unprotected: 'config.change',
        protected_environment_approval_rule_deleted: 'config.change',
        compliance_framework_removed: 'config.change',
        destroy_compliance_framework: 'config.change',
        delete_status_check: 'config.change',
        security_policy_delete: 'config.change',
      };
      for (const [type, kind] of Object.entries(kinds)) {
        const e = event(type);
        expect([e.pipewarden.kind, e.event.action], type).toEqual([kind, type]);
      }
      expect(event('delete_status_check').event.type).toEqual(['deletion']);
    });

    it('records the direction of protected-branch changes and names the branch', () => {
      const force = event(
        'protected_branch_allow_force_push_updated',
        { change: 'allow force push', from: false, to: true },
        branch,
      );
      expect([force.pipewarden.change, force.pipewarden.branch]).toEqual([
        { field: 'allow force push', from: 'false', to: 'true' },
        'main',
      ]);
      // Access levels are lists ("Changed allowed to push from [\"Maintainers\"] to […]").
      const push = event(
        'protected_branch_updated',
        { change: 'allowed to push', from: ['Maintainers'], to: ['Developers + Maintainers', 'Eve Example'] },
        branch,
      );
      expect(push.pipewarden.change).toEqual({
        field: 'allowed to push',
        from: 'maintainers',
        to: 'developers + maintainers, eve example',
      });
      // A list that is not all text gives no value rather than a wrong one.
      expect(
        event('protected_branch_updated', { change: 'allowed to push', to: [{ id: 1 }] }).pipewarden.change,
      ).toBeUndefined();
      // Only protected-branch targets name a branch.
      expect(event('deploy_key_added').pipewarden.branch).toBeUndefined();
    });

    it('reads the direction from the message when the event has no change / from / to', () => {
      const change = (type: string, custom_message: string) =>
        event(type, { custom_message }).pipewarden.change;
      expect(
        change(
          'group_secret_push_protection_updated',
          'Secret push protection has been disabled for group Example and all of its inherited groups/projects',
        ),
      ).toEqual({ field: 'secret push protection', to: 'disabled' });
      expect(
        change(
          'project_security_setting_updated',
          'User Jane updated `secret_push_protection_enabled` to false',
        ),
      ).toEqual({ field: 'secret_push_protection_enabled', to: 'false' });
      expect(
        change(
          'project_security_setting_updated',
          'Changed pre_receive_secret_detection_enabled from true to false',
        ),
      ).toEqual({ field: 'pre_receive_secret_detection_enabled', from: 'true', to: 'false' });
      // SAML: one clause per attribute; a setting switched off is the one kept, else the first.
      expect(
        change(
          'group_saml_provider_update',
          'Group SAML SSO configuration changed: sso_url changed from https://idp.example/a to https://idp.example/b. enforced_sso changed from true to false. ',
        ),
      ).toEqual({ field: 'enforced_sso', from: 'true', to: 'false' });
      expect(
        change(
          'group_saml_provider_update',
          'Group SAML SSO configuration changed: enabled changed to true. ',
        ),
      ).toEqual({ field: 'enabled', to: 'true' });
      expect(change('approval_rule_deleted', 'Deleted approval rule')).toBeUndefined();
      expect(
        change('group_saml_provider_update', 'enforced_sso changed from true to false. '),
      ).toBeUndefined();
      // details.change wins over the message.
      expect(
        event('update_approval_rules', {
          change: 'number of required approvals',
          from: 2,
          to: 0,
          custom_message: 'Changed number of required approvals from 2 to 0',
        }).pipewarden.change,
      ).toEqual({ field: 'number of required approvals', from: '2', to: '0' });
    });

    it('lets pipeline-weakening rate them, and stay silent when the safeguard comes back', () => {
      const hits = (e: ReturnType<typeof event>) =>
        new DetectionEngine([
          { detector: pipelineWeakening, config: pipelineWeakening.configSchema.parse({}) },
        ])
          .evaluate(e, at)
          .map((h) => [h.severity, h.summary]);
      const group = { entity_type: 'Group', entity_path: 'acme', target_type: 'Group' };
      expect(
        hits(
          event(
            'group_require_two_factor_authentication_updated',
            { change: 'require_two_factor_authentication', from: true, to: false },
            group,
          ),
        ),
      ).toEqual([['critical', 'example-user disabled the two-factor authentication requirement on acme']]);
      expect(
        hits(
          event(
            'group_require_two_factor_authentication_updated',
            { change: 'require_two_factor_authentication', from: false, to: true },
            group,
          ),
        ),
      ).toEqual([]);
      expect(
        hits(
          event(
            'protected_branch_allow_force_push_updated',
            { change: 'allow force push', from: false, to: true },
            branch,
          ),
        ),
      ).toEqual([
        [
          'high',
          'example-user allowed force pushes to a protected branch on example-group/example-project (branch main)',
        ],
      ]);
      expect(
        hits(
          event(
            'group_push_rules_prevent_secrets_updated',
            { change: 'prevent pushing secret files', from: true, to: false },
            group,
          ),
        ),
      ).toEqual([
        ['medium', 'example-user stopped rejecting pushes of secret files (group push rule) on acme'],
      ]);
      // Direction not in the event: the row's own, lower severity.
      expect(hits(event('group_require_two_factor_authentication_updated', {}, group))).toEqual([
        ['high', 'example-user changed the group two-factor authentication requirement on acme'],
      ]);
      expect(
        hits(
          event('skip_secret_push_protection', {
            custom_message: 'Secret push protection skipped via push option on branch main',
          }),
        ),
      ).toEqual([
        ['high', 'example-user skipped secret push protection on a push on example-group/example-project'],
      ]);
    });
  });
});
