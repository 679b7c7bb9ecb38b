// Nothing unauthenticated can exhaust the collector (issue 10 item 7). Three fences, in front of the
// ingest routes:
// - the credential is checked on the headers, in an onRequest hook, before the body is read, wherever the
//   scheme allows (tokens, Basic, HEC: the adapter's verifyHeaders); a signed scheme without its
//   signature header is refused there too;
// - requests whose credential is in their body (a signed body) and not yet checked are capped per client
//   address and in total, so a flood of well-formed but forged bodies holds a bounded amount of memory;
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
    /** The same, over all clients: memory held by unchecked bodies is at most this × bodyLimitBytes. */
    maxUnauthenticated: z.number().int().min(1).max(100_000).default(128),
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

/** Counts requests in flight per client address and in total, refusing past the caps. */
export class PendingCounter {
  readonly #byClient = new Map<string, number>();
  #total = 0;
  readonly perClient: number;
  readonly total: number;
  constructor(perClient: number, total: number) {
    this.perClient = perClient;
    this.total = total;
  }

  /** A release function, or undefined when a cap is reached. */
  acquire(client: string): (() => void) | undefined {
    const n = this.#byClient.get(client) ?? 0;
    if (n >= this.perClient || this.#total >= this.total) return undefined;
    this.#byClient.set(client, n + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#byClient.get(client) ?? 1) - 1;
      if (left > 0) this.#byClient.set(client, left);
      else this.#byClient.delete(client);
    };
  }

  get size(): number {
    return this.#total;
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
  const pending = new PendingCounter(opts.limits.maxUnauthenticatedPerClient, opts.limits.maxUnauthenticated);
  app.server.maxConnections = opts.limits.maxConnections;
  app.addHook('onRequest', async (req, reply) => {
    const source = opts.sourceOf(req);
    const early = opts.precheck(source, req, reply);
    if (early) return early;
    const adapter = opts.adapters.get(source)!;
    const config = opts.sourceConfigs[source]!;
    const verdict = verifyOnHeaders(adapter, req.headers, config, opts.now());
    if (verdict !== 'body') {
      if (verdict.ok) return; // authenticated: the body may be read
      opts.unauthenticated(source, req, verdict.reason);
      // Close rather than drain: the unread body is never buffered.
      reply.header('connection', 'close');
      return opts.refuse(source, reply, 401, verdict.reason, 'unauthorized');
    }
    const release = pending.acquire(req.ip);
    if (!release) {
      reply.header('connection', 'close').header('retry-after', '1');
      return opts.refuse(
        source,
        reply,
        429,
        `too many requests from ${req.ip} whose signature is not checked yet (at most ${opts.limits.maxUnauthenticatedPerClient} per client, ${opts.limits.maxUnauthenticated} in all); retry later`,
        'too_many_unauthenticated',
      );
    }
    // Released when the exchange ends whichever way: answered, timed out or dropped by the client.
    reply.raw.once('close', release);
    releases.set(req, release);
  });
  return pending;
}
