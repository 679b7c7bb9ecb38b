// Runs every enabled detector over each event: isolates failures, applies declared dedup, makes hits.
import type { Hit } from '../alerting/types.ts';
import { eventId, type PipewardenEvent } from '../event.ts';
import type { Logger } from '../log.ts';
import type { Detector, Match } from './types.ts';

export interface EnabledDetector {
  detector: Detector<any>;
  config: { enabled: boolean };
}

export interface EngineStats {
  events: number;
  hits: number;
  suppressed: number;
  errors: Record<string, number>; // by detector id
}

export function defaultKey(e: PipewardenEvent): string {
  return e.user?.name ?? e.source?.ip ?? e.pipewarden.repository ?? 'global';
}

export class DetectionEngine {
  readonly stats: EngineStats = { events: 0, hits: 0, suppressed: 0, errors: {} };
  readonly #detectors: EnabledDetector[];
  readonly #log: Logger | undefined;
  // Last time a (detector, key, summary) fired, for declared dedup periods. Bounded by pruning.
  readonly #lastFired = new Map<string, number>();

  constructor(detectors: EnabledDetector[], log?: Logger) {
    this.#detectors = detectors.filter((d) => d.config.enabled);
    this.#log = log;
  }

  get detectorIds(): string[] {
    return this.#detectors.map((d) => d.detector.id);
  }

  /** Hits for one event. `now` is the processing time, passed in so replays are deterministic. */
  evaluate(event: PipewardenEvent, now: Date): Hit[] {
    this.stats.events++;
    const hits: Hit[] = [];
    for (const { detector, config } of this.#detectors) {
      let matches: Match[];
      try {
        if (!detector.appliesTo(event, config)) continue;
        const m = detector.match(event, { config, now });
        matches = m === null ? [] : Array.isArray(m) ? m : [m];
      } catch (err) {
        this.stats.errors[detector.id] = (this.stats.errors[detector.id] ?? 0) + 1;
        this.#log?.error(
          { detector: detector.id, eventId: event.event.id, err },
          'Detector threw; skipped it for this event.',
        );
        continue;
      }
      const key = (detector.key ?? defaultKey)(event);
      for (const [i, m] of matches.entries()) {
        if (
          detector.dedupMs &&
          this.#suppressed(detector.id, key, m.summary, detector.dedupMs, now.getTime())
        ) {
          this.stats.suppressed++;
          continue;
        }
        hits.push(makeHit(detector, event, key, m, i, now));
      }
    }
    this.stats.hits += hits.length;
    return hits;
  }

  #suppressed(id: string, key: string, summary: string, periodMs: number, nowMs: number): boolean {
    const k = `${id}\u0000${key}\u0000${summary}`;
    const last = this.#lastFired.get(k);
    if (last !== undefined && nowMs - last < periodMs) return true;
    this.#lastFired.set(k, nowMs);
    if (this.#lastFired.size > 100_000) {
      for (const [kk, t] of this.#lastFired) if (nowMs - t > periodMs) this.#lastFired.delete(kk);
    }
    return false;
  }
}

export function makeHit(
  detector: Detector<any>,
  event: PipewardenEvent,
  key: string,
  m: Match,
  index: number,
  now: Date,
): Hit {
  const hit: Hit = {
    id: eventId('hit', detector.id, event.event.id, index),
    '@timestamp': event['@timestamp'],
    detected_at: now.toISOString(),
    detector: detector.id,
    title: detector.title,
    severity: m.severity ?? detector.severity,
    summary: m.summary,
    description: detector.description,
    runbook: detector.runbook,
    key,
    event_ids: [event.event.id],
    source: event.pipewarden.source,
    context: m.context ?? {},
  };
  if (detector.reference) hit.reference = detector.reference;
  if (event.user?.name) hit.actor = event.user.name;
  if (event.pipewarden.repository) hit.repository = event.pipewarden.repository;
  if (event.source?.ip) hit.source_ip = event.source.ip;
  return hit;
}
