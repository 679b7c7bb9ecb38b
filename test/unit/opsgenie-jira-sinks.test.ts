// Opsgenie and Jira sinks through the registry, against local servers that check the documented request
// shapes: Opsgenie Alerts API v2 (create with alias = incident id, acknowledge / close by alias, GenieKey
// auth), Jira REST v3 / v2 (search by the incident label, then POST /issue once per incident). Retries on
// 5xx / 429, no retry on 4xx with the service's words, and the credentials never in an error or a log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import { IncidentTracker } from '../../src/alerting/incidents.ts';
import { createSinks } from '../../src/alerting/sinks/index.ts';
import { renderJira } from '../../src/alerting/sinks/jira/index.ts';
import { type Hit, SinkError } from '../../src/alerting/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { type HttpRecorder, type RecordedRequest, startHttpRecorder } from '../support/http-recorder.ts';

const GENIE_KEY = 'eb243592-faa2-4ba2-a551q-1afdf565c889';
const JIRA_TOKEN = 'ATATT3xFfGF0-jira-api-token-value';

let og: HttpRecorder;
let jira: HttpRecorder;
let issueSeq = 0;
const issuesByLabel = new Map<string, string>();

/** Opsgenie: https://docs.opsgenie.com/docs/alert-api — 202 {result, took, requestId} */
function opsgenieAnswer(r: RecordedRequest) {
  if (r.headers.authorization !== `GenieKey ${GENIE_KEY}`)
    return { status: 401, body: { message: 'Could not authenticate', took: 0, requestId: 'x' } };
  const body = r.body as Record<string, unknown> | undefined;
  if (r.method !== 'POST' || !body) return { status: 400, body: { message: 'bad request' } };
  if (r.path === '/v2/alerts') {
    if (typeof body.message !== 'string' || body.message.length > 130 || !body.alias)
      return {
        status: 422,
        body: { message: 'Request body is not processable. message should be at most 130' },
      };
  } else if (!/^\/v2\/alerts\/[^/]+\/(acknowledge|close)\?identifierType=alias$/.test(r.path))
    return { status: 404, body: { message: 'not found' } };
  return {
    status: 202,
    body: { result: 'Request will be processed', took: 0.1, requestId: `req-${og.requests.length}` },
  };
}

/** Jira: GET /rest/api/{2,3}/search[/jql]?jql=…, POST /rest/api/{2,3}/issue → 201 {id, key, self} */
function jiraAnswer(r: RecordedRequest) {
  const expected = `Basic ${Buffer.from(`secbot@example.com:${JIRA_TOKEN}`).toString('base64')}`;
  const bearer = `Bearer ${JIRA_TOKEN}`;
  if (r.headers.authorization !== expected && r.headers.authorization !== bearer)
    return { status: 401, body: { errorMessages: ['You are not authenticated'] } };
  const url = new URL(r.path, 'http://x');
  if (r.method === 'GET' && /^\/rest\/api\/(3\/search\/jql|2\/search)$/.test(url.pathname)) {
    const label = /labels = "([^"]+)"/.exec(url.searchParams.get('jql') ?? '')?.[1];
    const key = label ? issuesByLabel.get(label) : undefined;
    return { status: 200, body: { issues: key ? [{ id: '1', key }] : [] } };
  }
  if (r.method === 'POST' && /^\/rest\/api\/[23]\/issue$/.test(url.pathname)) {
    const fields = (r.body as { fields?: Record<string, unknown> })?.fields;
    if (!fields || (fields.project as { key?: string })?.key !== 'SEC')
      return { status: 400, body: { errorMessages: [], errors: { project: 'valid project is required' } } };
    const key = `SEC-${++issueSeq}`;
    for (const l of fields.labels as string[]) if (l.startsWith('pipewarden-inc')) issuesByLabel.set(l, key);
    return {
      status: 201,
      body: { id: String(10000 + issueSeq), key, self: `${jira.url}/rest/api/3/issue/${key}` },
    };
  }
  return { status: 404, body: { errorMessages: ['not found'] } };
}

beforeAll(async () => {
  og = await startHttpRecorder(opsgenieAnswer);
  jira = await startHttpRecorder(jiraAnswer);
});
afterAll(async () => {
  await og.close();
  await jira.close();
});

function hit(n: number, key = '203.0.113.7'): Hit {
  const at = new Date(Date.UTC(2026, 4, 1, 10, n)).toISOString();
  return {
    id: `h-${key}-${n}`,
    '@timestamp': at,
    detected_at: at,
    detector: 'failed-logins',
    title: 'Password spraying',
    severity: 'high',
    summary: `5 users from ${key} {noformat}[click|https://evil.example]`,
    description: 'Many users failed to sign in from one address.',
    runbook: 'https://example.org/runbook',
    key,
    event_ids: ['e'],
    source: 'jenkins',
    source_ip: '203.0.113.7',
    context: { rule: 'spraying' },
  };
}

