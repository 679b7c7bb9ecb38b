// The registry of alert sinks: an explicit typed array. The `alerting` config keys, createSinks, the CLI,
// the API and the README's sink table derive from it; a test fails when a sink file is missing from it.
import type { z } from 'zod';
import type { Sink, SinkConfigBase, SinkDefinition } from '../types.ts';
import { email } from './email.ts';
import { slack } from './slack.ts';
import { webhook } from './webhook/index.ts';

export const sinks = [slack, email, webhook] as const satisfies readonly SinkDefinition[];

type Registered = (typeof sinks)[number];

/** Each sink's config schema under its id, for the root schema's `alerting` section. */
export type SinkConfigShape = { [D in Registered as D['id']]: z.ZodPrefault<D['configSchema']> };

export function sinkConfigShape(): SinkConfigShape {
  return Object.fromEntries(
    sinks.map((d) => [d.id, (d.configSchema as z.ZodType<SinkConfigBase>).prefault({})]),
  ) as SinkConfigShape;
}

/** The parsed `alerting` section, as far as sinks are concerned. */
type SinkConfigs = { [D in Registered as D['id']]: SinkConfigBase };

function configOf(alerting: SinkConfigs, id: Registered['id']): SinkConfigBase {
  return alerting[id];
}

/** A sink for every enabled entry, in registry order. */
export function createSinks(alerting: SinkConfigs): Sink[] {
  return sinks.flatMap((d) => {
    const config = configOf(alerting, d.id);
    return config.enabled ? [(d as SinkDefinition).create(config)] : [];
  });
}

/** The first consoleUrl a sink's config sets (linked from digests, whichever sink sends them). */
export function consoleUrlOf(alerting: SinkConfigs): string | undefined {
  return sinks.map((d) => configOf(alerting, d.id).consoleUrl).find((u) => u !== undefined);
}

/** `alerting.slack / alerting.email / ...`, for messages that tell where sinks are enabled. */
export function sinkConfigKeys(): string {
  return sinks.map((d) => `alerting.${d.id}`).join(' / ');
}
