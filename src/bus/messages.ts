// What consumers read off the bus is checked before it is used: the topics are ours, but a message from
// an older version, another producer or a hand-run tool must not wedge a consumer group. A message that
// is not JSON or lacks what its consumer needs is logged (position and reason, never its content) and
// skipped; retrying it would fail the same way forever and hold up every message behind it.
import { z } from 'zod';
import type { LifecycleRequest } from '../alerting/lifecycle.ts';
import type { DigestRequest } from '../alerting/redeliver.ts';
import { type Hit, SEVERITIES } from '../alerting/types.ts';
import { EVENT_KINDS, type PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import { bufferOf } from '../util/bytes.ts';
import { RAW_SPAN_HEADER } from './encode.ts';
import type { ConsumedMessage } from './types.ts';

const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid time');

const KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * What every consumer relies on in an event; everything else passes through untouched. By hand, not
 * zod: it runs on every event of every consumer (a zod schema cost about 1.7 µs per event here, this
 * about 0.35 µs, measured on a 700-byte event).
 */
function eventProblem(v: unknown): string | undefined {
  if (!isObject(v)) return '(root): not an object';
  const ts = v['@timestamp'];
  if (typeof ts !== 'string' || Number.isNaN(Date.parse(ts))) return '@timestamp: not a valid time';
  const event = v.event;
  if (!isObject(event) || typeof event.id !== 'string' || event.id === '') return 'event.id: missing';
  if (typeof event.action !== 'string') return 'event.action: missing';
  const pw = v.pipewarden;
  if (!isObject(pw) || typeof pw.kind !== 'string' || !KINDS.has(pw.kind))
    return 'pipewarden.kind: not a known kind';
  if (typeof pw.source !== 'string' || pw.source === '') return 'pipewarden.source: missing';
  return undefined;
}

const hitShape = z.looseObject({
  id: z.string().min(1),
  '@timestamp': time,
  detected_at: time,
  detector: z.string().min(1),
  severity: z.enum(SEVERITIES),
  title: z.string(),
  summary: z.string(),
  key: z.string(),
  source: z.string(),
  event_ids: z.array(z.string()),
  context: z.record(z.string(), z.unknown()),
});

const digestShape = z.strictObject({ digest: z.string().min(1) });
const lifecycleShape = z.strictObject({ lifecycle: z.string().min(1).max(200) });

/** The message's value, checked; undefined (logged with its position and the reason) when unusable. */
function readOne<T>(
  m: ConsumedMessage,
  log: Logger,
  what: string,
  check: (v: unknown) => T | string,
): T | undefined {
  let value: unknown;
  try {
    value = JSON.parse(m.value);
  } catch {
    log.error(
      { topic: m.topic, partition: m.partition, offset: m.offset },
      `Skipped a ${what} message that is not JSON.`,
    );
    return undefined;
  }
  const checked = check(value);
  if (typeof checked !== 'string') return checked;
  log.error(
    { topic: m.topic, partition: m.partition, offset: m.offset, reason: checked },
    `Skipped a message that is not a valid ${what}.`,
  );
  return undefined;
}

function readAll<T>(
  batch: ConsumedMessage[],
  log: Logger,
  read: (m: ConsumedMessage, log: Logger) => T | undefined,
): T[] {
  const out: T[] = [];
  for (const m of batch) {
    const v = read(m, log);
    if (v !== undefined) out.push(v);
  }
  return out;
}

function problems(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** One normalised event, from the events topic or a re-keyed lane; undefined when unusable. */
export function readEvent(m: ConsumedMessage, log: Logger): PipewardenEvent | undefined {
  const span = m.headers[RAW_SPAN_HEADER];
  if (span !== undefined) {
    const e = withoutRaw(m, span);
    if (e) return e;
  }
  return readOne(m, log, 'event', (v) => eventProblem(v) ?? (v as PipewardenEvent));
}

const SPAN = /^(\d{1,9}),(\d{1,9}),(\d{1,9}),(\d{1,9})$/;
const RAW_KEY = '"raw":';

/**
 * The event with its raw payload left unparsed until read (encodeEventMessage's header says where it is):
 * the payload is most of an event's bytes (6.5 KB of a 7.2 KB GitHub push) and the index role, the
 * detectors of most rules and the trail never read it. Parsing the rest cost about a tenth; and thousands
 * of parsed payloads held while their bulk was in flight were most of what the collector copied.
 * `pipewarden.raw` is an enumerable getter that parses the payload when first read (JSON.stringify and
 * spreads read it too), then an ordinary property. Undefined (parse it all, as without the header) when the
 * header does not point at a `"raw":` value of `pipewarden` or what is left is not a valid event.
 */
function withoutRaw(m: ConsumedMessage, span: string): PipewardenEvent | undefined {
  const at = SPAN.exec(span);
  if (!at) return undefined;
  const [b0, b1, c0, c1] = [Number(at[1]), Number(at[2]), Number(at[3]), Number(at[4])];
  const bytes = m.bytes;
  let head: string;
  let tail: string;
  let payload: () => string;
  if (bytes) {
    if (!(RAW_KEY.length <= b0 && b0 < b1 && b1 < bytes.byteLength)) return undefined;
    const buf = bufferOf(bytes);
    head = buf.toString('utf8', 0, b0);
    tail = buf.toString('utf8', b1);
    payload = () => buf.toString('utf8', b0, b1);
  } else {
    const text = m.value;
    if (!(RAW_KEY.length <= c0 && c0 < c1 && c1 < text.length)) return undefined;
    head = text.slice(0, c0);
    tail = text.slice(c1);
    payload = () => text.slice(c0, c1);
  }
  // The key just before; after, what closes the value (`,` or `}`). JSON.parse keeps the last of duplicate
  // keys, so when pipewarden.raw parses as the placeholder (null, below), the span was its value.
  if (!head.endsWith(RAW_KEY) || !/^\s*[,}]/.test(tail)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(`${head}null${tail}`);
  } catch {
    return undefined;
  }
  if (eventProblem(value) !== undefined) return undefined;
  const e = value as PipewardenEvent;
  const pw = e.pipewarden as Record<string, unknown>;
  if (!Object.hasOwn(pw, 'raw') || pw.raw !== null) return undefined;
  Object.defineProperty(pw, 'raw', {
    enumerable: true,
    configurable: true,
    get(): unknown {
      const raw: unknown = JSON.parse(payload());
      Object.defineProperty(pw, 'raw', { value: raw, enumerable: true, configurable: true, writable: true });
      return raw;
    },
    set(v: unknown) {
      Object.defineProperty(pw, 'raw', { value: v, enumerable: true, configurable: true, writable: true });
    },
  });
  return e;
}

export function readEvents(batch: ConsumedMessage[], log: Logger): PipewardenEvent[] {
  return readAll(batch, log, readEvent);
}

type HitsMessage = Hit | DigestRequest | LifecycleRequest;

/** One hit, digest request or lifecycle request, from the hits topic; undefined when unusable. */
function readHit(m: ConsumedMessage, log: Logger): HitsMessage | undefined {
  return readOne(m, log, 'hit', (v): HitsMessage | string => {
    if (digestShape.safeParse(v).success) return v as DigestRequest;
    if (lifecycleShape.safeParse(v).success) return v as LifecycleRequest;
    const r = hitShape.safeParse(v);
    return r.success ? (v as Hit) : problems(r.error);
  });
}

export function readHits(batch: ConsumedMessage[], log: Logger): HitsMessage[] {
  return readAll(batch, log, readHit);
}
