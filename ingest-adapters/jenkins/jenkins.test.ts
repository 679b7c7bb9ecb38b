import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError, type Headers } from '../../src/ingest/types.ts';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../test/support/samples.ts';
import { signers } from '../../test/support/signers.ts';
import { jenkins, jenkinsLines } from './index.ts';

const SECRET = 'sample-webhook-secret';
const config = { enabled: true, secret: new Secret(SECRET, 'test') };
const at = new Date('2026-01-10T10:00:00Z');

/** Headers a configured Jenkins plugin sends for a sample: its own, the content type, and Basic auth. */
function headersFor(file: string): Record<string, string> {
  const s = loadSample('jenkins', file);
  const h = lowerHeaders(s.headers);
  h['content-type'] ??= typeof s.body === 'string' ? 'text/plain' : 'application/json';
  h.authorization ??= signers.jenkins!(rawBody(s), SECRET, at).authorization!;
  return h;
}

/** What the HTTP plugin does after auth: parse, then normalise. */
function normalise(raw: Buffer, headers: Headers) {
  return jenkins.toEvents(jenkins.parse!(raw, headers), headers, at);
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('jenkins', () => {
  describe('verify', () => {
    it('accepts Basic (any user, the secret as password) and Bearer with the secret', () => {
      const body = Buffer.from('{}');
      expect(jenkins.verify(body, { authorization: basic('jenkins', SECRET) }, config, at)).toEqual({
        ok: true,
      });
      expect(jenkins.verify(body, { authorization: `Bearer ${SECRET}` }, config, at)).toEqual({ ok: true });
      expect(jenkins.verify(body, { authorization: `bearer ${SECRET}` }, config, at)).toEqual({ ok: true });
    });

    it('accepts every sample with the credentials its plugin is configured with', () => {
      for (const file of listSamples('jenkins')) {
        const s = loadSample('jenkins', file);
        expect(jenkins.verify(Buffer.from(rawBody(s)), headersFor(file), config, at), file).toEqual({
          ok: true,
        });
      }
    });

    it('rejects missing, wrong, malformed or foreign credentials, and a missing secret', () => {
      const body = Buffer.from('{}');
      for (const auth of [
        undefined,
        '',
        'Basic',
        basic('jenkins', 'wrong'),
        basic('jenkins', `${SECRET}x`),
        `Basic ${Buffer.from(SECRET).toString('base64')}`, // no colon
        `Bearer ${SECRET.slice(0, -1)}`,
        `Token ${SECRET}`,
        SECRET,
        `Splunk ${SECRET}`,
      ]) {
        const h = auth === undefined ? {} : { authorization: auth };
        expect(jenkins.verify(body, h, config, at).ok, String(auth)).toBe(false);
      }
      expect(
        jenkins.verify(body, { authorization: `Bearer ${SECRET}` }, { enabled: true, secret: undefined }, at)
          .ok,
      ).toBe(false);
    });
  });

  describe('toEvents', () => {
    const expected: Record<string, [string, string, string | undefined]> = {
      'audit-trail__build-completed.json': ['build', 'build.completed', 'user2'],
      'audit-trail__configSubmit.json': ['config.change', 'job.configSubmit', 'user2'],
      'completed.json': ['build', 'build.completed', undefined],
      'post-build-payload.json': ['build', 'build.completed', undefined],
    };

    it('normalises every sample to the expected kind, with stable ids', () => {
      expect(Object.keys(expected).sort()).toEqual(listSamples('jenkins'));
      for (const file of listSamples('jenkins')) {
        const s = loadSample('jenkins', file);
        const raw = Buffer.from(rawBody(s));
        const { events } = normalise(raw, headersFor(file));
        expect(events, file).toHaveLength(1);
        const e = events[0]!;
        const [kind, action, user] = expected[file]!;
        expect(e.pipewarden.kind, file).toBe(kind);
        expect(e.event.action, file).toBe(action);
        expect(e.user?.name, file).toBe(user);
        expect(EVENT_KINDS).toContain(e.pipewarden.kind);
        expect(e.event.provider).toBe('jenkins');
        expect(Number.isNaN(Date.parse(e['@timestamp']))).toBe(false);
        expect(normalise(raw, headersFor(file)).events[0]!.event.id, file).toBe(e.event.id);
      }
    });

    it('reads the audit-trail file lines: time prefix, user, IP, node and result', () => {
      const cfg = normalise(
        Buffer.from(rawBody(loadSample('jenkins', 'audit-trail__configSubmit.json'))),
        headersFor('audit-trail__configSubmit.json'),
      ).events[0]!;
      expect(cfg['@timestamp']).toBe('2026-01-08T00:28:02.611Z');
      expect(cfg.source?.ip).toBe('0:0:0:0:0:0:0:1');
      expect(cfg.pipewarden.job).toBe('monitor-jenkins-grafana-prometheus');
      const done = normalise(
        Buffer.from(rawBody(loadSample('jenkins', 'audit-trail__build-completed.json'))),
        headersFor('audit-trail__build-completed.json'),
      ).events[0]!;
      expect(done.event.outcome).toBe('success');
      expect(done.message).toContain('node Built-In Node;Slave-Agent-Node-1');
      expect(done.pipewarden.job).toBe('monitor-jenkins-grafana-prometheus #49');
      expect(done.pipewarden.runner).toEqual({
        name: 'Built-In Node;Slave-Agent-Node-1',
        labels: [],
        self_hosted: true,
      });
    });

    it('keeps the Notification build URL and SCM, and drops console text from the Logstash document', () => {
      const n = normalise(
        Buffer.from(rawBody(loadSample('jenkins', 'completed.json'))),
        headersFor('completed.json'),
      ).events[0]!;
      expect(n.pipewarden).toMatchObject({
        build_url: 'http://localhost:8080/job/asgard/18/',
        branch: 'master',
        repository: 'evgeny-goldin/asgard',
        commit: 'c6d86dc654b12425e706bcf951adfe5a8627a517',
      });
      const l = normalise(
        Buffer.from(rawBody(loadSample('jenkins', 'post-build-payload.json'))),
        headersFor('post-build-payload.json'),
      ).events[0]!;
      expect(JSON.stringify(l)).not.toContain('Hello, World!');
      expect(l.message).toContain('node Jenkins');
      expect(l['@timestamp']).toBe('2014-10-14T02:51:29.000Z');
    });

    it('takes the Audit Trail Elasticsearch logger JSON form', () => {
      const body = JSON.stringify({
        message: '/configureSecurity/configure by admin from 10.0.0.7',
        '@timestamp': '2024-03-01T12:00:00+0100',
      });
      const e = normalise(Buffer.from(body), { 'content-type': 'application/json; charset=UTF-8' })
        .events[0]!;
      expect(e).toMatchObject({
        '@timestamp': '2024-03-01T11:00:00.000Z',
        user: { name: 'admin' },
        source: { ip: '10.0.0.7' },
      });
      expect(e.pipewarden.kind).toBe('permission.change');
    });

    it('falls back to the receive time when a stated time is out of range', () => {
      const body = JSON.stringify({ message: "Successful login for user 'a'", timeMillis: 1e300 });
      expect(
        normalise(Buffer.from(body), { 'content-type': 'application/json' }).events[0]!['@timestamp'],
      ).toBe(at.toISOString());
      const line = `app #1 Started on node x started at 2024-01-01T00:00:00Z completed in ${'9'.repeat(30)}ms completed: SUCCESS`;
      expect(jenkinsLines.read(line, at, { transport: 'syslog' })!['@timestamp']).toBe(at.toISOString());
    });

    it('maps each Audit Trail and Audit Log record form to its kind', () => {
      const cases: Array<[string, string, string | undefined, string | undefined]> = [
        ['/job/app/configSubmit by alice from 10.0.0.1', 'config.change', 'alice', '10.0.0.1'],
        ['/job/app/doDelete by NA from 10.0.0.2', 'access.anonymous', undefined, '10.0.0.2'],
        ['/configureSecurity/configure by root from 10.0.0.3', 'permission.change', 'root', '10.0.0.3'],
        [
          '/manage/configureSecurity/configure by root from 10.0.0.3',
          'permission.change',
          'root',
          '10.0.0.3',
        ],
        ['/pluginManager/installNecessaryPlugins by root from 10.0.0.3', 'config.change', 'root', '10.0.0.3'],
        ['/updateCenter/byId/default/postBack by root from 10.0.0.3', 'config.change', 'root', '10.0.0.3'],
        ['/job/app/42/stop by bob from 10.0.0.4', 'build', 'bob', '10.0.0.4'],
        ['/queue/item/7/cancelQueue (job/app/) by bob from 10.0.0.4', 'build', 'bob', '10.0.0.4'],
        ['/safeRestart by admin', 'config.change', 'admin', undefined],
        ['job/app/ #42 Started by user alice, Parameters:[TOKEN: {****}]', 'build', 'alice', undefined],
        ['job/app/ #43 Started by timer, Parameters:[]', 'build', undefined, undefined],
        [
          "A groovy script was executed by user 'mallory'. Origin: Script Console Controller. \nThe executed script: \nprintln 'x'",
          'config.change',
          'mallory',
          undefined,
        ],
        [
          "'app#42' (class org.jenkinsci.plugins.workflow.job.WorkflowRun) used credentials 'deploy' (class com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl).",
          'other',
          undefined,
          undefined,
        ],
        ["Successful login for user 'alice'", 'login.success', 'alice', undefined],
        ["Failed login attempt for user 'eve'", 'login.failure', 'eve', undefined],
        ["Logout for user 'alice'", 'logout', 'alice', undefined],
        [
          'Audit [login@18060 timestamp="2024-01-01T00:00:00Z" userId="alice"]',
          'login.success',
          'alice',
          undefined,
        ],
        ['[logout userId="alice"] Audit', 'logout', 'alice', undefined],
        ['[createUser@18060 userId="admin"]', 'permission.change', 'admin', undefined],
      ];
      for (const [line, kind, user, ip] of cases) {
        expect(jenkinsLines.read(line, at, { transport: 'syslog' }) !== undefined, line).toBe(true);
        const e = jenkinsLines.read(line, at, { transport: 'syslog', host: 'ci' })!;
        expect(e.pipewarden.kind, line).toBe(kind);
        expect(e.user?.name, line).toBe(user);
        expect(e.source?.ip, line).toBe(ip);
      }
    });

    it('never keeps the executed script, and redacts nothing useful from credential records', () => {
      const line =
        "A groovy script was executed by user 'm'. Origin: Script Console Controller. \nThe executed script: \nprintln 'AKIAIOSFODNN7EXAMPLE'";
      const e = jenkinsLines.read(line, at, { transport: 'syslog' })!;
      expect(JSON.stringify(e)).not.toContain('AKIAIOSFODNN7EXAMPLE');
      const c = jenkinsLines.read("'app#1' (class X) used credentials 'deploy-key' (class Y).", at, {
        transport: 'syslog',
      })!;
      expect(JSON.stringify(c.pipewarden.raw)).toContain('deploy-key');
    });

    it('reads a job URI that is not valid percent-encoding as it is, and decodes one that is', () => {
      // Found by fuzzing a real audit-trail line: a literal "%" made decodeURIComponent throw (a 500).
      const raw = jenkinsLines.read(
        'Jan 8, 2026 12:28:02,611 AM/job/%monitor-jenkins/configSubmit by user2 from [0:0:0:0:0:0:0:1]',
        at,
        { transport: 'syslog' },
      );
      expect(raw?.pipewarden.job).toBe('%monitor-jenkins');
      const encoded = jenkinsLines.read(
        'Jan 8, 2026 12:28:02,611 AM/job/folder/job/my%20job/configSubmit by user2 from [0:0:0:0:0:0:0:1]',
        at,
        { transport: 'syslog' },
      );
      expect(encoded?.pipewarden.job).toBe('folder/my job');
    });

    it('does not claim lines of other formats', () => {
      for (const line of [
        '2020-05-15 15:52:11,456 [4b1b] [ACCEPTED DOWNLOAD] a:b for anonymous/1.2.3.4.',
        'Failed Login: username=x ip=1.2.3.4',
        'hello world',
        '',
      ]) {
        expect(jenkinsLines.read(line, at, { transport: 'syslog' }) !== undefined, line).toBe(false);
      }
    });

    it('takes text bodies of several lines and refuses one with no record in it', () => {
      const text =
        'Jan 8, 2026 12:28:02,611 AM /job/a/configSubmit by u from 10.0.0.1\nnoise\nJan 8, 2026 1:28:02,611 PM /job/b/doDelete by u from 10.0.0.1\n';
      const { events } = normalise(Buffer.from(text), { 'content-type': 'text/plain' });
      expect(events.map((e) => e['@timestamp'])).toEqual([
        '2026-01-08T00:28:02.611Z',
        '2026-01-08T13:28:02.611Z',
      ]);
      expect(() => normalise(Buffer.from('just noise\n'), { 'content-type': 'text/plain' })).toThrow(
        AdapterInputError,
      );
      expect(() => normalise(Buffer.from('{"a":1}'), { 'content-type': 'application/json' })).toThrow(
        AdapterInputError,
      );
      expect(() => normalise(Buffer.from('{"a":'), { 'content-type': 'application/json' })).toThrow(
        AdapterInputError,
      );
    });

    it('deduplicates Notification phases by job, number and phase', () => {
      const s = loadSample('jenkins', 'completed.json');
      expect(jenkins.deliveryId({}, s.body)).toBe('notification:asgard#18:COMPLETED');
    });
  });

  describe('property', () => {
    // The generic properties (test/unit/adapter-properties.test.ts) cover bodies, headers and verify.
    it('the Audit Trail line format never throws on lines built from its own fragments', () => {
      fc.assert(
        fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom(...jenkinsFragments))), (parts) => {
          const line = parts.join(' ');
          expect(
            () =>
              jenkinsLines.read(line, at, { transport: 'syslog' }) !== undefined &&
              jenkinsLines.read(line, at, { transport: 'syslog' }),
          ).not.toThrow();
        }),
        { numRuns: 400 },
      );
    });
  });
});

const jenkinsFragments = [
  'by',
  'from',
  'NA',
  '/job/x/configSubmit',
  'job/x/',
  '#1',
  'Started by user',
  ', Parameters:[',
  ']',
  'on node',
  'started at',
  'completed in 5ms',
  'completed: SUCCESS',
  "for user '",
  "'",
  '[login',
  'userId="',
  '"',
];
