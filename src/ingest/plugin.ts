// The one Fastify plugin that serves every adapter at POST /ingest/<id>: raw body, auth, parse,
// normalise, dedup, publish, answer. Adapters only turn a verified request into events.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { eventMessage, parseVerifiedJson } from '../bus/encode.ts';
import { type Bus, BusUnavailableError, MessageTooLargeError } from '../bus/types.ts';
import { eventId } from '../event.ts';
import type { Counters } from '../metrics.ts';
import { guardIngest, type ServerLimits, serverLimitsSchema, settled } from './guard.ts';
import { MAX_JSON_DEPTH, nestedDeeperThan } from './json.ts';
import { RejectedRequests } from './rejections.ts';
import { alternateSecrets } from './source-config.ts';
import { AdapterInputError, type IngestAdapter } from './types.ts';

export interface IngestOptions {
  adapters: IngestAdapter<any>[];
  sourceConfigs: Record<string, { enabled: boolean }>;
  bus: Bus;
  topic: string;
  bodyLimitBytes: number;
  metrics: Counters;
  now?: () => Date;
  /** Rejected requests are aggregated per (source, client IP) over this interval (default 10 s). */
  rejectedIntervalMs?: number;
  /** Caps on unauthenticated requests (server.limits); defaults when absent. */
  limits?: ServerLimits;
}

/**
 * Remembers the last `capacity` delivery ids and content keys per source, so a redelivered or replayed
 * webhook is answered without republishing. The order of arrival is kept in a ring, not read back from the
 * set: deleting a Map's oldest entry through `keys().next()` walks over every slot deleted before it, which
 * cost about 25 µs per add once the memory was full (two adds per request, on every collector that had
 * taken 25,000 webhooks), against under 1 µs this way.
 */
