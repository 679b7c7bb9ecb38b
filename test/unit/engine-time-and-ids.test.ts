// The engine's contributing event ids (threshold, distinct, sequence: all of them, bounded, through a
// snapshot and a restart) and its time-driven rule types (absence, scheduled: a fake clock, restarts
// from a snapshot mid-window, lanes, bad declarations).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { DetectionEngine, type EngineOptions } from '../../src/detect/engine.ts';
import { detectBatch } from '../../src/detect/runner.ts';
import { MemoryStateStore, SqliteStateStore } from '../../src/detect/state-store.ts';
import { TimeDrivenRules } from '../../src/detect/time-driven.ts';
import { type Detector, MAX_EVENT_IDS, type Rule } from '../../src/detect/types.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';

const T0 = Date.parse('2024-06-01T10:00:00Z');
const MIN = 60_000;
const log = createLogger({ level: 'silent' });
type C = { enabled: boolean };
let seq = 0;

function ev(
  atMs: number,
  f: { user?: string; ip?: string; kind?: 'login.failure' | 'login.success'; repo?: string } = {},
): PipewardenEvent {
  const at = new Date(atMs).toISOString();
  const e: PipewardenEvent = {
    '@timestamp': at,
    event: {
      id: eventId('engine-ids-test', ++seq),
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: 'x',
      outcome: 'unknown',
      dataset: 't',
      provider: 't',
      ingested: at,
    },
    pipewarden: { kind: f.kind ?? 'login.failure', source: 'test' },
  };
  if (f.user !== undefined) e.user = { name: f.user };
  if (f.ip !== undefined) e.source = { ip: f.ip };
  if (f.repo !== undefined) e.pipewarden.repository = f.repo;
  return e;
}

function detector(rules: Rule<C>[], id = 'test-rules'): Detector {
  return {
    id,
    title: id,
    severity: 'medium',
    description: id,
    runbook: `detectors/${id}/README.md#runbook`,
    configSchema: z.strictObject({ enabled: z.boolean().default(true) }),
    appliesTo: () => true,
    rules: () => rules,
  };
}

const engineOf = (rules: Rule<C>[], options: EngineOptions = {}) =>
  new DetectionEngine([{ detector: detector(rules), config: { enabled: true } }], options);

const brute = (threshold: number, extra: Partial<Rule<C>> = {}) =>
  ({
    id: 'brute',
    type: 'threshold',
    keyBy: 'user.name',
    threshold,
    windowMs: 10 * MIN,
    describe: (x: { count: number }) => ({ summary: `${x.count} failures` }),
    ...extra,
  }) as Rule<C>;

const msg = (e: PipewardenEvent, offset: number): ConsumedMessage => ({
  topic: 'events',
  partition: 0,
  offset: String(offset),
  key: e.user?.name ?? '',
  value: JSON.stringify(e),
  headers: {},
  timestamp: 0,
});

const sqlite = async (path = join(mkdtempSync(join(tmpdir(), 'pw-ids-')), 'state.sqlite')) => {
  const s = new SqliteStateStore(path);
  await s.init();
  return { s, path };
};

