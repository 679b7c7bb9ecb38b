// encodeEvent puts the verified body text in the published message where the event keeps that body whole:
// what consumers parse must be exactly what JSON.stringify of the event gives, for every adapter's real
// samples (an adapter that changed the parsed body in place would show here), and a redacted copy must
// never be replaced by the unredacted text.
import { describe, expect, it } from 'vitest';
import { listSamples, loadSample, lowerHeaders, rawBody } from '../../ingest-adapters/fixtures.ts';
import { adapters } from '../../ingest-adapters/index.ts';
import { encodeEvent, encodeEventMessage, parseVerifiedJson, RAW_SPAN_HEADER } from '../../src/bus/encode.ts';
import { readEvent } from '../../src/bus/messages.ts';
import type { ConsumedMessage } from '../../src/bus/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { createLogger } from '../../src/log.ts';

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

// The raw payload's place in the message (a header) lets readEvent parse the rest and the payload only when
// it is read: the event must be the same as a full parse, from the text (SQLite bus) or the bytes (Kafka).
describe('encodeEventMessage and readEvent: the raw payload read when asked for', () => {
  const log = createLogger({ level: 'silent' });
  const consumed = (value: string, headers: Record<string, string>, bytes: boolean): ConsumedMessage => ({
    topic: 't',
    partition: 0,
    offset: '0',
    key: 'k',
    value,
    ...(bytes ? { bytes: new Uint8Array(Buffer.from(value)) } : {}),
    headers,
    timestamp: 0,
  });
  const isLazy = (e: PipewardenEvent) =>
    typeof Object.getOwnPropertyDescriptor(e.pipewarden, 'raw')?.get === 'function';

  for (const bytes of [false, true]) {
    it(`reads every adapter sample's event as a full parse does (${bytes ? 'bytes' : 'text'})`, () => {
      let lazy = 0;
      for (const c of [...cases(false), ...cases(true)]) {
        for (const e of c.events) {
          const { value, headers } = encodeEventMessage(e);
          expect(value, c.name).toBe(encodeEvent(e));
          const read = readEvent(consumed(value, headers ?? {}, bytes), log)!;
          if (isLazy(read)) lazy++;
          // JSON.stringify reads the payload through the getter: the same text as a full parse's.
          expect(JSON.stringify(read), c.name).toBe(JSON.stringify(JSON.parse(value)));
          expect(isLazy(read), c.name).toBe(false); // read once, then an ordinary property
        }
      }
      expect(lazy).toBeGreaterThan(280);
    });
  }

  const nonAscii = () => {
    const text = '{"commits":[{"message":"caf\u00e9 \u2615 \ud83d\ude80"}],"name":"日本語 ✓"}';
    return {
      '@timestamp': NOW.toISOString(),
      message: 'Café ☕ — déploiement 🚀',
      event: { id: 'e-ü', kind: 'event', action: 'push' },
      pipewarden: {
        kind: 'other',
        source: 'github',
        raw: parseVerifiedJson(text, Buffer.from(text)),
        branch: 'ß',
      },
    } as unknown as PipewardenEvent;
  };

  it('places the payload by bytes and by characters when they differ (text outside ASCII)', () => {
    const e = nonAscii();
    const { value, headers } = encodeEventMessage(e);
    const [b0, b1, c0, c1] = headers![RAW_SPAN_HEADER]!.split(',').map(Number);
    expect(b0).not.toBe(c0); // the head has characters of several bytes
    expect(Buffer.from(value).subarray(b0, b1).toString()).toBe(value.slice(c0, c1));
    for (const bytes of [false, true]) {
      const read = readEvent(consumed(value, headers!, bytes), log)!;
      expect(isLazy(read)).toBe(true);
      expect(read.message).toBe('Café ☕ — déploiement 🚀');
      expect(read.pipewarden.raw).toEqual({ commits: [{ message: 'café ☕ 🚀' }], name: '日本語 ✓' });
    }
  });

  it('parses it all when the header is wrong, and the event is still right', () => {
    const e = nonAscii();
    const { value, headers } = encodeEventMessage(e);
    const good = headers![RAW_SPAN_HEADER]!;
    const [b0, b1, c0, c1] = good.split(',').map(Number) as [number, number, number, number];
    const msgAt = value.indexOf('"Café');
    const wrong = [
      'nonsense',
      '1,2,3',
      `${b0},${b1}`,
      `${b1},${b0},${c1},${c0}`, // reversed
      `${b0},${value.length + 50},${c0},${value.length + 50}`, // past the end
      `${b0 + 1},${b1},${c0 + 1},${c1}`, // not right after "raw":
      `${b0},${b1 - 1},${c0},${c1 - 1}`, // cuts the payload short
      `${msgAt},${msgAt + 10},${msgAt},${msgAt + 10}`, // another value
      `${b0},${b1},${c0},${c1}9999999999`, // too long a number
    ];
    for (const span of wrong) {
      for (const bytes of [false, true]) {
        const read = readEvent(consumed(value, { [RAW_SPAN_HEADER]: span }, bytes), log);
        expect(read, span).toBeDefined();
        expect(isLazy(read!), span).toBe(false);
        expect(JSON.stringify(read), span).toBe(JSON.stringify(JSON.parse(value)));
      }
    }
  });

  it('lets the payload be replaced before it is read, and spreads and stringifies it', () => {
    const e = nonAscii();
    const { value, headers } = encodeEventMessage(e);
    const a = readEvent(consumed(value, headers!, true), log)!;
    a.pipewarden.raw = { replaced: true };
    expect(a.pipewarden.raw).toEqual({ replaced: true });
    const b = readEvent(consumed(value, headers!, true), log)!;
    expect({ ...b.pipewarden }.raw).toEqual({ commits: [{ message: 'café ☕ 🚀' }], name: '日本語 ✓' });
    const c = readEvent(consumed(value, headers!, false), log)!;
    expect(structuredClone(c).pipewarden.raw).toEqual({
      commits: [{ message: 'café ☕ 🚀' }],
      name: '日本語 ✓',
    });
  });

  it('gives no header to an event without a payload, and none is needed to read one', () => {
    const e = {
      ...nonAscii(),
      pipewarden: { kind: 'other', source: 'github' },
    } as unknown as PipewardenEvent;
    const m = encodeEventMessage(e);
    expect(m.headers).toBeUndefined();
    expect(readEvent(consumed(m.value, {}, true), log)).toEqual(JSON.parse(m.value));
  });
});
