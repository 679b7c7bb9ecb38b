// Every adapter line format (syslog MSGs, text bodies) under random and mutated real lines: it never
// throws, and what it makes is a well-formed event. (It found a job URI with a literal "%" that made the
// Jenkins format throw.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSamples } from '../../ingest-adapters/fixtures.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import { EVENT_KINDS } from '../../src/event.ts';

const kinds = new Set<string>(EVENT_KINDS);
const at = new Date('2024-06-01T00:00:00Z');

function fixtureLines(id: string): string[] {
  return loadSamples(id)
    .map((s) => s.body)
    .filter((b): b is string => typeof b === 'string')
    .flatMap((b) => b.split('\n'))
    .filter((l) => l.trim() !== '');
}

describe('adapter line formats under random and mutated lines', () => {
  for (const a of adapters.filter((x) => x.lines?.length)) {
    const lines = fixtureLines(a.id);
    it(`${a.id}: never throws, and every event it makes is well formed`, () => {
      const hostile = fc.constantFrom(
        '%',
        '%zz',
        'toString',
        '__proto__',
        '2024-13-45',
        '"',
        '\\',
        '{',
        '[',
        '99999999999999',
      );
      const mutated = lines.length
        ? fc
            .tuple(
              fc.constantFrom(...lines),
              fc.nat(),
              fc.nat(),
              fc.oneof(fc.string({ maxLength: 12 }), hostile),
            )
            .map(([l, p, n, ins]) => {
              const i = p % (l.length + 1);
              return l.slice(0, i) + ins + l.slice(i + (n % 8));
            })
        : fc.string();
      fc.assert(
        fc.property(fc.oneof(mutated, fc.string({ maxLength: 300 })), (line) => {
          for (const f of a.lines!) {
            const e = f.read(line, at, { transport: 'syslog/tcp', host: 'h' });
            if (!e) continue;
            expect(kinds.has(e.pipewarden.kind), line).toBe(true);
            expect(Number.isNaN(Date.parse(e['@timestamp'])), line).toBe(false);
            expect(typeof e.event.id === 'string' && e.event.id.length > 0, line).toBe(true);
            expect(typeof e.event.action, line).toBe('string');
          }
        }),
        { numRuns: 500 },
      );
    });
  }
});
