// telemetry-loss, part one: a configured source silent for longer than its expected interval. Runs under
// the detect role: its own consumer group on the events topic notes when each source (`pipewarden.source`)
// last delivered, a node-cron check compares that with each source's expected interval, and hits go to
// the hits topic like the engine's. The last-seen times are kept in the store (putState/getState) so a
// restart neither forgets a source nor reports the same silence twice.
import cron, { type ScheduledTask } from 'node-cron';
import { type TelemetryLossConfig, telemetryLoss } from '../../detectors/telemetry-loss/index.ts';
import type { Hit } from '../alerting/types.ts';
import type { Bus, Subscription } from '../bus/types.ts';
import type { Config } from '../config/schema.ts';
import { eventId, type PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { MINUTE } from './config.ts';

export const SILENCE_STATE_KEY = 'detect:telemetry-loss:silence';

export interface SilenceState {
  /** When watching began (ms): a source never heard from is silent since then. */
  since: number;
  /** Source → the newest time (ms) pipewarden received one of its events. */
  lastSeen: Record<string, number>;
  /** Source → the lastSeen (or `since`) value whose silence was already reported: one hit per silence. */
  alerted: Record<string, number>;
}

export interface Silent {
  source: string;
  lastSeen: number | null;
  silentMs: number;
  maxMs: number;
}

/** Source → longest expected silence (ms): the listed sources, plus every enabled one when a default is set. */
export function expectations(config: TelemetryLossConfig, enabledSources: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  const d = config.silence.defaultMaxMinutes;
  if (d !== null) for (const s of enabledSources) out[s] = d * MINUTE;
  for (const [s, m] of Object.entries(config.silence.sources)) out[s] = m * MINUTE;
  return out;
}

/** Pure: the watched sources silent at `nowMs` whose silence has not been reported yet. */
export function findSilent(state: SilenceState, expected: Record<string, number>, nowMs: number): Silent[] {
  const out: Silent[] = [];
  for (const [source, maxMs] of Object.entries(expected)) {
    const last = state.lastSeen[source];
    const from = last ?? state.since;
    const silentMs = nowMs - from;
    if (silentMs <= maxMs || state.alerted[source] === from) continue;
    out.push({ source, lastSeen: last ?? null, silentMs, maxMs });
  }
  return out;
}

/** The arrival time of an event: when pipewarden received it (a late-stamped source still proves its feed works). */
function arrival(e: PipewardenEvent): number {
  const t = Date.parse(e.event?.ingested ?? e['@timestamp']);
  return Number.isNaN(t) ? Number.NaN : t;
}

function duration(ms: number): string {
  const m = Math.round(ms / MINUTE);
  return m < 120
    ? `${m} min`
    : m < 48 * 60
      ? `${Math.round((m / 60) * 10) / 10} h`
      : `${Math.round((m / 1440) * 10) / 10} days`;
}

export function silenceHit(s: Silent, state: SilenceState, now: Date): Hit {
  const d = telemetryLoss;
  const from = s.lastSeen ?? state.since;
  const last =
    s.lastSeen === null
      ? `nothing received since watching began at ${new Date(state.since).toISOString()}`
      : `last event at ${new Date(s.lastSeen).toISOString()}`;
  const hit: Hit = {
    id: eventId('hit', d.id, 'silence', s.source, from),
    '@timestamp': now.toISOString(),
    detected_at: now.toISOString(),
    detector: d.id,
    title: d.title,
    severity: d.severity,
    summary: `No events from source ${s.source} for ${duration(s.silentMs)} (expected at least every ${duration(s.maxMs)}); ${last}`,
    description: d.description,
    runbook: d.runbook,
    key: s.source,
    event_ids: [],
    source: s.source,
    context: {
      rule: 'silence',
      last_seen: s.lastSeen === null ? null : new Date(s.lastSeen).toISOString(),
      silent_minutes: Math.round(s.silentMs / MINUTE),
      max_minutes: Math.round(s.maxMs / MINUTE),
    },
  };
  if (d.reference) hit.reference = d.reference;
  return hit;
}

export interface SilenceWatchOptions {
  store: Store;
  /** Where hits go: the same topic and message shape the engine's hits use. */
  publishHits(hits: Hit[]): Promise<void>;
  config: TelemetryLossConfig;
  enabledSources: string[];
  now: () => Date;
  log?: Logger;
}

export class SilenceWatch {
  readonly #o: SilenceWatchOptions;
  readonly #expected: Record<string, number>;
  readonly #seen = new Map<string, number>(); // since the last check; merged into the stored state
  #checking: Promise<Hit[]> | undefined;

  constructor(options: SilenceWatchOptions) {
    this.#o = options;
    this.#expected = expectations(options.config, options.enabledSources);
  }

  get watched(): string[] {
    return Object.keys(this.#expected);
  }

  /** Notes the newest arrival per source. Our own synthetic events (dataset pipewarden.*) prove nothing. */
  observe(events: PipewardenEvent[]): void {
    for (const e of events) {
      const source = e.pipewarden?.source;
      if (!source || e.event?.dataset?.startsWith('pipewarden.')) continue;
      const t = arrival(e);
      if (!(t > (this.#seen.get(source) ?? Number.NEGATIVE_INFINITY))) continue;
      this.#seen.set(source, t);
    }
  }

  /**
   * Merges what was seen into the stored state (newest wins, so detect instances that each see some
   * partitions add up), publishes a hit per newly silent source, then records them as reported.
   * A failed publish leaves them unreported: the next check tries again.
   */
  async check(): Promise<Hit[]> {
    return this.#serial(true);
  }

  /** Merges and stores what was seen without judging silence (at start and stop). */
  async save(): Promise<void> {
    await this.#serial(false);
  }

  async #serial(evaluate: boolean): Promise<Hit[]> {
    while (this.#checking) await this.#checking.catch(() => undefined);
    this.#checking = this.#check(evaluate).finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(evaluate: boolean): Promise<Hit[]> {
    const now = this.#o.now();
    const state = await this.#load(now.getTime());
    for (const [source, t] of this.#seen) {
      if (t > (state.lastSeen[source] ?? Number.NEGATIVE_INFINITY)) state.lastSeen[source] = t;
    }
    this.#seen.clear();
    const silent = evaluate ? findSilent(state, this.#expected, now.getTime()) : [];
    const hits = silent.map((s) => silenceHit(s, state, now));
    if (hits.length) await this.#o.publishHits(hits);
    for (const s of silent) state.alerted[s.source] = s.lastSeen ?? state.since;
    await this.#o.store.putState(SILENCE_STATE_KEY, JSON.stringify(state));
    if (hits.length) this.#o.log?.warn({ sources: silent.map((s) => s.source) }, 'Sources went silent.');
    return hits;
  }

  async #load(nowMs: number): Promise<SilenceState> {
    const text = await this.#o.store.getState(SILENCE_STATE_KEY);
    if (text) {
      try {
        const s = JSON.parse(text) as Partial<SilenceState>;
        if (typeof s.since === 'number')
          return { since: s.since, lastSeen: s.lastSeen ?? {}, alerted: s.alerted ?? {} };
      } catch {
        this.#o.log?.warn({ key: SILENCE_STATE_KEY }, 'Silence state is not JSON; starting afresh.');
      }
    }
    return { since: nowMs, lastSeen: {}, alerted: {} };
  }
}

/**
 * Starts the watch for the detect role when telemetry-loss is enabled and some source is watched:
 * a consumer group of its own on the events topic, and the node-cron check. Undefined otherwise.
 */
export async function startSilenceWatch(o: {
  config: Config;
  bus: Bus;
  store: Store;
  now: () => Date;
  log: Logger;
}): Promise<(Subscription & { watch: SilenceWatch }) | undefined> {
  const detectorConfig = (o.config.detectors as Record<string, unknown>)[telemetryLoss.id] as
    | TelemetryLossConfig
    | undefined;
  if (!detectorConfig?.enabled) return undefined;
  const enabledSources = Object.entries(o.config.sources as Record<string, { enabled?: boolean }>)
    .filter(([, v]) => v?.enabled)
    .map(([k]) => k);
  const topic = o.config.topics.hits;
  const watch = new SilenceWatch({
    store: o.store,
    config: detectorConfig,
    enabledSources,
    now: o.now,
    log: o.log,
    publishHits: (hits) =>
      o.bus.publish(
        topic,
        hits.map((h) => ({ key: h.key, value: JSON.stringify(h) })),
      ),
  });
  if (watch.watched.length === 0) return undefined;
  const sub = await o.bus.subscribe({
    topic: o.config.topics.events,
    group: 'pipewarden-silence',
    fromBeginning: false, // history is in the stored state; a new group need not re-read the retained log
    maxBatch: 1000,
    handler: async (batch) => {
      const events: PipewardenEvent[] = [];
      for (const m of batch) {
        try {
          events.push(JSON.parse(m.value) as PipewardenEvent);
        } catch {
          // Not JSON: the detect and index consumers log it; it proves nothing about a source.
        }
      }
      watch.observe(events);
    },
  });
  // Records `since` on the first start, so a source that never sends is noticed; judging waits for the
  // schedule, so a restart after downtime gives the senders' retries a chance to arrive first.
  await watch.save();
  const task: ScheduledTask = cron.schedule(
    detectorConfig.silence.schedule,
    () =>
      void watch
        .check()
        .catch((err: unknown) => o.log.error({ err }, 'Silence check failed; retrying at the next run.')),
    { name: 'telemetry-loss:silence', noOverlap: true },
  );
  o.log.info(
    { sources: watch.watched, schedule: detectorConfig.silence.schedule },
    'Watching sources for silence.',
  );
  return {
    watch,
    stop: async () => {
      await task.stop();
      await sub.stop();
      await watch.save().catch(() => undefined); // keep what this instance saw
    },
  };
}
