// The clock of the detect role: runs the engine's time-driven rules (absence, scheduled) when their
// schedules come due. The events they need reach the engine through the detect role's own consumers
// (the same lanes and snapshots as every rule); this only ticks: load the keys the rules expect, tick,
// publish the hits to the hits topic, then save the changed key states (a failed publish puts them back,
// so the next check raises the hits again). Design: README.md, "Time-driven rules".
import type { Hit } from '../alerting/types.ts';
import type { Bus, Subscription } from '../bus/types.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { DetectionEngine, Lane } from './engine.ts';
import { createStateStore, type DetectStateStore } from './state-store.ts';
import type { RuleEnv } from './types.ts';

/** Longest sleep between checks of the clock (a wall clock that jumps is noticed within this). */
const MAX_SLEEP_MS = 60_000;

export interface TimeDrivenOptions {
  engine: DetectionEngine;
  /** The lanes this process's detect consumers run (time-driven rules are ticked in the same ones). */
  lanes: Lane[];
  state: DetectStateStore;
  env: RuleEnv;
  publishHits(hits: Hit[]): Promise<void>;
  now: () => Date;
  log?: Logger;
}

export class TimeDrivenRules {
  readonly #o: TimeDrivenOptions;
  readonly #lanes: Lane[];
  #running: Promise<Hit[]> | undefined;

  constructor(options: TimeDrivenOptions) {
    this.#o = options;
    this.#lanes = options.lanes.filter((l) => options.engine.hasTimeRules(l));
  }

  get lanes(): Lane[] {
    return this.#lanes;
  }

  /** Ticks every lane at `now()`: the first call starts the watch; later ones run what came due. */
  async check(): Promise<Hit[]> {
    while (this.#running) await this.#running.catch(() => undefined);
    this.#running = this.#check().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Saves the time-driven key states changed since the last check (at stop). */
  async save(): Promise<void> {
    while (this.#running) await this.#running.catch(() => undefined);
    for (const lane of this.#lanes)
      await this.#o.state.save(this.#o.engine.drainChanges(lane, { timeOnly: true }));
  }

  /** When the next check is due (ms), by the injected clock. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const lane of this.#lanes) {
      const n = this.#o.engine.nextTick(lane);
      if (n !== undefined && (next === undefined || n < next)) next = n;
    }
    return next;
  }

  async #check(): Promise<Hit[]> {
    const { engine, state, env } = this.#o;
    const all: Hit[] = [];
    for (const lane of this.#lanes) {
      const ids = engine.timeStateIds({ lane, env });
      if (ids.length) engine.restore(await state.load(ids, Number.NEGATIVE_INFINITY), { borrowed: true });
      for (const { detector, rule } of engine.listedRules(lane))
        engine.restore(await state.entriesOf(detector, rule), { borrowed: true });
      const { hits, undo } = engine.tick(this.#o.now(), { lane, env });
      try {
        if (hits.length) await this.#o.publishHits(hits);
        await state.save(engine.drainChanges(lane, { timeOnly: true }));
      } catch (err) {
        undo(); // the next check raises them again (same hit ids: the alerter drops repeats)
        throw err;
      }
      if (hits.length)
        this.#o.log?.warn(
          { lane, hits: hits.map((h) => `${h.detector}/${h.context.rule}: ${h.key}`) },
          'Time-driven rules fired.',
        );
      all.push(...hits);
    }
    return all;
  }
}

/**
 * Starts the clock for the detect role when an enabled detector declares a time-driven rule: a first
 * check at once (it starts the watch and records when it began; judging waits for the schedule, so a
 * restart after downtime gives the senders' retries a chance to arrive first), then a timer to each
 * next due time. Undefined when there is nothing to run.
 */
export async function startTimeDrivenRules(o: {
  config: Config;
  engine: DetectionEngine;
  bus: Bus;
  now: () => Date;
  log: Logger;
}): Promise<(Subscription & { clock: TimeDrivenRules }) | undefined> {
  const { config, engine } = o;
  // The lanes of the detect role (src/detect/README.md, "Keying").
  const lanes: Lane[] = config.mode === 'distributed' ? ['events', ...engine.rekeyedFields()] : ['all'];
  if (!lanes.some((l) => engine.hasTimeRules(l))) return undefined;
  const enabledSources = Object.entries(config.sources as Record<string, { enabled?: boolean }>)
    .filter(([, v]) => v?.enabled)
    .map(([k]) => k);
  const state = createStateStore(config);
  await state.init();
  const clock = new TimeDrivenRules({
    engine,
    lanes,
    state,
    env: { enabledSources },
    now: o.now,
    log: o.log,
    publishHits: (hits) =>
      o.bus.publish(
        config.topics.hits,
        hits.map((h) => ({ key: h.key, value: JSON.stringify(h) })),
      ),
  });
  await clock.check();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    const due = clock.nextDue();
    const wait = due === undefined ? MAX_SLEEP_MS : Math.max(0, due - o.now().getTime()) + 50;
    timer = setTimeout(run, Math.min(wait, MAX_SLEEP_MS));
    timer.unref();
  };
  const run = () => {
    const due = clock.nextDue();
    if (due !== undefined && due > o.now().getTime()) return arm();
    clock
      .check()
      .catch((err: unknown) => o.log.error({ err }, 'Time-driven check failed; retrying at the next run.'))
      .finally(arm);
  };
  arm();
  o.log.info({ lanes: clock.lanes }, 'Running time-driven detection rules.');
  return {
    clock,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await clock.save().catch(() => undefined); // keeps what this instance holds
      await state.close();
    },
  };
}
