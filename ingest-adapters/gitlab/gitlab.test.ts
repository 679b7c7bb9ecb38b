import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pipelineWeakening } from '../../detectors/pipeline-weakening/index.ts';
import { Secret } from '../../src/config/secrets.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { gitlab } from './index.ts';

const SAMPLE_SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SAMPLE_SECRET, 'test') };
const at = new Date('2024-06-01T10:00:00Z');

const expected: Record<string, [kind: string, action: string]> = {
  'build.json': ['build', 'job.created'],
  'feature_flag.json': ['config.change', 'feature_flag'],
  'issue.json': ['other', 'issue.open'],
  'member.json': ['permission.change', 'user_add_to_group'],
  'note_commit.json': ['other', 'note.create'],
  'note_merge_request.json': ['other', 'note.create'],
  'pipeline.json': ['build', 'pipeline.success'],
  'release.json': ['other', 'release.create'],
  'resource_access_token_project.json': ['other', 'access_token.expiring_access_token'],
  'tag_push.json': ['code.push', 'tag_push'],
  'system__group_create.json': ['config.change', 'group_create'],
  'system__group_rename.json': ['config.change', 'group_rename'],
  'system__key_destroy.json': ['permission.change', 'key_destroy'],
  'system__project_create.json': ['config.change', 'project_create'],
  'system__project_rename.json': ['config.change', 'project_rename'],
  'system__project_update.json': ['config.change', 'project_update'],
  'system__repository_update.json': ['code.push', 'repository_update'],
  'system__push.json': ['code.push', 'push'],
  'system__tag_push.json': ['code.push', 'tag_push'],
  'system__user_add_to_group.json': ['permission.change', 'user_add_to_group'],
  'system__user_create.json': ['permission.change', 'user_create'],
  'system__user_failed_login.json': ['login.failure', 'user_failed_login'],
  'system__user_remove_from_team.json': ['permission.change', 'user_remove_from_team'],
  'system__user_update_for_group.json': ['permission.change', 'user_update_for_group'],
};

