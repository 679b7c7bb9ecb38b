// A poller pulls an API that has no push, on a node-cron schedule, and publishes what it finds.
import type { Bus } from '../../bus/types.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/types.ts';

export interface PollerContext {
  bus: Bus;
  /** The events topic. */
  topic: string;
  /** Where the poller keeps its cursor (store.putState/getState), so a restart resumes. */
  store: Store;
  log: Logger;
  now: () => Date;
  /** Waits, unless the runner is stopping (then resolves early and `stopping` is true). */
  sleep: (ms: number) => Promise<void>;
  readonly stopping: boolean;
}

export interface PollResult {
  published: number;
  pages: number;
  /** Why the run ended before the source ran dry (rate limit, page cap, stop). */
  stoppedEarly?: string;
}

export interface Poller {
  id: string; // "<adapter id>" or "<adapter id>:<target>", also the state key prefix
  schedule: string; // node-cron expression
  runOnce(ctx: PollerContext): Promise<PollResult>;
}