function setup(apiVersion: 2 | 3 = 3, user: string | null = 'secbot@example.com') {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => lines.push(s) } });
  const sinks = createSinks(
    parseConfig(
      {
        alerting: {
          opsgenie: {
            enabled: true,
            url: og.url,
            minSeverity: 'low',
            responders: [{ type: 'team', name: 'SecOps' }],
            tags: ['ci'],
          },
          jira: {
            enabled: true,
            url: jira.url,
            apiVersion,
            ...(user ? { user } : {}),
            project: 'SEC',
            issueType: 'Bug',
            minSeverity: 'low',
            consoleUrl: 'https://pw.example.org/',
          },
        },
      },
      { PIPEWARDEN_OPSGENIE_API_KEY: GENIE_KEY, PIPEWARDEN_JIRA_TOKEN: JIRA_TOKEN },
    ).alerting,
  );
  return { sinks, lines, log };
}

describe('opsgenie and jira sinks', () => {
  it('one Opsgenie alert and one Jira issue per incident; Opsgenie acknowledges and closes by alias', async () => {
    const { sinks, log } = setup();
    expect(sinks.map((s) => s.name)).toEqual(['opsgenie', 'jira']);
    const store = new SqliteStore({ path: ':memory:' });
    await store.init();
    const incidents = new IncidentTracker(store, {
      groupBy: ['detector', 'rule', 'key'],
      groupIntervalMs: 3_600_000,
      repeatIntervalMs: 3_600_000,
    });
    const alerter = new Alerter(sinks, store, { attempts: 3, backoffMs: 1, incidents, log });
    const ogBefore = og.requests.length;
    const jiraBefore = jira.requests.length;
    const first = await alerter.handle(hit(1));
    const inc = first.incident_id!;
    expect(first.deliveries.opsgenie).toMatchObject({ status: 'sent', ref: { alias: inc } });
    expect(first.deliveries.jira).toMatchObject({
      status: 'sent',
      ref: { key: expect.stringMatching(/^SEC-\d+$/) },
    });
    await alerter.handle(hit(2));
    await alerter.handle(hit(3));

    const ogReqs = og.requests.slice(ogBefore);
    expect(ogReqs.map((r) => r.path)).toEqual(['/v2/alerts', '/v2/alerts', '/v2/alerts']);
    const create = ogReqs[0]!;
    expect(create.headers['content-type']).toMatch(/^application\/json/);
    expect(create.body).toMatchObject({
      message: expect.stringMatching(/^\[HIGH\] Password spraying: 5 users from/),
      alias: inc,
      responders: [{ type: 'team', name: 'SecOps' }],
      tags: ['ci', 'pipewarden', 'failed-logins', 'high'],
      details: {
        detector: 'failed-logins',
        hit_id: 'h-203.0.113.7-1',
        rule: 'spraying',
        incident: inc,
        hits: '1',
      },
      entity: '203.0.113.7',
      source: 'pipewarden',
      priority: 'P2',
    });
    expect((create.body as { message: string }).message.length).toBeLessThanOrEqual(130);
    expect((ogReqs[2]!.body as { details: { hits: string } }).details.hits).toBe('3');

    // Jira: searched for the incident's label, then created once; later hits file nothing
    const jiraReqs = jira.requests.slice(jiraBefore);
    expect(jiraReqs.map((r) => `${r.method} ${new URL(r.path, 'http://x').pathname}`)).toEqual([
      'GET /rest/api/3/search/jql',
      'POST /rest/api/3/issue',
    ]);
    const search = new URL(jiraReqs[0]!.path, 'http://x').searchParams;
    expect(search.get('jql')).toBe(`project = "SEC" AND labels = "pipewarden-${inc}"`);
    expect(search.get('maxResults')).toBe('1');
    const fields = (jiraReqs[1]!.body as { fields: Record<string, unknown> }).fields;
    expect(fields).toMatchObject({
      project: { key: 'SEC' },
      issuetype: { name: 'Bug' },
      summary: expect.stringMatching(/^\[HIGH\] Password spraying: /),
      labels: ['pipewarden', `pipewarden-${inc}`, 'pipewarden-failed-logins'],
      description: { type: 'doc', version: 1 },
    });
    // vendor text is an ADF text node: no link is made from it
    const adf = JSON.stringify(fields.description);
    expect(adf).toContain('[click|https://evil.example]');
    expect(adf).not.toContain('"href":"https://evil.example');
    expect(adf).toContain('"href":"https://pw.example.org/api/alerts/h-203.0.113.7-1"');

    // acknowledged, then resolved, in pipewarden: Opsgenie follows by alias
    await incidents.setStatus(inc, 'acknowledged', 'alice', '2026-05-01T10:05:00Z');
    expect((await alerter.follow(inc)).opsgenie?.status).toBe('sent');
    await incidents.setStatus(inc, 'resolved', 'alice', '2026-05-01T10:06:00Z');
    expect((await alerter.follow(inc)).opsgenie?.status).toBe('sent');
    const follow = og.requests.slice(-2);
    expect(follow.map((r) => r.path)).toEqual([
      `/v2/alerts/${encodeURIComponent(inc)}/acknowledge?identifierType=alias`,
      `/v2/alerts/${encodeURIComponent(inc)}/close?identifierType=alias`,
    ]);
    expect(follow[0]!.body).toEqual({
      source: 'pipewarden',
      user: 'alice',
      note: 'Acknowledged in pipewarden by alice',
    });
    expect(follow[1]!.body).toEqual({
      source: 'pipewarden',
      user: 'alice',
      note: 'Resolved in pipewarden by alice',
    });
    // Jira has no follow: nothing more was sent there
    expect(jira.requests.length - jiraBefore).toBe(2);
    await store.close();
  });

  it('retries 5xx and 429, not 4xx; a Jira retry finds the issue instead of filing a second; no credential in errors or logs', async () => {
    const { sinks, lines, log } = setup();
    const store = new SqliteStore({ path: ':memory:' });
    await store.init();
    const alerter = new Alerter(sinks, store, { attempts: 3, backoffMs: 1, log });
    // Opsgenie: 503 then 429 (Retry-After 0), then accepted
    og.failNext(1, { status: 503, body: { message: 'unavailable' } });
    og.failNext(1, { status: 429, body: { message: 'rate limited' }, headers: { 'retry-after': '0' } });
    // Jira: the create answer is lost (a 502 after the issue was made): the retry's search finds it
    const before = jira.requests.length;
    let lostCreate = true;
    const original = issueSeq;
    const h = hit(1, '198.51.100.4');
    const labelOf = `pipewarden-${h.id}`; // no incident tracker here: the label names the hit
    const wrapped = sinks[1]!;
    const send = wrapped.send.bind(wrapped);
    wrapped.send = async (p) => {
      if (lostCreate) {
        lostCreate = false;
        // the issue is made at Jira, but the answer never arrives
        issuesByLabel.set(labelOf, `SEC-${++issueSeq}`);
        throw new SinkError('jira: timeout', true);
      }
      return send(p);
    };
    const record = await alerter.handle(h);
    expect(record.deliveries.opsgenie).toMatchObject({ status: 'sent', attempts: 3 });
    expect(record.deliveries.jira).toMatchObject({
      status: 'sent',
      attempts: 2,
      ref: { key: `SEC-${original + 1}` },
    });
    // the retry searched and found the issue: no POST /issue was made
    expect(jira.requests.slice(before).map((r) => r.method)).toEqual(['GET']);
    expect(issueSeq).toBe(original + 1);

    // a refusal (4xx) is not retried and names the service's answer
    og.failNext(1, { status: 422, body: { message: 'Request body is not processable' } });
    const refused = await alerter.handle(hit(2, '198.51.100.5'));
    expect(refused.deliveries.opsgenie).toMatchObject({
      status: 'failed',
      attempts: 1,
      retryable: false,
      error: expect.stringMatching(/^opsgenie: http_422 .*not processable/),
    });
    // a wrong Jira project is refused with Jira's words
    const bad = createSinks(
      parseConfig(
        { alerting: { jira: { enabled: true, url: jira.url, project: 'NOPE', user: 'secbot@example.com' } } },
        { PIPEWARDEN_JIRA_TOKEN: JIRA_TOKEN },
      ).alerting,
    )[0]!;
    const err = await bad.send(bad.render(hit(3, '198.51.100.6'))).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({
      retryable: false,
      message: expect.stringMatching(/^jira: http_400 .*valid project is required/),
    });
    // the credentials went in the Authorization headers and nowhere else
    const text =
      lines.join('') + JSON.stringify(record) + JSON.stringify(refused) + String((err as Error).message);
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of [
      GENIE_KEY,
      JIRA_TOKEN,
      Buffer.from(`secbot@example.com:${JIRA_TOKEN}`).toString('base64'),
    ])
      expect(text).not.toContain(secret);
    await store.close();
  });

  it('Jira v2 (Server / Data Center): Bearer token, wiki description whose vendor text cannot leave {noformat}', async () => {
    const { sinks } = setup(2, null);
    const j = sinks[1]!;
    const before = jira.requests.length;
    const ref = await j.send(j.render(hit(4, '192.0.2.9')));
    expect(ref).toMatchObject({ key: expect.stringMatching(/^SEC-/) });
    const [search, create] = jira.requests.slice(before);
    expect(new URL(search!.path, 'http://x').pathname).toBe('/rest/api/2/search');
    expect(create!.headers.authorization).toBe(`Bearer ${JIRA_TOKEN}`);
    const description = (create!.body as { fields: { description: string } }).fields.description;
    expect(description.split('\n')[0]).toBe('{noformat}');
    expect(description.match(/\{noformat\}/g)).toHaveLength(2); // the hit's own {noformat} was made harmless
    expect(description).toContain('(noformat)[click|https://evil.example]');
    const rendered = renderJira(hit(4), { project: 'SEC', issueType: 'Task', labels: [], apiVersion: 2 });
    expect(rendered.body.fields.summary).toMatch(/^\[HIGH\] Password spraying/);
  });
});
