// The shape of a detector (see STYLE.md): metadata, a zod config with defaults, and pure functions.
// Windows, thresholds and dedup are declared here and run by the engine, never by the detector itself.
import type { z } from 'zod';
import type { Severity } from '../alerting/types.ts';
import type { PipewardenEvent } from '../event.ts';

export interface DetectorContext<C> {
  config: C;
  now: Date;
}

/** One finding. Context values must already be redacted: they travel to Slack, email and the index. */
export interface Match {
  summary: string;
  severity?: Severity; // overrides the detector's default for this match
  context?: Record<string, string | number | boolean | null>;
}

export interface Detector<C extends { enabled: boolean } = { enabled: boolean }> {
  id: string; // kebab-case, equal to the folder name
  title: string;
  severity: Severity;
  description: string;
  runbook: string; // repo path of the README section the person on call reads
  reference?: string;
  configSchema: z.ZodType<C, any>;
  appliesTo(event: PipewardenEvent, config: C): boolean;
  /** What the engine groups on for state and dedup (default: actor, else source IP, else repository). */
  key?(event: PipewardenEvent): string;
  /** Pure: no clock, no environment, no globals. */
  match(event: PipewardenEvent, ctx: DetectorContext<C>): Match | Match[] | null;
  /** Suppress repeated hits for the same key and summary within this many ms (run by the engine). */
  dedupMs?: number;
}

/** A positive or negative example beside each detector, run by one generic test. */
export interface DetectorCase {
  name: string;
  event: PipewardenEvent;
  config?: Record<string, unknown>; // raw config, parsed by the detector's schema
  now?: string;
  /** Number of matches expected; 0 for a negative case. */
  expect: number;
  /** Substring the first match's summary must contain, when given. */
  summaryIncludes?: string;
}
