// elasticsearch.setup: separate, on the real node. The collector with a create-only key must never need
// the setup privileges: its start only reads, and fails naming `pipewarden store init` until an operator
// has run that with the setup credential. (The local node runs without the security module, so a
// role-limited API key cannot be checked here: these tests show which calls each side makes.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { buildTrail, newKey } from '../support/trail.ts';

const esUrl = inject('elasticsearchUrl');
const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;
const client = new Client({ node: esUrl });
const prefixes: string[] = [];

function prefix(): string {
  const p = `pw-setup-${Math.random().toString(36).slice(2, 10)}`;
  prefixes.push(p);
  return p;
}

afterAll(async () => {
  for (const p of prefixes) {
    await client.indices.deleteDataStream({ name: `${p}-events` }).catch(() => {});
    await client.indices.delete({ index: `${p}-*`, ignore_unavailable: true }).catch(() => {});
    await client.indices.deleteIndexTemplate({ name: `${p}-*` }).catch(() => {});
    await client.cluster.deleteComponentTemplate({ name: `${p}-events-mappings` }).catch(() => {});
  }
  await client.close();
});

describe('store setup done apart from the collector (elasticsearch.setup: separate)', () => {
  it('the collector start creates nothing and names `pipewarden store init` when the store is missing', async () => {
    const p = prefix();
    const store = new ElasticsearchStore(
      elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: p, setup: 'separate' }),
    );
    await expect(store.init()).rejects.toThrow(
      /not set up \(missing: .*-events.*-trail-checkpoints, .*-trail-duplicates\).*run `pipewarden store init`/,
    );
    expect((await client.indices.existsIndexTemplate({ name: `${p}-events` })) as boolean).toBe(false);
    expect(Object.keys(await client.indices.get({ index: `${p}-*`, expand_wildcards: 'all' }))).toEqual([]);
    await store.close();
  });

  it('after `pipewarden store init`, a separate-setup collector starts and chains a verifiable trail', async () => {
    const p = prefix();
    const dir = mkdtempSync(join(tmpdir(), 'pipewarden-setup-'));
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        mode: 'distributed',
        kafka: { brokers: inject('kafkaBrokers').split(',') },
        elasticsearch: { node: esUrl, indexPrefix: p, setup: 'separate' },
      }),
    );
    const run = spawnSync(process.execPath, [CLI, 'store', 'init', '--config', configFile], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('Store ready (elasticsearch).\n');
    expect(run.status).toBe(0);
    expect((await client.indices.existsIndexTemplate({ name: `${p}-events` })) as boolean).toBe(true);

    const store = new ElasticsearchStore(
      elasticsearchConfigSchema.parse({ node: esUrl, indexPrefix: p, setup: 'separate' }),
    );
    await store.init();
    const key = newKey();
    await buildTrail(store, key);
    const { verifyTrail } = await import('../../src/trail/verify.ts');
    const report = await verifyTrail({ store, key, now: new Date() });
    expect(report.findings).toEqual([]);
    expect(report.events).toBe(40);
    await store.close();
  });
});
