// The same event twice on the bus at different offsets (a publish whose outcome was unknown, sent again;
// or a replay) counts once in a rule's window (issue 10): the offset check alone let it count twice.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { detectBatch } from '../../src/detect/runner.ts';
import { MemoryStateStore } from '../../src/detect/state-store.ts';
import type { Detector, Rule } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';

const T0 = Date.parse('2024-06-01T10:00:00Z');

function ev(id: string, atMs: number, user: string, ip = '192.0.2.1'): PipewardenEvent {
  const at = new Date(atMs).toISOString();
  return {
    '@timestamp': at,
    event: {
      id,
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: 'x',
      outcome: 'failure',
      dataset: 't',
      provider: 't',
      ingested: at,
    },
    pipewarden: { kind: 'login.failure', source: 'test' },
    user: { name: user },
    source: { ip },
  };
}

const msg = (e: PipewardenEvent, offset: number): ConsumedMessage => ({
  topic: 'events',
  partition: 0,
  offset: String(offset),
  key: e.user?.name ?? '',
  value: JSON.stringify(e),
  headers: {},
  timestamp: 0,
});

function engineWith(rule: Partial<Rule<{ enabled: boolean }>>): DetectionEngine {
  const detector: Detector = {
    id: 'dup-test',
    title: 'dup-test',
    severity: 'medium',
    description: 'dup-test',
    runbook: 'detectors/dup-test/README.md#runbook',
    configSchema: z.strictObject({ enabled: z.boolean().default(true) }),
    appliesTo: () => true,
    rules: () => [
      {
        id: 'r',
        keyBy: 'user.name',
        windowMs: 60_000,
        dedupMs: 0,
        describe: (x: { count: number; key: string }) => ({ summary: `${x.count} for ${x.key}` }),
        ...rule,
      } as Rule<{ enabled: boolean }>,
    ],
  };
  return new DetectionEngine([{ detector, config: { enabled: true } }], { trackChanges: true });
}

const log = createLogger({ level: 'silent' });

describe('an event on the bus twice', () => {
  it('counts once towards a threshold', async () => {
    const engine = engineWith({ type: 'threshold', threshold: 3 } as Partial<Rule<{ enabled: boolean }>>);
    const step = {
      engine,
      lane: 'all' as const,
      state: new MemoryStateStore(),
      now: () => new Date(T0),
      log,
    };
    const [a, b, c] = ['id-a', 'id-b', 'id-c'].map((id, i) => ev(id, T0 + i * 1_000, 'alice'));
    const first = await detectBatch(step, [msg(a!, 0), msg(b!, 1), msg(b!, 2)]); // b published twice
    expect(first.hits).toHaveLength(0);
    expect(engine.stats.redelivered).toBe(1);
    const second = await detectBatch(step, [msg(c!, 3)]);
    expect(second.hits.map((h) => h.context.count)).toEqual([3]);
  });

  it('matches the whole id, also one that is stored encoded', async () => {
    const engine = engineWith({ type: 'threshold', threshold: 3 } as Partial<Rule<{ enabled: boolean }>>);
    const step = {
      engine,
      lane: 'all' as const,
      state: new MemoryStateStore(),
      now: () => new Date(T0),
      log,
    };
    const a = ev('id a%1', T0, 'bob');
    const again = ev('id a%1', T0 + 5, 'bob');
    const out = await detectBatch(step, [msg(a, 0), msg(again, 7)]);
    expect(out.hits).toHaveLength(0);
    expect(engine.stats.redelivered).toBe(1);
    // Ids that share a prefix or a suffix with it are other events: the third makes the count.
    const more = await detectBatch(step, [msg(ev('id', T0 + 10, 'bob'), 8), msg(ev('1', T0 + 11, 'bob'), 9)]);
    expect(more.hits.map((h) => h.context.count)).toEqual([3]);
  });
});
