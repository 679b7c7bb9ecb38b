// The alert role handles hits of different incidents at the same time and those of one incident in order
// (one message, then edits of it), and a batch that fails half-way comes back without any receiver getting
// a message twice, also when the process that failed is gone (a fresh alerter on the same store).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Alerter } from '../../src/alerting/alerter.ts';
import { IncidentTracker } from '../../src/alerting/incidents.ts';
import { Lanes } from '../../src/alerting/lanes.ts';
import { Silences } from '../../src/alerting/silences.ts';
import type { Hit, Sink, SinkRef } from '../../src/alerting/types.ts';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { Counters } from '../../src/metrics.ts';
import { alertBatch } from '../../src/roles/alert.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/types.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = createLogger({ level: 'silent' });

function hit(key: string, n: number): Hit {
  const at = new Date(Date.UTC(2026, 4, 1, 10, n)).toISOString();
  return {
    id: `${key}-${n}`,
    '@timestamp': at,
    detected_at: at,
    detector: 'failed-logins',
    title: 'Many failed logins',
    severity: 'high',
    summary: `burst ${n} for ${key}`,
    description: 'd',
    runbook: 'https://pipewarden.example/runbooks/failed-logins',
    key,
    event_ids: [`e-${key}-${n}`],
    source: 'jenkins',
    context: { rule: 'brute-force' },
  };
}

let offset = 0;
const message = (h: Hit): ConsumedMessage => ({
  topic: 'hits',
  partition: 0,
  offset: String(offset++),
  key: h.key,
  value: JSON.stringify(h),
  headers: {},
  timestamp: Date.now(),
});

/** A receiver that edits its messages, slow enough (20 ms a call) for hits handled at once to overlap. */
class RecordingSink implements Sink<Hit> {
  readonly name = 'slack';
  readonly minSeverity = 'low' as const;
  /** What was sent, in order: a new message, or an edit of one, with the count it showed. */
  readonly calls: Array<{ kind: 'send' | 'update'; key: string; hit: string; count: number }> = [];
  inFlight = 0;
  maxInFlight = 0;
  render(h: Hit): Hit {
    return h;
  }
  async send(h: Hit): Promise<SinkRef> {
    await this.#call('send', h);
    return { channel: 'C1', ts: h.id };
  }
  async update(_ref: SinkRef, h: Hit): Promise<void> {
    await this.#call('update', h);
  }
  async #call(kind: 'send' | 'update', h: Hit) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await sleep(20);
      this.calls.push({ kind, key: h.key, hit: h.id, count: h.incident?.count ?? 0 });
    } finally {
      this.inFlight--;
    }
  }
  of(key: string) {
    return this.calls.filter((c) => c.key === key).map((c) => `${c.kind}:${c.hit}:${c.count}`);
  }
}

