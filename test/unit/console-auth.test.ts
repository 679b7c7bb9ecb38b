// The console's sign-in, roles, CSRF, revocation, throttling, triage, silences and export, over real HTTP
// against a real embedded pipewarden (SQLite store).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../src/alerting/types.ts';
import { createToken, revokeToken, TokenVerifier } from '../../src/api/tokens.ts';
import type { RunningApp } from '../../src/app.ts';
import { runTokenCommand } from '../../src/console/cli.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { eventually, startEmbedded } from '../support/app.ts';

let app: RunningApp;
let admin: string;

interface Session {
  cookie: string;
  csrf: string;
  setCookie: string;
}

async function signIn(token: string, headers: Record<string, string> = {}): Promise<Session> {
  const res = await fetch(`${app.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const body = (await res.json()) as { csrf: string };
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf, setCookie };
}

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
type Res = Omit<Response, 'json'> & { json(): Promise<any> };

function call(
  s: Session,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Res> {
  return fetch(`${app.url}${path}`, {
    method,
    headers: {
      cookie: s.cookie,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  }) as Promise<Res>;
}

const write = (s: Session, method: string, path: string, body?: unknown) =>
  call(s, method, path, body, { 'x-csrf-token': s.csrf });

function alert(id: string, over: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id,
    '@timestamp': new Date().toISOString(),
    detected_at: new Date().toISOString(),
    detector: 'brute-force',
    title: 'Brute force',
    severity: 'high',
    summary: 'ten failed logins for alice',
    description: 'd',
    runbook: 'detectors/brute-force/README.md',
    key: 'alice',
    event_ids: ['e1'],
    source: 'github',
    actor: 'alice',
    repository: 'octo-org/repo',
    context: {},
    status: 'delivered',
    deliveries: {},
    ...over,
  };
}

beforeAll(async () => {
  ({ app, token: admin } = await startEmbedded());
});
afterAll(async () => {
  await app?.stop();
});

describe('console sign-in', () => {
  it('sets an HttpOnly, SameSite=Strict cookie that expires, and returns a CSRF token', async () => {
    const s = await signIn(admin);
    expect(s.setCookie).toMatch(/HttpOnly/i);
    expect(s.setCookie).toMatch(/SameSite=Strict/i);
    expect(s.setCookie).toMatch(/Max-Age=\d+/i);
    expect(s.csrf).toMatch(/^[\w-]{40,}$/);
    const me = await (await call(s, 'GET', '/api/session')).json();
    expect(me).toMatchObject({ name: 'test', role: 'admin', via: 'session' });
  });

  it("renews the cookie's Max-Age when use moves the session's idle expiry forward", async () => {
    // 3 s idle sessions: the expiry is written (and the cookie renewed) after a tenth of that, 0.3 s.
    const short = await startEmbedded({ server: { sessionMinutes: 0.05 } });
    try {
      const res = await fetch(`${short.app.url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: short.token }),
      });
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
      expect(res.headers.get('set-cookie')).toMatch(/Max-Age=3\b/i);
      // Used every second for 5 s, longer than the idle time: the session lives, and each renewal resends the cookie.
      let renewed = 0;
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 1_000));
        const me = await fetch(`${short.app.url}/api/session`, { headers: { cookie } });
        expect(me.status).toBe(200);
        const set = me.headers.get('set-cookie') ?? '';
        if (set) {
          expect(set).toMatch(/Max-Age=3\b/i);
          expect(set.split(';')[0]).toBe(cookie);
          renewed++;
        }
      }
      expect(renewed).toBeGreaterThanOrEqual(4);
      // Left idle past the 3 s: ended.
      await new Promise((r) => setTimeout(r, 3_500));
      expect((await fetch(`${short.app.url}/api/session`, { headers: { cookie } })).status).toBe(401);
    } finally {
      await short.app.stop();
    }
  });

  it('signs out: the cookie no longer works', async () => {
    const s = await signIn(admin);
    expect((await write(s, 'DELETE', '/api/session')).status).toBe(200);
    const res = await call(s, 'GET', '/api/session');
    expect(res.status).toBe(401);
  });

  it('throttles and counts repeated failed sign-ins from one address', async () => {
    const bad = `pw_${'0'.repeat(16)}_${'A'.repeat(43)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${app.url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: bad }),
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/pipewarden_console_signin_failures_total 5/);
    // the good token too must wait now (the address is throttled, not the token)
    const res = await fetch(`${app.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: admin }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('console roles and CSRF', () => {
  // A fresh app: the throttle test above locked out this address on the shared one.
  let viewer: Session;
  let analyst: Session;

  beforeAll(async () => {
    await app.stop();
    ({ app, token: admin } = await startEmbedded());
    viewer = await signIn((await createToken(app.store, 'vic', new Date(), { role: 'viewer' })).token);
    analyst = await signIn((await createToken(app.store, 'ana', new Date(), { role: 'analyst' })).token);
    await app.store.putAlert(alert('a1'));
  });

  it('refuses a viewer write with 403 naming the role needed', async () => {
    const ack = await write(viewer, 'POST', '/api/alerts/a1/triage', { action: 'acknowledge' });
    expect(ack.status).toBe(403);
    expect((await ack.json()).message).toContain('needs the analyst role');
    const sil = await write(viewer, 'POST', '/api/silences', { matchers: { actor: 'x' }, comment: 'c' });
    expect(sil.status).toBe(403);
    const tokens = await call(analyst, 'GET', '/api/tokens');
    expect(tokens.status).toBe(403);
    expect((await tokens.json()).message).toContain('needs the admin role');
  });

  it('refuses a state-changing request without the CSRF token, or from another site', async () => {
    const none = await call(analyst, 'POST', '/api/alerts/a1/triage', { action: 'acknowledge' });
    expect(none.status).toBe(403);
    expect((await none.json()).error).toBe('csrf');
    const cross = await call(
      analyst,
      'POST',
      '/api/alerts/a1/triage',
      { action: 'acknowledge' },
      { 'x-csrf-token': analyst.csrf, origin: 'https://evil.example' },
    );
    expect(cross.status).toBe(403);
    const wrong = await call(
      analyst,
      'POST',
      '/api/alerts/a1/triage',
      { action: 'acknowledge' },
      {
        'x-csrf-token': viewer.csrf,
      },
    );
    expect(wrong.status).toBe(403);
    expect((await app.store.getAlert('a1'))?.triage).toBeUndefined();
  });

  it('acknowledges, assigns, resolves and comments; each action is kept with who and when and is in the trail', async () => {
    for (const body of [
      { action: 'acknowledge' },
      { action: 'assign', assignee: 'bob' },
      { action: 'comment', text: 'looking <b>now</b>' },
      { action: 'resolve', resolution: 'false_positive' },
    ]) {
      const res = await write(analyst, 'POST', '/api/alerts/a1/triage', body);
      expect(res.status, JSON.stringify(body)).toBe(200);
    }
    const a = await app.store.getAlert('a1');
    expect(a?.triage).toMatchObject({ state: 'resolved', assignee: 'bob', resolution: 'false_positive' });
    expect(a?.triage?.history.map((h) => [h.action, h.by])).toEqual([
      ['acknowledge', 'ana'],
      ['assign', 'ana'],
      ['comment', 'ana'],
      ['resolve', 'ana'],
    ]);
    const trail = await app.store.searchEvents({ source: 'pipewarden', actor: 'ana' });
    expect(trail.items.map((e) => e.event.action).sort()).toEqual([
      'alert.acknowledge',
      'alert.assign',
      'alert.comment',
      'alert.resolve',
    ]);
    const bad = await write(analyst, 'POST', '/api/alerts/a1/triage', {
      action: 'resolve',
      resolution: 'meh',
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toContain('resolution');
  });

  it('creates, lists and expires silences; one without a matcher is a 400 naming it', async () => {
    const empty = await write(analyst, 'POST', '/api/silences', { matchers: {}, comment: 'x' });
    expect(empty.status).toBe(400);
    expect((await empty.json()).message).toContain('matcher');
    const res = await write(analyst, 'POST', '/api/silences', {
      matchers: { actor: 'ci-bot', detector: 'brute-force' },
      durationMinutes: 30,
      comment: 'load test',
    });
    expect(res.status).toBe(201);
    const s = await res.json();
    // the console form's { field: value } becomes equality matchers (src/alerting/silences.ts)
    expect(s).toMatchObject({
      createdBy: 'ana',
      matchers: [
        { name: 'detector', op: '=', value: 'brute-force' },
        { name: 'actor', op: '=', value: 'ci-bot' },
      ],
    });
    const list = await (await call(viewer, 'GET', '/api/silences')).json();
    expect(list.items.map((x: { id: string }) => x.id)).toContain(s.id);
    const expired = await write(analyst, 'POST', `/api/silences/${s.id}/expire`);
    expect(expired.status).toBe(200);
    expect((await expired.json()).expiredBy).toBe('ana');
  });

  it('ends the session of a revoked token within seconds, however often it is used', async () => {
    const { token, record } = await createToken(app.store, 'leaver', new Date(), { role: 'analyst' });
    const s = await signIn(token);
    // Revoked behind the server's back (as `pipewarden token revoke` from another process does).
    await revokeToken(app.store, record.id);
    const started = Date.now();
    await eventually(async () => (await call(s, 'GET', '/api/session')).status === 401, 10_000, '401');
    expect(Date.now() - started).toBeLessThan(7_000);
    // The session ends at once (revoking deletes its sessions); the bearer token within the verifier's TTL.
    const bearer = await eventually(
      async () => {
        const res = (await fetch(`${app.url}/api/events`, {
          headers: { authorization: `Bearer ${token}` },
        })) as Res;
        return res.status === 401 ? res : undefined;
      },
      10_000,
      'bearer 401',
    );
    expect(Date.now() - started).toBeLessThan(7_000);
    expect(bearer.status).toBe(401);
    expect((await bearer.json()).message).toBe('token revoked');
  });

  it('refuses an expired token', async () => {
    const { token, record } = await createToken(app.store, 'temp', new Date(), { role: 'viewer' });
    await app.store.putToken({ ...record, expiresAt: new Date(Date.now() - 1000).toISOString() });
    const res = (await fetch(`${app.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    })) as Res;
    expect(res.status).toBe(401);
    expect((await res.json()).message).toBe('token expired');
  });

  it('lists tokens for an admin without their hashes, and creates and revokes them', async () => {
    const a = await signIn(admin);
    const created = await write(a, 'POST', '/api/tokens', { name: 'robot', role: 'viewer', expires: '7d' });
    expect(created.status).toBe(201);
    const t = await created.json();
    expect(t.token).toMatch(/^pw_/);
    const list = await (await call(a, 'GET', '/api/tokens')).json();
    const row = list.items.find((x: { id: string }) => x.id === t.id);
    expect(row).toMatchObject({ name: 'robot', role: 'viewer' });
    expect(row.expiresAt).toBeTruthy();
    expect(JSON.stringify(list)).not.toContain('hash');
    expect((await write(a, 'POST', `/api/tokens/${t.id}/revoke`)).status).toBe(200);
    const res = await fetch(`${app.url}/api/events`, { headers: { authorization: `Bearer ${t.token}` } });
    expect(res.status).toBe(401);
  });

  it('keeps saved queries per user, and refuses one that does not parse', async () => {
    const saved = await write(analyst, 'POST', '/api/saved-queries', {
      name: 'bots',
      q: 'actor:*bot',
      range: '24h',
    });
    expect(saved.status).toBe(200);
    expect((await (await call(analyst, 'GET', '/api/saved-queries')).json()).items).toEqual([
      { name: 'bots', q: 'actor:*bot', range: '24h' },
    ]);
    expect((await (await call(viewer, 'GET', '/api/saved-queries')).json()).items).toEqual([]);
    const bad = await write(viewer, 'POST', '/api/saved-queries', { name: 'x', q: '(actor:bob' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toContain('missing )');
    expect((await write(analyst, 'DELETE', '/api/saved-queries/bots')).status).toBe(200);
    expect((await (await call(analyst, 'GET', '/api/saved-queries')).json()).items).toEqual([]);
  });

  it('exports the current search as NDJSON and CSV, streamed', async () => {
    const events: PipewardenEvent[] = Array.from({ length: 1203 }, (_, i) => ({
      '@timestamp': new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
      message: i === 0 ? '=HYPERLINK("x")' : `export ${i}`,
      event: {
        id: `exp-${i}`,
        kind: 'event',
        category: ['web'],
        type: ['info'],
        action: 'push',
        outcome: 'success',
        dataset: 'github.webhook',
        provider: 'github',
        ingested: new Date().toISOString(),
      },
      user: { name: 'exporter' },
      pipewarden: { kind: 'code.push', source: 'github' },
    }));
    await app.store.indexEvents(events);
    const nd = await call(viewer, 'GET', '/api/events/export?format=ndjson&q=actor:EXPORTER');
    expect(nd.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await nd.text()).trim().split('\n');
    expect(lines).toHaveLength(1203);
    expect(new Set(lines.map((l: string) => JSON.parse(l).event.id)).size).toBe(1203);
    const csv = await (await call(viewer, 'GET', '/api/events/export?format=csv&q=actor:exporter')).text();
    const rows = csv.trim().split('\r\n');
    expect(rows).toHaveLength(1204);
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
  });
});

describe('the one-time sign-in link', () => {
  it('opens a session once, then refuses the same link', async () => {
    let out = '';
    const write = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => {
      out += s;
      return true;
    }) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await runTokenCommand('console login', { role: 'analyst', name: 'oncall' }, app.config, (m) => {
        throw new Error(m);
      });
    } finally {
      process.stdout.write = write;
      process.stderr.write = err;
    }
    const link = new URL(out.trim());
    expect(link.pathname).toBe('/login');
    const first = await fetch(`${app.url}/login${link.search}`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
    const me = await (await fetch(`${app.url}/api/session`, { headers: { cookie } })).json();
    expect(me).toMatchObject({ name: 'oncall', role: 'analyst' });
    const again = await fetch(`${app.url}/login${link.search}`, { redirect: 'manual' });
    expect(again.status).toBe(401);
  });
});

describe('OpenAPI', () => {
  it('documents every /api route with its request and response schemas', async () => {
    const res = await fetch(`${app.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { parameters?: unknown[]; requestBody?: unknown; responses: Record<string, unknown> }>
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([m, op]) => [`${m.toUpperCase()} ${path}`, op] as const),
    );
    const names = ops.map(([n]) => n);
    for (const route of [
      'GET /api/events',
      'GET /api/events/{id}',
      'GET /api/alerts',
      'GET /api/alerts/{id}',
      'POST /api/alerts/test',
      'POST /api/session',
      'GET /api/session',
      'DELETE /api/session',
      'GET /api/console/alerts',
      'POST /api/alerts/{id}/triage',
      'GET /api/silences',
      'POST /api/silences',
      'POST /api/silences/{id}/expire',
      'GET /api/tokens',
      'POST /api/tokens',
      'POST /api/tokens/{id}/revoke',
      'GET /api/search',
      'GET /api/events/export',
      'GET /api/console/sources',
    ])
      expect(names).toContain(route);
    expect(names.every((n) => n.split(' ')[1]!.startsWith('/api/'))).toBe(true);
    for (const [name, op] of ops) {
      expect(
        Object.keys(op.responses).some((c) => c.startsWith('2')),
        name,
      ).toBe(true);
      expect(op.responses['403'], name).toBeDefined();
    }
    const search = ops.find(([n]) => n === 'GET /api/search')![1];
    expect(JSON.stringify(search.parameters)).toContain('"q"');
    const silence = ops.find(([n]) => n === 'POST /api/silences')![1];
    expect(JSON.stringify(silence.requestBody)).toContain('matchers');
  });
});

describe('TokenVerifier', () => {
  it('refuses a revoked token within its TTL even when the token is used continuously', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.init();
    const { token, record } = await createToken(store, 'busy', new Date(), { role: 'viewer' });
    const verifier = new TokenVerifier(store, 1_000);
    let now = 1_000_000;
    expect((await verifier.verify(token, now)).ok).toBe(true);
    await revokeToken(store, record.id);
    // Used every 100 ms: before the fix each success pushed the cache expiry forward for ever.
    const results: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      now += 100;
      results.push((await verifier.verify(token, now)).ok);
    }
    expect(results.slice(0, 9).every(Boolean)).toBe(true);
    expect(results.slice(10).some(Boolean)).toBe(false);
    await store.close();
  });
});
