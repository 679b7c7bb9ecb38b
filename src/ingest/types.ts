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
}

/** Thrown by toEvents for a body that parses but is not what the source sends: answered 400. */
export class AdapterInputError extends Error {
  override name = 'AdapterInputError';
}

export interface IngestAdapter<C extends { enabled: boolean } = { enabled: boolean }> {
  id: string; // kebab-case, equal to the folder name; the route is POST /ingest/<id>
  title: string;
  configSchema: z.ZodType<C, any>;
  /** Content types accepted besides application/json (the body is still parsed as JSON). */
  contentTypes?: string[];
  /** Constant-time check of the request's signature or token against the configured secret. */
  verify(rawBody: Buffer, headers: Headers, config: C): VerifyResult;
  /** The delivery id the source reuses on redelivery, for deduplication. */
  deliveryId(headers: Headers, body: unknown): string | undefined;
  /** Pure: vendor payload in, normalised events out. Throws AdapterInputError on a payload it cannot read. */
  toEvents(body: unknown, headers: Headers, receivedAt: Date): AdapterOutput;
}

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
