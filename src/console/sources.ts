// The sources page: each push source enabled or not and why, its last event, events and rejected
// requests (failed signatures, counted by the ingest plugin's ingest.auth_failed aggregates) in the last hour.
import { adapters } from '../../ingest-adapters/index.ts';
import type { Config } from '../config/schema.ts';
import { parseQuery, type QueryNode } from '../search/query.ts';
import type { Store } from '../store/types.ts';

export interface SourceState {
  id: string;
  title: string;
  enabled: boolean;
  reason: string;
}

/** Enabled or not, and why not: the setting, or the secret variable that is not set. */
export function sourceStates(config: Config): SourceState[] {
  return adapters.map((a) => {
    const c = (config.sources as Record<string, { enabled?: boolean; secret?: unknown } | undefined>)[a.id];
    if (c?.enabled) return { id: a.id, title: a.title, enabled: true, reason: 'enabled' };
    if (c?.secret)
      return { id: a.id, title: a.title, enabled: false, reason: `sources.${a.id}.enabled is false` };
    // What enabling it would need: the schema names the secret variable it reads.
    const probe = a.configSchema.safeParse({ enabled: true });
    const env = probe.success ? undefined : /export (\S+)/.exec(probe.error.issues[0]?.message ?? '')?.[1];
    return {
      id: a.id,
      title: a.title,
      enabled: false,
      reason: env ? `secret variable ${env} not set` : `not enabled (sources.${a.id})`,
    };
  });
}

export async function sourceActivity(store: Store, states: SourceState[], nowMs: number) {
  const hourAgo = nowMs - 3_600_000;
  return Promise.all(
    states.map(async (s) => {
      const mine: QueryNode = { type: 'field', field: 'source', value: s.id, wildcard: false };
      const recent: QueryNode = { type: 'time', gte: hourAgo };
      const rejectedQuery: QueryNode = {
        type: 'and',
        nodes: [mine, recent, parseQuery('action:ingest.auth_failed')],
      };
      const [last, hour, rejected] = await Promise.all([
        store.queryEvents(mine, { size: 1 }),
        store.queryEvents({ type: 'and', nodes: [mine, recent] }, { size: 1 }),
        store.queryEvents(rejectedQuery, { size: 500 }),
      ]);
      return {
        ...s,
        lastEvent: last.items[0]?.['@timestamp'],
        eventsLastHour: hour.total - rejected.total,
        rejectedLastHour: rejected.items.reduce((n, e) => n + (e.pipewarden.count ?? 1), 0),
      };
    }),
  );
}
