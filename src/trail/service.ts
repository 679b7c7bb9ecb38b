// Starts the trail under the index role: the chaining indexer, the checkpoint timer and the scheduled
// verification (node-cron), which raises a critical "audit trail tampered" hit on the hits topic, the way
// detectors' hits travel, so it is routed, throttled and delivered like any other alert.
import cron, { type ScheduledTask } from 'node-cron';
import type { Hit } from '../alerting/types.ts';
import type { Bus, Subscription } from '../bus/types.ts';
import type { Config } from '../config/schema.ts';
import { eventId } from '../event.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { anchors as anchorUnits } from './anchors/index.ts';
import type { Anchor } from './anchors/types.ts';
import { type DeployCheck, startDeployCheck } from './deploy-check.ts';
import { TrailIndexer } from './indexer.ts';
import { loadSigningKey } from './key.ts';
import { type VerifyReport, verifyTrail } from './verify.ts';

export const TRAIL_DETECTOR = 'audit-trail-tampered';
export const VERIFIED_STATE_KEY = 'trail:verified';

export interface VerifiedState {
  at: string;
  ok: boolean;
  findings: number;
  /** Partition → newest checkpoint verified clean (what the console's sources page shows). */
  lastVerified: Record<number, number>;
  /** Partition → newest checkpoint seen: a later check that finds fewer reports them missing. */
  seen: Record<number, number>;
}

export interface TrailService extends Subscription {
  indexer: TrailIndexer;
  /** Runs the scheduled check once (tests, and the cron job). */
  verifyNow(): Promise<VerifyReport | undefined>;
  /** deploy-without-trace across sources (deploy-check.ts), when enabled: one run at `now`. */
  deployCheck?: DeployCheck;
}

export function trailEnabled(config: Config): boolean {
  return config.trail.enabled ?? config.mode === 'embedded';
}

export function retentionMs(config: Config): number | undefined {
  const days =
    config.mode === 'embedded' ? config.embedded.storeRetentionDays : config.elasticsearch?.retentionDays;
  return days === undefined ? undefined : days * 86_400_000;
}

export function createAnchors(config: Config, log: Logger): Anchor[] {
  const blocks = config.trail.anchors as Record<string, { enabled: boolean }>;
  return anchorUnits
    .filter((u) => blocks[u.id]?.enabled)
    .map((u) => (u.create as (c: unknown, l: Logger) => Anchor)(blocks[u.id], log));
}

export function tamperedHit(report: VerifyReport, now: Date): Hit {
  const kinds = [...new Set(report.findings.map((f) => f.kind))];
  const first = report.findings[0];
  const total = report.findings.length + report.moreFindings;
  return {
    // The same findings give the same id: a check that finds nothing new raises nothing new.
    id: eventId(
      'hit',
      TRAIL_DETECTOR,
      ...report.findings.map((f) => `${f.kind}:${f.partition}:${f.eventId ?? f.checkpoint ?? f.seq}`),
    ),
    '@timestamp': now.toISOString(),
    detected_at: now.toISOString(),
    detector: TRAIL_DETECTOR,
    title: 'audit trail tampered',
    severity: 'critical',
    summary:
      `Trail verification failed: ${total} finding(s) (${kinds.join(', ')}); first: ${first?.detail ?? 'n/a'}`.slice(
        0,
        500,
      ),
    description:
      'The scheduled verification of the hash-chained audit trail found events or checkpoints that were changed, deleted, inserted or reordered after the index role stored them.',
    runbook: 'README.md#trail-integrity',
    key: 'trail',
    event_ids: report.findings.flatMap((f) => (f.eventId ? [f.eventId] : [])).slice(0, 50),
    source: 'pipewarden',
    context: {
      findings: total,
      kinds: kinds.join(','),
      partitions: [...new Set(report.findings.map((f) => f.partition))].join(','),
    },
  };
}

export async function startTrail(o: {
  config: Config;
  store: Store;
  bus: Bus;
  log: Logger;
  now: () => Date;
}): Promise<TrailService> {
  const { config, store, bus, log, now } = o;
  const enabled = trailEnabled(config);
  const key = enabled ? loadSigningKey(config, log) : undefined;
  const indexer = new TrailIndexer({
    store,
    log,
    now,
    ...(key ? { key } : {}),
    checkpoint: config.trail.checkpoint,
    anchors: enabled ? createAnchors(config, log) : [],
    contiguousOffsets: bus.kind === 'kafka',
  });
  const deployCheck = startDeployCheck({ config, store, bus, log });
  if (!key)
    return {
      indexer,
      verifyNow: async () => undefined,
      ...(deployCheck ? { deployCheck } : {}),
      stop: async () => {
        await deployCheck?.stop();
        await indexer.close();
      },
    };

  const every = Math.min(config.trail.checkpoint.everySeconds, 60) * 1000;
  const timer = setInterval(() => {
    indexer.checkpointDue().catch((err) => log.warn({ err }, 'Trail checkpoint failed; will retry.'));
  }, every);
  timer.unref();

  let running: Promise<VerifyReport | undefined> | undefined;
  const verifyNow = () => {
    running ??= (async () => {
      try {
        const prior = await store.getState(VERIFIED_STATE_KEY);
        const seen = prior ? (JSON.parse(prior) as VerifiedState).seen : undefined;
        const ms = retentionMs(config);
        const report = await verifyTrail({
          store,
          key,
          recent: config.trail.verify.checkpoints,
          ...(seen ? { seen } : {}),
          ...(ms !== undefined ? { retentionMs: ms } : {}),
          now: now(),
        });
        const newest: Record<number, number> = { ...seen };
        for (const c of await store.trailCheckpoints())
          newest[c.partition] = Math.max(newest[c.partition] ?? 0, c.n);
        const state: VerifiedState = {
          at: now().toISOString(),
          ok: report.ok,
          findings: report.findings.length + report.moreFindings,
          lastVerified: report.lastVerified,
          seen: newest,
        };
        await store.putState(VERIFIED_STATE_KEY, JSON.stringify(state));
        if (!report.ok) {
          const hit = tamperedHit(report, now());
          log.error(
            { findings: state.findings, kinds: hit.context.kinds },
            'Audit trail verification failed.',
          );
          await bus.publish(config.topics.hits, [{ key: hit.key, value: JSON.stringify(hit) }]);
        } else log.info({ lastVerified: report.lastVerified }, 'Audit trail verified.');
        return report;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  let task: ScheduledTask | undefined;
  if (config.trail.verify.enabled) {
    task = cron.schedule(config.trail.verify.schedule, () => {
      verifyNow().catch((err) => log.warn({ err }, 'Scheduled trail verification could not run.'));
    });
  }
  return {
    indexer,
    verifyNow,
    ...(deployCheck ? { deployCheck } : {}),
    stop: async () => {
      await deployCheck?.stop();
      clearInterval(timer);
      await task?.stop();
      await running?.catch(() => {});
      await indexer.close();
    },
  };
}
