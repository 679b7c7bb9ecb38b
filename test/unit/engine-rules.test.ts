// The stateful engine: declared threshold, distinct and sequence rules on event time, dedup, pruning,
// lanes for re-keying, and state that survives a restart through snapshots.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { DetectionEngine, type EngineOptions } from '../../src/detect/engine.ts';
import { detectBatch } from '../../src/detect/runner.ts';
import { MemoryStateStore, SqliteStateStore } from '../../src/detect/state-store.ts';
import type { Detector, Rule } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';

const T0 = Date.parse('2024-06-01T10:00:00Z');
let seq = 0;

function ev(
  atMs: number,
  fields: { user?: string; ip?: string; kind?: 'login.failure' | 'login.success' } = {},
): PipewardenEvent {
  const at = new Date(atMs).toISOString();
  const e: PipewardenEvent = {
    '@timestamp': at,
    event: {
      id: `e${++seq}`,
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: 'x',
      outcome: 'unknown',
      dataset: 't',
      provider: 't',
      ingested: at,
    },
    pipewarden: { kind: fields.kind ?? 'login.failure', source: 'test' },
  };
  if (fields.user !== undefined) e.user = { name: fields.user };
  if (fields.ip !== undefined) e.source = { ip: fields.ip };
  return e;
}

const schema = z.strictObject({ enabled: z.boolean().default(true) });

function withRules(rules: Rule<{ enabled: boolean }>[], id = 'test-rules'): Detector {
  return {
    id,
    title: id,
    severity: 'medium',
    description: id,
    runbook: `detectors/${id}/README.md#runbook`,
    configSchema: schema,
    appliesTo: () => true,
    rules: () => rules,
  };
}

const describeIt = (x: { count: number; key: string }) => ({ summary: `${x.count} for ${x.key}` });

function threshold(extra: Partial<Rule<{ enabled: boolean }>> = {}): Rule<{ enabled: boolean }> {
  return {
    id: 'th',
    type: 'threshold',
    keyBy: 'user.name',
    threshold: 3,
    windowMs: 10_000,
    dedupMs: 0,
    describe: describeIt,
    ...extra,
  } as Rule<{ enabled: boolean }>;
}

function engineOf(rules: Rule<{ enabled: boolean }>[], options: EngineOptions = {}) {
  return new DetectionEngine([{ detector: withRules(rules), config: { enabled: true } }], options);
}

/** Hit counts for events at the given offsets (ms from T0), `now` = event time (as replay does). */
function run(engine: DetectionEngine, events: PipewardenEvent[]): number[] {
  return events.map((e) => engine.evaluate(e, new Date(e['@timestamp'])).length);
}

