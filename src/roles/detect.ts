// The detect role: one consumer group per lane runs the engine over the events, publishes hits to the
// hits topic and (distributed) re-keys events for rules keyed by another field. Key state is snapshotted
// before each commit (src/detect/README.md).
import { detectors } from '../../detectors/index.ts';
import type { Hit } from '../alerting/types.ts';
import type { ConsumedMessage, Subscription } from '../bus/types.ts';
import { DetectionEngine, type Lane, rekeyedTopic } from '../detect/engine.ts';
import { detectBatch } from '../detect/runner.ts';
import { createStateStore, type DetectStateStore } from '../detect/state-store.ts';
import { startTimeDrivenRules } from '../detect/time-driven.ts';
import { consumerGroup, type RoleDeps, type Stoppable } from './types.ts';

export interface DetectRole {
  engine: DetectionEngine;
  stoppables: Stoppable[];
}

interface LaneSpec {
  lane: Lane;
  topic: string;
  group: string;
  /** Distributed, events lane: re-publish what rules keyed by another field need. */
  rekeyFrom?: string;
}

export async function startDetect(deps: RoleDeps): Promise<DetectRole> {
  const { config, bus } = deps;
  const engine = createEngine(deps);
  const state = createStateStore(config);
  await state.init();
  const lanes = detectLanes(deps, engine);
  await bus.ensureTopics(lanes.map((l) => l.topic));
  const subs: Subscription[] = [];
  for (const spec of lanes) subs.push(await subscribeLane(deps, engine, state, spec));
  const stoppables: Stoppable[] = [
    {
      stop: async () => {
        await Promise.allSettled(subs.map((s) => s.stop()));
        await state.close();
      },
    },
  ];

  // Time-driven rules (absence, scheduled; e.g. telemetry-loss's silent sources) run in the detect
  // engine above; this is their clock (src/detect/time-driven.ts). Off unless a rule is declared.
  const clock = await startTimeDrivenRules({ config, engine, bus, now: deps.now, log: deps.log });
  if (clock) stoppables.push(clock);

  return { engine, stoppables };
}

function createEngine({ config, log }: RoleDeps): DetectionEngine {
  const configs = config.detectors as Record<string, { enabled: boolean }>;
  return new DetectionEngine(
    detectors.map((detector) => ({ detector, config: configs[detector.id] ?? { enabled: false } })),
    { log, trackChanges: true },
  );
}

/**
 * Embedded: one partition, one consumer sees everything. Distributed: rules keyed by something other
 * than the events topic's key run on a re-keyed topic each (`<events>.by-<field>`).
 */
function detectLanes({ config }: RoleDeps, engine: DetectionEngine): LaneSpec[] {
  const events = config.topics.events;
  if (config.mode !== 'distributed')
    return [{ lane: 'all', topic: events, group: consumerGroup(config, 'detect') }];
  return [
    { lane: 'events', topic: events, group: consumerGroup(config, 'detect'), rekeyFrom: events },
    ...engine.rekeyedFields().map((f) => ({
      lane: f,
      topic: rekeyedTopic(events, f),
      group: consumerGroup(config, `detect-${rekeyedTopic('', f).slice(1)}`),
    })),
  ];
}

function subscribeLane(
  deps: RoleDeps,
  engine: DetectionEngine,
  state: DetectStateStore,
  spec: LaneSpec,
): Promise<Subscription> {
  const { lane } = spec;
  return deps.bus.subscribe({
    topic: spec.topic,
    group: spec.group,
    // After a rebalance the keys of the new partitions may have moved on elsewhere: reload them.
    onAssignment: () => {
      const dropped = engine.forget(lane);
      if (dropped)
        deps.log.info({ lane, dropped }, 'Partitions reassigned; detector state reloads from snapshots.');
    },
    handler: (batch) => detectLaneBatch(deps, engine, state, spec, batch),
  });
}

/** One batch of a lane: evaluate, publish hits and re-keyed events, snapshot, count. */
async function detectLaneBatch(
  deps: RoleDeps,
  engine: DetectionEngine,
  state: DetectStateStore,
  { lane, rekeyFrom }: LaneSpec,
  batch: ConsumedMessage[],
): Promise<void> {
  const { bus, metrics, log, now } = deps;
  try {
    const step = { engine, lane, state, now, log, ...(rekeyFrom ? { rekeyFrom } : {}) };
    const { hits, rekeyed } = await detectBatch(step, batch);
    await Promise.all([
      publishHits(deps, hits),
      ...[...rekeyed].map(([topic, messages]) => bus.publish(topic, messages)),
    ]);
    await state.save(engine.drainChanges(lane));
    metrics.inc('pipewarden_detect_events_total', { lane }, batch.length);
    for (const h of hits)
      metrics.inc('pipewarden_hits_total', { detector: h.detector, severity: h.severity });
  } catch (err) {
    engine.discardChanges(lane); // redelivered from the last snapshot, not counted twice
    throw err;
  }
}

async function publishHits({ bus, config }: RoleDeps, hits: Hit[]): Promise<void> {
  if (!hits.length) return;
  await bus.publish(
    config.topics.hits,
    hits.map((h) => ({ key: h.key, value: JSON.stringify(h) })),
  );
}
