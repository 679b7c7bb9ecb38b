// PagerDuty (Events API v2) and Microsoft Teams (Workflows webhook, Adaptive Card) sinks against local
// node:http servers that check the documented request shapes and answer as the services do.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import { IncidentTracker } from '../../src/alerting/incidents.ts';
import { createSinks } from '../../src/alerting/sinks/index.ts';
import { renderTeams } from '../../src/alerting/sinks/teams/index.ts';
import { type Hit, SinkError } from '../../src/alerting/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';

const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';
type Body = Record<string, unknown>;
const pdEvents: Body[] = [];
const teamsPosts: Body[] = [];
let failNext: number[] = [];
let server: ReturnType<typeof createServer>;
let base: string;

/** Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ */
function checkPagerduty(b: Body): string[] {
  const errors: string[] = [];
  if (typeof b.routing_key !== 'string' || b.routing_key.length !== 32)
    errors.push('routing_key must be 32 characters');
  if (!['trigger', 'acknowledge', 'resolve'].includes(String(b.event_action)))
    errors.push('event_action invalid');
  if (b.event_action !== 'trigger' && typeof b.dedup_key !== 'string') errors.push('dedup_key required');
  if (typeof b.dedup_key === 'string' && b.dedup_key.length > 255) errors.push('dedup_key too long');
  if (b.event_action === 'trigger') {
    const p = b.payload as Body | undefined;
    if (!p) errors.push('payload required');
    else {
      if (typeof p.summary !== 'string' || p.summary.length > 1024) errors.push('payload.summary');
      if (typeof p.source !== 'string' || !p.source) errors.push('payload.source');
      if (!['critical', 'error', 'warning', 'info'].includes(String(p.severity)))
        errors.push('payload.severity');
      if (p.timestamp !== undefined && Number.isNaN(Date.parse(String(p.timestamp))))
        errors.push('payload.timestamp');
    }
  }
  return errors;
}

/** Workflows "when a webhook request is received" with the card template Teams documents. */
function checkTeams(b: Body): string[] {
  const a = (b.attachments as Body[] | undefined)?.[0];
  const c = a?.content as Body | undefined;
  const errors: string[] = [];
  if (b.type !== 'message') errors.push('type must be message');
  if (a?.contentType !== 'application/vnd.microsoft.card.adaptive') errors.push('contentType');
  if (c?.type !== 'AdaptiveCard' || typeof c.version !== 'string' || !Array.isArray(c.body))
    errors.push('card');
  return errors;
}

