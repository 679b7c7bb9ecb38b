// One generic test runs every registered detector's cases; the registry must match the folders.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectors } from '../../detectors/index.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import type { DetectorCase } from '../../src/detect/types.ts';

const root = new URL('../../detectors/', import.meta.url);
const folders = readdirSync(root).filter((f) => statSync(new URL(f, root)).isDirectory());

describe('detector registry', () => {
  it('lists every detector folder exactly once, with the folder name as id', () => {
    expect(detectors.map((d) => d.id).sort()).toEqual([...folders].sort());
    expect(new Set(detectors.map((d) => d.id)).size).toBe(detectors.length);
  });

  it('gives every detector a README with a runbook section and complete metadata', () => {
    for (const d of detectors) {
      const readme = readFileSync(new URL(`${d.id}/README.md`, root), 'utf8');
      expect(readme, d.id).toMatch(/^## Runbook/m);
      expect(d.runbook, d.id).toContain(`detectors/${d.id}/README.md`);
      expect(d.title && d.description, d.id).toBeTruthy();
    }
  });
});

for (const detector of detectors) {
  describe(detector.id, async () => {
    const { cases } = (await import(`../../detectors/${detector.id}/cases.ts`)) as { cases: DetectorCase[] };

    it('has positive and negative cases', () => {
      expect(cases.some((c) => c.expect > 0)).toBe(true);
      expect(cases.some((c) => c.expect === 0)).toBe(true);
    });

    it('gives every case exactly one of event or events', () => {
      for (const c of cases) expect(Boolean(c.event) !== Boolean(c.events?.length), c.name).toBe(true);
    });

    for (const c of cases) {
      // Through the real engine: one engine per case, events in order; the same path as replay.
      it(c.name, () => {
        const config = detector.configSchema.parse(c.config ?? {});
        const engine = new DetectionEngine([{ detector, config }], {
          env: { enabledSources: c.enabledSources ?? [] },
        });
        const events = c.events ?? (c.event ? [c.event] : []);
        // Time-driven rules: the clock runs with the events (as in replay), then on to `until`.
        const hits = events.flatMap((e) => {
          const now = new Date(c.now ?? (c.events ? e['@timestamp'] : '2024-06-01T12:00:00Z'));
          return [...engine.tick(now).hits, ...engine.evaluate(e, now)];
        });
        if (c.until) hits.push(...engine.tick(new Date(c.until)).hits);
        expect(engine.stats.errors).toEqual({});
        expect(hits.map((h) => `${h.context.rule ?? 'match'}: ${h.summary}`)).toHaveLength(c.expect);
        if (c.expectByRule) {
          const byRule: Record<string, number> = {};
          for (const h of hits) {
            const r = String(h.context.rule ?? 'match');
            byRule[r] = (byRule[r] ?? 0) + 1;
          }
          for (const [rule, n] of Object.entries(c.expectByRule)) expect(byRule[rule] ?? 0, rule).toBe(n);
        }
        if (c.summaryIncludes) expect(hits[0]?.summary).toContain(c.summaryIncludes);
        if (c.hitMatches) {
          const present = Object.entries(c.hitMatches).filter(([, v]) => v !== undefined);
          expect(hits[0]).toMatchObject(Object.fromEntries(present));
          for (const [k, v] of Object.entries(c.hitMatches))
            if (v === undefined) expect(hits[0]).not.toHaveProperty(k);
        }
      });
    }
  });
}