describe('stateful engine: threshold', () => {
  it('counts an event while its time is within windowMs of the newest one (edge excluded)', () => {
    const at = (ms: number) => ev(T0 + ms, { user: 'alice' });
    expect(run(engineOf([threshold()]), [at(0), at(5_000), at(10_000)])).toEqual([0, 0, 0]);
    expect(run(engineOf([threshold()]), [at(0), at(5_000), at(9_999)])).toEqual([0, 0, 1]);
  });

  it('slides: old events expire and new ones complete a window later', () => {
    const at = (ms: number) => ev(T0 + ms, { user: 'alice' });
    expect(run(engineOf([threshold()]), [at(0), at(5_000), at(12_000), at(13_000)])).toEqual([0, 0, 0, 1]);
  });

  it('keeps keys apart and ignores events without the key field', () => {
    const e = engineOf([threshold()]);
    expect(
      run(e, [
        ev(T0, { user: 'a' }),
        ev(T0 + 1, { user: 'b' }),
        ev(T0 + 2, { ip: '192.0.2.1' }),
        ev(T0 + 3, { user: 'a' }),
      ]),
    ).toEqual([0, 0, 0, 0]);
    expect(e.keyCount).toBe(2);
  });

  it('counts a late event inside the window and drops one older than the window', () => {
    const e = engineOf([threshold()]);
    expect(run(e, [ev(T0 + 20_000, { user: 'a' }), ev(T0 + 5_000, { user: 'a' })])).toEqual([0, 0]);
    expect(e.stats.late).toBe(1);
    expect(run(e, [ev(T0 + 15_000, { user: 'a' }), ev(T0 + 21_000, { user: 'a' })])).toEqual([0, 1]);
  });

  it('takes a far-future @timestamp as now (a wrong clock cannot expire every window)', () => {
    const e = engineOf([threshold()], { maxClockSkewMs: 1_000 });
    const now = new Date(T0);
    e.evaluate(ev(T0 - 2_000, { user: 'a' }), now);
    e.evaluate(ev(T0 + 86_400_000, { user: 'a' }), now); // clamped to T0 + 1 s
    expect(e.evaluate(ev(T0, { user: 'a' }), now)).toHaveLength(1);
  });

  it('suppresses repeats for dedupMs of event time, then fires again', () => {
    const e = engineOf([threshold({ threshold: 1, dedupMs: 60_000 })]);
    expect(
      run(e, [
        ev(T0, { user: 'a' }),
        ev(T0 + 30_000, { user: 'a' }),
        ev(T0 + 30_000, { user: 'b' }),
        ev(T0 + 60_000, { user: 'a' }),
      ]),
    ).toEqual([1, 0, 1, 1]);
    expect(e.stats.suppressed).toBe(1);
  });

  it('defaults dedupMs to the window', () => {
    const e = engineOf([threshold({ threshold: 1, dedupMs: undefined })]);
    expect(
      run(e, [ev(T0, { user: 'a' }), ev(T0 + 9_999, { user: 'a' }), ev(T0 + 10_000, { user: 'a' })]),
    ).toEqual([1, 0, 1]);
  });

  it('gives the hit a stable id, the rule, the key and the window bounds', () => {
    const e = engineOf([threshold({ threshold: 2 })]);
    const events = [ev(T0, { user: 'a', ip: '192.0.2.1' }), ev(T0 + 1_000, { user: 'a', ip: '192.0.2.1' })];
    const [hit] = events.flatMap((x) => e.evaluate(x, new Date(T0 + 5_000)));
    expect(hit).toMatchObject({
      detector: 'test-rules',
      key: 'a',
      actor: 'a',
      source_ip: '192.0.2.1',
      severity: 'medium',
      // Every contributing event (issues 9 and 11), not only the completing one.
      event_ids: [events[0]!.event.id, events[1]!.event.id],
      context: {
        rule: 'th',
        key_by: 'user.name',
        count: 2,
        first_at: new Date(T0).toISOString(),
        last_at: new Date(T0 + 1_000).toISOString(),
      },
    });
    const again = engineOf([threshold({ threshold: 2 })]);
    const [hit2] = events.flatMap((x) => again.evaluate(x, new Date(T0 + 99_000)));
    expect(hit2!.id).toBe(hit!.id);
  });
});

describe('stateful engine: distinct', () => {
  const distinct = (extra: object = {}): Rule<{ enabled: boolean }> => ({
    id: 'spray',
    type: 'distinct',
    keyBy: 'source.ip',
    threshold: 3,
    windowMs: 60_000,
    dedupMs: 0,
    field: (e) => e.user?.name,
    describe: (x) => ({
      summary: `${x.count} users from ${x.key}`,
      context: { users: (x.values ?? []).join(',') },
    }),
    ...extra,
  });

  it('counts distinct values per key; repeats of one value do not add up', () => {
    const e = engineOf([distinct()]);
    const ip = '203.0.113.1';
    expect(
      run(e, [
        ev(T0, { user: 'a', ip }),
        ev(T0 + 1, { user: 'a', ip }),
        ev(T0 + 2, { user: 'b', ip }),
        ev(T0 + 3, { user: 'b', ip: '203.0.113.2' }),
      ]),
    ).toEqual([0, 0, 0, 0]);
    const hits = e.evaluate(ev(T0 + 4, { user: 'c', ip }), new Date(T0));
    expect(hits).toHaveLength(1);
    expect(hits[0]!.context).toMatchObject({ users: 'c,b,a', count: 3, rule: 'spray' });
  });

  it('lets a value expire when last seen before the window; seeing it again refreshes it', () => {
    const ip = '203.0.113.1';
    expect(
      run(engineOf([distinct()]), [
        ev(T0, { user: 'a', ip }),
        ev(T0 + 30_000, { user: 'b', ip }),
        ev(T0 + 60_000, { user: 'c', ip }),
      ]),
    ).toEqual([0, 0, 0]);
    expect(
      run(engineOf([distinct()]), [
        ev(T0, { user: 'a', ip }),
        ev(T0 + 30_000, { user: 'b', ip }),
        ev(T0 + 50_000, { user: 'a', ip }),
        ev(T0 + 60_000, { user: 'c', ip }),
      ]),
    ).toEqual([0, 0, 0, 1]);
  });

  it('keeps at most 2 × threshold values per key', () => {
    const e = engineOf([distinct({ threshold: 2, dedupMs: 600_000 })]);
    for (let i = 0; i < 100; i++) e.evaluate(ev(T0 + i, { user: `u${i}`, ip: '203.0.113.1' }), new Date(T0));
    const changes = new DetectionEngine(
      [{ detector: withRules([distinct({ threshold: 2 })]), config: { enabled: true } }],
      { trackChanges: true },
    );
    for (let i = 0; i < 100; i++)
      changes.evaluate(ev(T0 + i, { user: `u${i}`, ip: '203.0.113.1' }), new Date(T0));
    const [entry] = changes.drainChanges().upserts;
    expect(entry!.state.v).toHaveLength(4);
    expect(entry!.state.v).toEqual(['u96', 'u97', 'u98', 'u99']);
  });
});

