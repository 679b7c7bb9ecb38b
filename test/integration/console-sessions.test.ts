// Console sessions kept in the store, over real HTTP: they survive a restart of the app (same data dir),
// are shared by two API replicas on one Elasticsearch store, end on every replica at sign-out or when the
// token is revoked, and the store holds only a hash of the session id. And the inbox over HTTP finds an
// alert older than the newest 2,000.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { AlertRecord } from '../../src/alerting/types.ts';
import { SESSION_CACHE_MS, sessionKey } from '../../src/api/auth.ts';
import { createToken, revokeToken } from '../../src/api/tokens.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { eventually, startEmbedded, TEST_GROUP_PREFIX } from '../support/app.ts';

interface Session {
  cookie: string;
  csrf: string;
}

async function signIn(url: string, token: string): Promise<Session> {
  const res = await fetch(`${url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { csrf: string };
  return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: body.csrf };
}

const me = (url: string, s: Session) => fetch(`${url}/api/session`, { headers: { cookie: s.cookie } });

/** A state-changing request with the session's CSRF token (saving a query: any role may). */
const save = (url: string, s: Session, name: string) =>
  fetch(`${url}/api/saved-queries`, {
    method: 'POST',
    headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'content-type': 'application/json' },
    body: JSON.stringify({ name, q: 'actor:x' }),
  });

const signOut = (url: string, s: Session) =>
  fetch(`${url}/api/session`, { method: 'DELETE', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });

const apps: RunningApp[] = [];
afterAll(async () => {
  await Promise.allSettled(apps.map((a) => a.stop()));
});

describe('console sessions in the embedded store', () => {
  it('survive a restart of the app on the same data dir, CSRF token included', async () => {
    const first = await startEmbedded();
    apps.push(first.app);
    const s = await signIn(first.app.url, first.token);
    expect((await save(first.app.url, s, 'before')).status).toBe(200);
    await first.app.stop();

    const again = await startApp(first.app.config, { port: 0, log: createLogger({ level: 'silent' }) });
    apps.push(again);
    const res = await me(again.url, s);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'test', via: 'session', csrf: s.csrf });
    expect((await save(again.url, s, 'after')).status).toBe(200);
    expect((await signOut(again.url, s)).status).toBe(200);
    expect((await me(again.url, s)).status).toBe(401);
  });

  it('stores a hash of the session id, never the id itself', async () => {
    const { app, token, dataDir } = await startEmbedded();
    apps.push(app);
    const s = await signIn(app.url, token);
    const id = decodeURIComponent(s.cookie.slice(s.cookie.indexOf('=') + 1));
    const stored = await app.store.getSession(sessionKey(id));
    expect(stored?.id).toBe(sessionKey(id));
    expect(await app.store.getSession(id)).toBeUndefined();
    const files = ['store.sqlite', 'store.sqlite-wal'].map((f) => {
      try {
        return readFileSync(join(dataDir, f)).toString('latin1');
      } catch {
        return '';
      }
    });
    expect(files.join('')).toContain(sessionKey(id));
    expect(files.join('')).not.toContain(id);
  });

  it('ends the sessions of a revoked token at once', async () => {
    const { app } = await startEmbedded();
    apps.push(app);
    const { token, record } = await createToken(app.store, 'leaver', new Date(), { role: 'viewer' });
    const s = await signIn(app.url, token);
    const key = sessionKey(decodeURIComponent(s.cookie.slice(s.cookie.indexOf('=') + 1)));
    expect(await app.store.getSession(key)).toBeDefined();
    await revokeToken(app.store, record.id);
    expect(await app.store.getSession(key)).toBeUndefined();
  });

  it('the inbox finds an alert older than the newest 2,000, and pages by cursor', async () => {
    const { app, token } = await startEmbedded();
    apps.push(app);
    const base = Date.UTC(2026, 0, 1);
    const mk = (id: string, i: number, over: Partial<AlertRecord> = {}): AlertRecord => ({
      id,
      '@timestamp': new Date(base + i * 1000).toISOString(),
      detected_at: new Date(base + i * 1000).toISOString(),
      detector: 'noise',
      title: 't',
      severity: 'low',
      summary: 's',
      description: 'd',
      runbook: 'r',
      key: 'k',
      event_ids: [],
      source: 'github',
      actor: 'noisy',
      repository: 'busy/repo',
      context: {},
      status: 'delivered',
      deliveries: {},
      ...over,
    });
    await app.store.putAlert(mk('needle', 0, { actor: 'Needle-Owner', severity: 'critical' }));
    for (let i = 1; i <= 2_100; i++) await app.store.putAlert(mk(`hay-${i}`, i));
    const get = async (q: string) => {
      const res = await fetch(`${app.url}/api/console/alerts?${q}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as {
        items: AlertRecord[];
        counts: Record<string, number>;
        total: number;
        next?: string;
      };
    };
    const found = await get('actor=needle-owner');
    expect(found.items.map((a) => a.id)).toEqual(['needle']);
    expect((await get('severity=critical')).items.map((a) => a.id)).toEqual(['needle']);
    const all = await get('size=500');
    expect(all.total).toBe(2_101);
    expect(all.counts).toMatchObject({ low: 2_100, critical: 1 });
    expect(all.items).toHaveLength(500);
    let cursor = all.next;
    let last: AlertRecord | undefined;
    while (cursor) {
      const page = await get(`size=500&cursor=${encodeURIComponent(cursor)}`);
      last = page.items.at(-1) ?? last;
      cursor = page.next;
    }
    expect(last?.id).toBe('needle');
    const bad = await fetch(`${app.url}/api/console/alerts?size=0`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bad.status).toBe(400);
  }, 60_000);
});

