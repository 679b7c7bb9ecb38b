import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secrets.ts';
import { EVENT_KINDS } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import { listSamples, loadSample } from '../../test/support/samples.ts';
import { gitlabJsonLine, gitlabLogs } from './index.ts';

const config = { enabled: true, secret: new Secret('logs-token', 'test') };
const at = new Date('2024-06-01T10:00:00Z');
const expected: Record<
  string,
  [kind: string, action: string, user: string | undefined, ip: string | undefined]
> = {
  'application_json.log__Failed_Login.json': ['login.failure', 'failed_login', 'test', '192.168.65.1'],
  'application_json.log__Group_created.json': ['config.change', 'group_created', 'root', '192.168.65.1'],
  'application_json.log__Project_deleted.json': ['config.change', 'project_deleted', 'root', '192.168.65.1'],
  'application_json.log__Successful_Login.json': [
    'login.success',
    'successful_login',
    'root',
    '192.168.65.1',
  ],
  'application_json.log__User_Logout.json': ['logout', 'logout', 'root', '192.168.65.1'],
  'application_json.log__User_created.json': ['permission.change', 'user_created', 'root', '192.168.65.1'],
  'audit_json.log__login_with_standard_.json': ['login.success', 'login.standard', 'root', '208.58.198.174'],
  'audit_json.log__project_visibility_Private-_Public.json': [
    'config.change',
    'change.visibility',
    'John Doe4',
    undefined,
  ],
  'audit_json.log__password_reset_two_emails.json': [
    'other',
    'password_reset_request',
    undefined,
    '203.0.113.77',
  ],
  'production_json.log__password_reset_one_email.json': [
    'other',
    'password_reset_request',
    undefined,
    '203.0.113.77',
  ],
  'production_json.log__password_reset_two_emails.json': [
    'other',
    'password_reset_request',
    undefined,
    '203.0.113.77',
  ],
  'api_json.log__personal_access_token.json': ['other', 'api_request', 'project_8_bot', '127.0.0.1'],
  'auth_json.log__Rack_Attack_blocklist.json': [
    'access.denied',
    'rack_attack.blocklist',
    undefined,
    '67.43.156.18',
  ],
};
const samples = listSamples('gitlab-logs').map((f) => loadSample('gitlab-logs', f));
const lines = samples.map((s) => s.body as string);
const ingest = (text: string) => gitlabLogs.toEvents(gitlabLogs.parse!(Buffer.from(text), {}), {}, at);

describe('gitlab-logs', () => {
  it('has an expectation for every fixture', () => {
    expect(listSamples('gitlab-logs')).toEqual(Object.keys(expected).sort());
  });

  it('verifies the bearer token and refuses anything else', () => {
    const raw = Buffer.from('x');
    expect(gitlabLogs.verify(raw, { authorization: 'Bearer logs-token' }, config, at)).toEqual({ ok: true });
    for (const bad of ['logs-token', 'Bearer logs-tokenx', 'Basic logs-token', 'Bearer ']) {
      expect(gitlabLogs.verify(raw, { authorization: bad }, config, at).ok, bad).toBe(false);
    }
    expect(gitlabLogs.verify(raw, {}, config, at).ok).toBe(false);
    expect(
      gitlabLogs.verify(raw, { authorization: 'Bearer logs-token' }, { enabled: true, secret: undefined }, at)
        .ok,
    ).toBe(false);
  });

  it('normalises every fixture line, posted or routed as a line, to the right kind with actor and IP', () => {
    for (const s of samples) {
      const line = s.body as string;
      const [kind, action, user, ip] = expected[s.file]!;
      const e = ingest(line).events[0]!;
      expect([e.pipewarden.kind, e.event.action, e.user?.name, e.source?.ip], s.file).toEqual([
        kind,
        action,
        user,
        ip,
      ]);
      expect(EVENT_KINDS).toContain(e.pipewarden.kind);
      expect(gitlabJsonLine.read(line, at, { transport: 'syslog' }) !== undefined, s.file).toBe(true);
      const viaLine = gitlabJsonLine.read(line, at, { transport: 'syslog', host: 'gitlab-1' })!;
      expect(viaLine.event.id).toBe(e.event.id);
      expect(e['@timestamp']).toBe(new Date(JSON.parse(line).time).toISOString());
    }
    const vis = ingest(lines.find((l) => l.includes('visibility'))!).events[0]!;
    expect([vis.pipewarden.visibility, vis.pipewarden.repository]).toEqual(['public', 'namespace2/project2']);
  });

  it('reads a whole NDJSON body, skipping lines that carry nothing we keep', () => {
    const boring = JSON.stringify({
      severity: 'INFO',
      time: '2024-05-31T14:32:44.108Z',
      correlation_id: 'x',
      message: 'Cache hit',
    });
    const { events } = ingest(`${lines.join('\n')}\r\n${boring}\n\n`);
    expect(events).toHaveLength(lines.length);
    expect(gitlabJsonLine.read(boring, at, { transport: 'syslog' })).toBeNull();
    expect(gitlabJsonLine.read('<13>Jan 1 host app: hello', at, { transport: 'syslog' }) !== undefined).toBe(
      false,
    );
    expect(gitlabJsonLine.read('{"message":"x"}', at, { transport: 'syslog' }) !== undefined).toBe(false);
  });

  it('refuses an empty body and lines that are not JSON objects', () => {
    expect(() => ingest('\n \n')).toThrow(/no log lines/);
    // A bad line among good ones costs only itself (it is reported); a body of bad lines is refused.
    expect(ingest(`${lines[0]}\nnot json`).rejected).toEqual([
      { item: 2, reason: expect.stringMatching(/^line 2: /) },
    ]);
    expect(() => ingest('not json\nnor this')).toThrow(/line 1/);
    expect(() => ingest('[1]')).toThrow(AdapterInputError);
  });
});

describe('gitlab-logs api_json.log token use', () => {
  const line = loadSample('gitlab-logs', 'api_json.log__personal_access_token.json').body as string;
  it('names the token (id and type, never its value) so its state is kept per token', () => {
    const [e] = ingest(line).events;
    expect(e?.pipewarden.token).toEqual({ id: '9', type: 'PersonalAccessToken' });
    expect(e?.event.dataset).toBe('gitlab.api');
    expect(e?.url?.original).toBe('/api/v4/user');
  });
  it('reports a refused token request as access denied', () => {
    const refused = JSON.stringify({ ...JSON.parse(line), status: 401 });
    const [e] = ingest(refused).events;
    expect(e?.pipewarden.kind).toBe('access.denied');
    expect(e?.event.outcome).toBe('failure');
  });
  it('keeps dropping API lines that name no token', () => {
    const { token_id: _, token_type: __, ...rest } = JSON.parse(line);
    expect(ingest(JSON.stringify(rest)).events).toEqual([]);
  });
});