describe('stateful engine: sequence', () => {
  const sequence = (extra: object = {}): Rule<{ enabled: boolean }> => ({
    id: 'fail-then-ok',
    type: 'sequence',
    keyBy: 'user.name',
    minFirst: 2,
    windowMs: 60_000,
    dedupMs: 0,
    first: (e) => e.pipewarden.kind === 'login.failure',
    followedBy: (e) => e.pipewarden.kind === 'login.success',
    describe: (x) => ({ summary: `${x.count} then success for ${x.key}` }),
    ...extra,
  });
  const f = (ms: number, user = 'a') => ev(T0 + ms, { user, kind: 'login.failure' });
  const s = (ms: number, user = 'a') => ev(T0 + ms, { user, kind: 'login.success' });

  it('fires on B after at least minFirst A for the same key within the window, once per run', () => {
    expect(run(engineOf([sequence()]), [f(0), f(1_000), s(2_000), s(3_000)])).toEqual([0, 0, 1, 0]);
    expect(run(engineOf([sequence()]), [f(0), f(1_000), s(2_000), f(4_000), f(5_000), s(6_000)])).toEqual([
      0, 0, 1, 0, 0, 1,
    ]);
  });

  it('does not fire for B before A, too few A, A outside the window, or another key', () => {
    expect(run(engineOf([sequence()]), [s(0), f(1_000), f(2_000)])).toEqual([0, 0, 0]);
    expect(run(engineOf([sequence()]), [f(0), s(1_000)])).toEqual([0, 0]);
    expect(run(engineOf([sequence()]), [f(0), f(1_000), s(61_000)])).toEqual([0, 0, 0]);
    expect(run(engineOf([sequence()]), [f(0), f(1_000), s(2_000, 'b')])).toEqual([0, 0, 0]);
  });
});

describe('stateful engine: memory, isolation and declarations', () => {
  it('prunes expired keys: 100k keys shrink to what is still in a window', () => {
    const e = engineOf([threshold({ threshold: 5, windowMs: 60_000, dedupMs: 0 })], { allowedLatenessMs: 0 });
    // 100k keys within 50 s: all still inside the 60 s window.
    for (let i = 0; i < 100_000; i++) e.evaluate(ev(T0 + (i >> 1), { user: `user-${i}` }), new Date(T0));
    expect(e.keyCount).toBe(100_000);
    for (let i = 0; i < 2_048; i++)
      e.evaluate(ev(T0 + 200_000 + i, { user: `late-${i % 10}` }), new Date(T0 + 200_000));
    expect(e.keyCount).toBeLessThanOrEqual(10 + 1);
  });

  it('caps keys per rule, dropping the least recently touched, and counts it', () => {
    const e = engineOf([threshold({ windowMs: 3_600_000 })], { maxKeysPerRule: 1_000 });
    for (let i = 0; i < 5_000; i++) e.evaluate(ev(T0 + i, { user: `u${i}` }), new Date(T0 + i));
    e.prune();
    expect(e.keyCount).toBe(1_000);
    expect(e.stats.evicted).toBe(4_000);
  });

  it('isolates a detector whose rule throws; the others go on, the error is counted', () => {
    const bad = withRules(
      [
        threshold({
          when: () => {
            throw new Error('boom');
          },
        }),
      ],
      'bad-one',
    );
    const good = withRules([threshold({ threshold: 1 })], 'good-one');
    const e = new DetectionEngine(
      [
        { detector: bad, config: { enabled: true } },
        { detector: good, config: { enabled: true } },
      ],
      createLogger({ level: 'silent' }),
    );
    expect(e.evaluate(ev(T0, { user: 'a' }), new Date(T0)).map((h) => h.detector)).toEqual(['good-one']);
    expect(e.stats.errors).toEqual({ 'bad-one': 1 });
  });

  it('refuses bad declarations when it starts, listing each', () => {
    expect(() => engineOf([threshold({ threshold: 0 }), threshold({ windowMs: 10 })])).toThrow(
      /threshold.*\n.*duplicate rule id.*\n.*windowMs/s,
    );
  });

  it('splits the work into lanes: the events lane runs user-keyed rules, others go to re-keyed topics', () => {
    const spray: Rule<{ enabled: boolean }> = {
      ...threshold({ id: 'by-ip', keyBy: 'source.ip', threshold: 1 }),
    };
    const e = engineOf([threshold({ threshold: 1 }), spray]);
    const x = ev(T0, { user: 'a', ip: '192.0.2.1' });
    expect(e.rekeyedFields()).toEqual(['source.ip']);
    expect(e.rekeyTargets(x)).toEqual([{ keyBy: 'source.ip', key: '192.0.2.1' }]);
    expect(e.rekeyTargets(ev(T0, { user: 'a' }))).toEqual([]);
    expect(e.evaluate(x, new Date(T0), { lane: 'events' }).map((h) => h.context.rule)).toEqual(['th']);
    expect(e.evaluate(x, new Date(T0), { lane: 'source.ip' }).map((h) => h.context.rule)).toEqual(['by-ip']);
  });
});

