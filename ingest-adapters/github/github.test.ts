import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pipelineWeakening } from '../../detectors/pipeline-weakening/index.ts';
import { Secret } from '../../src/config/secrets.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { EVENT_KINDS, eventId, eventIdWithContent, type PipewardenEvent } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { github } from './index.ts';

const SAMPLE_SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SAMPLE_SECRET, 'test') };
const at = new Date('2024-06-01T10:00:00Z');

describe('github', () => {
  describe('verify', () => {
    it('accepts the documented test vector', () => {
      const body = Buffer.from('Hello, World!');
      const sig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
      const cfg = { enabled: true, secret: new Secret("It's a Secret to Everybody", 'test') };
      expect(github.verify(body, { 'x-hub-signature-256': sig }, cfg, at)).toEqual({ ok: true });
    });

    it('accepts every real sample as signed by the corpus secret', () => {
      for (const file of listSamples('github')) {
        const s = loadSample('github', file);
        expect(github.verify(Buffer.from(rawBody(s)), lowerHeaders(s.headers), config, at), file).toEqual({
          ok: true,
        });
      }
    });

    it('rejects a missing, malformed, truncated or wrong signature, and a tampered body', () => {
      const body = Buffer.from('{"a":1}');
      const good = `sha256=${createHmac('sha256', SAMPLE_SECRET).update(body).digest('hex')}`;
      expect(github.verify(body, { 'x-hub-signature-256': good }, config, at).ok).toBe(true);
      for (const bad of [
        undefined,
        '',
        'sha1=abc',
        good.slice(0, -2),
        `${good.slice(0, -1)}0`,
        `${good}00`,
        'sha256=zz',
      ]) {
        const headers = bad === undefined ? {} : { 'x-hub-signature-256': bad };
        expect(github.verify(body, headers, config, at).ok, String(bad)).toBe(false);
      }
      expect(github.verify(Buffer.from('{"a":2}'), { 'x-hub-signature-256': good }, config, at).ok).toBe(
        false,
      );
      expect(
        github.verify(body, { 'x-hub-signature-256': good }, { enabled: true, secret: undefined }, at).ok,
      ).toBe(false);
    });
  });

  describe('toEvents', () => {
    it('normalises every real sample to one event with a known kind and stable id', () => {
      for (const file of listSamples('github')) {
        const s = loadSample('github', file);
        const headers = lowerHeaders(s.headers);
        const { events } = github.toEvents(s.body, headers, at);
        expect(events, file).toHaveLength(1);
        const e = events[0]!;
        expect(EVENT_KINDS).toContain(e.pipewarden.kind);
        expect(e.event.provider).toBe('github');
        expect(e.pipewarden.delivery_id).toBe(headers['x-github-delivery']);
        expect(github.toEvents(s.body, headers, new Date()).events[0]!.event.id, file).toBe(e.event.id);
        expect(Number.isNaN(Date.parse(e['@timestamp']))).toBe(false);
      }
    });

    it('derives the id of a routed body from the signed text: the same as from the payload when compact, the same on a replay', () => {
      const s = loadSample('github', 'push__default.json');
      const headers = lowerHeaders(s.headers);
      const id = (body: unknown) => github.toEvents(body, headers, at).events[0]!.event.id;
      const compact = JSON.stringify(s.body);
      // GitHub's own (compact) text: the id is the one the parsed payload always had.
      expect(id(github.parse!(Buffer.from(compact), headers))).toBe(id(s.body));
      // Other bytes of the same content are other signed content: an id of their own, stable on a replay.
      const pretty = Buffer.from(JSON.stringify(s.body, null, 2));
      const first = id(github.parse!(pretty, headers));
      expect(first).not.toBe(id(s.body));
      expect(id(github.parse!(Buffer.from(pretty), headers))).toBe(first);
      // Form-encoded, the payload field's text is what is hashed.
      const form = Buffer.from(new URLSearchParams({ payload: compact }).toString());
      const formHeaders = { ...headers, 'content-type': 'application/x-www-form-urlencoded' };
      expect(github.toEvents(github.parse!(form, formHeaders), formHeaders, at).events[0]!.event.id).toBe(
        id(s.body),
      );
    });

    it('gives the same id whether the signed body is hashed as received bytes or as its text', () => {
      const s = loadSample('github', 'push__default.json');
      const headers = lowerHeaders(s.headers);
      const id = (body: unknown) => github.toEvents(body, headers, at).events[0]!.event.id;
      // Non-ASCII text (valid UTF-8): the bytes are hashed, and give the id the text always gave.
      const body = { ...(s.body as Record<string, unknown>), note: 'déploiement — 完了 ✓' };
      const text = JSON.stringify(body);
      expect(id(github.parse!(Buffer.from(text), headers))).toBe(id(body));
      expect(eventIdWithContent(['github'], 'push:', Buffer.from(text))).toBe(
        eventId('github', `push:${text}`),
      );
      // Bytes that are not valid UTF-8 decode with replacement characters: the decoded text is hashed, as before.
      const bad = Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from(',"x":"\xff\xfe"}', 'latin1')]);
      const decoded = bad.toString('utf8');
      expect(id(github.parse!(bad, headers))).toBe(eventId('github', `push:${decoded}`));
    });

    it('maps security-relevant events to their kinds and fills actor and repository', () => {
      const cases: Array<[string, string, string]> = [
        ['branch_protection_rule__deleted.json', 'config.change', 'branch_protection_rule.deleted'],
        ['repository__publicized.json', 'config.change', 'repository.publicized'],
        ['member__added.with-installation.json', 'permission.change', 'member.added'],
        ['deployment__gh-pages.json', 'deploy', 'deployment.created'],
        ['workflow_run__completed.json', 'build', 'workflow_run.completed'],
        ['push__default.json', 'code.push', 'push'],
        ['secret_scanning_alert__reopened.json', 'security.alert', 'secret_scanning_alert.reopened'],
        ['ping__default.json', 'other', 'ping'],
      ];
      for (const [file, kind, action] of cases) {
        const s = loadSample('github', file);
        const e = github.toEvents(s.body, lowerHeaders(s.headers), at).events[0]!;
        expect(e.pipewarden.kind, file).toBe(kind);
        expect(e.event.action, file).toBe(action);
        expect(e.user?.name, file).toBeTruthy();
      }
      const s = loadSample('github', 'repository__publicized.json');
      const e = github.toEvents(s.body, lowerHeaders(s.headers), at).events[0]!;
      expect(e.pipewarden.repository).toBe('Codertocat/Hello-World');
      expect(e.message).toContain('Codertocat');
    });

    it('answers a ping with a pong', () => {
      const s = loadSample('github', 'ping__default.json');
      expect(github.toEvents(s.body, lowerHeaders(s.headers), at).reply).toMatchObject({ pong: true });
    });

    it('redacts credential-looking values in the kept raw payload', () => {
      const body = {
        action: 'created',
        hook: { config: { secret: 'hunter2', url: 'https://x' } },
        sender: { login: 'a' },
      };
      const e = github.toEvents(body, { 'x-github-event': 'meta', 'x-github-delivery': 'd1' }, at).events[0]!;
      expect(JSON.stringify(e)).not.toContain('hunter2');
      expect(JSON.stringify(e.pipewarden.raw)).toContain('https://x');
    });

    it('refuses a body without an event header or that is not an object', () => {
      expect(() => github.toEvents({}, {}, at)).toThrow(AdapterInputError);
      expect(() => github.toEvents([1, 2], { 'x-github-event': 'push' }, at)).toThrow(/JSON object/);
      expect(() => github.toEvents('x', { 'x-github-event': 'push' }, at)).toThrow(AdapterInputError);
    });
  });
  describe('security-relevant details', () => {
    const event = (file: string, patch: (b: Record<string, any>) => void = () => {}) => {
      const s = loadSample('github', file);
      const body = structuredClone(s.body) as Record<string, any>;
      patch(body);
      return github.toEvents(body, lowerHeaders(s.headers), at).events[0]!;
    };
    type Extras = { runner?: Record<string, unknown>; forced?: boolean };

    it('records the runner of a workflow job, and whether it is self-hosted', () => {
      const hosted = event('workflow_job__completed.success.with-organization.json');
      expect((hosted.pipewarden as Extras).runner).toEqual({
        name: 'GitHub Actions 5',
        id: '5',
        group: 'GitHub Actions',
        labels: ['ubuntu-latest'],
        self_hosted: false,
      });
      const own = event('workflow_job__completed.success.with-organization.json', (b) => {
        b.workflow_job.labels = ['self-hosted', 'linux', 'gpu'];
        b.workflow_job.runner_name = 'build-box-1';
        b.workflow_job.runner_group_name = 'Default';
      });
      expect((own.pipewarden as Extras).runner).toMatchObject({
        name: 'build-box-1',
        group: 'Default',
        self_hosted: true,
      });
    });

    it('marks forced pushes, and new and deleted branches', () => {
      expect((event('push__default.json').pipewarden as Extras).forced).toBeUndefined();
      const forced = event('push__default.json', (b) => {
        b.forced = true;
      });
      expect((forced.pipewarden as Extras).forced).toBe(true);
      expect(forced.message).toMatch(/force-pushed/);
      expect(event('push__with-new-branch.json').event.type).toEqual(['creation']);
    });

    it('accepts the GitHub Enterprise Server samples: anonymous access enabled, repository deleted', () => {
      const anon = event('ghes__enterprise__anonymous_access_enabled.json');
      expect([anon.pipewarden.kind, anon.event.action]).toEqual([
        'config.change',
        'enterprise.anonymous_access_enabled',
      ]);
      const deleted = event('ghes__repository__deleted.json');
      expect([deleted.pipewarden.kind, deleted.event.action, deleted.event.type[0]]).toEqual([
        'config.change',
        'repository.deleted',
        'deletion',
      ]);
      expect(deleted.pipewarden.repository).toBe('Octocoders/Hello-World');
      const moved = event('repository__transferred.with-installation.json');
      expect([moved.pipewarden.kind, moved.event.action]).toEqual([
        'config.change',
        'repository.transferred',
      ]);
    });

    it('maps every webhook type the issue lists to its kind', () => {
      const kinds: Record<string, string> = {
        push: 'code.push',
        branch_protection_rule: 'config.change',
        repository_ruleset: 'config.change',
        repository: 'config.change',
        member: 'permission.change',
        membership: 'permission.change',
        organization: 'permission.change',
        team: 'permission.change',
        deploy_key: 'permission.change',
        deployment: 'deploy',
        deployment_status: 'deploy',
        workflow_run: 'build',
        workflow_job: 'build',
        secret_scanning_alert: 'security.alert',
        meta: 'config.change',
        installation: 'permission.change',
        personal_access_token_request: 'permission.change',
        star: 'other',
      };
      for (const [name, kind] of Object.entries(kinds)) {
        const body = { action: 'created', sender: { login: 'octo' }, repository: { full_name: 'o/r' } };
        const e = github.toEvents(body, { 'x-github-event': name, 'x-github-delivery': `d-${name}` }, at)
          .events[0]!;
        expect(e.pipewarden.kind, name).toBe(kind);
      }
      const pat = github.toEvents(
        {
          action: 'approved',
          personal_access_token_request: { id: 1, permissions_added: {} },
          sender: { login: 'admin' },
          organization: { login: 'acme' },
        },
        { 'x-github-event': 'personal_access_token_request', 'x-github-delivery': 'pat-1' },
        at,
      ).events[0]!;
      expect([pat.event.action, pat.user?.name, pat.organization?.name]).toEqual([
        'personal_access_token_request.approved',
        'admin',
        'acme',
      ]);
    });
  });

  describe('membership hooks: the member and its role (user.target, pipewarden.change)', () => {
    type Body = Record<string, unknown> & { membership?: Record<string, unknown> };
    const event = (file: string, patch: (b: Body) => void = () => {}) => {
      const s = loadSample('github', file);
      const body = structuredClone(s.body) as Body;
      patch(body);
      return github.toEvents(body, lowerHeaders(s.headers), at).events[0]!;
    };
    const hits = (e: PipewardenEvent) =>
      new DetectionEngine([
        { detector: pipelineWeakening, config: pipelineWeakening.configSchema.parse({}) },
      ]).evaluate(e, at);

    it('organization.member_added: membership.user with membership.role, the sender stays the actor', () => {
      const e = event('organization__member_added.json');
      expect(e.user).toMatchObject({
        name: 'Codertocat',
        target: { name: 'hacktocat', id: '39652351', roles: ['member'] },
      });
      expect(e.pipewarden.change).toBeUndefined();
      const admin = event('organization__member_added.json', (b) => {
        b.membership!.role = 'Admin';
      });
      expect(admin.user?.target?.roles).toEqual(['admin']);
    });

    it('organization.member_invited: the invitee with the role offered; member_removed: no role kept', () => {
      expect(event('organization__member_invited.json').user?.target).toEqual({
        name: 'hacktocat',
        id: '39652351',
        roles: ['direct_member'],
      });
      const removed = event('organization__member_added.json', (b) => {
        b.action = 'member_removed';
      });
      expect(removed.user?.target).toEqual({ name: 'hacktocat', id: '39652351' });
    });

    it('member.added: the collaborator, and changes.role_name.to before the legacy changes.permission.to', () => {
      const plain = event('member__added.with-installation.json');
      expect(plain.user?.target).toEqual({ name: 'hacktocat', id: '39652351' });
      expect(plain.pipewarden.change).toBeUndefined();
      const both = event('member__added.with-installation.json', (b) => {
        b.changes = { permission: { to: 'write' }, role_name: { to: 'Maintain' } };
      });
      expect(both.pipewarden.change).toEqual({ field: 'role_name', to: 'maintain' });
      expect(both.user?.target?.roles).toEqual(['maintain']);
      const legacy = event('member__added.with-installation.json', (b) => {
        b.changes = { permission: { to: 'admin' } };
      });
      expect(legacy.pipewarden.change).toEqual({ field: 'permission', to: 'admin' });
    });

    it('member.edited: changes.permission.from/to, or only the older changes.old_permission.from', () => {
      const edited = event('member__added.with-installation.json', (b) => {
        b.action = 'edited';
        b.changes = { old_permission: { from: 'write' }, permission: { from: 'write', to: 'admin' } };
      });
      expect(edited.event.action).toBe('member.edited');
      expect(edited.pipewarden.change).toEqual({ field: 'permission', from: 'write', to: 'admin' });
      expect(edited.user?.target).toEqual({ name: 'hacktocat', id: '39652351', roles: ['admin'] });
      const old = event('member__added.with-installation.json', (b) => {
        b.action = 'edited';
        b.changes = { old_permission: { from: 'write' } };
      });
      expect(old.pipewarden.change).toEqual({ field: 'permission', from: 'write' });
      expect(old.user?.target?.roles).toBeUndefined();
    });

    it('team membership carries no role: the member only', () => {
      const e = event('membership__added.json');
      expect(e.user?.target).toEqual({ name: 'Codertocat', id: '21031067' });
      expect(e.pipewarden.change).toBeUndefined();
    });

    it('pipeline-weakening rates an organisation admin high and a repository admin medium', () => {
      const org = hits(
        event('organization__member_added.json', (b) => {
          b.membership!.role = 'admin';
        }),
      );
      expect(org.map((h) => [h.severity, h.summary])).toEqual([
        ['high', 'Codertocat added hacktocat as admin on Octocoders'],
      ]);
      const repo = hits(
        event('member__added.with-installation.json', (b) => {
          b.action = 'edited';
          b.changes = { permission: { from: 'read', to: 'admin' } };
        }),
      );
      expect(repo.map((h) => h.severity)).toEqual(['medium']);
      expect(repo[0]!.context).toMatchObject({ target: 'hacktocat', role: 'admin', from: 'read' });
      const unknown = hits(
        event('member__added.with-installation.json', (b) => {
          b.action = 'edited';
          b.changes = { old_permission: { from: 'read' } };
        }),
      );
      expect(unknown.map((h) => h.severity)).toEqual(['medium']);
      expect(unknown[0]!.summary).toMatch(/possibly to admin/);
    });
  });
});
