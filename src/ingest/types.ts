// The shape of an ingest adapter (see STYLE.md): a plain object, pure verify and toEvents; the shared
// Fastify plugin (ingest/plugin.ts) does the HTTP work, auth answers, dedup, publishing and counting.
import type { z } from 'zod';
import type { PipewardenEvent } from '../event.ts';

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

export interface IngestAdapter<C extends { enabled: boolean } = { enabled: boolean }> {
  id: string; // kebab-case, equal to the folder name; the default route is POST /ingest/<id>
  title: string;
  configSchema: z.ZodType<C, any>;
  /** Extra routes served by this adapter besides /ingest/<id> (e.g. Splunk HEC paths). POST only. */
  paths?: string[];
  /** Media types accepted (default ['application/json']); '*' accepts any. */
  contentTypes?: string[] | '*';
  /**
   * Constant-time check of the request's signature or token against the configured secret. `now` is
   * given for sources that sign a timestamp, so stale or replayed deliveries can be refused.
   */
  verify(rawBody: Buffer, headers: Headers, config: C, now: Date): VerifyResult;
  /** Turns the verified raw body into what toEvents reads. Default: JSON.parse. Throw AdapterInputError. */
  parse?(rawBody: Buffer, headers: Headers): unknown;
  /** The delivery id the source reuses on redelivery, for deduplication. */
  deliveryId(headers: Headers, body: unknown): string | undefined;
  /** Pure: vendor payload in, normalised events out. Throws AdapterInputError on a payload it cannot read. */
  toEvents(body: unknown, headers: Headers, receivedAt: Date): AdapterOutput;
  /** Line formats this adapter owns, for the syslog listener and text bodies. */
  lines?: LineFormat[];
}

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
