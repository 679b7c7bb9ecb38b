// Log fetchers: a consumer of the events topic (its own group) that, when a GitHub workflow_job or a
// GitLab Job Hook says a job finished, downloads that job's log and streams it onto the build-logs topic.
import { type Bus, BusUnavailableError, type Subscription } from '../../bus/types.ts';
import type { PipewardenEvent } from '../../event.ts';
import type { Logger } from '../../log.ts';
import { obj } from '../json.ts';
import type { BuildLogsConfig } from './config.ts';
import { githubRepo, type RedirectPolicy, redirectRefusal, VENDOR_LOG_HOSTS } from './egress.ts';
import type { BuildLogWriter } from './writer.ts';

/** One log to download: where, with which credentials, and the job id it travels under. */
export interface FetchTarget {
  job: string;
  source: 'github' | 'gitlab';
  url: string;
  headers: Record<string, string>;
  /** Where redirects may go (src/ingest/build-logs/egress.ts). */
  redirects?: RedirectPolicy;
}

const policy = (source: 'github' | 'gitlab', apiUrl: string, allowHosts: string[]): RedirectPolicy => ({
  apiOrigin: new URL(apiUrl).origin,
  allowHosts,
  vendorHosts: VENDOR_LOG_HOSTS[source],
});

const idOf = (v: unknown): string | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v > 0
    ? String(v)
    : typeof v === 'string' && /^\d+$/.test(v)
      ? v
      : undefined;

// GitLab job statuses after which the trace is complete.
const FINISHED = new Set(['success', 'failed', 'canceled', 'cancelled', 'skipped']);

/** Pure: the log a normalised event asks us to fetch, or null. Reads the (redacted) vendor payload it carries. */
export function fetchTarget(event: PipewardenEvent, config: BuildLogsConfig['fetch']): FetchTarget | null {
  const raw = obj(event.pipewarden?.raw);
  if (!raw) return null;
  const gh = config.github;
  if (event.pipewarden.source === 'github' && gh.enabled && gh.token && raw.action === 'completed') {
    const jobId = idOf(obj(raw.workflow_job)?.id);
    const repo = githubRepo(obj(raw.repository)?.full_name); // `../..` is no repository
    if (!jobId || !repo) return null;
    const path = `${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`;
    return {
      job: `github:${repo.owner}/${repo.name}:${jobId}`,
      source: 'github',
      url: `${gh.apiUrl}/repos/${path}/actions/jobs/${jobId}/logs`,
      redirects: policy('github', gh.apiUrl, gh.redirectHosts ?? []),
      headers: {
        authorization: `Bearer ${gh.token.reveal()}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
      },
    };
  }
  const gl = config.gitlab;
  if (event.pipewarden.source === 'gitlab' && gl.enabled && gl.token && raw.object_kind === 'build') {
    const status = raw.build_status;
    const project = idOf(raw.project_id);
    const build = idOf(raw.build_id);
    if (typeof status !== 'string' || !FINISHED.has(status) || !project || !build) return null;
    return {
      job: `gitlab:${project}:${build}`,
      source: 'gitlab',
      url: `${gl.apiUrl}/api/v4/projects/${project}/jobs/${build}/trace`,
      redirects: policy('gitlab', gl.apiUrl, gl.redirectHosts ?? []),
      headers: { 'private-token': gl.token.reveal() },
    };
  }
  return null;
}

export class FetchError extends Error {
  override name = 'FetchError';
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

/** Downloads one log and streams it onto the topic. GitHub answers 302 to a pre-signed URL: followed without our token. */
export async function fetchLog(target: FetchTarget, writer: BuildLogWriter, timeoutMs = 60_000) {
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
    const refused = target.redirects ? await redirectRefusal(next, target.redirects) : undefined;
    if (refused) throw new FetchError(`redirect from ${target.url} refused: ${refused}`, false);
    res = await fetch(next, { redirect: 'manual', signal });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    const retryable = res.status === 404 || res.status === 429 || res.status >= 500;
    throw new FetchError(`${target.url} answered ${res.status}`, retryable);
  }
  return writer.write(res.body, { job: target.job, source: target.source });
}

export interface LogFetcherOptions {
  bus: Bus;
  eventsTopic: string;
  writer: BuildLogWriter;
  config: BuildLogsConfig;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
}

/** Subscribes the fetchers when GitHub or GitLab fetching is configured; undefined otherwise. */
export async function startLogFetchers(opts: LogFetcherOptions): Promise<Subscription | undefined> {
  const { config, bus, log } = opts;
  const f = config.fetch;
  if (!f.github.enabled && !f.gitlab.enabled) return undefined;
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