describe('contributing event ids', () => {
  it('a brute force of ten failures references all ten events, oldest first', () => {
    const e = engineOf([brute(10)]);
    const events = Array.from({ length: 10 }, (_, i) => ev(T0 + i * 1_000, { user: 'alice' }));
    const hits = events.flatMap((x) => e.evaluate(x, new Date(x['@timestamp'])));
    expect(hits).toHaveLength(1);
    expect(hits[0]!.event_ids).toEqual(events.map((x) => x.event.id));
    expect(hits[0]!.event_total).toBeUndefined();
    expect(hits[0]!.context.count).toBe(10);
  });

  it('only counts events inside the window: an expired failure is not referenced', () => {
    const e = engineOf([brute(3, { windowMs: 60_000 })]);
    const old = ev(T0, { user: 'bob' });
    const recent = [61_000, 62_000, 63_000].map((d) => ev(T0 + d, { user: 'bob' }));
    const hits = [old, ...recent].flatMap((x) => e.evaluate(x, new Date(x['@timestamp'])));
    expect(hits[0]!.event_ids).toEqual(recent.map((x) => x.event.id));
  });

  it('keeps out-of-order events in time order', () => {
    const e = engineOf([brute(3)]);
    const [a, b, c] = [0, 2_000, 1_000].map((d) => ev(T0 + d, { user: 'carol' }));
    const hits = [a!, b!, c!].flatMap((x) => e.evaluate(x, new Date(T0 + 5_000)));
    expect(hits[0]!.event_ids).toEqual([a!.event.id, c!.event.id, b!.event.id]);
  });

  it(`bounds the ids at ${MAX_EVENT_IDS} (the newest) and gives the total`, () => {
    const e = engineOf([brute(250)]);
    const events = Array.from({ length: 250 }, (_, i) => ev(T0 + i * 100, { user: 'dave' }));
    const hits = events.flatMap((x) => e.evaluate(x, new Date(x['@timestamp'])));
    expect(hits).toHaveLength(1);
    expect(hits[0]!.event_ids).toEqual(events.slice(-MAX_EVENT_IDS).map((x) => x.event.id));
    expect(hits[0]!.event_total).toBe(250);
  });

  it('distinct: the newest event of each counted value', () => {
    const spray: Rule<C> = {
      id: 'spray',
      type: 'distinct',
      keyBy: 'source.ip',
      threshold: 3,
      windowMs: 10 * MIN,
      field: (x) => x.user?.name,
      describe: (x) => ({ summary: `${x.count} users` }),
    };
    const e = engineOf([spray]);
    const u1 = ev(T0, { user: 'u1', ip: '192.0.2.7' });
    const u2 = ev(T0 + 1_000, { user: 'u2', ip: '192.0.2.7' });
    const u1again = ev(T0 + 2_000, { user: 'u1', ip: '192.0.2.7' });
    const u3 = ev(T0 + 3_000, { user: 'u3', ip: '192.0.2.7' });
    const hits = [u1, u2, u1again, u3].flatMap((x) => e.evaluate(x, new Date(x['@timestamp'])));
    expect(hits).toHaveLength(1);
    expect(hits[0]!.event_ids).toEqual([u2.event.id, u1again.event.id, u3.event.id]);
  });

  it('sequence: the first-step events, then the one that completed it', () => {
    const seqRule: Rule<C> = {
      id: 'then-success',
      type: 'sequence',
      keyBy: 'user.name',
      windowMs: 10 * MIN,
      minFirst: 2,
      first: (x) => x.pipewarden.kind === 'login.failure',
      followedBy: (x) => x.pipewarden.kind === 'login.success',
      describe: (x) => ({ summary: `${x.count} then success` }),
    };
    const e = engineOf([seqRule]);
    const fails = [0, 1_000, 2_000].map((d) => ev(T0 + d, { user: 'erin' }));
    const ok = ev(T0 + 3_000, { user: 'erin', kind: 'login.success' });
    const hits = [...fails, ok].flatMap((x) => e.evaluate(x, new Date(x['@timestamp'])));
    expect(hits[0]!.event_ids).toEqual([...fails, ok].map((x) => x.event.id));
    expect(hits[0]!.context.count).toBe(3);
  });

  it('survives a restart from a SQLite snapshot mid-window: the hit names events from both lives', async () => {
    const events = Array.from({ length: 10 }, (_, i) => ev(T0 + i * 1_000, { user: 'frank' }));
    let { s, path } = await sqlite();
    let engine = engineOf([brute(10)], { trackChanges: true });
    const step = { engine, lane: 'all' as const, state: s, now: () => new Date(T0), log };
    expect((await detectBatch(step, events.slice(0, 6).map(msg))).hits).toEqual([]);
    await s.save(engine.drainChanges());
    await s.close();

    ({ s } = await sqlite(path));
    engine = engineOf([brute(10)], { trackChanges: true });
    const out = await detectBatch(
      { ...step, engine, state: s },
      events.slice(6).map((x, i) => msg(x, 6 + i)),
    );
    await s.close();
    expect(out.hits).toHaveLength(1);
    expect(out.hits[0]!.event_ids).toEqual(events.map((x) => x.event.id));
  });

  it('reads a snapshot written before ids were kept: counts stay exact, the hit names what it knows', () => {
    const engine = engineOf([brute(3)], { trackChanges: true });
    const [a, b] = [0, 1_000].map((d) => ev(T0 + d, { user: 'gina' }));
    for (const x of [a!, b!]) engine.evaluate(x, new Date(x['@timestamp']));
    const [entry] = engine.drainChanges().upserts;
    delete entry!.state.e; // as an older version saved it
    const restarted = engineOf([brute(3)]);
    restarted.restore([entry!]);
    const c = ev(T0 + 2_000, { user: 'gina' });
    const [hit] = restarted.evaluate(c, new Date(c['@timestamp']));
    expect(hit!.context.count).toBe(3);
    expect(hit!.event_ids).toEqual([c.event.id]);
    expect(hit!.event_total).toBe(3);
  });

  it('stores an id with a space or a percent sign and gives it back unchanged', () => {
    const engine = engineOf([brute(2)], { trackChanges: true });
    const a = ev(T0, { user: 'hal' });
    a.event.id = 'odd id 100%';
    engine.evaluate(a, new Date(T0));
    const restarted = engineOf([brute(2)]);
    restarted.restore(engine.drainChanges().upserts);
    const b = ev(T0 + 1_000, { user: 'hal' });
    expect(restarted.evaluate(b, new Date(T0 + 1_000))[0]!.event_ids).toEqual(['odd id 100%', b.event.id]);
  });
});

