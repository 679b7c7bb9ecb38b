// Runs each poller on its cron schedule: never two runs of one poller at once, a failing run is
// logged and retried at the next tick, stop() waits for the run in flight.
import cron, { type ScheduledTask } from 'node-cron';
import type { Bus } from '../../bus/types.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/types.ts';
import type { Poller, PollerContext, PollResult } from './types.ts';

export interface PollerRunnerOptions {
  bus: Bus;
  store: Store;
  topic: string;
  log: Logger;
  now?: () => Date;
}

export class PollerRunner {
  readonly #pollers: Poller[];
  readonly #opts: PollerRunnerOptions;
  readonly #tasks: ScheduledTask[] = [];
  readonly #inflight = new Map<string, Promise<PollResult | undefined>>();
  readonly #wakers = new Set<() => void>();
  #stopping = false;

  constructor(pollers: Poller[], opts: PollerRunnerOptions) {
    this.#pollers = pollers;
    this.#opts = opts;
  }

  get ids(): string[] {
    return this.#pollers.map((p) => p.id);
  }

  start(): void {
    for (const poller of this.#pollers) {
      this.#tasks.push(
        cron.schedule(poller.schedule, () => void this.run(poller.id), {
          name: `poll:${poller.id}`,
          noOverlap: true,
        }),
      );
    }
  }

  /** One run now (also what the schedule calls); joins the run in flight instead of starting a second. */
  run(id: string): Promise<PollResult | undefined> {
    const poller = this.#pollers.find((p) => p.id === id);
    if (!poller) return Promise.reject(new Error(`no poller '${id}'`));
    const running = this.#inflight.get(id);
    if (running) return running;
    const { log } = this.#opts;
    const p = (async () => {
      if (this.#stopping) return undefined;
      try {
        const result = await poller.runOnce(this.#context());
        log.info({ poller: id, ...result }, 'Poll run finished.');
        return result;
      } catch (err) {
        log.error(
          { poller: id, err },
          'Poll run failed; the next scheduled run retries from the stored cursor.',
        );
        return undefined;
      } finally {
        this.#inflight.delete(id);
      }
    })();
    this.#inflight.set(id, p);
    return p;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled(this.#tasks.map((t) => t.destroy()));
    for (const wake of this.#wakers) wake();
    await Promise.allSettled(this.#inflight.values());
  }

  #context(): PollerContext {
    const runner = this;
    return {
      bus: this.#opts.bus,
      store: this.#opts.store,
      topic: this.#opts.topic,
      log: this.#opts.log,
      now: this.#opts.now ?? (() => new Date()),
      get stopping() {
        return runner.#stopping;
      },
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          if (runner.#stopping) return resolve();
          const wake = () => {
            clearTimeout(timer);
            runner.#wakers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, ms);
          runner.#wakers.add(wake);
        }),
    };
  }
}
