// The registry of alert sinks: an explicit typed array. The `alerting` config keys, createSinks, the CLI,
// the API and the README's sink table derive from it; a test fails when a sink file is missing from it.
import { z } from 'zod';
import type { Hit, Sink, SinkConfigBase, SinkDefinition, SinkRef } from '../types.ts';
import { email } from './email.ts';
import { jira } from './jira/index.ts';
import { opsgenie } from './opsgenie/index.ts';
import { pagerduty } from './pagerduty/index.ts';
import { slack } from './slack.ts';
import { teams } from './teams/index.ts';
import { webhook } from './webhook/index.ts';

export const sinks = [
  slack,
  email,
  webhook,
  pagerduty,
  teams,
  opsgenie,
  jira,
] as const satisfies readonly SinkDefinition[];

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

/**
 * `alerting.receivers`: each a name and exactly one sink of the registry with its own settings
 * (`sec-oncall: { slack: { channel: '#sec-oncall' } }`). A receiver's sink is enabled by being named.
 */
export const receiversSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a receiver name: letters, digits, _ . - (at most 64)'),
    z
      .strictObject(
        Object.fromEntries(
          sinks.map((d) => [
            d.id,
            z
              .preprocess(
                (v) => (v && typeof v === 'object' && !Array.isArray(v) ? { enabled: true, ...v } : v),
                d.configSchema as z.ZodType<SinkConfigBase>,
              )
              .optional(),
          ]),
        ) as Record<string, z.ZodOptional<z.ZodType<SinkConfigBase>>>,
      )
      .superRefine((r, ctx) => {
        const named = Object.keys(r).filter((k) => r[k] !== undefined);
        if (named.length !== 1)
          ctx.addIssue({
            code: 'custom',
            message: `a receiver is exactly one sink (${sinks.map((d) => d.id).join(', ')}); found ${named.length ? named.join(', ') : 'none'}`,
          });
      }),
  )
  .default({});
export type ReceiversConfig = z.output<typeof receiversSchema>;

/** The sink ids enabled directly under alerting.<sink>: the implicit receivers of the default route. */
export function implicitReceivers(alerting: SinkConfigs): string[] {
  return sinks.filter((d) => configOf(alerting, d.id).enabled).map((d) => d.id);
}

/** A sink under a receiver's name: deliveries (and the outbox) are recorded per receiver. */
function asReceiver(name: string, type: string, sink: Sink): Sink {
  return {
    name,
    type,
    minSeverity: sink.minSeverity,
    ...(sink.detectors ? { detectors: sink.detectors } : {}),
    render: (hit) => sink.render(hit),
    send: (payload) => sink.send(payload),
    ...(sink.close ? { close: () => sink.close!() } : {}),
    ...(sink.update
      ? { update: (ref: SinkRef, hit: Hit, o?: { quiet?: boolean }) => sink.update!(ref, hit, o) }
      : {}),
    ...(sink.follow ? { follow: (ref: SinkRef, hit: Hit) => sink.follow!(ref, hit) } : {}),
  };
}

/** A sink for every enabled entry, in registry order, then one per named receiver (alerting.receivers). */
export function createSinks(alerting: SinkConfigs & { receivers?: ReceiversConfig }): Sink[] {
  const direct = sinks.flatMap((d) => {
    const config = configOf(alerting, d.id);
    return config.enabled ? [asReceiver(d.id, d.id, (d as SinkDefinition).create(config))] : [];
  });
  const named = Object.entries(alerting.receivers ?? {}).flatMap(([name, r]) => {
    const def = sinks.find((d) => r[d.id] !== undefined);
    return def ? [asReceiver(name, def.id, (def as SinkDefinition).create(r[def.id]!))] : [];
  });
  return [...direct, ...named];
}

/** The first consoleUrl a sink's config sets (linked from digests, whichever sink sends them). */
export function consoleUrlOf(alerting: SinkConfigs): string | undefined {
  return sinks.map((d) => configOf(alerting, d.id).consoleUrl).find((u) => u !== undefined);
}

/** `alerting.slack / alerting.email / ...`, for messages that tell where sinks are enabled. */
export function sinkConfigKeys(): string {
  return sinks.map((d) => `alerting.${d.id}`).join(' / ');
}
