import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelineWeakening } from '../../detectors/pipeline-weakening/index.ts';
import type { RunningApp } from '../../src/app.ts';
import { Secret } from '../../src/config/secrets.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { startEmbedded } from '../../test/support/app.ts';
import { listSamples, loadSample } from '../../test/support/samples.ts';
import { githubAudit } from './index.ts';
import { nextLink } from './poller.ts';

const TOKEN = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(TOKEN, 'test'), poll: undefined };
const at = new Date('2025-06-01T10:00:00Z');
const auth = { authorization: `Splunk ${TOKEN}` };

const expected: Record<string, string> = {
  'api.request.json': 'other',
  'audit_log_streaming.update.json': 'config.change',
  'integration_installation.create.json': 'permission.change',
  'org.add_member.json': 'permission.change',
  'org.invite_member.json': 'permission.change',
  'org.oauth_app_access_approved.json': 'permission.change',
  'protected_branch.create.json': 'config.change',
  'protected_branch.rejected_ref_update.json': 'access.denied',
  'repo.actions_enabled.json': 'config.change',
  'repo.add_member.json': 'permission.change',
  'repo.change_merge_setting.json': 'config.change',
  'repo.create.json': 'config.change',
  'repo.create_2.json': 'config.change',
  'repo.transfer.json': 'config.change',
  'repository_vulnerability_alerts.disable.json': 'config.change',
  'team.add_member.json': 'permission.change',
  'workflows.delete_workflow_run.json': 'build',
};

const samples = listSamples('github-audit').map((f) => loadSample('github-audit', f));
/** What GitHub's Splunk stream sends: HEC envelopes, concatenated. */
const hecBody = (entries: unknown[], sep = '') =>
  entries
    .map((e) => JSON.stringify({ event: e, sourcetype: 'github:enterprise:audit', time: 1.7e9 }))
    .join(sep);
const run = (raw: string, headers: Record<string, string> = auth) =>
  githubAudit.toEvents(githubAudit.parse!(Buffer.from(raw), headers), headers, at);

