// One generic test runs every registered detector's cases; the registry must match the folders.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectors } from '../../detectors/index.ts';
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

    for (const c of cases) {
      it(c.name, () => {
        const config = detector.configSchema.parse(c.config ?? {});
        const now = new Date(c.now ?? '2024-06-01T12:00:00Z');
        const applies = detector.appliesTo(c.event, config);
        const raw = applies ? detector.match(c.event, { config, now }) : null;
        const matches = raw === null ? [] : Array.isArray(raw) ? raw : [raw];
        expect(matches).toHaveLength(c.expect);
        if (c.summaryIncludes) expect(matches[0]?.summary).toContain(c.summaryIncludes);
      });
    }
  });
}