describe('absence rules', () => {
  const heartbeat = (extra: Partial<Rule<C>> = {}): Rule<C> =>
    ({
      id: 'no-heartbeat',
      type: 'absence',
      keyBy: 'pipewarden.repository',
      schedule: '*/5 * * * *',
      windowMs: 30 * MIN,
      when: (x: PipewardenEvent) => x.pipewarden.kind === 'login.success',
      describe: (a: { key: string; silentMs: number; lastSeen: string | null }) => ({
        summary: `${a.key} silent for ${a.silentMs / MIN} min (last ${a.lastSeen})`,
      }),
      ...extra,
    }) as Rule<C>;
  const ok = (atMs: number, repo: string) => ev(atMs, { repo, kind: 'login.success' });

  it('fires at the first check after a key seen has been silent longer than its window, once', () => {
    const e = engineOf([heartbeat()]);
    const keys = (m: number) => e.tick(new Date(T0 + m * MIN)).hits.map((h) => h.summary);
    expect(keys(0)).toEqual([]); // starts the clock
    e.evaluate(ok(T0 + 2 * MIN, 'acme/api'), new Date(T0 + 2 * MIN));
    e.evaluate(ev(T0 + 20 * MIN, { repo: 'acme/api' }), new Date(T0 + 20 * MIN)); // not matching `when`
    expect(keys(32)).toEqual([]);
    expect(keys(40)).toEqual([`acme/api silent for 33 min (last ${new Date(T0 + 2 * MIN).toISOString()})`]);
    expect(keys(300)).toEqual([]);
  });

  it('declares its hit: check time, key, rule, the last event seen, a stable id', () => {
    const run = () => {
      const e = engineOf([heartbeat()]);
      e.tick(new Date(T0));
      const x = ok(T0 + MIN, 'acme/web');
      e.evaluate(x, new Date(T0 + MIN));
      const [hit] = e.tick(new Date(T0 + 60 * MIN)).hits;
      return { hit: hit!, x };
    };
    const { hit, x } = run();
    expect(hit).toMatchObject({
      '@timestamp': new Date(T0 + 35 * MIN).toISOString(),
      key: 'acme/web',
      severity: 'medium',
      event_ids: [x.event.id],
      context: { rule: 'no-heartbeat', key_by: 'pipewarden.repository' },
    });
    // Derived from the silence (key and its last arrival), so a redelivered or repeated check is one hit.
    expect(run().hit.id).toBe(hit.id);
  });

  it('watches expected keys from the start, each with its own window, even if never seen', () => {
    const e = engineOf([
      heartbeat({
        windowMs: undefined,
        expect: () =>
          new Map([
            ['acme/api', 10 * MIN],
            ['acme/web', 60 * MIN],
          ]),
      } as Partial<Rule<C>>),
    ]);
    e.tick(new Date(T0));
    e.evaluate(ok(T0 + MIN, 'other/repo'), new Date(T0 + MIN)); // not expected, no windowMs: not watched
    expect(e.tick(new Date(T0 + 15 * MIN)).hits.map((h) => h.key)).toEqual(['acme/api']);
    expect(e.tick(new Date(T0 + 65 * MIN)).hits.map((h) => h.key)).toEqual(['acme/web']);
    expect(e.tick(new Date(T0 + 600 * MIN)).hits).toEqual([]);
  });

  it('restarts from a snapshot mid-window: remembers the last event and what it already reported', async () => {
    const { s, path } = await sqlite();
    const published: string[] = [];
    const life = async (store: SqliteStateStore, clock: { t: number }) => {
      const engine = engineOf([heartbeat()], { trackChanges: true });
      const timed = new TimeDrivenRules({
        engine,
        lanes: ['all'],
        state: store,
        env: { enabledSources: [] },
        now: () => new Date(clock.t),
        publishHits: async (hits) => {
          published.push(...hits.map((h) => h.key));
        },
      });
      const step = { engine, lane: 'all' as const, state: store, now: () => new Date(clock.t), log };
      return { engine, timed, step };
    };
    const clock = { t: T0 };
    const one = await life(s, clock);
    await one.timed.check();
    await detectBatch(one.step, [msg(ok(T0 + MIN, 'acme/api'), 0)]);
    await s.save(one.engine.drainChanges());
    clock.t = T0 + 20 * MIN;
    expect(await one.timed.check()).toEqual([]);
    await s.close();

    // Restarted mid-window (20 of 30 min silent): the key is known from the snapshot.
    const { s: s2 } = await sqlite(path);
    const two = await life(s2, clock);
    clock.t = T0 + 25 * MIN;
    await detectBatch(two.step, [msg(ev(T0 + 25 * MIN, { user: 'x' }), 1)]); // another key's event
    await s2.save(two.engine.drainChanges());
    await two.timed.check(); // the new clock starts
    clock.t = T0 + 35 * MIN;
    expect((await two.timed.check()).map((h) => h.key)).toEqual(['acme/api']);
    await s2.close();

    // And again: the silence was reported before this restart, so it is not reported twice.
    const { s: s3 } = await sqlite(path);
    const three = await life(s3, clock);
    await three.timed.check();
    clock.t = T0 + 90 * MIN;
    expect(await three.timed.check()).toEqual([]);
    await s3.close();
    expect(published).toEqual(['acme/api']);
  });

  it('runs in the lane of its key, and re-publishes only a heartbeat per key and minute', () => {
    const e = engineOf([heartbeat()]);
    expect(e.rekeyedFields()).toEqual(['pipewarden.repository']);
    expect(e.hasTimeRules('pipewarden.repository')).toBe(true);
    expect(e.hasTimeRules('events')).toBe(false);
    const targets = [0, 10_000, 59_000, 61_000].map((d) => e.rekeyTargets(ok(T0 + d, 'acme/api')).length);
    expect(targets).toEqual([1, 0, 0, 1]);
  });

  it('refuses bad declarations at start', () => {
    expect(() =>
      engineOf([
        heartbeat({ schedule: 'every minute' } as Partial<Rule<C>>),
        heartbeat({ id: 'b', windowMs: undefined } as Partial<Rule<C>>),
      ]),
    ).toThrow(/invalid cron expression.*\n.*needs windowMs, expect or both/s);
  });
});