async function read(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function reply(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const forced = failNext.shift();
    if (forced) return reply(res, forced, { status: 'error', message: 'forced' });
    if (req.method !== 'POST' || req.headers['content-type'] !== 'application/json')
      return reply(res, 400, { status: 'invalid event', errors: ['POST application/json'] });
    const body = await read(req);
    if (req.url === '/v2/enqueue') {
      const errors = checkPagerduty(body);
      if (errors.length)
        return reply(res, 400, { status: 'invalid event', message: 'Event object is invalid', errors });
      pdEvents.push(body);
      return reply(res, 202, { status: 'success', message: 'Event processed', dedup_key: body.dedup_key });
    }
    if (req.url?.startsWith('/workflows/')) {
      const errors = checkTeams(body);
      if (errors.length)
        return reply(res, 400, { error: { code: 'InvalidRequestContent', message: errors.join(', ') } });
      teamsPosts.push(body);
      res.writeHead(202).end();
      return;
    }
    reply(res, 404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

function hit(n: number): Hit {
  const at = `2026-05-01T10:${String(n).padStart(2, '0')}:00.000Z`;
  return {
    id: `h-${n}`,
    '@timestamp': at,
    detected_at: at,
    detector: 'failed-logins',
    title: 'Password spraying',
    severity: 'high',
    summary: `5 users from 203.0.113.7 [click](https://evil.example) *now*`,
    description: 'd',
    runbook: 'https://example.org/runbook',
    key: '203.0.113.7',
    event_ids: ['e'],
    source: 'jenkins',
    source_ip: '203.0.113.7',
    context: { rule: 'spraying' },
  };
}

function sinksFor() {
  return createSinks(
    parseConfig(
      {
        alerting: {
          pagerduty: {
            enabled: true,
            url: `${base}/v2/enqueue`,
            minSeverity: 'low',
            consoleUrl: 'https://pw.example.org/',
          },
          teams: { enabled: true, minSeverity: 'low' },
        },
      },
      {
        PIPEWARDEN_PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
        PIPEWARDEN_TEAMS_WEBHOOK_URL: `${base}/workflows/abc?sig=s3cret`,
      },
    ).alerting,
  );
}

describe('pagerduty and teams sinks', () => {
  it('PagerDuty follows the incident: trigger with the incident id as dedup_key, then acknowledge', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.init();
    const incidents = new IncidentTracker(store, {
      groupBy: ['detector', 'rule', 'key'],
      groupIntervalMs: 3_600_000,
      repeatIntervalMs: 3_600_000,
    });
    const alerter = new Alerter(sinksFor(), store, {
      attempts: 2,
      backoffMs: 1,
      incidents,
      log: createLogger({ level: 'silent' }),
    });
    const first = await alerter.handle(hit(1));
    expect(first.deliveries.pagerduty?.status).toBe('sent');
    expect(first.deliveries.teams?.status).toBe('sent');
    await alerter.handle(hit(2));
    await incidents.setStatus(first.incident_id!, 'acknowledged', 'U0ALICE1', '2026-05-01T10:05:00Z');
    await alerter.handle(hit(3));
    expect(pdEvents.map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['trigger', first.incident_id],
      ['trigger', first.incident_id],
      ['acknowledge', first.incident_id],
    ]);
    const p = pdEvents[0]!.payload as Record<string, unknown>;
    expect(p).toMatchObject({
      severity: 'error',
      source: 'jenkins',
      component: 'jenkins',
      group: 'failed-logins',
      class: 'spraying',
    });
    expect(pdEvents[0]!.links).toEqual([
      { href: 'https://example.org/runbook', text: 'Runbook' },
      { href: 'https://pw.example.org/api/alerts/h-1', text: 'Alert and events in pipewarden' },
    ]);
    expect((pdEvents[1]!.payload as { custom_details: { hits: number } }).custom_details.hits).toBe(2);
    // Teams cannot edit its card: one card for the incident (repeat_interval holds the updates)
    expect(teamsPosts).toHaveLength(1);
    await store.close();
  });

  it('says which failures are worth retrying', async () => {
    const [pd, teams] = sinksFor();
    failNext = [429];
    const rate = await pd!.send(pd!.render(hit(9))).catch((e: unknown) => e);
    expect(rate).toBeInstanceOf(SinkError);
    expect((rate as SinkError).retryable).toBe(true);
    failNext = [500];
    expect(((await teams!.send(teams!.render(hit(9))).catch((e: unknown) => e)) as SinkError).retryable).toBe(
      true,
    );
    // a shape the service refuses (400) is not retried, and the error names the service's answer
    const bad = await pd!
      .send({ ...(pd!.render(hit(9)) as object), routing_key: 'short' } as never)
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({
      retryable: false,
      message: expect.stringMatching(/^pagerduty: http_400 .*routing_key must be 32/),
    });
    failNext = [];
  });

  it('Teams renders an Adaptive Card with the facts, every vendor value literal', () => {
    const card = renderTeams(
      { ...hit(1), incident: { id: 'inc-1', count: 3, first_at: 'a', last_at: 'b', status: 'open' } },
      { consoleUrl: 'https://pw.example.org' },
    );
    const content = card.attachments[0]!.content;
    expect(content.body[1]).toMatchObject({
      type: 'TextBlock',
      text: '5 users from 203.0.113.7 \\[click\\](https://evil.example) \\*now\\*',
    });
    const facts = (content.body[2] as { facts: Array<{ title: string; value: string }> }).facts;
    expect(Object.fromEntries(facts.map((f) => [f.title, f.value]))).toMatchObject({
      Rule: 'spraying',
      'Source IP': '203.0.113.7',
      Hits: '3 (first a, last b)',
    });
    expect(content.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Runbook', url: 'https://example.org/runbook' },
      { type: 'Action.OpenUrl', title: 'Alert and events', url: 'https://pw.example.org/api/alerts/h-1' },
    ]);
  });
});
