// Vendor strings used as table keys: an event named "toString" or an action named "__proto__" must be
// treated as unknown, never as the Object.prototype member of the same name (found by the GitHub
// adapter's property test: X-GitHub-Event "toString" classified a ruleset event as a login failure).
import { describe, expect, it } from 'vitest';
import { bodyEvents } from '../../detectors/fixtures.ts';
import { detectors } from '../../detectors/index.ts';
import { loadSamples } from '../../ingest-adapters/fixtures.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import { EVENT_KINDS, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';

const PROTO = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
const NAME_HEADERS = [
  'x-github-event',
  'x-gitlab-event',
  'x-event-key',
  'circleci-event-type',
  'ce-type',
  'x-gitea-event',
  'x-gitea-event-type',
];
const NAME_FIELDS = ['action', 'object_kind', 'event_name', 'type', 'eventType', 'event', 'event_type'];
const kinds = new Set<string>(EVENT_KINDS);

function fixtures(id: string): { body: unknown; headers: Record<string, string> }[] {
  return loadSamples(id);
}

/** The body with every name-like field that holds a string (not a nested object) set to `name`. */
function renameFields(body: Record<string, unknown>, name: string): Record<string, unknown> {
  const out = { ...body };
  for (const k of NAME_FIELDS) if (typeof out[k] === 'string') out[k] = name;
  return out;
}

describe('adapters treat prototype member names as unknown event names', () => {
  for (const a of adapters) {
    it(a.id, () => {
      let produced = 0;
      for (const f of fixtures(a.id)) {
        for (const name of PROTO) {
          const headers = { ...f.headers, ...Object.fromEntries(NAME_HEADERS.map((h) => [h, name])) };
          const body =
            f.body && typeof f.body === 'object' && !Array.isArray(f.body)
              ? renameFields(f.body as Record<string, unknown>, name)
              : f.body;
          let events: PipewardenEvent[];
          try {
            // Each adapter says how its source delivers a stored body (github-audit: inside a HEC envelope).
            events = bodyEvents(a.id, a.testing.deliver ? a.testing.deliver(body) : body, headers);
          } catch (err) {
            expect(err, `${a.id} ${name}: ${(err as Error).message}`).toBeInstanceOf(AdapterInputError);
            continue;
          }
          for (const e of events) {
            produced++;
            expect(kinds.has(e.pipewarden.kind), `${a.id} ${name} kind ${String(e.pipewarden.kind)}`).toBe(
              true,
            );
            expect(typeof e.event.action, `${a.id} ${name}`).toBe('string');
            expect(e.event.category.every((c) => typeof c === 'string')).toBe(true);
          }
        }
      }
      // Not every fixture need survive the renaming, but the adapter must still make events from some.
      expect(produced, `${a.id} made no events at all`).toBeGreaterThan(0);
    });
  }
});

describe('detectors treat prototype member names as unknown actions and keys', () => {
  for (const d of detectors) {
    it(d.id, async () => {
      const { cases } = (await import(`../../detectors/${d.id}/cases.ts`)) as { cases: DetectorCase[] };
      const engine = new DetectionEngine([{ detector: d, config: d.configSchema.parse({}) }]);
      let evaluated = 0;
      for (const c of cases) {
        for (const e of c.events ?? (c.event ? [c.event] : [])) {
          for (const name of PROTO) {
            const renamed: PipewardenEvent = structuredClone(e);
            renamed.event.action = name;
            if (renamed.user) renamed.user.name = name;
            if (renamed.pipewarden.repository) renamed.pipewarden.repository = name;
            for (const h of engine.evaluate(renamed, new Date(e['@timestamp']))) {
              // A table entry found on Object.prototype shows up as a function or undefined in the hit.
              expect(h.summary, `${d.id} ${name}`).not.toMatch(/undefined|function|\[native code\]/);
              expect(['info', 'low', 'medium', 'high', 'critical']).toContain(h.severity);
            }
            evaluated++;
          }
        }
      }
      expect(evaluated).toBeGreaterThan(0);
      expect(engine.stats.errors).toEqual({});
    });
  }
});

describe('redactPayload', () => {
  it('keeps a "__proto__" key as data and never changes the copy\'s prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true, "token": "abc"}, "a": 1}');
    const out = redactPayload(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
    expect(JSON.parse(JSON.stringify(out))).toEqual(
      JSON.parse('{"__proto__": {"polluted": true, "token": "[REDACTED]"}, "a": 1}'),
    );
  });
});
