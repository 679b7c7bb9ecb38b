// Silences: a time window in which hits matching every given matcher are recorded (status `silenced`,
// with the silence's id) but never sent. Kept as one small state document in the store, so every alert
// process sees the same list. Minimal on purpose: the alerting work extends the semantics.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Store } from '../store/types.ts';
import { type Hit, SEVERITIES } from './types.ts';

export const MATCHER_KEYS = ['detector', 'rule', 'severity', 'source', 'actor', 'repository', 'key'] as const;
export type MatcherKey = (typeof MATCHER_KEYS)[number];

export interface Silence {
  id: string;
  /** Every given matcher must match. Values are compared case-insensitively; a trailing `*` is a prefix. */
  matchers: Partial<Record<MatcherKey, string>>;
  startsAt: string;
  endsAt: string;
  createdBy: string;
  createdAt: string;
  comment: string;
  /** Set when someone ended it early. */
  expiredBy?: string;
}

const STATE_KEY = 'silences';
const CACHE_MS = 2_000;

const matcherValue = z.string().trim().min(1).max(300);

export const silenceInputSchema = z.strictObject({
  matchers: z.strictObject({
    detector: matcherValue.optional(),
    rule: matcherValue.optional(),
    severity: z.enum(SEVERITIES).optional(),
    source: matcherValue.optional(),
    actor: matcherValue.optional(),
    repository: matcherValue.optional(),
    key: matcherValue.optional(),
  }),
  startsAt: z.iso.datetime({ offset: true }).optional(),
  endsAt: z.iso.datetime({ offset: true }).optional(),
  /** Minutes from the start, when endsAt is not given. */
  durationMinutes: z
    .number()
    .int()
    .min(1)
    .max(90 * 24 * 60)
    .optional(),
  comment: z.string().trim().min(1).max(1000),
});
export type SilenceInput = z.output<typeof silenceInputSchema>;

/** A problem with a silence the caller sent: the API answers 400 with the message. */
export class SilenceError extends Error {
  override name = 'SilenceError';
}

function matches(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  return p.endsWith('*') ? v.startsWith(p.slice(0, -1)) : v === p;
}

/** The hit's value for a matcher key. `rule`: the detector's rule in the context, else the detector id. */
function hitValue(hit: Hit, key: MatcherKey): string | undefined {
  if (key === 'rule') {
    const rule = hit.context.rule;
    return typeof rule === 'string' ? rule : hit.detector;
  }
  return hit[key];
}

export function silenceMatches(s: Silence, hit: Hit, nowMs: number): boolean {
  if (s.expiredBy !== undefined || Date.parse(s.startsAt) > nowMs || Date.parse(s.endsAt) <= nowMs)
    return false;
  const entries = Object.entries(s.matchers) as Array<[MatcherKey, string]>;
  return entries.length > 0 && entries.every(([k, v]) => matches(v, hitValue(hit, k)));
}

export class Silences {
  readonly #store: Store;
  readonly #now: () => Date;
  #cache: { list: Silence[]; until: number } | undefined;

  constructor(store: Store, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  async list(): Promise<Silence[]> {
    const text = await this.#store.getState(STATE_KEY);
    return text ? (JSON.parse(text) as Silence[]) : [];
  }

  async create(input: SilenceInput, by: string): Promise<Silence> {
    const given = Object.entries(input.matchers).filter(([, v]) => v !== undefined);
    if (given.length === 0)
      throw new SilenceError(
        `a silence needs at least one matcher (${MATCHER_KEYS.join(', ')}): matchers is empty`,
      );
    const now = this.#now();
    const start = input.startsAt ? new Date(input.startsAt) : now;
    const end = input.endsAt
      ? new Date(input.endsAt)
      : new Date(start.getTime() + (input.durationMinutes ?? 60) * 60_000);
    if (end <= start) throw new SilenceError('endsAt must be after startsAt');
    const silence: Silence = {
      id: `sil_${randomBytes(8).toString('hex')}`,
      matchers: Object.fromEntries(given) as Silence['matchers'],
      startsAt: start.toISOString(),
      endsAt: end.toISOString(),
      createdBy: by,
      createdAt: now.toISOString(),
      comment: input.comment,
    };
    const all = await this.list();
    all.push(silence);
    await this.#save(all);
    return silence;
  }

  /** Ends a silence now; undefined when there is no such silence. */
  async expire(id: string, by: string): Promise<Silence | undefined> {
    const all = await this.list();
    const s = all.find((x) => x.id === id);
    if (!s) return undefined;
    const now = this.#now().toISOString();
    if (s.expiredBy === undefined && s.endsAt > now) {
      s.expiredBy = by;
      s.endsAt = now;
      await this.#save(all);
    }
    return s;
  }

  /** The active silence matching the hit, if any (the list is re-read every 2 s at most). */
  async matching(hit: Hit): Promise<Silence | undefined> {
    const nowMs = this.#now().getTime();
    if (!this.#cache || this.#cache.until <= nowMs) {
      this.#cache = { list: await this.list(), until: nowMs + CACHE_MS };
    }
    return this.#cache.list.find((s) => silenceMatches(s, hit, nowMs));
  }

  async #save(all: Silence[]): Promise<void> {
    // Drop silences that ended over 30 days ago so the document stays small.
    const horizon = new Date(this.#now().getTime() - 30 * 86_400_000).toISOString();
    await this.#store.putState(STATE_KEY, JSON.stringify(all.filter((s) => s.endsAt > horizon)));
    this.#cache = undefined;
  }
}
