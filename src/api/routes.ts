// Health, readiness and the responders' query API (/api/events, /api/alerts, bearer token required).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { sinkConfigKeys } from '../alerting/sinks/index.ts';
import { ALERT_STATUSES, type Delivery, SEVERITIES } from '../alerting/types.ts';
import type { Bus } from '../bus/types.ts';
import type { Secret } from '../config/secrets.ts';
import { MAX_EVENT_IDS } from '../detect/types.ts';
import { EVENT_KINDS } from '../event.ts';
import type { Readiness } from '../health.ts';
import { tokenEquals } from '../ingest/crypto.ts';
import { type Counters, renderGauge } from '../metrics.ts';
import { storeUnavailable } from '../store/errors.ts';
import type { Store } from '../store/types.ts';
import { VERIFIED_STATE_KEY } from '../trail/service.ts';
import { traceChange, traceQuerySchema } from '../trail/trace.ts';
import { ipOrCidr } from '../util/ip.ts';
import type { ConsoleAuth } from './auth.ts';
import { doc, documentOnly, OBJECT, PAGE } from './openapi.ts';

const isoTime = z.iso.datetime({ offset: true });
const size = z.coerce.number().int().min(1).max(500).default(50);

/** Events returned inline with one alert: every contributing event its hit carries (`event_total` says if more). */
const MAX_ALERT_EVENTS = MAX_EVENT_IDS;

const eventQuerySchema = z.strictObject({
  from: isoTime.optional(),
  to: isoTime.optional(),
  source: z.string().min(1).max(100).optional(),
  kind: z.enum(EVENT_KINDS).optional(),
  actor: z.string().min(1).max(300).optional(),
  repository: z.string().min(1).max(300).optional(),
  action: z.string().min(1).max(300).optional(),
  ip: ipOrCidr.optional(),
  q: z.string().min(1).max(500).optional(),
  size,
  cursor: z.string().min(1).max(1000).optional(),
});

const alertQuerySchema = z.strictObject({
  from: isoTime.optional(),
  to: isoTime.optional(),
  detector: z.string().min(1).max(100).optional(),
  severity: z.enum(SEVERITIES).optional(),
  status: z.enum(ALERT_STATUSES).optional(),
  size,
  cursor: z.string().min(1).max(1000).optional(),
});

export interface ApiOptions {
  bus: Bus;
  store: Store;
  auth: ConsoleAuth;
  metrics: Counters;
  /** Sends a synthetic alert through every enabled sink now; the outcome per sink. */
  testAlert: () => Promise<Record<string, Delivery>>;
}

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** 404 naming what was asked for: `no <what> with id '<id>'`. */
export function notFound(reply: FastifyReply, what: string, id: string) {
  return reply.status(404).send({ error: 'not_found', message: `no ${what} with id '${id}'` });
}

function badQuery(reply: FastifyReply, error: z.ZodError) {
  const problems = error.issues.map((i) =>
    i.code === 'unrecognized_keys'
      ? `unknown parameter(s): ${i.keys.join(', ')}`
      : `${i.path.join('.')}: ${i.message}`,
  );
  return reply.status(400).send({ error: 'bad_request', message: `invalid query: ${problems.join('; ')}` });
}

/** Stores throw RangeError for a cursor or time they cannot use: that is the caller's mistake, a 400. */
async function answer<T>(reply: FastifyReply, run: () => Promise<T>): Promise<T | FastifyReply> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof RangeError)
      return reply.status(400).send({ error: 'bad_request', message: err.message });
    // The store's own error text (Elasticsearch's, with its statusCode) never reaches an API client.
    throw new Error('the store could not answer this query', { cause: err });
  }
}

/** The lag gauge of each consumer group, read from the bus at scrape time; a group it cannot read is left out. */
async function lagGauge(bus: Bus): Promise<string> {
  const seen = new Set<string>();
  const samples: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const { group, topic } of bus.consumerGroups?.() ?? []) {
    const key = `${group}\u0000${topic}`;
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      samples.push({ labels: { group, topic }, value: await within(2000, bus.lag(group, topic)) });
    } catch {
      // unreadable now (bus down): /readyz says so; the series is absent rather than wrong
    }
  }
  return renderGauge(
    'pipewarden_consumer_lag',
    'Messages retained on the topic that the group has not committed yet.',
    samples,
  );
}

export async function healthRoutes(
  app: FastifyInstance,
  opts: {
    bus?: Bus;
    store?: Store;
    metrics: Counters;
    /** What this process's roles need (src/health.ts); without it, every given dependency is needed. */
    readiness?: () => Promise<Readiness>;
    /** When set, /metrics asks for `Authorization: Bearer <it>` (compared in constant time). */
    metricsToken?: Secret | undefined;
    /** More gauges, rendered at scrape time (the spool's depth). */
    gauges?: () => string;
  },
): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (opts.readiness) {
      const { ready, checks, missing } = await opts.readiness();
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks, missing });
    }
    const checks: Record<string, string> = {};
    for (const [name, dep] of [
      ['bus', opts.bus],
      ['store', opts.store],
    ] as const) {
      if (!dep) continue;
      try {
        await within(3000, dep.ping());
        checks[name] = 'ok';
      } catch (err) {
        checks[name] = `unreachable: ${(err as Error).message}`;
      }
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
  app.get('/metrics', async (req, reply) => {
    if (opts.metricsToken) {
      const sent = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!tokenEquals(opts.metricsToken.reveal(), sent))
        return reply
          .status(401)
          .send({ error: 'unauthorized', message: '/metrics needs Authorization: Bearer <metrics token>' });
    }
    const lag = opts.bus ? await lagGauge(opts.bus) : '';
    return reply
      .type('text/plain; version=0.0.4')
      .send(opts.metrics.render() + lag + (opts.gauges?.() ?? ''));
  });
}

