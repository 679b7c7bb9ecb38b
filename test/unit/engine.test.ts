import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DetectionEngine } from '../../src/detect/engine.ts';
import type { Detector } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';

function ev(id: string, actor = 'alice'): PipewardenEvent {
  return {
    '@timestamp': '2024-06-01T10:00:00.000Z',
    event: {
      id,
      kind: 'event',
      category: ['configuration'],
      type: ['change'],
      action: 'x.changed',
      outcome: 'unknown',
      dataset: 't',
      provider: 't',
      ingested: '2024-06-01T10:00:00.000Z',
    },
    user: { name: actor },
    pipewarden: { kind: 'config.change', source: 'test' },
  };
}

const schema = z.strictObject({ enabled: z.boolean().default(true) });
function detector(id: string, match: Detector['match'], extra: Partial<Detector> = {}): Detector {
  return {
    id,
    title: id,
    severity: 'high',
    description: id,
    runbook: `detectors/${id}/README.md`,
    configSchema: schema,
    appliesTo: () => true,
    match,
    ...extra,
  };
}

describe('detection engine', () => {
  it('isolates a detector that throws: the others still produce hits, and the error is counted', () => {
    const engine = new DetectionEngine([
      {
        detector: detector('boom', () => {
          throw new Error('bad');
        }),
        config: { enabled: true },
      },
      { detector: detector('ok', (e) => ({ summary: `saw ${e.event.id}` })), config: { enabled: true } },
    ]);
    const hits = engine.evaluate(ev('e1'), new Date());
    expect(hits.map((h) => h.detector)).toEqual(['ok']);
    expect(engine.stats.errors).toEqual({ boom: 1 });
  });

  it('derives hit ids from detector and event, so redelivery yields the same hit', () => {
    const d = { detector: detector('ok', () => ({ summary: 's' })), config: { enabled: true } };
    const a = new DetectionEngine([d]).evaluate(ev('e1'), new Date('2024-01-01T00:00:00Z'))[0]!;
    const b = new DetectionEngine([d]).evaluate(ev('e1'), new Date('2024-02-01T00:00:00Z'))[0]!;
    const c = new DetectionEngine([d]).evaluate(ev('e2'), new Date('2024-01-01T00:00:00Z'))[0]!;
    expect(a.id).toBe(b.id);
    expect(a.id).not.toBe(c.id);
    expect(a).toMatchObject({ actor: 'alice', key: 'alice', severity: 'high', event_ids: ['e1'] });
  });

  it('skips disabled detectors and applies a declared dedup period per key', () => {
    const engine = new DetectionEngine([
      { detector: detector('off', () => ({ summary: 'x' })), config: { enabled: false } },
      {
        detector: detector('dedup', () => ({ summary: 'same' }), { dedupMs: 60_000 }),
        config: { enabled: true },
      },
    ]);
    const t0 = Date.parse('2024-06-01T10:00:00Z');
    expect(engine.evaluate(ev('1'), new Date(t0))).toHaveLength(1);
    expect(engine.evaluate(ev('2'), new Date(t0 + 30_000))).toHaveLength(0);
    expect(engine.evaluate(ev('3', 'bob'), new Date(t0 + 30_000))).toHaveLength(1);
    expect(engine.evaluate(ev('4'), new Date(t0 + 61_000))).toHaveLength(1);
    expect(engine.stats.suppressed).toBe(1);
  });
});
