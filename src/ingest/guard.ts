// Nothing unauthenticated can exhaust the collector (issue 10 item 7). Three fences, in front of the
// ingest routes:
// - the credential is checked on the headers, in an onRequest hook, before the body is read, wherever the
//   scheme allows (tokens, Basic, HEC: the adapter's verifyHeaders); a signed scheme without its
//   signature header is refused there too;
// - requests whose credential is in their body (a signed body) and not yet checked are capped per client
//   address and in total, in count and in declared bytes, so a flood of well-formed but forged bodies
//   holds a bounded amount of memory;
// - the HTTP server cuts slow clients: request, header and idle timeouts, and a connection cap.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { alternateSecrets } from './source-config.ts';
import type { Headers, IngestAdapter, VerifyResult } from './types.ts';

/** The body handed to verify by schemes whose credential is a header: it is not looked at. */
export const NO_BODY: Buffer = Buffer.alloc(0);

/** `server.limits`: timeouts and caps of the HTTP server. */
export const serverLimitsSchema = z
  .strictObject({
    /** A request's headers and body must have arrived within this (ms); 0 disables it (not advised). */
    requestTimeoutMs: z.number().int().min(0).max(3_600_000).default(120_000),
    /** Its headers within this (ms); at most requestTimeoutMs. */
    headersTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
    /** A connection with no traffic for this long is closed (ms). */
    idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
    /** How long an idle keep-alive connection waits for its next request (ms). */
    keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
    /** How often the server looks for requests past their timeouts (ms). */
    timeoutCheckIntervalMs: z.number().int().min(10).max(60_000).default(1_000),
    /** Open connections, beyond which new ones are refused. */
    maxConnections: z.number().int().min(1).max(1_000_000).default(4_096),
    /**
     * Requests per client address whose signed body is being read and not yet checked. Behind a reverse
     * proxy, set server.trustProxy so that the client, not the proxy, is counted.
     */
    maxUnauthenticatedPerClient: z.number().int().min(1).max(10_000).default(32),
    /** The same, over all clients. */
    maxUnauthenticated: z.number().int().min(1).max(100_000).default(128),
    /**
     * Bytes of signed bodies being read and not yet checked, per client address (by Content-Length; a
     * body without one counts as the body limit). A client's first such request is always taken, so one
     * body up to the body limit gets through.
     */
    maxUnauthenticatedBytesPerClient: z
      .number()
      .int()
      .min(1024)
      .max(2 ** 40)
      .default(64 * 1024 * 1024),
    /** The same over all clients: the memory unchecked bodies can hold (beyond one body at a time). */
    maxUnauthenticatedBytes: z
      .number()
      .int()
      .min(1024)
      .max(2 ** 40)
      .default(256 * 1024 * 1024),
  })
  .refine((l) => l.requestTimeoutMs === 0 || l.headersTimeoutMs <= l.requestTimeoutMs, {
    path: ['headersTimeoutMs'],
    message: 'must be at most requestTimeoutMs',
  })
  .prefault({});

export type ServerLimits = z.output<typeof serverLimitsSchema>;

/** Fastify's options for these limits (spread into `Fastify({...})`). */
export function serverOptions(l: ServerLimits) {
  return {
    requestTimeout: l.requestTimeoutMs,
    // Route parameters up to 512 characters (build-log job ids); Fastify's default of 100 answered 414.
    routerOptions: { maxParamLength: 512 },
    connectionTimeout: l.idleTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    http: { headersTimeout: l.headersTimeoutMs, connectionsCheckingInterval: l.timeoutCheckIntervalMs },
  };
}

/**
 * The verdict on the headers alone, trying the alternate secrets (rotation, several senders) like the body
 * check does: a verdict, or 'body' when only the body can tell.
 */
export function verifyOnHeaders(
  // biome-ignore lint/suspicious/noExplicitAny: each adapter has its own config type
  adapter: IngestAdapter<any>,
  headers: Headers,
  config: object,
  now: Date,
): VerifyResult | 'body' {
  if (!adapter.verifyHeaders) return 'body';
  const first = adapter.verifyHeaders(headers, config, now);
  if (first === 'body' || first.ok) return first;
  for (const { secret } of alternateSecrets(config)) {
    const v = adapter.verifyHeaders(headers, { ...config, secret }, now);
    if (v === 'body' || v.ok) return v;
  }
  return first;
}

/** Counts requests in flight, and the bytes they declared, per client address and in total; refuses past the caps. */
export class PendingCounter {
  readonly #byClient = new Map<string, { n: number; bytes: number }>();
  #total = 0;
  #bytes = 0;
  readonly perClient: number;
  readonly total: number;
  readonly bytesPerClient: number;
  readonly bytes: number;
  constructor(perClient: number, total: number, bytesPerClient = Infinity, bytes = Infinity) {
    this.perClient = perClient;
    this.total = total;
    this.bytesPerClient = bytesPerClient;
    this.bytes = bytes;
  }

