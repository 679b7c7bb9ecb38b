// Silences on both stores: each silence is its own document, so 20 created at once (by two processes'
// worth of Silences instances) are all kept; expire, list and matching read the same documents; silences
// kept the old way (one state document) are moved to one document each.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Silences } from '../../src/alerting/silences.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { ElasticsearchStore, elasticsearchConfigSchema } from '../../src/store/elasticsearch.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/types.ts';

const NOW = new Date('2026-05-01T10:00:00Z');
const now = () => NOW;
const prefix = `pw-sil-${Date.now().toString(36)}`;
const es = new Client({ node: inject('elasticsearchUrl') });
const stores: Store[] = [];

afterAll(async () => {
  for (const s of stores) await s.close().catch(() => {});
  await es.indices.deleteDataStream({ name: `${prefix}-*-events` }).catch(() => {});
  await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true }).catch(() => {});
  await es.close();
});

const makers: Array<[string, (name: string) => Promise<Store>]> = [
  [
    'sqlite',
    async () => {
      const s = new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'pw-sil-')), 'store.db') });
      await s.init();
      return s;
    },
  ],
  [
    'elasticsearch',
    async (name) => {
      const s = new ElasticsearchStore(
        elasticsearchConfigSchema.parse({
          node: inject('elasticsearchUrl'),
          indexPrefix: `${prefix}-${name}`,
        }),
      );
      await s.init();
      return s;
    },
  ],
];

const hit = (actor: string): Hit => ({
  id: `h-${actor}`,
  '@timestamp': NOW.toISOString(),
  detected_at: NOW.toISOString(),
  detector: 'failed-logins',
  title: 't',
  severity: 'high',
  summary: 's',
  description: 'd',
  runbook: 'r',
  key: actor,
  event_ids: [],
  source: 'jenkins',
  actor,
  context: {},
});

describe.each(makers)('silences on %s', (kind, make) => {
  it('keeps 20 silences created at once, lists, matches and expires them', { timeout: 60_000 }, async () => {
    const store = await make(`a${kind}`);
    stores.push(store);
    // two API replicas' worth of instances, creating at the same time
    const replicas = [new Silences(store, now), new Silences(store, now)];
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        replicas[i % 2]!.create(
          { matchers: [`actor=user-${i}`], durationMinutes: 60, comment: `load test ${i}` },
          `analyst-${i % 2}`,
        ),
      ),
    );
    expect(new Set(created.map((s) => s.id)).size).toBe(20);
    const listed = await new Silences(store, now).list();
    expect(listed.map((s) => s.id).sort()).toEqual(created.map((s) => s.id).sort());
    expect(listed.find((s) => s.id === created[7]!.id)).toMatchObject({
      matchers: [{ name: 'actor', op: '=', value: 'user-7' }],
      createdBy: 'analyst-1',
      comment: 'load test 7',
      endsAt: '2026-05-01T11:00:00.000Z',
    });
    const reader = new Silences(store, now);
    expect((await reader.matching(hit('user-7')))?.id).toBe(created[7]!.id);
    expect(await reader.matching(hit('user-99'))).toBeUndefined();
    // two expiries at once, of different silences: both end
    const [a, b] = await Promise.all([
      replicas[0]!.expire(created[3]!.id, 'bob'),
      replicas[1]!.expire(created[4]!.id, 'carol'),
    ]);
    expect(a).toMatchObject({ expiredBy: 'bob', endsAt: NOW.toISOString() });
    expect(b).toMatchObject({ expiredBy: 'carol' });
    const after = await new Silences(store, now).list();
    expect(after).toHaveLength(20);
    expect(
      after
        .filter((s) => s.expiredBy)
        .map((s) => s.expiredBy)
        .sort(),
    ).toEqual(['bob', 'carol']);
    expect(await new Silences(store, now).matching(hit('user-3'))).toBeUndefined();
    expect(await replicas[0]!.expire('sil_nope', 'bob')).toBeUndefined();
  });

  it('moves silences kept in the old single state document to one document each', async () => {
    const store = await make(`b${kind}`);
    stores.push(store);
    await store.putState(
      'silences',
      JSON.stringify([
        {
          id: 'sil_legacy01',
          matchers: { actor: 'deploy-bot', repository: 'octo-org/*' },
          startsAt: '2026-05-01T09:00:00.000Z',
          endsAt: '2026-05-01T12:00:00.000Z',
          createdBy: 'ana',
          createdAt: '2026-05-01T09:00:00.000Z',
          comment: 'from before',
        },
      ]),
    );
    const silences = new Silences(store, now);
    const [s] = await silences.list();
    expect(s).toMatchObject({
      id: 'sil_legacy01',
      matchers: [
        { name: 'actor', op: '=', value: 'deploy-bot' },
        { name: 'repository', op: 'glob', value: 'octo-org/*' },
      ],
    });
    expect(await store.getSilence('sil_legacy01')).toBeDefined();
    expect(await store.getState('silences')).toBe('[]');
    const h = { ...hit('deploy-bot'), repository: 'octo-org/tools' };
    expect((await silences.matching(h))?.id).toBe('sil_legacy01');
  });
});
