// What an adapter declares to have its jobs' logs fetched (IngestAdapter.logFetcher). Kept apart from
// fetch.ts, which reads the adapter registry: adapters import this module, never the registry.
import type { PipewardenEvent } from '../../event.ts';
import type { RedirectPolicy } from './egress.ts';

/** One log to download: where, with which credentials, and the job id it travels under. */
export interface FetchTarget {
  job: string;
  source: string; // the adapter whose fetcher asked for it
  url: string;
  headers: Record<string, string>;
  /** Where redirects may go (src/ingest/build-logs/egress.ts). */
  redirects?: RedirectPolicy;
}

/**
 * What an adapter declares to have job logs fetched (`IngestAdapter.logFetcher`): its API's default URL, the
 * variable holding the API token, the log-storage hosts the vendor documents (redirects may go there), and a
 * pure `target` that reads a normalised event (and the redacted vendor payload it carries) and names the log
 * of a finished job, or null.
 */
export interface LogFetcher {
  defaultApiUrl: string;
  tokenEnv: string;
  vendorHosts: readonly string[];
  target(
    event: PipewardenEvent,
    raw: Record<string, unknown>,
    config: { apiUrl: string; token: string },
  ): Omit<FetchTarget, 'source' | 'redirects'> | null;
}

/** A positive integer id as the vendors send it (number or digits), or undefined. */
export const idOf = (v: unknown): string | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v > 0
    ? String(v)
    : typeof v === 'string' && /^\d+$/.test(v)
      ? v
      : undefined;