describe('gitlab', () => {
  it('has an expectation for every fixture', () => {
    expect(listSamples('gitlab')).toEqual(Object.keys(expected).sort());
  });

  describe('verify', () => {
    it('accepts every real sample with the corpus token', () => {
      for (const file of listSamples('gitlab')) {
        const s = loadSample('gitlab', file);
        expect(gitlab.verify(Buffer.from(rawBody(s)), lowerHeaders(s.headers), config, at), file).toEqual({
          ok: true,
        });
      }
    });

    it('rejects a missing or wrong token, and any token when none is configured', () => {
      const body = Buffer.from('{}');
      expect(gitlab.verify(body, {}, config, at).ok).toBe(false);
      for (const bad of ['', 'sample-webhook-secre', 'sample-webhook-secret ', 'SAMPLE-WEBHOOK-SECRET']) {
        expect(gitlab.verify(body, { 'x-gitlab-token': bad }, config, at).ok, bad).toBe(false);
      }
      expect(
        gitlab.verify(body, { 'x-gitlab-token': SAMPLE_SECRET }, { enabled: true, secret: undefined }, at).ok,
      ).toBe(false);
    });

    it('checks Standard-Webhooks signatures with a whsec_ key and refuses stale timestamps', () => {
      const key = Buffer.alloc(32, 7);
      const cfg = { enabled: true, secret: new Secret(`whsec_${key.toString('base64')}`, 'test') };
      const body = Buffer.from('{"object_kind":"push"}');
      const ts = String(Math.floor(at.getTime() / 1000));
      const sign = (t: string) =>
        `v1,${createHmac('sha256', key).update(`msg_1.${t}.`).update(body).digest('base64')}`;
      const h = {
        'webhook-id': 'msg_1',
        'webhook-timestamp': ts,
        'webhook-signature': `v1,AAAA ${sign(ts)}`,
      };
      expect(gitlab.verify(body, h, cfg, at)).toEqual({ ok: true });
      expect(gitlab.verify(Buffer.from('{}'), h, cfg, at).ok).toBe(false);
      const old = String(Number(ts) - 600);
      const stale = gitlab.verify(
        body,
        { ...h, 'webhook-timestamp': old, 'webhook-signature': sign(old) },
        cfg,
        at,
      );
      expect(stale).toMatchObject({ ok: false, reason: expect.stringMatching(/stale/) });
      // With a signing key configured, the plain token is not enough.
      expect(gitlab.verify(body, { 'x-gitlab-token': cfg.secret.reveal() }, cfg, at).ok).toBe(false);
    });
  });

  describe('toEvents', () => {
    it('normalises every fixture to one event of the right kind, with a stable id', () => {
      for (const file of listSamples('gitlab')) {
        const s = loadSample('gitlab', file);
        const headers = lowerHeaders(s.headers);
        const { events } = gitlab.toEvents(s.body, headers, at);
        expect(events, file).toHaveLength(1);
        const e = events[0]!;
        expect([e.pipewarden.kind, e.event.action], file).toEqual(expected[file]);
        expect(EVENT_KINDS).toContain(e.pipewarden.kind);
        expect(e.event.provider).toBe('gitlab');
        expect(e.pipewarden.delivery_id).toBe(headers['idempotency-key']);
        expect(gitlab.deliveryId(headers, s.body)).toBe(headers['idempotency-key']);
        expect(gitlab.toEvents(s.body, headers, new Date()).events[0]!.event.id).toBe(e.event.id);
        expect(Number.isNaN(Date.parse(e['@timestamp'])), file).toBe(false);
      }
    });

    it('turns a blocked user sign-in into login.failure with the user and the receive time', () => {
      const s = loadSample('gitlab', 'system__user_failed_login.json');
      const e = gitlab.toEvents(s.body, lowerHeaders(s.headers), at).events[0]!;
      expect(e.user?.name).toBe('user4');
      expect(e.event.outcome).toBe('failure');
      expect(e.event.category).toEqual(['authentication']);
      expect(e.event.dataset).toBe('gitlab.system_hook');
      expect(e['@timestamp']).toBe(at.toISOString()); // created_at is the user's creation, not the attempt
      expect(e.message).toMatch(/blocked/);
    });

    it('fills actor, project, ref, commit, runner and outcome for pipelines and jobs', () => {
      const pipeline = loadSample('gitlab', 'pipeline.json');
      const p = gitlab.toEvents(pipeline.body, lowerHeaders(pipeline.headers), at).events[0]!;
      expect(p.user?.name).toBe('user1');
      expect(p.pipewarden.repository).toBe('gitlab-org/gitlab-test');
      expect(p.pipewarden.branch).toBe('master');
      expect(p.event.outcome).toBe('success');
      expect(p['@timestamp']).toBe('2016-08-12T15:26:29.000Z');
      const job = loadSample('gitlab', 'build.json');
      const j = gitlab.toEvents(job.body, lowerHeaders(job.headers), at).events[0]!;
      expect(j.pipewarden.job).toBe('test');
      expect(j.pipewarden.runner).toMatchObject({
        name: 'shared-runners-manager-6.gitlab.com',
        self_hosted: true,
        labels: ['linux', 'docker'],
      });
      const tag = loadSample('gitlab', 'tag_push.json');
      const t = gitlab.toEvents(tag.body, lowerHeaders(tag.headers), at).events[0]!;
      expect(t.user?.name).toBe('jsmith');
      expect(t.pipewarden.branch).toBe('v1.0.0');
      expect(t.event.type).toEqual(['creation']);
    });

    it('membership hooks: the user_* fields are the member (user.target), with the role it now holds', () => {
      const load = (file: string, extra: Record<string, unknown> = {}) => {
        const s = loadSample('gitlab', file);
        return gitlab.toEvents({ ...(s.body as object), ...extra }, lowerHeaders(s.headers), at).events[0]!;
      };
      const added = load('system__user_add_to_group.json');
      // GitLab names no actor for membership hooks: the member must not pass for one.
      expect(added.user).toEqual({ target: { name: 'johnsmith', id: '41', roles: ['maintainer'] } });
      expect(added.pipewarden.change).toBeUndefined();
      expect(added.organization?.name).toBe('storecloud');
      expect(added.message).toContain('johnsmith');
      const guest = load('member.json');
      expect([guest.user?.name, guest.user?.target]).toEqual([
        undefined,
        { name: 'user1', id: '64', roles: ['guest'] },
      ]);
      // An update carries only the new role (group_access), so the change has no "from".
      const updated = load('system__user_update_for_group.json');
      expect(updated.pipewarden.change).toEqual({ field: 'group_access', to: 'maintainer' });
      // Project ("team") events name the role access_level; a removal leaves no role.
      const removed = load('system__user_remove_from_team.json');
      expect([removed.user?.target, removed.pipewarden.repository, removed.pipewarden.change]).toEqual([
        { name: 'johnsmith', id: '41' },
        'jsmith/storecloud',
        undefined,
      ]);
      const teamUpdate = load('system__user_remove_from_team.json', {
        event_name: 'user_update_for_team',
        access_level: 'Developer',
      });
      expect(teamUpdate.pipewarden.change).toEqual({ field: 'access_level', to: 'developer' });
      expect(teamUpdate.user?.target?.roles).toEqual(['developer']);
      // Other user_* hooks keep their user as the actor.
      expect(load('system__user_failed_login.json').user?.target).toBeUndefined();
    });

    it('lets pipeline-weakening rate a group maintainer high and a project maintainer medium', () => {
      const hits = (file: string, extra: Record<string, unknown>) => {
        const s = loadSample('gitlab', file);
        const e = gitlab.toEvents({ ...(s.body as object), ...extra }, lowerHeaders(s.headers), at)
          .events[0]!;
        return new DetectionEngine([
          { detector: pipelineWeakening, config: pipelineWeakening.configSchema.parse({}) },
        ]).evaluate(e, at);
      };
      expect(hits('system__user_add_to_group.json', {}).map((h) => [h.severity, h.summary])).toEqual([
        ['high', 'An unknown actor added johnsmith as maintainer on storecloud'],
      ]);
      const project = hits('system__user_remove_from_team.json', { event_name: 'user_add_to_team' });
      expect(project.map((h) => [h.severity, h.summary])).toEqual([
        ['medium', 'An unknown actor added johnsmith as maintainer on jsmith/storecloud'],
      ]);
      expect(hits('system__user_add_to_group.json', { group_access: 'Reporter' })).toEqual([]);
    });

    it('maps deployment hooks to deploy with the status as outcome', () => {
      const body = {
        object_kind: 'deployment',
        status: 'failed',
        status_changed_at: '2021-04-28 21:50:00 +0200',
        deployable_id: 796,
        deployable_url: 'http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796',
        environment: 'production',
        project: { path_with_namespace: 'root/test-deployment-webhooks', web_url: 'http://x' },
        short_sha: 'a123',
        user: { username: 'root', id: 1 },
        ref: 'main',
      };
      const e = gitlab.toEvents(body, { 'x-gitlab-event': 'Deployment Hook' }, at).events[0]!;
      expect(e.pipewarden.kind).toBe('deploy');
      expect(e.event.action).toBe('deployment.failed');
      expect(e.event.outcome).toBe('failure');
      expect(e.pipewarden.environment).toBe('production');
      expect(e.user?.name).toBe('root');
      expect(e['@timestamp']).toBe('2021-04-28T19:50:00.000Z');
    });

    it('marks pushes that create or delete a branch, and merge requests as other', () => {
      const push = {
        object_kind: 'push',
        before: '0'.repeat(40),
        after: 'abc',
        ref: 'refs/heads/x',
        user_username: 'u',
        project: { path_with_namespace: 'g/p' },
      };
      expect(gitlab.toEvents(push, { 'x-gitlab-event': 'Push Hook' }, at).events[0]!.event.type).toEqual([
        'creation',
      ]);
      const del = { ...push, before: 'abc', after: '0'.repeat(40) };
      expect(gitlab.toEvents(del, { 'x-gitlab-event': 'Push Hook' }, at).events[0]!.event.type).toEqual([
        'deletion',
      ]);
      const mr = {
        object_kind: 'merge_request',
        user: { username: 'u' },
        object_attributes: { action: 'merge', target_branch: 'main' },
        project: { path_with_namespace: 'g/p' },
      };
      const e = gitlab.toEvents(mr, { 'x-gitlab-event': 'Merge Request Hook' }, at).events[0]!;
      expect([e.pipewarden.kind, e.event.action, e.pipewarden.branch]).toEqual([
        'other',
        'merge_request.merge',
        'main',
      ]);
      const destroy = {
        event_name: 'project_destroy',
        path_with_namespace: 'g/p',
        project_visibility: 'public',
      };
      const d = gitlab.toEvents(destroy, { 'x-gitlab-event': 'System Hook' }, at).events[0]!;
      expect([d.pipewarden.kind, d.event.type[0], d.pipewarden.visibility]).toEqual([
        'config.change',
        'deletion',
        'public',
      ]);
    });

    it('refuses a body without an event header, not an object, or of no known shape', () => {
      expect(() => gitlab.toEvents({ object_kind: 'push' }, {}, at)).toThrow(AdapterInputError);
      expect(() => gitlab.toEvents([1], { 'x-gitlab-event': 'Push Hook' }, at)).toThrow(AdapterInputError);
      expect(() => gitlab.toEvents({ a: 1 }, { 'x-gitlab-event': 'Push Hook' }, at)).toThrow(/object_kind/);
    });
  });
});
