import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gitlabAudit } from '../../ingest-adapters/gitlab-audit/index.ts';
import { Secret } from '../../src/config/secrets.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../support/samples.ts';

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

  describe('property', () => {
    const headers = fc.dictionary(
      fc.constantFrom('x-gitlab-event-streaming-token', 'x-gitlab-audit-event-type', 'content-type'),
      fc.string(),
    );
    it('never throws anything but AdapterInputError', () => {
      const bodies = fc.oneof(
        fc.string(),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc
          .tuple(
            fc.integer({ min: 0, max: samples.length - 1 }),
            fc.constantFrom(
              'id',
              'event_type',
              'details',
              'created_at',
              'author_name',
              'ip_address',
              'entity_path',
            ),
            fc.jsonValue(),
          )
          .map(([i, k, v]) => JSON.stringify({ ...(samples[i]!.body as object), [k]: v })),
      );
      fc.assert(
        fc.property(bodies, headers, (raw, h) => {
          try {
            const out = gitlabAudit.toEvents(gitlabAudit.parse!(Buffer.from(raw), h), h, at);
            for (const e of out.events) expect(EVENT_KINDS).toContain(e.pipewarden.kind);
          } catch (err) {
            expect(err).toBeInstanceOf(AdapterInputError);
          }
        }),
        { numRuns: 400 },
      );
    });
    it('never verifies without the token', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 100 }), headers, (raw, h) => {
          expect(gitlabAudit.verify(Buffer.from(raw), h, config, at).ok).toBe(false);
        }),
        { numRuns: 300 },
      );
    });
  });
});