describe('stateful engine: restart', () => {
  const msg = (e: PipewardenEvent, offset: number): ConsumedMessage => ({
    topic: 'events',
    partition: 0,
    offset: String(offset),
    key: e.user?.name ?? '',
    value: JSON.stringify(e),
    headers: {},
    timestamp: 0,
  });
  const log = createLogger({ level: 'silent' });

  it('restores window state from a SQLite snapshot after a restart and skips redelivered events', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'pw-state-')), 'state.sqlite');
    const rules = [threshold({ threshold: 4, windowMs: 60_000 })];
    const events = [0, 1, 2, 3, 4].map((i) => ev(T0 + i * 1_000, { user: 'alice' }));

    // First life: three events, snapshot, "commit".
    let store = new SqliteStateStore(path);
    await store.init();
    let engine = engineOf(rules, { trackChanges: true });
    const step = { engine, lane: 'all' as const, state: store, now: () => new Date(T0), log };
    let out = await detectBatch(
      step,
      events.slice(0, 3).map((e, i) => msg(e, i)),
    );
    expect(out.hits).toHaveLength(0);
    await store.save(engine.drainChanges());
    await store.close();

    // Second life: the bus redelivers the last event (commit lost), then the new ones.
    store = new SqliteStateStore(path);
    await store.init();
    engine = engineOf(rules, { trackChanges: true });
    out = await detectBatch({ ...step, engine, state: store }, [msg(events[2]!, 2), msg(events[3]!, 3)]);
    expect(engine.stats.redelivered).toBe(1);
    expect(out.hits.map((h) => h.context.count)).toEqual([4]);
    await store.close();
  });

  it('forgets a batch whose outputs failed, so its redelivery counts it once', async () => {
    const state = new MemoryStateStore();
    const engine = engineOf([threshold({ threshold: 3, windowMs: 60_000 })], { trackChanges: true });
    const step = { engine, lane: 'all' as const, state, now: () => new Date(T0), log };
    const events = [0, 1, 2].map((i) => ev(T0 + i, { user: 'bob' }));
    await detectBatch(step, [msg(events[0]!, 10)]);
    await state.save(engine.drainChanges());
    await detectBatch(step, [msg(events[1]!, 11), msg(events[2]!, 12)]); // hits could not be published:
    expect(engine.discardChanges()).toBe(1);
    const again = await detectBatch(step, [msg(events[1]!, 11), msg(events[2]!, 12)]);
    expect(again.hits).toHaveLength(1);
    expect(engine.stats.redelivered).toBe(0);
  });

  it('after a rebalance, reloads a key another instance advanced instead of counting from stale memory', async () => {
    const state = new MemoryStateStore();
    const rules = [threshold({ threshold: 4, windowMs: 60_000 })];
    const a = engineOf(rules, { trackChanges: true });
    const b = engineOf(rules, { trackChanges: true });
    const events = [0, 1, 2, 3].map((i) => ev(T0 + i * 1_000, { user: 'carol' }));
    const stepA = { engine: a, lane: 'all' as const, state, now: () => new Date(T0), log };
    const stepB = { ...stepA, engine: b };
    // A owns the partition: one event. Then B owns it: two more (loaded from A's snapshot).
    await detectBatch(stepA, [msg(events[0]!, 20)]);
    await state.save(a.drainChanges());
    await detectBatch(stepB, [msg(events[1]!, 21), msg(events[2]!, 22)]);
    await state.save(b.drainChanges());
    // The partition comes back to A. Without forgetting, A would count 2 of 4 (its stale memory).
    expect(a.forget()).toBe(1);
    const back = await detectBatch(stepA, [msg(events[3]!, 23)]);
    expect(back.hits.map((h) => h.context.count)).toEqual([4]);
  });

  it('forgets only the lane it is asked to', () => {
    const e = engineOf([threshold({ threshold: 9, windowMs: 60_000 })], { trackChanges: true });
    e.evaluate(ev(T0, { user: 'dave' }), new Date(T0));
    expect(e.forget('source.ip')).toBe(0);
    expect(e.forget('all')).toBe(1);
    expect(e.drainChanges().upserts).toHaveLength(0);
  });
});