/** The store, with writes of the alert records of chosen hits refused (a store outage for part of a batch). */
function failingAlerts(store: Store, refused: Set<string>): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'putAlert')
        return async (a: Parameters<Store['putAlert']>[0]) => {
          if (refused.has(a.id)) throw new Error(`store refused ${a.id}`);
          return target.putAlert(a);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const config = parseConfig({}, {});
const deps = () => ({ config, metrics: new Counters(), log });

describe('alert role concurrency', () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.init();
  });
  afterEach(async () => {
    await store.close();
  });

  const alerterOn = (s: Store, sink: Sink) =>
    new Alerter([sink], s, {
      attempts: 1,
      backoffMs: 1,
      outbox: { recordAttempts: 1, recordBackoffMs: 1 },
      incidents: new IncidentTracker(s, {
        groupBy: ['detector', 'rule', 'key'],
        groupIntervalMs: 3_600_000,
        repeatIntervalMs: 3_600_000,
      }),
      log,
    });

  it('handles hits of different incidents at once, and each incident in order: one message, then edits', async () => {
    const sink = new RecordingSink();
    const alerter = alerterOn(store, sink);
    const keys = ['alice', 'bob', 'carol'];
    // interleaved as they come off a partition: alice-0, bob-0, carol-0, alice-1, ...
    const batch = [0, 1, 2, 3].flatMap((n) => keys.map((k) => message(hit(k, n))));
    const started = performance.now();
    await alertBatch(deps(), alerter, new Lanes(32), batch);
    const took = performance.now() - started;
    expect(sink.maxInFlight).toBe(keys.length); // one call per incident at a time, all incidents at once
    for (const k of keys)
      expect(sink.of(k)).toEqual([`send:${k}-0:1`, `update:${k}-1:2`, `update:${k}-2:3`, `update:${k}-3:4`]);
    // 12 sends of 20 ms one after another would take 240 ms; three incidents at once about a third of that
    expect(took).toBeLessThan(12 * 20);
    for (const k of keys) expect((await store.getAlert(`${k}-3`))?.status).toBe('delivered');
  });

  it('keeps to the concurrency limit', async () => {
    const sink = new RecordingSink();
    const batch = ['a', 'b', 'c', 'd', 'e'].map((k) => message(hit(k, 0)));
    await alertBatch(deps(), alerterOn(store, sink), new Lanes(2), batch);
    expect(sink.maxInFlight).toBe(2);
    expect(sink.calls).toHaveLength(5);
  });

  it('a batch failing half-way comes back: nothing sent twice, and no later hit of an incident overtakes', async () => {
    const sink = new RecordingSink();
    const batch = [0, 1, 2].flatMap((n) => ['alice', 'bob'].map((k) => message(hit(k, n))));
    // bob-1's record cannot be written: bob-1 sends nothing (its intent is refused), bob-2 must wait for it
    const down = failingAlerts(store, new Set(['bob-1']));
    await expect(alertBatch(deps(), alerterOn(down, sink), new Lanes(32), batch)).rejects.toThrow(
      /store refused bob-1/,
    );
    expect(sink.of('alice')).toEqual(['send:alice-0:1', 'update:alice-1:2', 'update:alice-2:3']);
    expect(sink.of('bob')).toEqual(['send:bob-0:1']);
    // The process is gone (a fresh alerter: nothing remembered); the batch comes back, the store works.
    await alertBatch(deps(), alerterOn(store, sink), new Lanes(32), batch);
    expect(sink.of('alice')).toEqual(['send:alice-0:1', 'update:alice-1:2', 'update:alice-2:3']);
    expect(sink.of('bob')).toEqual(['send:bob-0:1', 'update:bob-1:2', 'update:bob-2:3']);
  });

  it('the record landed, the incident notice did not: the next process writes it, and edits the message', async () => {
    const sink = new RecordingSink();
    // the process dies writing what Slack holds onto the incident, after the alert record landed
    const flaky = new Proxy(store as Store, {
      get(target, prop, receiver) {
        if (prop === 'putState')
          return async (key: string, value: string) => {
            if (value.includes('"notified":{"slack"')) throw new Error('store gone');
            return target.putState(key, value);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await expect(
      alertBatch(deps(), alerterOn(flaky, sink), new Lanes(4), [message(hit('dave', 0))]),
    ).rejects.toThrow(/store gone/);
    expect((await store.getAlert('dave-0'))?.status).toBe('delivered');
    const batch = [message(hit('dave', 0)), message(hit('dave', 1))];
    await alertBatch(deps(), alerterOn(store, sink), new Lanes(4), batch);
    // without the notice, dave-1 would have been a second message instead of an edit of the first
    expect(sink.of('dave')).toEqual(['send:dave-0:1', 'update:dave-1:2']);
  });

  it('the incident landed, the record did not: the next process finds the send there and does not repeat it', async () => {
    const sink = new RecordingSink();
    // the final record write fails (the intent, `pending`, landed), the process dies
    const flaky = new Proxy(store as Store, {
      get(target, prop, receiver) {
        if (prop === 'putAlert')
          return async (a: Parameters<Store['putAlert']>[0]) => {
            if (a.status !== 'pending') throw new Error('store gone');
            return target.putAlert(a);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await expect(
      alertBatch(deps(), alerterOn(flaky, sink), new Lanes(4), [message(hit('fay', 0))]),
    ).rejects.toThrow(/store gone/);
    expect((await store.getAlert('fay-0'))?.status).toBe('pending');
    const batch = [message(hit('fay', 0)), message(hit('fay', 1))];
    await alertBatch(deps(), alerterOn(store, sink), new Lanes(4), batch);
    expect(sink.of('fay')).toEqual(['send:fay-0:1', 'update:fay-1:2']);
    expect((await store.getAlert('fay-0'))?.status).toBe('delivered');
  });

  it('the final write failed: the same process records it on redelivery without sending again', async () => {
    const sink = new RecordingSink();
    let down = true;
    const flaky = new Proxy(store as Store, {
      get(target, prop, receiver) {
        if (prop === 'putAlert')
          return async (a: Parameters<Store['putAlert']>[0]) => {
            if (down && a.status !== 'pending') throw new Error('store gone');
            return target.putAlert(a);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const alerter = alerterOn(flaky, sink);
    const batch = [message(hit('erin', 0))];
    await expect(alertBatch(deps(), alerter, new Lanes(4), batch)).rejects.toThrow(/store gone/);
    down = false;
    await alertBatch(deps(), alerter, new Lanes(4), batch);
    expect(sink.of('erin')).toEqual(['send:erin-0:1']);
    expect((await store.getAlert('erin-0'))?.status).toBe('delivered');
  });
});

describe('what hits handled at once share', () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.init();
  });
  afterEach(async () => {
    await store.close();
  });

  it('the alert budget: hits handled at once cannot all take its last slots', async () => {
    const sink = new RecordingSink();
    const alerter = new Alerter([sink], store, {
      attempts: 1,
      backoffMs: 1,
      throttle: { enabled: true, maxPerWindow: 2, windowMinutes: 10, neverHold: 'critical' },
      log,
    });
    const batch = ['a', 'b', 'c', 'd', 'e'].map((k) => message(hit(k, 0)));
    await alertBatch(deps(), alerter, new Lanes(32), batch);
    expect(sink.calls).toHaveLength(2);
    const statuses = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => store.getAlert(`${k}-0`)));
    expect(statuses.map((a) => a?.status).sort()).toEqual(['delivered', 'delivered', 'held', 'held', 'held']);
  });

  it('silences: one read of the list for the hits handled at once, and a new silence is seen at once', async () => {
    let lists = 0;
    const counting = new Proxy(store as Store, {
      get(target, prop, receiver) {
        if (prop === 'listSilences')
          return async (endedAfter: string) => {
            lists++;
            await sleep(20);
            return target.listSilences(endedAfter);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const silences = new Silences(counting);
    const found = await Promise.all(['a', 'b', 'c', 'd'].map((k) => silences.matching(hit(k, 0))));
    expect(found).toEqual([undefined, undefined, undefined, undefined]);
    expect(lists).toBe(1);
    await silences.create({ matchers: { key: 'b' }, comment: 'maintenance', durationMinutes: 60 }, 'ana');
    expect((await silences.matching(hit('b', 1)))?.comment).toBe('maintenance');
  });

  it('silences: one made elsewhere (the API role, another replica) applies to every hit judged 2 s or more after it', async () => {
    let nowMs = Date.parse('2026-01-01T00:00:00Z');
    const clock = () => new Date(nowMs);
    const alertSide = new Silences(store, clock);
    const apiSide = new Silences(store, clock);
    expect(await alertSide.matching(hit('k', 0))).toBeUndefined(); // the list is read and kept
    nowMs += 500;
    await apiSide.create({ matchers: { key: 'k' }, comment: 'change window', durationMinutes: 60 }, 'ana');
    nowMs += 1_600; // 2.1 s after the alert side's read: the very next hit waits for a fresh list
    expect((await alertSide.matching(hit('k', 1)))?.comment).toBe('change window');
  });
});

describe('Lanes', () => {
  it('runs one lane in order and lanes side by side; a failed task stops its lane only', async () => {
    const lanes = new Lanes(8);
    const log: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      async () => {
        log.push(`start ${name}`);
        await sleep(ms);
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      lanes.run('a', task('a1', 30, true)),
      lanes.run('b', task('b1', 5)),
      lanes.run('a', task('a2', 1)),
      lanes.run('b', task('b2', 5)),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'a1',
      'b1',
      'a1', // a2 never ran: the earlier task of its lane failed
      'b2',
    ]);
    expect(log).toEqual(['start a1', 'start b1', 'end b1', 'start b2', 'end b2', 'end a1']);
    expect(lanes.size).toBe(0);
    // the lane is usable again once everything in it settled (a redelivered batch)
    expect(await lanes.run('a', task('a3', 1))).toBe('a3');
  });
});