export class RecentDeliveries {
  readonly #seen = new Set<string>();
  readonly #order: Array<string | undefined>;
  #next = 0;
  constructor(capacity: number) {
    this.#order = new Array<string | undefined>(capacity).fill(undefined);
  }
  has(key: string): boolean {
    return this.#seen.has(key);
  }
  /** Remembers a key; one already remembered keeps its place (it is forgotten as early as before). */
  add(key: string): void {
    if (this.#seen.has(key)) return;
    const oldest = this.#order[this.#next];
    if (oldest !== undefined) this.#seen.delete(oldest);
    this.#order[this.#next] = key;
    this.#next = (this.#next + 1) % this.#order.length;
    this.#seen.add(key);
  }
  get size(): number {
    return this.#seen.size;
  }
}

function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export async function ingestPlugin(app: FastifyInstance, opts: IngestOptions): Promise<void> {
  const byId = new Map(opts.adapters.map((a) => [a.id, a]));
  const recent = new RecentDeliveries(50_000);
  const now = opts.now ?? (() => new Date());
  const { metrics } = opts;
  metrics.describe('pipewarden_ingest_requests_total', 'Ingest requests by source and result.');
  metrics.describe('pipewarden_ingest_events_total', 'Events published to the bus by source.');
  // The series every accepted request counts, their keys formatted once per source.
  const acceptedOf = new Map(
    opts.adapters.map((a) => [
      a.id,
      {
        requests: metrics.counter('pipewarden_ingest_requests_total', { source: a.id, result: 'accepted' }),
        events: metrics.counter('pipewarden_ingest_events_total', { source: a.id }),
      },
    ]),
  );

  // telemetry-loss: rejected requests become one event per (source, IP) and interval.
  const rejected = new RejectedRequests(
    async (events) => {
      try {
        await opts.bus.publish(
          opts.topic,
          events.map((e) => eventMessage(e)),
        );
      } catch (err) {
        app.log.warn(
          { err, aggregates: events.length },
          'Could not publish rejected-request aggregates; dropped them.',
        );
      }
    },
    now,
    opts.rejectedIntervalMs ?? 10_000,
  );
  rejected.start();
  app.addHook('onClose', () => rejected.stop());

  // Every body arrives as raw bytes: signatures are computed over exactly what was sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes }, (_req, body, done) => {
    done(null, body);
  });

  // Metric labels name known sources only: a request to /ingest/<anything> must not add a series.
  const refuse = (source: string, reply: FastifyReply, status: number, message: string, result: string) => {
    const label = byId.has(source) ? source : 'unknown';
    metrics.inc('pipewarden_ingest_requests_total', { source: label, result });
    return reply.status(status).send({ error: result, message });
  };
  /** What is refused before the body is read (the guard's onRequest hook asks first). */
  const precheck = (source: string, req: FastifyRequest, reply: FastifyReply) => {
    const adapter = byId.get(source);
    if (!adapter)
      return refuse(
        source,
        reply,
        404,
        `unknown source '${source.slice(0, 100)}'; known sources: ${[...byId.keys()].join(', ')}`,
        'unknown_source',
      );
    if (!opts.sourceConfigs[source]?.enabled) {
      return refuse(
        source,
        reply,
        404,
        `source '${source}' is not enabled: configure sources.${source} and its secret`,
        'disabled_source',
      );
    }
    const type = mediaType(req);
    const accepted = adapter.contentTypes ?? ['application/json'];
    if (accepted !== '*' && !accepted.includes(type)) {
      return refuse(
        source,
        reply,
        415,
        `content type '${type.slice(0, 100) || '(none)'}' is not accepted for ${source}; send ${accepted.join(' or ')}`,
        'unsupported_type',
      );
    }
    return undefined;
  };
  const unauthenticated = (source: string, req: FastifyRequest, reason: string) => {
    req.log.warn({ source, ip: req.ip, reason }, 'Rejected an unauthenticated ingest request.');
    rejected.add(source, req.ip, reason);
  };
  // Before the body is read: unknown sources, media types and header credentials; caps on signed bodies.
  guardIngest(app, {
    adapters: byId,
    sourceConfigs: opts.sourceConfigs,
    limits: opts.limits ?? serverLimitsSchema.parse(undefined),
    now,
    sourceOf: (req) =>
      (req.routeOptions.config as { source?: string }).source ??
      (req.params as { source?: string }).source ??
      '',
    precheck,
    refuse,
    unauthenticated,
  });

  const handle = async (source: string, req: FastifyRequest, reply: FastifyReply) => {
    const count = (result: string) => metrics.inc('pipewarden_ingest_requests_total', { source, result });
    const fail = (status: number, message: string, result: string) =>
      refuse(source, reply, status, message, result);

    const early = precheck(source, req, reply);
    if (early) return early;
    const adapter = byId.get(source)!;
    const config = opts.sourceConfigs[source]!;
    const raw = req.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return fail(400, 'request body is empty', 'bad_request');

    // Authenticate before parsing: untrusted bytes are not even read as JSON.
    let verdict = adapter.verify(raw, req.headers, config, now());
    if (!verdict.ok) {
      // The previous secret (during a rotation) and any additional ones (several senders), each compared
      // in constant time; counted by which one matched, so operators see when the previous one is unused.
      for (const { secret, label } of alternateSecrets(config)) {
        const alternate = adapter.verify(raw, req.headers, { ...config, secret }, now());
        if (!alternate.ok) continue;
        verdict = alternate;
        metrics.inc('pipewarden_ingest_alternate_secret_total', { source, secret: label });
        break;
      }
    }
    settled(req); // checked: no longer counted against the unauthenticated caps
    if (!verdict.ok) {
      unauthenticated(source, req, verdict.reason);
      return fail(401, verdict.reason, 'unauthorized');
    }

    let body: unknown;
    try {
      body = adapter.parse ? adapter.parse(raw, req.headers) : parseVerifiedJson(raw.toString('utf8'), raw);
    } catch (err) {
      if (err instanceof AdapterInputError) return fail(400, err.message, 'bad_request');
      return fail(400, `malformed JSON: ${(err as Error).message}`, 'bad_request');
    }
    if (nestedDeeperThan(body))
      return fail(400, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`, 'bad_request');

    const delivery = adapter.deliveryId(req.headers, body);
    const dedupKey = delivery ? `${source}\u0000${delivery}` : undefined;
    if (dedupKey && recent.has(dedupKey)) {
      count('duplicate');
      return reply.status(200).send({ duplicate: true, delivery });
    }

    let output: ReturnType<typeof adapter.toEvents>;
    try {
      adapter.checkHeaders?.(body, req.headers); // unsigned headers must agree with the signed body
      output = adapter.toEvents(body, req.headers, now());
    } catch (err) {
      if (err instanceof AdapterInputError) return fail(400, err.message, 'bad_request');
      // JSON inside the body (a HEC event string, a log line) nested past what the stack can walk.
      if (err instanceof RangeError && /call stack/i.test(err.message))
        return fail(400, 'a value in the body is nested too deeply to read', 'bad_request');
      req.log.error({ source, err }, 'Adapter threw on a verified request.');
      return fail(500, `the ${source} adapter could not read this payload`, 'adapter_error');
    }

    // A signed body replayed under new delivery ids yields the same content-derived event ids: one event.
    // (Durably, the store's create-only writes and the alerter's hit ids dedup across restarts and replicas.)
    // One event: its id is the key (already a hash); several: a hash of their ids, so the key stays short.
    const contentKey =
      output.events.length === 1
        ? `${source}\u0000${output.events[0]!.event.id}`
        : output.events.length
          ? `${source}\u0000${eventId(...output.events.map((e) => e.event.id))}`
          : undefined;
    const ids = output.events.map((e) => e.event.id);
    // Entries of a batch body that could not be read are reported beside the accepted ones.
    const invalid = output.rejected?.length ? { rejected: output.rejected } : {};
    const answer = () =>
      output.reply
        ? reply.status(200).send({ ...output.reply, accepted: ids.length, ids, ...invalid })
        : reply.status(202).send({ accepted: ids.length, ids, ...invalid });
    if (contentKey && recent.has(contentKey)) {
      if (dedupKey) recent.add(dedupKey);
      count('replayed'); // the same signed content under another delivery id
      return answer(); // the same answer as the first time: the sender sees nothing to retry
    }

    try {
      await opts.bus.publish(
        opts.topic,
        output.events.map((e) => eventMessage(e)),
      );
    } catch (err) {
      if (err instanceof MessageTooLargeError) {
        req.log.warn({ source, err: err.message }, 'Bus refused the events as too large.');
        return fail(413, `the events of this request are too large to store: ${err.message}`, 'too_large');
      }
      req.log.error({ source, err }, 'Bus refused the events; the sender is told to retry.');
      reply.header('retry-after', '5');
      const why = err instanceof BusUnavailableError ? err.message : 'bus error';
      return fail(503, `events could not be stored durably (${why}); retry later`, 'unavailable');
    }

    if (dedupKey) recent.add(dedupKey);
    if (contentKey) recent.add(contentKey);
    const counters = acceptedOf.get(source)!;
    counters.requests();
    counters.events(output.events.length);
    return answer();
  };

  app.post<{ Params: { source: string } }>(
    '/ingest/:source',
    { bodyLimit: opts.bodyLimitBytes },
    (req, reply) => handle(req.params.source, req, reply),
  );
  for (const adapter of opts.adapters) {
    for (const path of adapter.paths ?? []) {
      app.post(path, { bodyLimit: opts.bodyLimitBytes, config: { source: adapter.id } }, (req, reply) =>
        handle(adapter.id, req, reply),
      );
    }
  }
}
