// telemetry-loss, silent sources: the pure judgement, the watch against a real SQLite store (restart,
// one hit per silence), and the detect role's wiring against a real embedded bus.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { telemetryLoss } from '../../detectors/telemetry-loss/index.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { SqliteBus } from '../../src/bus/sqlite.ts';
import { parseConfig } from '../../src/config/load.ts';
import { findSilent, SILENCE_STATE_KEY, SilenceWatch, startSilenceWatch } from '../../src/detect/silence.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { eventually } from '../support/app.ts';

const MIN = 60_000;
const T0 = Date.parse('2024-06-01T09:00:00Z');

function event(source: string, atMs: number, dataset = `${source}.webhook`): PipewardenEvent {
  const at = new Date(atMs).toISOString();
  return {
    '@timestamp': at,
    event: {
      id: eventId('silence-test', source, at),
      kind: 'event',
      category: ['web'],
      type: ['info'],
      action: 'push',
      outcome: 'unknown',
      dataset,
      provider: source,
      ingested: at,
    },
    pipewarden: { kind: 'code.push', source },
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function store(path = join(mkdtempSync(join(tmpdir(), 'pipewarden-silence-')), 'store.sqlite')) {
  const s = new SqliteStore({ path });
  await s.init();
  closers.push(() => s.close());
  return { s, path };
}

function watch(
  s: SqliteStore,
  clock: { t: number },
  published: Hit[],
  sources: Record<string, number> = { github: 60 },
) {
  const config = telemetryLoss.configSchema.parse({ silence: { sources } });
  return new SilenceWatch({
    store: s,
    config,
    enabledSources: ['github', 'jenkins'],
    now: () => new Date(clock.t),
    publishHits: async (hits) => {
      published.push(...hits);
    },
  });
}

describe('silence', () => {
  it('findSilent: silent past the interval, once per silence, never-seen sources count from the start', () => {
    const state = { since: T0, lastSeen: { github: T0 + 10 * MIN }, alerted: {} };
    const expected = { github: 60 * MIN, jenkins: 30 * MIN };
    expect(findSilent(state, expected, T0 + 30 * MIN)).toEqual([]);
    expect(findSilent(state, expected, T0 + 31 * MIN).map((s) => s.source)).toEqual(['jenkins']);
    expect(findSilent(state, expected, T0 + 71 * MIN).map((s) => s.source)).toEqual(['github', 'jenkins']);
    const reported = { ...state, alerted: { github: T0 + 10 * MIN, jenkins: T0 } };
    expect(findSilent(reported, expected, T0 + 500 * MIN)).toEqual([]);
  });

  it('raises one hit per silence, remembers across a restart, and a new event ends the silence', async () => {
    const { s, path } = await store();
    const clock = { t: T0 };
    const hits: Hit[] = [];
    const w = watch(s, clock, hits);
    await w.save(); // the watch begins
    w.observe([event('github', T0 + 5 * MIN)]);
    clock.t = T0 + 30 * MIN;
    expect(await w.check()).toEqual([]);
    clock.t = T0 + 66 * MIN;
    const [hit] = await w.check();
    expect(hit).toMatchObject({
      detector: 'telemetry-loss',
      severity: 'high',
      key: 'github',
      source: 'github',
      runbook: 'detectors/telemetry-loss/README.md#runbook',
      context: { rule: 'silence', last_seen: new Date(T0 + 5 * MIN).toISOString(), max_minutes: 60 },
    });
    expect(hit!.summary).toMatch(
      /^No events from source github for 61 min \(expected at least every 60 min\)/,
    );
    clock.t = T0 + 90 * MIN;
    expect(await w.check()).toEqual([]); // same silence: not again

    // A restart: a new watch over the same store knows the source and that its silence was reported.
    await s.close();
    closers.pop();
    const { s: s2 } = await store(path);
    const w2 = watch(s2, clock, hits);
    clock.t = T0 + 200 * MIN;
    expect(await w2.check()).toEqual([]);
    expect(JSON.parse((await s2.getState(SILENCE_STATE_KEY))!).lastSeen.github).toBe(T0 + 5 * MIN);

    // The source comes back, then goes quiet again: a new silence, a new hit with another id.
    w2.observe([event('github', T0 + 201 * MIN)]);
    clock.t = T0 + 230 * MIN;
    expect(await w2.check()).toEqual([]);
    clock.t = T0 + 262 * MIN;
    const again = await w2.check();
    expect(again).toHaveLength(1);
    expect(again[0]!.id).not.toBe(hit!.id);
    expect(hits).toHaveLength(2);
  });

  it('ignores pipewarden’s own aggregates and unwatched sources', async () => {
    const { s } = await store();
    const clock = { t: T0 };
    const hits: Hit[] = [];
    const w = watch(s, clock, hits);
    await w.save();
    w.observe([event('github', T0 + 50 * MIN, 'pipewarden.ingest'), event('circleci', T0 + 50 * MIN)]);
    clock.t = T0 + 61 * MIN;
    expect((await w.check()).map((h) => h.key)).toEqual(['github']);
    expect(w.watched).toEqual(['github']);
  });

  it('a failed publish leaves the silence unreported, to be raised at the next check', async () => {
    const { s } = await store();
    const clock = { t: T0 };
    let fail = true;
    const config = telemetryLoss.configSchema.parse({ silence: { sources: { jenkins: 10 } } });
    const w = new SilenceWatch({
      store: s,
      config,
      enabledSources: [],
      now: () => new Date(clock.t),
      publishHits: async () => {
        if (fail) throw new Error('bus down');
      },
    });
    await w.save();
    clock.t = T0 + 11 * MIN;
    await expect(w.check()).rejects.toThrow('bus down');
    fail = false;
    expect(await w.check()).toHaveLength(1);
  });

  it('defaultMaxMinutes watches every enabled source', () => {
    const config = telemetryLoss.configSchema.parse({
      silence: { defaultMaxMinutes: 1440, sources: { github: 60 } },
    });
    const w = new SilenceWatch({
      store: {} as SqliteStore,
      config,
      enabledSources: ['github', 'jenkins'],
      now: () => new Date(T0),
      publishHits: async () => {},
    });
    expect(w.watched.sort()).toEqual(['github', 'jenkins']);
  });

  it('runs under the detect role: sees the events topic and publishes hits to the hits topic', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pipewarden-silence-app-'));
    const config = parseConfig(
      {
        mode: 'embedded',
        embedded: { dataDir },
        log: { level: 'silent' },
        detectors: {
          'telemetry-loss': { silence: { schedule: '0 0 1 1 *', sources: { github: 60, jenkins: 60 } } },
        },
      },
      {},
    );
    const bus = new SqliteBus({ path: join(dataDir, 'bus.sqlite'), pollIntervalMs: 20 });
    closers.push(() => bus.close());
    await bus.ensureTopics([config.topics.events, config.topics.hits]);
    const { s } = await store(join(dataDir, 'store.sqlite'));
    const clock = { t: T0 };
    const started = await startSilenceWatch({
      config,
      bus,
      store: s,
      now: () => new Date(clock.t),
      log: createLogger({ level: 'silent' }),
    });
    expect(started).toBeDefined();
    closers.push(() => started!.stop());
    await bus.publish(config.topics.events, [{ key: 'k', value: JSON.stringify(event('github', T0 + MIN)) }]);
    const received: Hit[] = [];
    const sub = await bus.subscribe({
      topic: config.topics.hits,
      group: 'test-hits',
      handler: async (batch) => {
        for (const m of batch) received.push(JSON.parse(m.value) as Hit);
      },
    });
    closers.push(() => sub.stop());
    clock.t = T0 + 2 * MIN;
    // Wait until the watch has consumed the github event (it is stored on a check).
    await eventually(
      async () => {
        await started!.watch.save();
        return JSON.parse((await s.getState(SILENCE_STATE_KEY)) ?? '{}').lastSeen?.github === T0 + MIN;
      },
      10_000,
      'the watch to see the github event',
    );
    clock.t = T0 + 61 * MIN; // jenkins: 61 min since the watch began; github: 60 min since its event
    expect((await started!.watch.check()).map((h) => h.key)).toEqual(['jenkins']); // github spoke at T0+1
    const hits = await eventually(
      async () => (received.length ? received : undefined),
      10_000,
      'the hit on the hits topic',
    );
    expect(hits[0]).toMatchObject({
      detector: 'telemetry-loss',
      key: 'jenkins',
      context: { rule: 'silence' },
    });
  });

  it('stays off when telemetry-loss watches no source', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pipewarden-silence-off-'));
    const config = parseConfig({ mode: 'embedded', embedded: { dataDir }, log: { level: 'silent' } }, {});
    const r = await startSilenceWatch({
      config,
      bus: {} as SqliteBus,
      store: {} as SqliteStore,
      now: () => new Date(),
      log: createLogger({ level: 'silent' }),
    });
    expect(r).toBeUndefined();
  });
});
