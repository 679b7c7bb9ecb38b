// The one builder of a normalised event's fixed frame, so that adapters state only what they read.
import type { Outcome, PipewardenEvent } from '../event.ts';

export interface EventFrame {
  /** When it happened at the source (ISO 8601); the receive time when the source gives none. */
  at: string;
  message?: string;
  /** Content-derived (eventId(...)): the same delivery always yields the same id. */
  id: string;
  category: string[];
  type: string[];
  action: string;
  outcome: Outcome;
  dataset: string;
  provider: string;
  receivedAt: Date;
  pipewarden: PipewardenEvent['pipewarden'];
}

/** A normalised event with ECS's `event.*` block filled in (`kind: 'event'`, `ingested` from receivedAt). */
export function makeEvent(f: EventFrame): PipewardenEvent {
  return {
    '@timestamp': f.at,
    ...(f.message !== undefined ? { message: f.message } : {}),
    event: {
      id: f.id,
      kind: 'event',
      category: f.category,
      type: f.type,
      action: f.action,
      outcome: f.outcome,
      dataset: f.dataset,
      provider: f.provider,
      ingested: f.receivedAt.toISOString(),
    },
    pipewarden: f.pipewarden,
  };
}
