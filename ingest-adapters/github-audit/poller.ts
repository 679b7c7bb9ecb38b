// Polls GET /orgs/{org}/audit-log or /enterprises/{e}/audit-log, oldest first, following the Link
// header's `after` cursor; the cursor and the high-water mark live in the store, so a restart resumes.
import { partitionKey } from '../../src/event.ts';
import type { Poller, PollerContext, PollResult } from '../../src/ingest/pollers/types.ts';
import { AdapterInputError } from '../../src/ingest/types.ts';
import type { GithubAuditPollConfig } from './index.ts';
import { auditEventToPipewarden } from './normalise.ts';

interface PollState {
  /** High-water mark: created_at (epoch ms) of the newest entry published. Queries ask for created >= it. */
  since?: number;
  /** Event ids published at exactly `since`, skipped when the inclusive query returns them again. */
  seen?: string[];
  /** The next page of the query in progress (the Link rel="next" URL), when a run ended mid-way. */
  next?: string;
  /** Rate limited until then (epoch ms): runs before it do nothing. */
  notBefore?: number;
}

/** The rel="next" URL of a GitHub Link header. */
export function nextLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    // <url>; rel="next"
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

/** How long GitHub asks us to wait (ms), or undefined when the response is not a rate-limit refusal. */
export function rateLimitWait(res: Response, nowMs: number): number | undefined {
  const remaining = res.headers.get('x-ratelimit-remaining');
  const limited =
    res.status === 429 || (res.status === 403 && (remaining === '0' || res.headers.has('retry-after')));
  if (!limited) return undefined;
  const retryAfter = Number(res.headers.get('retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter * 1000;
  const reset = Number(res.headers.get('x-ratelimit-reset'));
  if (remaining === '0' && Number.isFinite(reset) && reset > 0)
    return Math.max(0, reset * 1000 - nowMs) + 1000;
  return 60_000; // a secondary limit without a hint: GitHub asks for at least a minute
}

export function githubAuditPoller(config: GithubAuditPollConfig): Poller {
  const base = config.apiUrl.replace(/\/+$/, '');
  const scope = config.org
    ? `orgs/${encodeURIComponent(config.org)}`
    : `enterprises/${encodeURIComponent(config.enterprise!)}`;
  const target = config.org ?? config.enterprise!;
  const stateKey = `poller:github-audit:${config.org ? 'org' : 'enterprise'}:${target}`;
  const origin = new URL(base).origin;

  const firstPage = (since: number) => {
    const u = new URL(`${base}/${scope}/audit-log`);
    const created = `created:>=${new Date(since).toISOString()}`;
    u.searchParams.set('phrase', config.phrase ? `${config.phrase} ${created}` : created);
    u.searchParams.set('include', config.include);
    u.searchParams.set('per_page', String(config.perPage));
    u.searchParams.set('order', 'asc');
    return u.toString();
  };

  return {
    id: `github-audit:${target}`,
    schedule: config.schedule,
    async runOnce(ctx: PollerContext): Promise<PollResult> {
      const raw = await ctx.store.getState(stateKey);
      const state: PollState = raw ? (JSON.parse(raw) as PollState) : {};
      const save = () => ctx.store.putState(stateKey, JSON.stringify(state));
      const nowMs = ctx.now().getTime();
      if (state.notBefore && state.notBefore > nowMs) {
        return {
          published: 0,
          pages: 0,
          stoppedEarly: `rate limited until ${new Date(state.notBefore).toISOString()}`,
        };
      }
      delete state.notBefore;
      state.since ??= nowMs - config.initialLookbackHours * 3_600_000;
      // The stored next page must point at the configured API: the token goes nowhere else.
      let url = state.next && new URL(state.next).origin === origin ? state.next : firstPage(state.since);
      let published = 0;
      let pages = 0;

      while (pages < config.maxPagesPerRun) {
        if (ctx.stopping) return { published, pages, stoppedEarly: 'stopping' };
        const res = await fetch(url, {
          redirect: 'error', // the token goes to the configured API only, never where a redirect points
          headers: {
            accept: 'application/vnd.github+json',
            authorization: `Bearer ${config.token.reveal()}`,
            'x-github-api-version': '2022-11-28',
            'user-agent': 'pipewarden',
          },
        });
        const wait = rateLimitWait(res, ctx.now().getTime());
        if (wait !== undefined) {
          await res.body?.cancel();
          if (wait > config.maxWaitSeconds * 1000) {
            state.notBefore = ctx.now().getTime() + wait;
            state.next = url;
            await save();
            return { published, pages, stoppedEarly: `rate limited for ${Math.ceil(wait / 1000)} s` };
          }
          ctx.log.warn(
            { poller: `github-audit:${target}`, waitMs: wait, status: res.status },
            'Rate limited; waiting.',
          );
          await ctx.sleep(wait);
          continue; // the same page again
        }
        if (!res.ok) {
          const text = (await res.text()).slice(0, 300);
          throw new Error(`GET ${url.split('?')[0]} answered ${res.status}: ${text}`);
        }
        const entries: unknown = await res.json();
        if (!Array.isArray(entries)) throw new Error(`GET ${url.split('?')[0]} did not answer a JSON array`);
        pages++;

        const receivedAt = ctx.now();
        const seen = new Set(state.seen ?? []);
        const events = [];
        for (const entry of entries) {
          let e: ReturnType<typeof auditEventToPipewarden>;
          try {
            e = auditEventToPipewarden(entry, receivedAt, {
              source: 'github-audit',
              dataset: 'github.audit',
            });
          } catch (err) {
            if (!(err instanceof AdapterInputError)) throw err;
            ctx.log.warn(
              { poller: `github-audit:${target}`, reason: err.message },
              'Skipped an unreadable audit entry.',
            );
            continue;
          }
          const at = Date.parse(e['@timestamp']);
          if (at < state.since || (at === state.since && seen.has(e.event.id))) continue;
          events.push(e);
        }
        if (events.length) {
          // Publish before moving the cursor: a crash here republishes, and content ids make that harmless.
          await ctx.bus.publish(
            ctx.topic,
            events.map((e) => ({ key: partitionKey(e), value: JSON.stringify(e) })),
          );
          published += events.length;
          for (const e of events) {
            const at = Date.parse(e['@timestamp']);
            if (at > state.since) {
              state.since = at;
              seen.clear();
            }
            if (at === state.since) seen.add(e.event.id);
          }
          state.seen = [...seen];
        }
        const next = nextLink(res.headers.get('link'));
        if (next && new URL(next).origin !== origin)
          throw new Error('the Link header points away from the configured apiUrl');
        if (next) state.next = next;
        else delete state.next;
        await save();
        if (!next) return { published, pages };
        url = next;
        // Out of quota for this hour: wait for the reset, or leave the rest to a later run.
        if (res.headers.get('x-ratelimit-remaining') === '0') {
          const reset = Number(res.headers.get('x-ratelimit-reset')) * 1000;
          const ms = Math.max(0, reset - ctx.now().getTime());
          if (ms > config.maxWaitSeconds * 1000) {
            state.notBefore = reset;
            await save();
            return { published, pages, stoppedEarly: 'rate limit exhausted' };
          }
          await ctx.sleep(ms);
        }
      }
      return { published, pages, stoppedEarly: `page cap (${config.maxPagesPerRun}) reached` };
    },
  };
}