export async function apiRoutes(app: FastifyInstance, opts: ApiOptions): Promise<void> {
  // The store down is not a bug: 503 naming it, so clients retry; anything else goes to the server's handler.
  app.setErrorHandler((err, _req, reply) => {
    const why = storeUnavailable(err);
    if (!why) throw err;
    return reply
      .status(503)
      .header('retry-after', '5')
      .send({ error: 'store_unavailable', message: `${why}; retry later` });
  });
  // Bearer token or console session; CSRF and the route's role (src/api/auth.ts).
  app.addHook('onRequest', opts.auth.hook);
  documentOnly(app);

  const T = ['events'];
  app.get(
    '/api/events',
    {
      schema: doc({
        summary: 'Search the audit trail',
        tags: T,
        querystring: eventQuerySchema,
        response: { 200: PAGE },
      }),
    },
    async (req, reply) => {
      const parsed = eventQuerySchema.safeParse(req.query);
      if (!parsed.success) return badQuery(reply, parsed.error);
      return answer(reply, () => opts.store.searchEvents(parsed.data));
    },
  );

  const idParam = z.strictObject({ id: z.string().min(1).max(200) });

  app.get(
    '/api/events/:id',
    {
      schema: doc({
        summary: 'One event with its redacted raw payload',
        tags: T,
        params: idParam,
        response: { 200: OBJECT },
      }),
    },
    async (req, reply) => {
      const parsed = idParam.safeParse(req.params);
      if (!parsed.success) return badQuery(reply, parsed.error);
      return answer(reply, async () => {
        const event = await opts.store.getEvent(parsed.data.id);
        if (!event) return notFound(reply, 'event', parsed.data.id);
        return event;
      });
    },
  );

  // An alert with the events that triggered it: the responder's first pivot.
  app.get(
    '/api/alerts/:id',
    {
      schema: doc({
        summary: 'One alert with its contributing events',
        tags: ['alerts'],
        params: idParam,
        response: { 200: OBJECT },
      }),
    },
    async (req, reply) => {
      const parsed = idParam.safeParse(req.params);
      if (!parsed.success) return badQuery(reply, parsed.error);
      return answer(reply, async () => {
        const alert = await opts.store.getAlert(parsed.data.id);
        if (!alert) return notFound(reply, 'alert', parsed.data.id);
        const ids = alert.event_ids.slice(0, MAX_ALERT_EVENTS);
        const events = (await Promise.all(ids.map((id) => opts.store.getEvent(id)))).filter(
          (e) => e !== undefined,
        );
        return { ...alert, events, missing_events: ids.length - events.length };
      });
    },
  );

  // Like falcosidekick's test endpoint: proves the sinks' settings before a real alert needs them.
  app.post(
    '/api/alerts/test',
    {
      schema: doc({
        summary: 'Send a synthetic alert through every enabled sink',
        tags: ['alerts'],
        response: { 200: OBJECT, 409: OBJECT, 502: OBJECT },
      }),
    },
    async (_req, reply) => {
      const deliveries = await opts.testAlert();
      const sinks = Object.keys(deliveries);
      if (sinks.length === 0) {
        return reply
          .status(409)
          .send({ error: 'no_sinks', message: `no alert sink is enabled (${sinkConfigKeys()})` });
      }
      const ok = Object.values(deliveries).every((d) => d.status === 'sent');
      return reply.status(ok ? 200 : 502).send({ ok, deliveries });
    },
  );

  app.get(
    '/api/alerts',
    {
      schema: doc({
        summary: 'Alerts with their delivery status per sink',
        tags: ['alerts'],
        querystring: alertQuerySchema,
        response: { 200: PAGE },
      }),
    },
    async (req, reply) => {
      const parsed = alertQuerySchema.safeParse(req.query);
      if (!parsed.success) return badQuery(reply, parsed.error);
      return answer(reply, () => opts.store.searchAlerts(parsed.data));
    },
  );

  // --- trace (src/trail/trace.ts): a change from commit to deploy, with the gaps named ---
  app.get('/api/trace', async (req, reply) => {
    const parsed = traceQuerySchema.safeParse(req.query);
    if (!parsed.success) return badQuery(reply, parsed.error);
    return answer(reply, () => traceChange(opts.store, parsed.data));
  });

  // The trail's state for the console's sources page: the last scheduled verification and each
  // partition's newest checkpoint.
  app.get('/api/trail', async () => {
    const verified = await opts.store.getState(VERIFIED_STATE_KEY);
    const newest = new Map<number, unknown>();
    for (const c of await opts.store.trailCheckpoints()) newest.set(c.partition, c);
    return { verified: verified ? JSON.parse(verified) : null, checkpoints: [...newest.values()] };
  });
  // --- end trace ---
}
