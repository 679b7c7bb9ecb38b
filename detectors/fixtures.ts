// For detector cases: real sample payloads run through the real adapter, as the ingest plugin runs them,
// so every case tests the adapter–detector contract on what the source really sends.
import { loadSample } from '../ingest-adapters/fixtures.ts';
import { adapters } from '../ingest-adapters/index.ts';
import type { PipewardenEvent } from '../src/event.ts';

/** Fixed receive time for cases, so event times that come from receipt are repeatable. */
export const RECEIVED = new Date('2024-05-01T12:00:00Z');

function adapter(id: string) {
  const a = adapters.find((x) => x.id === id);
  if (!a) throw new Error(`no adapter ${id}`);
  return a;
}

/** Every event a body makes, through the adapter's own parse (JSON by default) and toEvents. */
export function bodyEvents(
  adapterId: string,
  body: unknown,
  headers: Record<string, string> = {},
  receivedAt = RECEIVED,
): PipewardenEvent[] {
  const a = adapter(adapterId);
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  if (!h['content-type']) h['content-type'] = typeof body === 'string' ? 'text/plain' : 'application/json';
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const parsed = a.parse ? a.parse(raw, h) : JSON.parse(raw.toString('utf8'));
  return a.toEvents(parsed, h, receivedAt).events;
}

/** The single event of an adapter's fixture file (ingest-adapters/<id>/fixtures/<file>). */
export function fixtureEvent(adapterId: string, file: string, receivedAt = RECEIVED): PipewardenEvent {
  const s = loadSample(adapterId, file);
  const [event] = bodyEvents(adapterId, s.body, s.headers ?? {}, receivedAt);
  if (!event) throw new Error(`${adapterId}/${file} produced no event`);
  return event;
}

/** The raw body of a fixture, for cases that vary a real line (other time, other address). */
export function fixtureBody(adapterId: string, file: string): unknown {
  return loadSample(adapterId, file).body;
}