describe('console sessions across two API replicas on one Elasticsearch store', () => {
  const run = `ses${Date.now().toString(36)}`;
  const prefix = `pw-${run}`;
  afterAll(async () => {
    const es = new Client({ node: inject('elasticsearchUrl') });
    await es.indices.deleteDataStream({ name: `${prefix}-events` }).catch(() => {});
    await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true }).catch(() => {});
    await es.close();
  });

  it('share a session; signing out or revoking the token on one ends it on the other', async () => {
    const config = parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX },
        elasticsearch: { node: inject('elasticsearchUrl'), indexPrefix: prefix },
        topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
        log: { level: 'silent' },
      },
      {},
    );
    const start = () =>
      startApp(config, { port: 0, roles: ['ingest'], log: createLogger({ level: 'silent' }) });
    const a = await start();
    apps.push(a);
    const b = await start();
    apps.push(b);
    const { token } = await createToken(a.store, 'oncall', new Date(), { role: 'analyst' });

    const s = await signIn(a.url, token);
    const onB = await me(b.url, s);
    expect(onB.status).toBe(200);
    expect(await onB.json()).toMatchObject({ name: 'oncall', via: 'session', csrf: s.csrf });
    expect((await save(b.url, s, 'from-b')).status).toBe(200);

    // B has it cached now; signing out on A ends it on B within the replicas' cache time.
    expect((await signOut(a.url, s)).status).toBe(200);
    expect((await me(a.url, s)).status).toBe(401);
    const out = Date.now();
    await eventually(async () => (await me(b.url, s)).status === 401, 10_000, 'B refuses the session');
    expect(Date.now() - out).toBeLessThan(SESSION_CACHE_MS + 2_000);

    // Revoking the token (here from outside both, as `pipewarden token revoke` does) ends its sessions.
    const t = await signIn(b.url, token);
    expect((await me(a.url, t)).status).toBe(200);
    const record = (await a.store.listTokens()).find((r) => r.name === 'oncall')!;
    await revokeToken(a.store, record.id);
    const revoked = Date.now();
    await eventually(
      async () => (await me(a.url, t)).status === 401 && (await me(b.url, t)).status === 401,
      10_000,
      'both refuse the session',
    );
    expect(Date.now() - revoked).toBeLessThan(SESSION_CACHE_MS + 2_000);
  }, 60_000);
});
