// telemetry-loss, silent sources: its `silence` absence rule judged by the engine's ticks, the detect
// role's clock (src/detect/time-driven.ts) against a real SQLite state store (restart, one hit per
// silence, a failed publish), and the wiring in a running embedded pipewarden.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { telemetryLoss } from '../../detectors/telemetry-loss/index.ts';
import type { Hit } from '../../src/alerting/types.ts';
import { DetectionEngine, stateId } from '../../src/detect/engine.ts';
import { SqliteStateStore } from '../../src/detect/state-store.ts';
import { TimeDrivenRules } from '../../src/detect/time-driven.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { eventually, startEmbedded } from '../support/app.ts';

const MIN = 60_000;
const T0 = Date.parse('2024-06-01T09:00:00Z');

function event(source: string, atMs: number, dataset = `${source}.webhook`): PipewardenEvent {
  const at = new Date(atMs).toISOString();
  return {
    '@timestamp': at,
    event: {
      id: eventId('silence-test', source, at, dataset),
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

function engineFor(silence: Record<string, unknown>, trackChanges = false) {
  // Checked every minute, so a test can put its clock anywhere.
  const config = telemetryLoss.configSchema.parse({ silence: { schedule: '* * * * *', ...silence } });
  return new DetectionEngine([{ detector: telemetryLoss, config }], { trackChanges });
}

const ENV = { enabledSources: ['github', 'jenkins'] };

/** The detect role's clock over a real SQLite state store; events go through the engine like a batch. */
async function role(path: string, clock: { t: number }, published: Hit[], sources = { github: 60 }) {
  const engine = engineFor({ sources }, true);
  const state = new SqliteStateStore(path);
  await state.init();
  closers.push(() => state.close());
  let fail = false;
  const timed = new TimeDrivenRules({
    engine,
    lanes: ['all'],
    state,
    env: ENV,
    now: () => new Date(clock.t),
    publishHits: async (hits) => {
      if (fail) throw new Error('bus down');
      published.push(...hits);
    },
  });
  return {
    engine,
    state,
    timed,
    failPublish: (v: boolean) => {
      fail = v;
    },
    /** What the detect role's batch handler does: load, evaluate, snapshot. */
    async observe(events: PipewardenEvent[]) {
      for (const e of events) {
        engine.restore(await state.load(engine.missingState(e), Number.NEGATIVE_INFINITY));
        engine.evaluate(e, new Date(clock.t));
      }
      await state.save(engine.drainChanges('all'));
    },
  };
}

const sqlitePath = () => join(mkdtempSync(join(tmpdir(), 'pipewarden-silence-')), 'detect-state.sqlite');

describe('silence', () => {
  it('the engine judges: silent past the interval, once per silence, never-seen sources count from the start', () => {
    const engine = engineFor({ sources: { github: 60, jenkins: 30 } });
    const keys = (t: number) => engine.tick(new Date(t), { env: ENV }).hits.map((h) => h.key);
    expect(keys(T0)).toEqual([]); // the watch begins
    engine.evaluate(event('github', T0 + 10 * MIN), new Date(T0 + 10 * MIN));
    expect(keys(T0 + 30 * MIN)).toEqual([]);
    expect(keys(T0 + 31 * MIN)).toEqual(['jenkins']);
    expect(keys(T0 + 71 * MIN)).toEqual(['github']); // jenkins's silence was reported already
    expect(keys(T0 + 500 * MIN)).toEqual([]);
  });

  it('raises one hit per silence, remembers across a restart, and a new event ends the silence', async () => {
    const path = sqlitePath();
    const clock = { t: T0 };
    const hits: Hit[] = [];
    const r = await role(path, clock, hits);
    await r.timed.check(); // the watch begins
    clock.t = T0 + 5 * MIN;
    await r.observe([event('github', T0 + 5 * MIN)]);
    clock.t = T0 + 30 * MIN;
    expect(await r.timed.check()).toEqual([]);
    clock.t = T0 + 66 * MIN;
    const [hit] = await r.timed.check();
    expect(hit).toMatchObject({
      detector: 'telemetry-loss',
      severity: 'high',
      key: 'github',
      source: 'github',
      runbook: 'detectors/telemetry-loss/README.md#runbook',
      event_ids: [event('github', T0 + 5 * MIN).event.id], // the last event the source sent
      context: { rule: 'silence', last_seen: new Date(T0 + 5 * MIN).toISOString(), max_minutes: 60 },
    });
    expect(hit!.summary).toMatch(
      /^No events from source github for 61 min \(expected at least every 60 min\)/,
    );
    clock.t = T0 + 90 * MIN;
    expect(await r.timed.check()).toEqual([]); // same silence: not again

    // A restart: a new engine over the same state store knows the source and that its silence was reported.
    await r.timed.save();
    await r.state.close();
    closers.pop();
    const r2 = await role(path, clock, hits);
    clock.t = T0 + 200 * MIN;
    expect(await r2.timed.check()).toEqual([]); // starts the new process's schedule
    clock.t = T0 + 201 * MIN;
    expect(await r2.timed.check()).toEqual([]);
    const [saved] = await r2.state.load(
      [stateId('telemetry-loss', 'silence', 'github')],
      Number.NEGATIVE_INFINITY,
    );
    expect(saved!.state.t).toEqual([T0 + 5 * MIN]);

    // The source comes back, then goes quiet again: a new silence, a new hit with another id.
    await r2.observe([event('github', T0 + 201 * MIN)]);
    clock.t = T0 + 230 * MIN;
    expect(await r2.timed.check()).toEqual([]);
    clock.t = T0 + 262 * MIN;
    const again = await r2.timed.check();
    expect(again).toHaveLength(1);
    expect(again[0]!.id).not.toBe(hit!.id);
    expect(hits).toHaveLength(2);
  });

  it('a source never heard from stays silent since the first start, across a restart mid-interval', async () => {
    const path = sqlitePath();
    const clock = { t: T0 };
    const hits: Hit[] = [];
    const r = await role(path, clock, hits, { github: 60 });
    await r.timed.check(); // the watch begins at T0 and is saved
    await r.state.close();
    closers.pop();
    clock.t = T0 + 40 * MIN; // restarted mid-interval: the watch did not begin again
    const r2 = await role(path, clock, hits, { github: 60 });
    expect(await r2.timed.check()).toEqual([]);
    clock.t = T0 + 61 * MIN;
    const [hit] = await r2.timed.check();
    expect(hit!.summary).toContain(`nothing received since watching began at ${new Date(T0).toISOString()}`);
  });

  it('ignores pipewarden’s own aggregates and unwatched sources', async () => {
    const engine = engineFor({ sources: { github: 60 } });
    engine.tick(new Date(T0), { env: ENV });
    for (const e of [event('github', T0 + 50 * MIN, 'pipewarden.ingest'), event('circleci', T0 + 50 * MIN)])
      engine.evaluate(e, new Date(e['@timestamp']));
    expect(engine.tick(new Date(T0 + 61 * MIN), { env: ENV }).hits.map((h) => h.key)).toEqual(['github']);
  });

  it('a failed publish leaves the silence unreported, to be raised at the next check', async () => {
    const clock = { t: T0 };
    const hits: Hit[] = [];
    const r = await role(sqlitePath(), clock, hits, { jenkins: 10 } as never);
    await r.timed.check();
    clock.t = T0 + 11 * MIN;
    r.failPublish(true);
    await expect(r.timed.check()).rejects.toThrow('bus down');
    r.failPublish(false);
    clock.t = T0 + 12 * MIN;
    expect(await r.timed.check()).toHaveLength(1);
    expect(hits.map((h) => h.key)).toEqual(['jenkins']);
  });

  it('defaultMaxMinutes watches every enabled source', () => {
    const engine = engineFor({ defaultMaxMinutes: 1440, sources: { github: 60 } });
    engine.tick(new Date(T0), { env: ENV });
    const at = (m: number) =>
      engine
        .tick(new Date(T0 + m * MIN), { env: ENV })
        .hits.map((h) => h.key)
        .sort();
    expect(at(61)).toEqual(['github']);
    expect(at(1441)).toEqual(['jenkins']);
  });

  it('runs under the detect role: sees the events topic and publishes hits to the hits topic', async () => {
    // Checked every second; jenkins tolerated 3 s of silence, github an hour (and it speaks).
    const { app } = await startEmbedded(
      {
        sources: { github: { enabled: true }, jenkins: { enabled: true } },
        detectors: {
          'telemetry-loss': { silence: { schedule: '* * * * * *', sources: { github: 60, jenkins: 0.05 } } },
        },
      },
      { PIPEWARDEN_JENKINS_SECRET: 'test-jenkins-secret' },
      ['detect'],
    );
    closers.push(() => app.stop());
    await app.bus.publish(app.config.topics.events, [
      { key: 'k', value: JSON.stringify(event('github', Date.now())) },
    ]);
    const received: Hit[] = [];
    const sub = await app.bus.subscribe({
      topic: app.config.topics.hits,
      group: 'test-hits',
      handler: async (batch) => {
        for (const m of batch) received.push(JSON.parse(m.value) as Hit);
      },
    });
    closers.push(() => sub.stop());
    const hits = await eventually(
      async () => (received.length ? received : undefined),
      15_000,
      'the silence hit on the hits topic',
    );
    expect(hits[0]).toMatchObject({
      detector: 'telemetry-loss',
      key: 'jenkins',
      context: { rule: 'silence' },
    });
    expect(received.some((h) => h.key === 'github')).toBe(false);
  });

  it('stays off when telemetry-loss watches no source', () => {
    const engine = engineFor({});
    expect(engine.hasTimeRules()).toBe(false);
    expect(engine.tick(new Date(T0 + 99_999 * MIN), { env: ENV }).hits).toEqual([]);
  });
});