describe('github-audit', () => {
  it('has an expectation for every fixture', () => {
    expect(listSamples('github-audit')).toEqual(Object.keys(expected).sort());
  });

  describe('verify', () => {
    it('accepts "Splunk <token>" and rejects anything else', () => {
      const raw = Buffer.from('{}');
      expect(githubAudit.verify(raw, auth, config, at)).toEqual({ ok: true });
      expect(githubAudit.verify(raw, { authorization: `splunk  ${TOKEN}` }, config, at).ok).toBe(true);
      for (const bad of [
        '',
        TOKEN,
        `Bearer ${TOKEN}`,
        `Splunk ${TOKEN}x`,
        'Splunk ',
        `Splunk ${TOKEN.slice(1)}`,
      ]) {
        expect(githubAudit.verify(raw, { authorization: bad }, config, at).ok, bad).toBe(false);
      }
      expect(githubAudit.verify(raw, {}, config, at)).toMatchObject({ ok: false, reason: /missing/ });
      expect(githubAudit.verify(raw, auth, { ...config, secret: undefined }, at).ok).toBe(false);
    });
  });

  describe('parse and toEvents', () => {
    it('normalises every fixture, sent as one HEC event, to the right kind', () => {
      for (const s of samples) {
        const { events, reply } = run(hecBody([s.body]));
        expect(reply).toEqual({ text: 'Success', code: 0 });
        expect(events, s.file).toHaveLength(1);
        const e = events[0]!;
        expect(e.pipewarden.kind, s.file).toBe(expected[s.file]);
        expect(e.event.action).toBe((s.body as { action: string }).action);
        expect(e.event.dataset).toBe('github.audit');
        expect(e.user?.name, s.file).toBeTruthy();
        expect(EVENT_KINDS).toContain(e.pipewarden.kind);
        expect(e['@timestamp']).toBe(new Date((s.body as { created_at: number }).created_at).toISOString());
      }
    });

    it('reads many concatenated or newline-separated events in one request', () => {
      const entries = samples.map((s) => s.body);
      const a = run(hecBody(entries)).events;
      const b = run(`${hecBody(entries, '\n')}\n`).events;
      expect(a).toHaveLength(samples.length);
      expect(b.map((e) => e.event.id)).toEqual(a.map((e) => e.event.id));
      // Braces and quotes inside strings do not split events.
      const tricky = { action: 'repo.create', actor: 'a"}{b', created_at: 1, note: '\\"}' };
      expect(run(hecBody([tricky, tricky])).events[0]!.user?.name).toBe('a"}{b');
    });

    it('fills actor, IP, user agent, token hash, document id and org', () => {
      const api = samples.find((s) => s.file === 'api.request.json')!;
      const e = run(hecBody([{ ...(api.body as object), actor_ip: '203.0.113.9' }])).events[0]!;
      expect(e.user).toEqual({ name: 'user_actor', id: '11111' });
      expect(e.source?.ip).toBe('203.0.113.9');
      expect(e.user_agent?.original).toBe('curl/7.79.1');
      expect(e.organization?.name).toBe('user-delete');
      expect(e.pipewarden.delivery_id).toBe('Zt3XoecTsz6kAS-87bAEzQ');
      expect((e.pipewarden as { token?: unknown }).token).toMatchObject({
        hashed: 'E8Fzcgs3TQXqhrKKC/qNR+2XZnaK3ykQBSAt1kPMiJs=',
        scopes: 'repo,read:org',
      });
      // Same _document_id, same event id (redelivery is harmless downstream).
      expect(run(hecBody([api.body])).events[0]!.event.id).toBe(run(hecBody([api.body])).events[0]!.event.id);
    });

    it('maps the security actions the alerting rules care about', () => {
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{ action: 'protected_branch.destroy', actor: 'a', created_at: 1 }, 'config.change', 'deletion'],
        [
          { action: 'org.disable_two_factor_requirement', actor: 'a', created_at: 1 },
          'config.change',
          'change',
        ],
        [
          { action: 'repo.access', actor: 'a', visibility: 'public', created_at: 1 },
          'config.change',
          'change',
        ],
        [
          { action: 'user.failed_login', actor: 'a', actor_ip: '198.51.100.7', created_at: 1 },
          'login.failure',
          'start',
        ],
        [{ action: 'user.login', actor: 'a', created_at: 1 }, 'login.success', 'start'],
        [{ action: 'git.push', actor: 'a', created_at: 1 }, 'code.push', 'change'],
        [
          { action: 'secret_scanning_push_protection.bypass', actor: 'a', created_at: 1 },
          'security.alert',
          'change',
        ],
        [{ action: 'api.request', actor: 'a', status_code: 403, created_at: 1 }, 'access.denied', 'change'],
        [
          { action: 'personal_access_token.request_created', actor: 'a', created_at: 1 },
          'permission.change',
          'change',
        ],
      ];
      for (const [entry, kind, type] of cases) {
        const e = run(hecBody([entry])).events[0]!;
        expect([e.pipewarden.kind, e.event.type[0]], entry.action as string).toEqual([kind, type]);
      }
      const vis = run(hecBody([cases[2]![0]])).events[0]!;
      expect(vis.pipewarden.visibility).toBe('public');
      const failed = run(hecBody([cases[3]![0]])).events[0]!;
      expect([failed.event.outcome, failed.source?.ip]).toEqual(['failure', '198.51.100.7']);
    });

    it('records the member of a permission change (user, user_id) and the documented role fields', () => {
      const body = (file: string) => samples.find((s) => s.file === file)!.body as Record<string, unknown>;
      const added = run(hecBody([body('org.add_member.json')])).events[0]!;
      expect(added.user).toEqual({ name: 'github-actor', target: { name: 'github-user' } });
      expect(added.pipewarden.change).toBeUndefined();
      // org.add_member: `permission` is the role it joined with; an add has no "from", so no change.
      const admin = run(hecBody([{ ...body('org.add_member.json'), permission: 'ADMIN', user_id: 7 }]))
        .events[0]!;
      expect(admin.user?.target).toEqual({ name: 'github-user', id: '7', roles: ['admin'] });
      expect(admin.pipewarden.change).toBeUndefined();
      // org.update_member: old_permission → permission.
      const promoted = run(
        hecBody([
          {
            ...body('org.add_member.json'),
            action: 'org.update_member',
            permission: 'admin',
            old_permission: 'read',
          },
        ]),
      ).events[0]!;
      expect(promoted.pipewarden.change).toEqual({ field: 'permission', from: 'read', to: 'admin' });
      expect(promoted.user?.target?.roles).toEqual(['admin']);
      // repo.update_member: new_/old_repo_permission, the base role when the permission is absent.
      const repo = run(
        hecBody([
          {
            ...body('repo.add_member.json'),
            action: 'repo.update_member',
            old_repo_permission: 'read',
            new_repo_base_role: 'maintain',
          },
        ]),
      ).events[0]!;
      expect(repo.pipewarden.change).toEqual({ field: 'repo_permission', from: 'read', to: 'maintain' });
      // team.add_member and repo.add_member document no role: the member only.
      for (const file of ['team.add_member.json', 'repo.add_member.json']) {
        const e = run(hecBody([body(file)])).events[0]!;
        expect([e.user?.target, e.pipewarden.change], file).toEqual([{ name: 'github-user' }, undefined]);
      }
      // `user` on a configuration entry is not a permission target; a policy `permission` is not a role.
      expect(run(hecBody([body('protected_branch.create.json')])).events[0]!.user?.target).toBeUndefined();
      const policy = run(
        hecBody([
          { action: 'org.update_member_repository_creation_permission', actor: 'a', permission: 'false' },
        ]),
      ).events[0]!;
      expect([policy.pipewarden.kind, policy.pipewarden.change, policy.user?.target]).toEqual([
        'permission.change',
        undefined,
        undefined,
      ]);
    });

    it('lets pipeline-weakening rate a new organisation owner high, a repository maintainer medium', () => {
      const engine = () =>
        new DetectionEngine([
          { detector: pipelineWeakening, config: pipelineWeakening.configSchema.parse({}) },
        ]);
      const entry = (extra: Record<string, unknown>) =>
        run(
          hecBody([{ actor: 'mallory', org: 'octo-org', created_at: 1717243200000, user: 'eve', ...extra }]),
        ).events[0]!;
      const org = engine().evaluate(
        entry({ action: 'org.update_member', permission: 'admin', old_permission: 'read' }),
        at,
      );
      expect(org.map((h) => [h.severity, h.summary])).toEqual([
        ['high', 'mallory granted admin to eve (was read) on octo-org'],
      ]);
      const repo = engine().evaluate(
        entry({
          action: 'repo.update_member',
          repo: 'octo-org/api',
          new_repo_permission: 'maintain',
          old_repo_permission: 'write',
        }),
        at,
      );
      expect(repo.map((h) => h.severity)).toEqual(['medium']);
      const unknown = engine().evaluate(entry({ action: 'org.update_member' }), at);
      expect(unknown.map((h) => [h.severity, h.summary])).toEqual([
        ['medium', 'mallory changed a member’s role (possibly to owner or admin) on octo-org'],
      ]);
      const demoted = engine().evaluate(
        entry({ action: 'org.update_member', permission: 'read', old_permission: 'admin' }),
        at,
      );
      expect(demoted).toEqual([]);
    });

    it('uses the HEC envelope time when the entry has none, and accepts a stringified entry', () => {
      const e = run(
        JSON.stringify({ event: JSON.stringify({ action: 'repo.create', actor: 'a' }), time: 1700000000.5 }),
      ).events[0]!;
      expect(e['@timestamp']).toBe('2023-11-14T22:13:20.500Z');
    });

    it('refuses what HEC refuses, with HEC texts', () => {
      expect(() => run('')).toThrow(/No data/);
      expect(() => run('  \n ')).toThrow(/No data/);
      expect(() => run('[{"event":{}}]')).toThrow(/Invalid data format/);
      expect(() => run('{"event":{"action":"a"}')).toThrow(/cut off/);
      expect(() => run('{"time":1}')).toThrow(/Event field is required/);
      expect(() => run('{"event":""}')).toThrow(/Event field cannot be blank/);
      expect(() => run('{"event":"hello"}')).toThrow(/Invalid data format/);
      expect(() => run('{"event":{"actor":"x"}}')).toThrow(/action/);
      expect(() => run('"x"')).toThrow(AdapterInputError);
    });
  });

  it('parses Link headers', () => {
    expect(nextLink('<https://api.github.com/orgs/o/audit-log?after=abc&before=>; rel="next"')).toBe(
      'https://api.github.com/orgs/o/audit-log?after=abc&before=',
    );
    expect(nextLink('<https://x/prev>; rel="prev", <https://x/next>; rel="next"')).toBe('https://x/next');
    expect(nextLink('<https://x/first>; rel="first"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });

  describe('over HTTP (Splunk HEC paths)', () => {
    let app: RunningApp;
    beforeAll(async () => {
      ({ app } = await startEmbedded({}, { PIPEWARDEN_GITHUB_AUDIT_HEC_TOKEN: 'hec-test-token-0123' }, [
        'ingest',
      ]));
    });
    afterAll(async () => {
      await app?.stop();
    });
    const post = (url: string, payload: string, headers: Record<string, string>) =>
      app.server.inject({ method: 'POST', url, payload, headers });
    const good = { authorization: 'Splunk hec-test-token-0123', 'content-type': 'application/json' };

    it('accepts every fixture in one request at both paths, answering like Splunk', async () => {
      const raw = hecBody(
        samples.map((s) => s.body),
        '\n',
      );
      for (const url of ['/services/collector/event', '/services/collector', '/ingest/github-audit']) {
        const res = await post(url, raw, good);
        expect(res.statusCode, url).toBe(200);
        expect(res.json()).toMatchObject({ text: 'Success', code: 0, accepted: samples.length });
      }
      const plain = await post('/services/collector', raw, {
        authorization: 'Splunk hec-test-token-0123',
        'content-type': 'text/plain',
      });
      expect(plain.statusCode).toBe(200);
    });

    it('answers errors with HEC codes and 4xx statuses', async () => {
      const raw = hecBody([samples[0]!.body]);
      const cases: Array<[string, Record<string, string>, number, number]> = [
        [raw, { 'content-type': 'application/json' }, 401, 2],
        [raw, { ...good, authorization: 'Splunk wrong' }, 403, 4],
        [raw, { ...good, authorization: 'Bearer hec-test-token-0123' }, 401, 3],
        ['{"event":', good, 400, 6],
        ['{"fields":{}}', good, 400, 12],
        ['{"event":""}', good, 400, 13],
      ];
      for (const [body, headers, status, code] of cases) {
        const res = await post('/services/collector/event', body, headers);
        expect([res.statusCode, res.json().code], body).toEqual([status, code]);
        expect(typeof res.json().text).toBe('string');
      }
      // The generic answer shape is kept on the /ingest route.
      const res = await post('/ingest/github-audit', '{"event":', good);
      expect(res.json()).toMatchObject({ error: 'bad_request' });
    });
  });
});
