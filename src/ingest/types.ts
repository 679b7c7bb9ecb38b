// The shape of an ingest adapter (see STYLE.md): a plain object, pure verify and toEvents; the shared
// Fastify plugin (ingest/plugin.ts) does the HTTP work, auth answers, dedup, publishing and counting.
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { PipewardenEvent } from '../event.ts';
import type { LogFetcher } from './build-logs/fetcher.ts';
import type { Poller } from './pollers/types.ts';

export type Headers = Record<string, string | string[] | undefined>;

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** What toEvents returns: the events to publish, and optionally the body to answer with (e.g. a ping). */
export interface AdapterOutput {
  events: PipewardenEvent[];
  reply?: Record<string, unknown>;
  /**
   * Entries of a batch body (HEC events, log lines) that could not be read: the valid ones are still
   * published, all together, and these are reported in the answer. A body with no valid entry throws.
   */
  rejected?: Array<{ item: number; reason: string }>;
}

/** Thrown by toEvents for a body that parses but is not what the source sends: answered 400. */
export class AdapterInputError extends Error {
  override name = 'AdapterInputError';
}

/** A line-oriented log format an adapter owns (access logs, audit-trail lines), for syslog and text bodies. */
export interface LineFormat {
  /**
   * Pure: one line (a syslog MSG part, or a line of a text body) to its event, parsed once. undefined: the
   * line is not of this format (the next format is tried); null: it is, but carries nothing we keep.
   */
  read(
    line: string,
    receivedAt: Date,
    meta: { host?: string; app?: string; transport: string },
  ): PipewardenEvent | null | undefined;
}

/** The first format that claims the line reads it; undefined when none does. */
export function readLine(
  formats: readonly LineFormat[],
  line: string,
  receivedAt: Date,
  meta: { host?: string; app?: string; transport: string },
): PipewardenEvent | null | undefined {
  for (const f of formats) {
    const e = f.read(line, receivedAt, meta);
    if (e !== undefined) return e;
  }
  return undefined;
}

/** One row of the README's sources table (checked against the registry by a test). */
export interface SourceDoc {
  /** Which table: source control and CI, or build servers and artefact stores. */
  group: 'scm' | 'build';
  source: string;
  route: string;
  auth: string;
  /** The variable holding this row's credential, when not the adapter's `secretEnv` (e.g. a poller's token). */
  secretEnv?: string;
}

/**
 * The sender's side of `verify`, for tests that must authenticate bodies of their own making (compliance,
 * every sample, signers). Kept beside verify so that the two cannot drift apart: a change to one that the
 * other does not follow fails the compliance test. Never used to accept a request.
 */
export interface AdapterTesting {
  /** The headers a source adds to authenticate `raw` when its secret is `secret`. */
  sign(raw: string | Buffer, secret: string, now: Date): Record<string, string>;
  /** What `secretEnv` must hold for `sign(…, secret)` to verify, when not `secret` itself. */
  secretValue?(secret: string): string;
  /** The bytes a source posts for one stored sample body, when not the body itself (e.g. an envelope). */
  deliver?(body: unknown): string;
}

export interface IngestAdapter<C extends { enabled: boolean } = { enabled: boolean }> {
  id: string; // kebab-case, equal to the folder name; the default route is POST /ingest/<id>
  title: string;
  configSchema: z.ZodType<C, any>;
  /** The environment variable that holds the source's secret by default (`sources.<id>.secretEnv`). */
  secretEnv: string;
  /** Its rows in the README's sources table. */
  docs: SourceDoc[];
  testing: AdapterTesting;
  /** Extra routes served by this adapter besides /ingest/<id> (e.g. Splunk HEC paths). POST only. */
  paths?: string[];
  /** Media types accepted (default ['application/json']); '*' accepts any. */
  contentTypes?: string[] | '*';
  /**
   * Constant-time check of the request's signature or token against the configured secret. `now` is
   * given for sources that sign a timestamp, so stale or replayed deliveries can be refused.
   */
  verify(rawBody: Buffer, headers: Headers, config: C, now: Date): VerifyResult;
  /**
   * Optional: the verdict on the headers alone, checked before the body is read (src/ingest/guard.ts).
   * A scheme whose credential is a header (token, Basic, HEC) decides here; a signed scheme refuses a
   * request without its signature header and answers 'body' otherwise: only the body can tell.
   */
  verifyHeaders?(headers: Headers, config: C, now: Date): VerifyResult | 'body';
  /** Turns the verified raw body into what toEvents reads. Default: JSON.parse. Throw AdapterInputError. */
  parse?(rawBody: Buffer, headers: Headers): unknown;
  /**
   * Optional: headers the signature does not cover but normalisation reads (an event type) must agree with
   * the signed body; throws AdapterInputError (answered 400) naming the mismatch. Run before toEvents.
   */
  checkHeaders?(body: unknown, headers: Headers): void;
  /** The delivery id the source reuses on redelivery, for deduplication. */
  deliveryId(headers: Headers, body: unknown): string | undefined;
  /** Pure: vendor payload in, normalised events out. Throws AdapterInputError on a payload it cannot read. */
  toEvents(body: unknown, headers: Headers, receivedAt: Date): AdapterOutput;
  /** Line formats this adapter owns, for the syslog listener and text bodies. */
  lines?: LineFormat[];
  /**
   * Hooks on the HTTP server, for a source whose sender expects its own answer shape (Splunk HEC's
   * `{text, code}`). Registered before the routes, so the adapter's routes inherit them.
   */
  httpHooks?(app: FastifyInstance): void;
  /** Pollers for a source that also offers a pull API, made from the source's own config. */
  pollers?(config: C): Poller[];
  /** Job logs this source's events point to, fetched when a job finishes (`buildLogs.fetch.<id>`). */
  logFetcher?: LogFetcher;
}

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
