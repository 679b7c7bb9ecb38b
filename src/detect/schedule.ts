// The times of a cron expression, computed (not waited for), so the engine runs time-driven rules at
// the same instants live and in `pipewarden replay`. Fields as node-cron parses them (local time, like
// its scheduler; day of month AND day of week, like node-cron's matcher).
import cron from 'node-cron';

const DAY = 86_400_000;
/** A schedule with no time in this long is refused (e.g. 31 February). */
const MAX_SEARCH_MS = 5 * 366 * DAY;

export class Schedule {
  readonly expression: string;
  readonly #sec: Set<number>;
  readonly #min: Set<number>;
  readonly #hour: Set<number>;
  readonly #month: Set<number>;
  readonly #dom: Set<number>;
  readonly #dow: Set<number>;
  /** Named day forms (`L`, `5L`, `1#2`): matched by node-cron itself, once per candidate day. */
  readonly #special: ReturnType<typeof cron.createTask> | undefined;

  /** Throws on an invalid expression. */
  constructor(expression: string) {
    if (!cron.validate(expression)) throw new Error(`invalid cron expression '${expression}'`);
    this.expression = expression;
    const f = cron.parse(expression);
    this.#sec = new Set(f.second);
    this.#min = new Set(f.minute);
    this.#hour = new Set(f.hour);
    this.#month = new Set(f.month);
    this.#dom = new Set(f.dayOfMonth.filter((x): x is number => typeof x === 'number'));
    this.#dow = new Set(f.dayOfWeek.filter((x): x is number => typeof x === 'number'));
    const special = [...f.dayOfMonth, ...f.dayOfWeek].some((x) => typeof x !== 'number');
    this.#special = special ? cron.createTask(expression, () => undefined) : undefined;
  }

  /** The first time strictly after `afterMs` (ms, whole seconds). */
  next(afterMs: number): number {
    let t = Math.floor(afterMs / 1000) * 1000 + 1000;
    const limit = afterMs + MAX_SEARCH_MS;
    while (t <= limit) {
      const d = new Date(t);
      if (!this.#month.has(d.getMonth() + 1)) {
        t = new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
      } else if (!this.#dayMatches(d)) {
        t = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
      } else if (!this.#hour.has(d.getHours())) {
        t = new Date(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours() + 1).getTime();
      } else if (!this.#min.has(d.getMinutes())) {
        t = new Date(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes() + 1).getTime();
      } else if (!this.#sec.has(d.getSeconds())) {
        t += 1000;
      } else return t;
    }
    throw new Error(`cron expression '${this.expression}' has no time within five years`);
  }

  #dayMatches(d: Date): boolean {
    if (this.#special) {
      // node-cron's own matcher, at a time of day the expression accepts.
      const at = new Date(
        d.getFullYear(),
        d.getMonth(),
        d.getDate(),
        this.#first(this.#hour),
        this.#first(this.#min),
        this.#first(this.#sec),
      );
      return this.#special.match(at);
    }
    return this.#dom.has(d.getDate()) && this.#dow.has(d.getDay());
  }

  #first(s: Set<number>): number {
    return Math.min(...s);
  }
}
