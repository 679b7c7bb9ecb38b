// `pipewarden alert routes --test HIT.json`: which receivers the routing tree gives a hit (nothing sent).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Config } from '../config/schema.ts';
import { Router } from './routing.ts';
import { implicitReceivers, sinks } from './sinks/index.ts';
import { type Hit, SEVERITIES } from './types.ts';

const text = z.string().max(1000);
/** What a route can look at; the rest of a stored hit is allowed and ignored. */
const testHitSchema = z.looseObject({
  detector: text.min(1),
  severity: z.enum(SEVERITIES),
  source: text.default('unknown'),
  key: text.default(''),
  repository: text.optional(),
  actor: text.optional(),
  source_ip: text.optional(),
  context: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
});

/** Each receiver with its sink type, then the routes; or what is wrong with the file. */
export function describeRouting(config: Config, file: string): { text: string } | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { error: `cannot read ${file} as JSON: ${(err as Error).message}` };
  }
  const parsed = testHitSchema.safeParse(raw);
  if (!parsed.success)
    return {
      error: `${file} is not a hit: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    };
  const hit = parsed.data as unknown as Hit;
  const implicit = implicitReceivers(config.alerting);
  const routing = new Router(config.alerting.route, implicit).route(hit);
  const typeOf = (name: string) =>
    implicit.includes(name)
      ? name
      : (sinks.find((d) => config.alerting.receivers[name]?.[d.id] !== undefined)?.id ?? '?');
  const lines = routing.receivers.length
    ? routing.receivers.map((r) => `${r} (${typeOf(r)})`)
    : ['(no receiver: the hit would be stored as undelivered)'];
  return { text: `${lines.join('\n')}\nvia ${routing.routes.join(', ')}\n` };
}
