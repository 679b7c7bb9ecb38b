// Config helpers the detectors share: zod fields for durations and counts within the bounds the engine
// accepts (src/detect/README.md), and their conversion to the engine's milliseconds.
import { z } from 'zod';

/** One minute in milliseconds. */
export const MINUTE = 60_000;

/** A duration in minutes: positive, at most 7 days (the engine's longest window), `d` when not set. */
export const minutes = (d: number) =>
  z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .default(d);

/** A count (threshold, interval count): an integer 1..1000 (the engine's threshold bounds), `d` when not set. */
export const count = (d: number) => z.number().int().min(1).max(1000).default(d);

/** A rule config's `windowMinutes` / `dedupMinutes` as the engine's `windowMs` / `dedupMs`, rounded. */
export function windowAndDedup(c: { windowMinutes: number; dedupMinutes: number }): {
  windowMs: number;
  dedupMs: number;
} {
  return { windowMs: Math.round(c.windowMinutes * MINUTE), dedupMs: Math.round(c.dedupMinutes * MINUTE) };
}

/** A duration in milliseconds for a summary, in minutes to one decimal: "2.5 min". */
export function mins(ms: number): string {
  return `${Math.round((ms / MINUTE) * 10) / 10} min`;
}
