// The OWASP coverage declarations (issue 11): complete, consistent, and the README's table up to date.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coverage } from './coverage.ts';
import { detectors } from './index.ts';
import { COVERAGE_BEGIN, COVERAGE_END, coverageTable, OWASP_RISKS, SOURCES } from './owasp.ts';
import { groupOf, WEAKENINGS } from './pipeline-weakening/index.ts';

describe('owasp coverage', () => {
  it('declares rows for every registered detector, with known risks and sources and unique row ids', () => {
    expect(coverage.map((c) => c.detector)).toEqual(detectors.map((d) => d.id));
    const sources = new Set(SOURCES());
    for (const c of coverage) {
      expect(c.rows.length, c.detector).toBeGreaterThan(0);
      expect(new Set(c.rows.map((r) => r.row)).size, c.detector).toBe(c.rows.length);
      for (const r of c.rows) {
        expect(r.owasp.length, `${c.detector}/${r.row}`).toBeGreaterThan(0);
        for (const o of r.owasp) expect(Object.keys(OWASP_RISKS), `${c.detector}/${r.row}`).toContain(o);
        for (const s of r.sources) expect(sources.has(s), `${c.detector}/${r.row}: ${s}`).toBe(true);
      }
    }
  });

  it('takes each detector’s rows from its own coverage field', () => {
    for (const d of detectors) {
      expect(d.coverage?.length, d.id).toBeGreaterThan(0);
      expect(coverage.find((c) => c.detector === d.id)?.rows).toEqual(d.coverage);
    }
  });

  it('puts every pipeline-weakening table entry in a coverage row', () => {
    const ungrouped = Object.keys(WEAKENINGS).filter((k) => groupOf(k) === undefined);
    expect(ungrouped).toEqual([]);
  });

  it('covers every OWASP CI/CD risk from at least one source', () => {
    for (const risk of Object.keys(OWASP_RISKS))
      expect(
        coverage.some((c) => c.rows.some((r) => r.owasp.includes(risk as keyof typeof OWASP_RISKS))),
        risk,
      ).toBe(true);
  });

  it('has the generated table in the README (run `node scripts/owasp-coverage.ts --write` when this fails)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf(COVERAGE_BEGIN);
    const end = readme.indexOf(COVERAGE_END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start + COVERAGE_BEGIN.length, end).trim()).toBe(coverageTable(coverage));
  });
});
