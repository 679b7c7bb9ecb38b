// What every role is given, and what it hands back to be stopped.
import type { Bus } from '../bus/types.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { Counters } from '../metrics.ts';
import type { Store } from '../store/types.ts';

export interface RoleDeps {
  config: Config;
  bus: Bus;
  store: Store;
  metrics: Counters;
  log: Logger;
  now: () => Date;
}

/** A role's consumer group: `<kafka.groupPrefix>-<name>` (embedded: `pipewarden-<name>`). */
export function consumerGroup(config: Config, name: string): string {
  return `${config.kafka?.groupPrefix ?? 'pipewarden'}-${name}`;
}

/** Something a role started: stopped after the HTTP server closes, before the bus and the store. */
export interface Stoppable {
  stop(): Promise<void>;
}
