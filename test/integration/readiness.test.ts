// Readiness per role (issue 10, item 1): each role is ready when what it needs answers. With the real
// Elasticsearch node cut off (a loopback proxy in front of it), ingest stays ready — Kafka can take every
// webhook — while index is not, and /readyz names what is missing and who needs it. Embedded mode is not
// ready on a data directory that is (nearly) full.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createToken } from '../../src/api/tokens.ts';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Role } from '../../src/config/schema.ts';
import { readinessCheck } from '../../src/health.ts';
import { createLogger } from '../../src/log.ts';
import { startEmbedded, TEST_GROUP_PREFIX } from '../support/app.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const run = `rdy${Date.now().toString(36)}`;

describe('readiness per role with Elasticsearch cut off', () => {
  const esUrl = new URL(inject('elasticsearchUrl'));
  let proxy: TcpProxy;
  const apps: Partial<Record<Role, RunningApp>> = {};

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: esUrl.hostname, port: Number(esUrl.port) });
    const config = parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX },
        elasticsearch: {
          node: `http://127.0.0.1:${proxy.port}`,
          indexPrefix: `pw-${run}`,
          requestTimeoutMs: 10_000,
        },
        topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
        log: { level: 'silent' },
      },
      { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: 'readiness-test-secret' },
    );
    for (const role of ['ingest', 'index', 'alert'] as const)
      apps[role] = await startApp(config, { port: 0, roles: [role], log: createLogger({ level: 'silent' }) });
  });

  afterAll(async () => {
    for (const app of Object.values(apps)) await app?.stop();
    await proxy?.close();
    const es = new Client({ node: esUrl.toString() });
    await es.indices.delete({ index: `pw-${run}-*`, ignore_unavailable: true }).catch(() => {});
    await es.indices.deleteDataStream({ name: `pw-${run}-events` }).catch(() => {});
    await es.close();
  });

  const readyz = async (role: Role) => {
    const res = await apps[role]!.server.inject({ method: 'GET', url: '/readyz' });
    return { status: res.statusCode, body: res.json() };
  };

  it('every role is ready while everything answers', async () => {
    for (const role of ['ingest', 'index', 'alert'] as const) expect((await readyz(role)).status).toBe(200);
    expect((await readyz('ingest')).body.checks).toEqual({ bus: 'ok' });
    expect((await readyz('index')).body.checks).toEqual({ bus: 'ok', store: 'ok' });
  });

  it('keeps ingest ready without the store; index and alert name the store as missing', async () => {
    const { token } = await createToken(apps.ingest!.store, 'readiness');
    const api = (url: string) =>
      apps.ingest!.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    expect((await api('/api/events?size=1')).statusCode).toBe(200);
    await proxy.cut();
    try {
      // The query API needs the store: 503 naming it (not a 500), for the token check and the search alike.
      for (const url of ['/api/events?size=1', '/api/alerts']) {
        const res = await api(url);
        expect(res.statusCode, res.body).toBe(503);
        expect(res.headers['retry-after']).toBeDefined();
        expect(res.json()).toMatchObject({
          error: 'store_unavailable',
          message: expect.stringMatching(/^Elasticsearch is unreachable/),
        });
      }
      const ingest = await readyz('ingest');
      expect(ingest.status, JSON.stringify(ingest.body)).toBe(200);
      expect(ingest.body).toMatchObject({ status: 'ready', missing: [] });
      for (const role of ['index', 'alert'] as const) {
        const r = await readyz(role);
        expect(r.status).toBe(503);
        expect(r.body.checks).toMatchObject({ bus: 'ok', store: expect.stringMatching(/^unreachable/) });
        expect(r.body.missing).toEqual([`store (needed by ${role})`]);
      }
    } finally {
      await proxy.restore();
    }
    expect((await readyz('index')).status).toBe(200);
  });
});

describe('readiness in embedded mode', () => {
  it('is not ready when the data directory has less free space than the minimum, and says so', async () => {
    // A minimum no disk here has free (1 EiB): statfs must report the directory as full.
    const dataDir = mkdtempSync(join(tmpdir(), 'pipewarden-test-'));
    const { app } = await startEmbedded({ embedded: { dataDir, minFreeMb: 1024 ** 4 } });
    try {
      const res = await app.server.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().checks.disk).toMatch(/^full: \d+ MiB free in .*, below the \d+ MiB minimum$/);
      expect(res.json().checks.disk).toContain(dataDir);
      expect(res.json().missing).toEqual(['disk (needed by ingest, detect, alert, index)']);
    } finally {
      await app.stop();
    }
  });

  it('is ready with room on the disk, and names an unwritable data directory', async () => {
    const { app, dataDir } = await startEmbedded();
    try {
      const res = await app.server.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(200);
      expect(res.json().checks).toEqual({ bus: 'ok', store: 'ok', disk: 'ok' });
      // The same check on a directory that is gone: the write fails and is named.
      const check = readinessCheck({
        roles: ['index'],
        bus: app.bus,
        store: app.store,
        dataDir: `${dataDir}/missing`,
      });
      const r = await check();
      expect(r.ready).toBe(false);
      expect(r.checks.disk).toMatch(/^unreachable: ENOENT/);
    } finally {
      await app.stop();
    }
  });
});
