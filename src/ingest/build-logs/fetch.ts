// Log fetchers: a consumer of the events topic (its own group) that, when an adapter's `logFetcher` says an
// event marks a finished job (a GitHub workflow_job, a GitLab Job Hook), downloads that job's log and
// streams it onto the build-logs topic.

import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { adapters } from '../../../ingest-adapters/index.ts';
import { type Bus, BusUnavailableError, type Subscription } from '../../bus/types.ts';
import type { PipewardenEvent } from '../../event.ts';
import type { Logger } from '../../log.ts';
import { obj } from '../json.ts';
import type { BuildLogsConfig, FetcherConfig } from './config.ts';
import {
  type Lookup,
  NonPublicAddressError,
  publicOnly,
  publicOnlyLookup,
  redirectRefusal,
} from './egress.ts';
import type { FetchTarget, LogFetcher } from './fetcher.ts';
import type { BuildLogWriter } from './writer.ts';

// Built on first use, not at load: the adapters import this module (types, idOf) and are imported by it.
let fetchers: ReadonlyMap<string, LogFetcher> | undefined;
function FETCHERS(): ReadonlyMap<string, LogFetcher> {
  fetchers ??= new Map(adapters.flatMap((a) => (a.logFetcher ? [[a.id, a.logFetcher] as const] : [])));
  return fetchers;
}

/** The per-adapter fetcher settings of `buildLogs.fetch` (the rest are the group, attempts and backoff). */
function fetcherConfig(config: BuildLogsConfig['fetch'], id: string): FetcherConfig | undefined {
  return FETCHERS().has(id)
    ? (config as unknown as Record<string, FetcherConfig | undefined>)[id]
    : undefined;
}

/** Whether any adapter's log fetching is on. */
export function fetchingEnabled(config: BuildLogsConfig['fetch']): boolean {
  return [...FETCHERS().keys()].some((id) => fetcherConfig(config, id)?.enabled);
}

/** Pure: the log a normalised event asks us to fetch, or null. Reads the (redacted) vendor payload it carries. */
export function fetchTarget(event: PipewardenEvent, config: BuildLogsConfig['fetch']): FetchTarget | null {
  const raw = obj(event.pipewarden?.raw);
  const source = event.pipewarden?.source;
  const fetcher = source === undefined ? undefined : FETCHERS().get(source);
  const c = source === undefined ? undefined : fetcherConfig(config, source);
  if (!raw || !fetcher || !c?.enabled || !c.token) return null;
  const t = fetcher.target(event, raw, { apiUrl: c.apiUrl, token: c.token.reveal() });
  if (!t) return null;
  return {
    ...t,
    source: source!,
    redirects: {
      apiOrigin: new URL(c.apiUrl).origin,
      allowHosts: c.redirectHosts ?? [],
      vendorHosts: fetcher.vendorHosts,
    },
  };
}

export class FetchError extends Error {
  override name = 'FetchError';
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

/**
 * Downloads one log and streams it onto the topic. GitHub answers 302 to a pre-signed URL: followed without
 * our token; to a vendor's log-storage host, over a connection whose address is checked as it is made.
 * `lookup` resolves names for those checks (the system resolver by default).
 */
export async function fetchLog(
  target: FetchTarget,
  writer: BuildLogWriter,
  timeoutMs = 60_000,
  lookup?: Lookup,
) {
  const signal = AbortSignal.timeout(timeoutMs);
  // The token goes to the configured API origin and nowhere else.
  if (target.redirects && new URL(target.url).origin !== target.redirects.apiOrigin)
    throw new FetchError(`${target.url} is not on the configured API`, false);
  let res = await fetch(target.url, { headers: target.headers, redirect: 'manual', signal });
  for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 3; hops++) {
    const location = res.headers.get('location');
    await res.body?.cancel();
    if (!location) throw new FetchError(`${target.url} answered ${res.status} without a Location`, false);
    // The redirect target is a pre-signed blob URL: the API token must not travel there.
    const next = new URL(location, target.url);
    const refused = target.redirects ? await redirectRefusal(next, target.redirects, lookup) : undefined;
    if (refused) throw new FetchError(`redirect from ${target.url} refused: ${refused}`, false);
    try {
      res =
        target.redirects && publicOnly(next, target.redirects)
          ? await fetchPublic(next, signal, lookup)
          : await fetch(next, { redirect: 'manual', signal });
    } catch (err) {
      if (err instanceof NonPublicAddressError)
        throw new FetchError(`redirect from ${target.url} refused: ${err.message}`, false);
      throw err;
    }
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    const retryable = res.status === 404 || res.status === 429 || res.status >= 500;
    throw new FetchError(`${target.url} answered ${res.status}`, retryable);
  }
  return writer.write(res.body, { job: target.job, source: target.source });
}

/** A GET over https whose connection goes only to a public address (publicOnlyLookup), as a fetch Response. */
function fetchPublic(url: URL, signal: AbortSignal, lookup?: Lookup): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', lookup: publicOnlyLookup(lookup), signal }, (res) => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers))
        for (const v of [value ?? []].flat()) headers.append(name, v);
      const status = res.statusCode ?? 502;
      const body =
        status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      resolve(new Response(body, { status, headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface LogFetcherOptions {
  bus: Bus;
  eventsTopic: string;
  writer: BuildLogWriter;
  config: BuildLogsConfig;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
}

/** Subscribes the fetchers when any adapter's log fetching is configured; undefined otherwise. */
export async function startLogFetchers(opts: LogFetcherOptions): Promise<Subscription | undefined> {
  const { config, bus, log } = opts;
  const f = config.fetch;
  if (!fetchingEnabled(f)) return undefined;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const flog = log.child({ component: 'logfetch' });
  return bus.subscribe({
    topic: opts.eventsTopic,
    group: f.group,
    maxBatch: 50,
    handler: async (batch) => {
      for (const m of batch) {
        let event: PipewardenEvent;
        try {
          event = JSON.parse(m.value) as PipewardenEvent;
        } catch {
          continue; // the other consumers log poison messages
        }
        const target = fetchTarget(event, f);
        if (!target) continue;
        for (let attempt = 1; ; attempt++) {
          try {
            const r = await fetchLog(target, opts.writer);
            flog.info({ job: target.job, chunks: r.chunks, bytes: r.bytes }, 'Fetched a job log.');
            break;
          } catch (err) {
            // The bus is down: fail the batch, so it is delivered again later and no log is skipped.
            if (err instanceof BusUnavailableError) throw err;
            const retryable = !(err instanceof FetchError) || err.retryable;
            if (!retryable || attempt >= f.attempts) {
              // Given up on this one log; the batch goes on so one bad job cannot block the group.
              flog.error(
                { job: target.job, attempt, err: (err as Error).message },
                'Could not fetch a job log.',
              );
              break;
            }
            await sleep(f.backoffMs * 2 ** (attempt - 1));
          }
        }
      }
    },
  });
}