  /**
   * A release function, or undefined when a cap is reached. A byte cap never refuses a request that would
   * be alone in its scope (the client's, or everyone's): one body up to the body limit always fits.
   */
  acquire(client: string, bytes = 0): (() => void) | undefined {
    const c = this.#byClient.get(client) ?? { n: 0, bytes: 0 };
    if (c.n >= this.perClient || this.#total >= this.total) return undefined;
    if (c.n > 0 && c.bytes + bytes > this.bytesPerClient) return undefined;
    if (this.#total > 0 && this.#bytes + bytes > this.bytes) return undefined;
    c.n++;
    c.bytes += bytes;
    this.#byClient.set(client, c);
    this.#total++;
    this.#bytes += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      this.#bytes -= bytes;
      c.n--;
      c.bytes -= bytes;
      if (c.n <= 0) this.#byClient.delete(client);
    };
  }

  get size(): number {
    return this.#total;
  }

  /** Bytes declared by the requests in flight. */
  get heldBytes(): number {
    return this.#bytes;
  }
}

export interface GuardOptions {
  // biome-ignore lint/suspicious/noExplicitAny: each adapter has its own config type
  adapters: ReadonlyMap<string, IngestAdapter<any>>;
  sourceConfigs: Record<string, { enabled: boolean }>;
  limits: ServerLimits;
  now: () => Date;
  /** Which source a request is for (from its route). */
  sourceOf(req: FastifyRequest): string;
  /**
   * What the handler would answer before reading the body (unknown or disabled source, media type), or
   * undefined: the guard answers the same, only sooner.
   */
  precheck(source: string, req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined;
  /** Answers and counts a refusal the way the handler does. */
  refuse(source: string, reply: FastifyReply, status: number, message: string, result: string): FastifyReply;
  /** A request refused for its credential (logged and aggregated as a signal by the plugin). */
  unauthenticated(source: string, req: FastifyRequest, reason: string): void;
}

const releases = new WeakMap<FastifyRequest, () => void>();

/** Frees the request's unauthenticated slot once its body has been checked (either way). */
export function settled(req: FastifyRequest): void {
  releases.get(req)?.();
}

/** Adds the onRequest hook to the (encapsulated) ingest plugin's routes. */
export function guardIngest(app: FastifyInstance, opts: GuardOptions): PendingCounter {
  const { limits } = opts;
  const pending = new PendingCounter(
    limits.maxUnauthenticatedPerClient,
    limits.maxUnauthenticated,
    limits.maxUnauthenticatedBytesPerClient,
    limits.maxUnauthenticatedBytes,
  );
  app.server.maxConnections = opts.limits.maxConnections;
  // Callback style, not async: no promise per request. A refusal is sent here and `done` is not called,
  // which ends the request (Fastify's documented way to answer from a hook).
  app.addHook('onRequest', (req, reply, done) => {
    const source = opts.sourceOf(req);
    if (opts.precheck(source, req, reply)) return;
    const adapter = opts.adapters.get(source)!;
    const config = opts.sourceConfigs[source]!;
    const verdict = verifyOnHeaders(adapter, req.headers, config, opts.now());
    if (verdict !== 'body') {
      if (verdict.ok) return done(); // authenticated: the body may be read
      opts.unauthenticated(source, req, verdict.reason);
      // Close rather than drain: the unread body is never buffered.
      reply.header('connection', 'close');
      opts.refuse(source, reply, 401, verdict.reason, 'unauthorized');
      return;
    }
    const release = pending.acquire(req.ip, declaredBytes(req, app.initialConfig.bodyLimit));
    if (!release) {
      reply.header('connection', 'close').header('retry-after', '1');
      opts.refuse(
        source,
        reply,
        429,
        `too many requests from ${req.ip} whose signature is not checked yet (at most ${limits.maxUnauthenticatedPerClient} requests or ${limits.maxUnauthenticatedBytesPerClient} bytes per client, ${limits.maxUnauthenticated} requests or ${limits.maxUnauthenticatedBytes} bytes in all); retry later`,
        'too_many_unauthenticated',
      );
      return;
    }
    // Released when the exchange ends whichever way: answered, timed out or dropped by the client.
    reply.raw.once('close', release);
    releases.set(req, release);
    done();
  });
  return pending;
}

/** The body bytes a request will hold: its Content-Length, or the body limit when it has none (chunked). */
function declaredBytes(req: FastifyRequest, bodyLimit: number | undefined): number {
  const limit = bodyLimit ?? 1024 * 1024;
  const declared = req.headers['content-length'];
  const n = declared === undefined ? Number.NaN : Number(declared);
  return Number.isSafeInteger(n) && n >= 0 ? Math.min(n, limit) : limit;
}
