// The alert role's concurrency: hits of different incidents are handled at the same time (each one waits
// on several store round trips and a receiver's answer, so one at a time capped the role at ~20 alerts/s),
// hits of the same incident one after another, in the order they came (one incident: one Slack message,
// then edits of it, counted in order).

/** Runs tasks at most `limit` at a time; tasks of the same lane run one after another, in the order given. */
export class Lanes {
  readonly #limit: number;
  /** lane → its last task not yet settled. */
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #waiting: Array<() => void> = [];
  #active = 0;

  constructor(limit: number) {
    if (!(limit >= 1)) throw new Error(`lanes need a limit of at least 1, not ${limit}`);
    this.#limit = limit;
  }

  /** Tasks running or waiting for their turn (for tests and metrics). */
  get size(): number {
    return this.#tails.size;
  }

  /**
   * Runs `task` after the lane's earlier tasks. When one of those failed, `task` does not run and the
   * returned promise rejects with that failure: a later hit of an incident never overtakes an earlier one
   * that is to be redelivered.
   */
  run<T>(lane: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(lane);
    const result = (async () => {
      if (before) await before;
      await this.#acquire();
      try {
        return await task();
      } finally {
        this.#release();
      }
    })();
    this.#tails.set(lane, result);
    const forget = () => {
      if (this.#tails.get(lane) === result) this.#tails.delete(lane);
    };
    result.then(forget, forget);
    return result;
  }

  #acquire(): Promise<void> | undefined {
    if (this.#active < this.#limit) {
      this.#active++;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    // the slot passes on to the next waiting task, or is given back
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active--;
  }
}
