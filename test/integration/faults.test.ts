// Faults on real components: Elasticsearch goes away under a running distributed collector (a loopback
// proxy in front of the real node is cut, so other tests keep their node). Ingest keeps accepting
// (the events are durable on Kafka), readiness says what is down, the index role retries with backoff,
// and once the node is back every accepted event is indexed exactly once.
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningApp, startApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { TEST_GROUP_PREFIX } from '../support/app.ts';
import { loadSample, rawBody, signGithub } from '../support/samples.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const run = `flt${Date.now().toString(36)}`;
const SECRET = 'fault-test-secret';
const BEFORE = 10;
const DURING = 25;

async function until(fn: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('Elasticsearch outage under a distributed collector', () => {
  const esUrl = new URL(inject('elasticsearchUrl'));
  const es = new Client({ node: esUrl.toString() });
  let proxy: TcpProxy;
  let app: RunningApp;

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: esUrl.hostname, port: Number(esUrl.port) });
    const config = parseConfig(
      {
        mode: 'distributed',
        kafka: { brokers: inject('kafkaBrokers').split(','), groupPrefix: TEST_GROUP_PREFIX },
        elasticsearch: {
          node: `http://127.0.0.1:${proxy.port}`,
          indexPrefix: `pw-${run}`,
          requestTimeoutMs: 2_000,
        },
        topics: { events: `${run}.events`, hits: `${run}.hits`, buildLogs: `${run}.build-logs` },
        log: { level: 'silent' },
      },
      { PIPEWARDEN_GITHUB_WEBHOOK_SECRET: SECRET },
    );
    app = await startApp(config, {
      port: 0,
      roles: ['ingest', 'index'],
      log: createLogger({ level: 'silent' }),
    });
  });

  afterAll(async () => {
    await proxy?.restore().catch(() => {}); // let the app's store close cleanly
    await app?.stop();
    await proxy?.close();
    await es.indices.delete({ index: `pw-${run}-*`, ignore_unavailable: true }).catch(() => {});
    await es.close();
  });

  const sample = loadSample('github', 'push__default.json');
  // One push per delivery id: a signed body resent under a new id is the same event (issue 10).
  const rawOf = (delivery: string) =>
    rawBody({ ...sample, body: { ...(sample.body as object), test_occurrence: delivery } });
  const send = (delivery: string) =>
    app.server.inject({
      method: 'POST',
      url: '/ingest/github',
      payload: rawOf(delivery),
      headers: signGithub(sample, rawOf(delivery), SECRET, delivery),
    });
  // Counted on the real node directly, not through the proxy.
  const indexed = async () => {
    await es.indices.refresh({ index: `pw-${run}-events` });
    return (await es.count({ index: `pw-${run}-events` })).count;
  };

  it('keeps accepting while the node is away, says so on /readyz, and indexes everything exactly once when it is back', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < BEFORE; i++) {
      const res = await send(`${run}-before-${i}`);
      expect(res.statusCode).toBe(202);
      for (const id of res.json().ids) ids.add(id);
    }
    await until(async () => (await indexed()) === BEFORE, 'the first events indexed');

    await proxy.cut();
    for (let i = 0; i < DURING; i++) {
      const res = await send(`${run}-during-${i}`);
      expect(res.statusCode, res.body).toBe(202); // durable on Kafka: the sender need not retry
      for (const id of res.json().ids) ids.add(id);
    }
    const ready = await app.server.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks).toMatchObject({ bus: 'ok', store: expect.stringMatching(/^unreachable/) });
    await new Promise((r) => setTimeout(r, 3_000)); // the index role fails and backs off meanwhile
    expect(await indexed()).toBe(BEFORE);

    await proxy.restore();
    await until(async () => (await indexed()) === BEFORE + DURING, 'every accepted event indexed', 90_000);
    // Exactly once: as many documents as distinct event ids, and each id present.
    const found = await es.search<{ event: { id: string } }>({
      index: `pw-${run}-events`,
      size: 100,
      _source: ['event.id'],
      query: { match_all: {} },
    });
    const got = found.hits.hits.map((h) => h._source!.event.id);
    expect(got).toHaveLength(ids.size);
    expect(new Set(got)).toEqual(ids);
    expect((await app.server.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    // Every event shows on /metrics as indexed (redeliveries, if any, count again).
    const metrics = (await app.server.inject({ method: 'GET', url: '/metrics' })).body;
    const indexedMetric = /pipewarden_index_events_total\{outcome="indexed"\} (\d+)/.exec(metrics)?.[1];
    expect(Number(indexedMetric)).toBeGreaterThanOrEqual(BEFORE + DURING);
  });
});
