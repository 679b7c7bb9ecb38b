// encodeEvent puts the verified body text in the published message where the event keeps that body whole:
// what consumers parse must be exactly what JSON.stringify of the event gives, for every adapter's real
// samples (an adapter that changed the parsed body in place would show here), and a redacted copy must
// never be replaced by the unredacted text.
import { describe, expect, it } from 'vitest';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../ingest-adapters/fixtures.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import { encodeEvent, parseVerifiedJson } from '../../src/bus/encode.ts';
import type { PipewardenEvent } from '../../src/event.ts';

const NOW = new Date('2026-12-04T12:00:00Z');

interface Case {
  name: string;
  text: string;
  body: unknown;
  events: PipewardenEvent[];
}

/** Every sample of every adapter, read as the ingest route reads it (the adapter's parse, or plain JSON). */
function cases(pretty: boolean): Case[] {
  const out: Case[] = [];
  for (const adapter of adapters) {
    for (const file of listSamples(adapter.id)) {
      const sample = loadSample(adapter.id, file);
      if (typeof sample.body !== 'object' || sample.body === null) continue;
      const text = pretty ? JSON.stringify(sample.body, null, 2) : rawBody(sample);
      const headers = lowerHeaders(sample.headers);
      let body: unknown;
      let events: PipewardenEvent[];
      try {
        body = adapter.parse ? adapter.parse(Buffer.from(text), headers) : parseVerifiedJson(text);
        events = adapter.toEvents(body, headers, NOW).events;
      } catch {
        continue; // samples meant to be refused (their adapter tests cover them)
      }
      out.push({ name: `${adapter.id}/${file}`, text, body, events });
    }
  }
  return out;
}

describe('encodeEvent', () => {
  for (const pretty of [false, true]) {
    it(`gives what JSON.stringify gives, for every adapter sample (${pretty ? 'indented' : 'compact'} body)`, () => {
      let spliced = 0;
      let events = 0;
      for (const c of cases(pretty)) {
        for (const e of c.events) {
          events++;
          const encoded = encodeEvent(e);
          if (encoded.includes(c.text)) spliced++;
          expect(encoded, c.name).not.toMatch(/pw-raw-[0-9a-f]{32}/);
          expect(JSON.parse(encoded), c.name).toEqual(JSON.parse(JSON.stringify(e)));
        }
      }
      // Not a vacuous pass: the verified text itself was published for most events (indented, it can only
      // be there by the splice), JSON.stringify for the rest.
      expect(events).toBeGreaterThan(140);
      if (pretty) expect(spliced).toBeGreaterThan(events / 2);
    });
  }

  it('serialises a redacted copy, never the verified text holding the secret', () => {
    const text = '{"action":"created","hook":{"config":{"secret":"hunter2-but-longer"}}}';
    parseVerifiedJson(text);
    const event = {
      '@timestamp': NOW.toISOString(),
      event: { id: 'e1', kind: 'event', action: 'created' },
      pipewarden: {
        kind: 'config.change',
        source: 'github',
        raw: { hook: { config: { secret: '[REDACTED]' } } },
      },
    } as unknown as PipewardenEvent;
    const encoded = encodeEvent(event);
    expect(encoded).not.toContain('hunter2');
    expect(JSON.parse(encoded)).toEqual(JSON.parse(JSON.stringify(event)));
  });

  it('keeps a vendor string that looks like the placeholder as data', () => {
    const text = '{"message":"pw-raw-00000000000000000000000000000000"}';
    const body = parseVerifiedJson(text);
    const event = {
      '@timestamp': NOW.toISOString(),
      message: 'pw-raw-00000000000000000000000000000000',
      event: { id: 'e1', kind: 'event', action: 'x' },
      pipewarden: { kind: 'other', source: 'github', raw: body },
    } as unknown as PipewardenEvent;
    expect(encodeEvent(event)).toContain(text);
    expect(JSON.parse(encodeEvent(event))).toEqual(JSON.parse(JSON.stringify(event)));
  });
});