describe('scheduled rules', () => {
  // "At every hour: each repository with fewer than 2 deploys in the hour, and the expected one with none."
  const hourly = (): Rule<C> => ({
    id: 'few-deploys',
    type: 'scheduled',
    keyBy: 'pipewarden.repository',
    schedule: '0 * * * *',
    expect: () => ['acme/expected'],
    check: (p) => (p.count < 2 ? { summary: `${p.key}: ${p.count} in ${p.from}..${p.to}` } : null),
  });
  const deploy = (atMs: number, repo: string) => ev(atMs, { repo });

  it('checks each key at each scheduled time over the events since the previous one', () => {
    const e = engineOf([hourly()]);
    e.tick(new Date(T0 - 30 * MIN)); // starts the clock at 09:30
    const a = deploy(T0 - 20 * MIN, 'acme/a');
    const b1 = deploy(T0 - 10 * MIN, 'acme/b');
    const b2 = deploy(T0 - 5 * MIN, 'acme/b');
    for (const x of [a, b1, b2]) e.evaluate(x, new Date(x['@timestamp']));
    const first = e.tick(new Date(T0 + MIN)).hits;
    expect(first.map((h) => h.summary).sort()).toEqual([
      'acme/a: 1 in 2024-06-01T09:30:00.000Z..2024-06-01T10:00:00.000Z',
      'acme/expected: 0 in 2024-06-01T09:30:00.000Z..2024-06-01T10:00:00.000Z',
    ]);
    const hitA = first.find((h) => h.key === 'acme/a')!;
    expect(hitA).toMatchObject({
      '@timestamp': new Date(T0).toISOString(),
      event_ids: [a.event.id],
      context: { rule: 'few-deploys', count: 1 },
    });
    // The next period starts empty: only the expected key is checked when nothing arrives.
    expect(e.tick(new Date(T0 + 61 * MIN)).hits.map((h) => h.key)).toEqual(['acme/expected']);
  });

  it('keeps an open period through a restart from a snapshot', async () => {
    const state = new MemoryStateStore();
    const one = engineOf([hourly()], { trackChanges: true });
    one.tick(new Date(T0 + MIN));
    const x = deploy(T0 + 10 * MIN, 'acme/c');
    one.evaluate(x, new Date(T0 + 10 * MIN));
    await state.save(one.drainChanges());
    const two = engineOf([hourly()], { trackChanges: true });
    two.tick(new Date(T0 + 20 * MIN));
    const y = deploy(T0 + 30 * MIN, 'acme/c');
    two.restore(await state.load(two.missingState(y), Number.NEGATIVE_INFINITY));
    two.evaluate(y, new Date(T0 + 30 * MIN));
    const hits = two.tick(new Date(T0 + 60 * MIN)).hits;
    expect(hits.map((h) => h.key)).toEqual(['acme/expected']); // acme/c had 2 in the hour: fine
  });

  it('undo puts a tick back when its hits could not be published', () => {
    const e = engineOf([hourly()]);
    e.tick(new Date(T0 - 30 * MIN));
    e.evaluate(deploy(T0 - 20 * MIN, 'acme/a'), new Date(T0 - 20 * MIN));
    const failed = e.tick(new Date(T0));
    expect(failed.hits).toHaveLength(2);
    failed.undo();
    // The next run sees the periods again, merged with the next one.
    expect(
      e
        .tick(new Date(T0 + 60 * MIN))
        .hits.map((h) => `${h.key}:${h.context.count}`)
        .sort(),
    ).toEqual(['acme/a:1', 'acme/expected:0']);
  });
});
