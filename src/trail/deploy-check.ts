// The cross-source half of deploy-without-trace: a deploy whose commit has no passing build and no
// artefact published by CI, in any source. The state it needs across sources is the store itself (every
// source's events, with the correlation fields the adapters fill), so it runs under the index role on a
// schedule: each run judges the deploys that became `graceMinutes` old since the last run (a build event
// that arrives a little after the deploy still counts) through their trace, and publishes a hit per
// finding on the hits topic, like a detector's. The hit id derives from the deploy: rerunning is harmless.
import cron, { type ScheduledTask } from 'node-cron';
import {
  crossSourceFinding,
  deployWithoutTrace,
  isDeploy,
} from '../../detectors/deploy-without-trace/index.ts';
import type { Hit } from '../alerting/types.ts';
import type { Bus } from '../bus/types.ts';
import type { Config } from '../config/schema.ts';
import { eventId, type PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { traceChange } from './trace.ts';

export const DEPLOY_CHECK_STATE_KEY = 'trail:deploy-check';
/** The first run looks this far back (then each run starts where the last ended). */
const FIRST_LOOKBACK_MS = 86_400_000;

export interface DeployCheck {
  /** One run at `now` (the cron job's, and tests'): the hits published. */
  runNow(now: Date): Promise<Hit[]>;
  stop(): Promise<void>;
}

function hitFor(deploy: PipewardenEvent, summary: string, context: Hit['context'], now: Date): Hit {
  const d = deployWithoutTrace;
  const p = deploy.pipewarden;
  return {
    id: eventId('hit', d.id, 'no-build', deploy.event.id),
    '@timestamp': deploy['@timestamp'],
    detected_at: now.toISOString(),
    detector: d.id,
    title: d.title,
    severity: d.severity,
    summary,
    description: d.description,
    runbook: d.runbook,
    ...(d.reference ? { reference: d.reference } : {}),
    key: p.deployment_id ?? p.commit ?? p.repository ?? deploy.event.id,
    event_ids: [deploy.event.id],
    source: p.source,
    ...(deploy.user?.name ? { actor: deploy.user.name } : {}),
    ...(p.repository ? { repository: p.repository } : {}),
    ...(p.environment ? { environment: p.environment } : {}),
    context,
  };
}

/** The findings among deploys stamped in (from, to]: pure but for the store reads. */
export async function judgeDeploys(store: Store, from: string, to: string, now: Date): Promise<Hit[]> {
  const hits: Hit[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.searchEvents({
      kind: 'deploy',
      from,
      to,
      size: 200,
      ...(cursor ? { cursor } : {}),
    });
    for (const e of page.items) {
      if (!isDeploy(e)) continue;
      const p = e.pipewarden;
      const query = p.commit ? { commit: p.commit } : p.build_id ? { build: p.build_id } : undefined;
      if (!query) continue;
      const m = crossSourceFinding(e, await traceChange(store, query));
      if (m) hits.push(hitFor(e, m.summary, m.context ?? {}, now));
    }
    cursor = page.next;
  } while (cursor);
  return hits;
}

export function startDeployCheck(o: {
  config: Config;
  store: Store;
  bus: Bus;
  log: Logger;
}): DeployCheck | undefined {
  const { config, store, bus, log } = o;
  const c = config.detectors[deployWithoutTrace.id] as
    | { enabled: boolean; crossSource: { enabled: boolean; graceMinutes: number } }
    | undefined;
  if (!c?.enabled || !c.crossSource.enabled) return undefined;
  const graceMs = c.crossSource.graceMinutes * 60_000;
  let running: Promise<Hit[]> | undefined;
  const runNow = (now: Date) => {
    running ??= (async () => {
      try {
        const to = new Date(now.getTime() - graceMs).toISOString();
        const from =
          (await store.getState(DEPLOY_CHECK_STATE_KEY)) ??
          new Date(now.getTime() - graceMs - FIRST_LOOKBACK_MS).toISOString();
        if (to <= from) return [];
        await store.refresh();
        const hits = await judgeDeploys(store, from, to, now);
        if (hits.length)
          await bus.publish(
            config.topics.hits,
            hits.map((h) => ({ key: h.key, value: JSON.stringify(h) })),
          );
        await store.putState(DEPLOY_CHECK_STATE_KEY, to);
        if (hits.length)
          log.warn(
            { detector: deployWithoutTrace.id, hits: hits.length },
            'Deploys with no passing build found.',
          );
        return hits;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const task: ScheduledTask = cron.schedule('* * * * *', () => {
    runNow(new Date()).catch((err) =>
      log.warn({ err }, 'The deploy trace check could not run; it retries next minute.'),
    );
  });
  return {
    runNow,
    stop: async () => {
      await task.stop();
      await running?.catch(() => {});
    },
  };
}
