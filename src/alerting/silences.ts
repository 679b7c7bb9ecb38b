// Silences: a time window in which hits matching every matcher are recorded (status `silenced`, with the
// silence's id) but never sent. Each silence is its own document in the store (Store.putSilence), so two
// created at once by two API replicas or CLI runs are both kept, and every alert replica sees them.
//
// Matchers (Alertmanager's, plus globs): `name=value`, `name!=value`, `name=~regex`, `name!~regex`,
// `name~glob`, on the fields routes match (detector, rule, severity, source, repository, organisation,
// environment, actor, key) and source_ip. Values compare case-insensitively; a missing field is the empty
// string (so `actor!=bot` matches a hit without actor). A regex is anchored, checked for catastrophic
// backtracking when the silence is created (safe-regex2, as operator regexes in the config are) and run on
// the field cut to MATCH_MAX characters; a glob runs on the linear matcher of src/util/glob.ts. A silence
// whose every matcher would match any hit must say so (`matchAll: true`, CLI --match-all).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Store } from '../store/types.ts';
import { compileGlob, type GlobMatcher } from '../util/glob.ts';
import { capped, regexProblem } from '../util/safe-regex.ts';
import { fieldOf, MATCH_FIELDS } from './routing.ts';
import type { Hit } from './types.ts';

export const MATCHER_KEYS = [...MATCH_FIELDS, 'source_ip'] as const;
export type MatcherKey = (typeof MATCHER_KEYS)[number];

export const MATCH_OPS = ['=', '!=', '=~', '!~', 'glob'] as const;
export type MatchOp = (typeof MATCH_OPS)[number];

export interface Matcher {
  name: MatcherKey;
  op: MatchOp;
  value: string;
}

export interface Silence {
  id: string;
  /** Every matcher must match. */
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  createdAt: string;
  comment: string;
  /** Set when someone ended it early (endsAt is then the time they did). */
  expiredBy?: string;
  /** The creator asked for a silence that matches every hit. */
  matchAll?: boolean;
}

/** The state document older versions kept every silence in; read once and moved to one document each. */
const LEGACY_STATE_KEY = 'silences';
const CACHE_MS = 2_000;
/** Silences that ended longer ago than this are no longer listed. */
const KEEP_ENDED_MS = 30 * 86_400_000;

const matcherValue = z.string().trim().min(1).max(300);
const matcherObject = z.strictObject({
  name: z.enum(MATCHER_KEYS),
  op: z.enum(MATCH_OPS).default('='),
  value: z.string().max(300),
});
/** `{ "actor": "ci-bot" }` as the console's form sends it: equality, or a glob when the value has `*` or `?`. */
const matcherRecord = z.strictObject(
  Object.fromEntries(MATCHER_KEYS.map((k) => [k, matcherValue.optional()])) as Record<
    MatcherKey,
    z.ZodOptional<typeof matcherValue>
  >,
);

export const silenceInputSchema = z.strictObject({
  /** A list of `{ name, op, value }` or `name<op>value` strings, or `{ field: value }` (equality / glob). */
  matchers: z.union([z.array(z.union([matcherObject, z.string().max(400)])).max(20), matcherRecord]),
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
  /** Required when every matcher would match any hit: a silence of everything is asked for, not made by a typo. */
  matchAll: z.boolean().optional(),
});
export type SilenceInput = z.input<typeof silenceInputSchema>;

/** A problem with a silence the caller sent: the API answers 400 with the message, the CLI exits 2. */
export class SilenceError extends Error {
  override name = 'SilenceError';
}

const TEXT_FORM = /^([a-z_]{1,30})\s*(=~|!~|!=|=|~)\s*(.*)$/s;
const TEXT_OPS: ReadonlyMap<string, MatchOp> = new Map([
  ['=', '='],
  ['!=', '!='],
  ['=~', '=~'],
  ['!~', '!~'],
  ['~', 'glob'],
]);

/** `actor=~ci-.*` → a matcher; throws SilenceError naming the problem. */
export function parseMatcher(text: string): Matcher {
  const m = TEXT_FORM.exec(text.trim());
  if (!m)
    throw new SilenceError(
      `matcher '${text}' must be name=value, name!=value, name=~regex, name!~regex or name~glob`,
    );
  const [, name, op, value] = m as unknown as [string, string, string, string];
  if (!(MATCHER_KEYS as readonly string[]).includes(name))
    throw new SilenceError(`matcher '${text}': unknown field '${name}' (fields: ${MATCHER_KEYS.join(', ')})`);
  return { name: name as MatcherKey, op: TEXT_OPS.get(op)!, value };
}

/** `actor=~ci-.*`: how the CLI and the console show a matcher. */
export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.op === 'glob' ? '~' : m.op}${m.value}`;
}

/** Every accepted input shape as a list of matchers, each checked (regexes for safety). */
export function normaliseMatchers(input: z.output<typeof silenceInputSchema>['matchers']): Matcher[] {
  const list: Matcher[] = Array.isArray(input)
    ? input.map((m) => (typeof m === 'string' ? parseMatcher(m) : m))
    : Object.entries(input).flatMap(([name, value]) =>
        value === undefined
          ? []
          : [{ name: name as MatcherKey, op: /[*?]/.test(value) ? 'glob' : '=', value }],
      );
  for (const m of list) {
    if ((m.op === '=~' || m.op === '!~') && regexProblem(m.value, 'i'))
      throw new SilenceError(`matcher ${formatMatcher(m)}: the regex ${regexProblem(m.value, 'i')}`);
    if ((m.op === '=' || m.op === 'glob') && m.value.trim() === '')
      throw new SilenceError(`matcher ${m.name}${m.op === 'glob' ? '~' : '='}: needs a value`);
  }
  return list;
}

interface Compiled {
  name: MatcherKey;
  negate: boolean;
  test(value: string): boolean;
}

function compileMatcher(m: Matcher): Compiled {
  const negate = m.op === '!=' || m.op === '!~';
  if (m.op === '=~' || m.op === '!~') {
    const re = new RegExp(`^(?:${m.value})$`, 'i');
    return { name: m.name, negate, test: (v) => re.test(capped(v)) };
  }
  if (m.op === 'glob') {
    const g: GlobMatcher = compileGlob(m.value.replace(/\*+/g, '**'), { ignoreCase: true });
    return { name: m.name, negate, test: (v) => g.test(v) };
  }
  const want = m.value.toLowerCase();
  return { name: m.name, negate, test: (v) => v.toLowerCase() === want };
}

/** Whether a matcher lets any hit through: a negation, an all-star glob, or a regex matching '' and 'x'. */
function matchesAnything(m: Matcher): boolean {
  if (m.op === '!=' || m.op === '!~') return true;
  if (m.op === 'glob') return /^\**$/.test(m.value);
  if (m.op === '=~') {
    const c = compileMatcher(m);
    return c.test('') && c.test('x') && c.test('octo-org/tools');
  }
  return false;
}

/** Compiled matchers per silence id: silences do not change but for their end. */
const compiledCache = new Map<string, Compiled[]>();

function compiledOf(s: Silence): Compiled[] {
  let c = compiledCache.get(s.id);
  if (!c) {
    if (compiledCache.size > 10_000) compiledCache.clear();
    c = s.matchers.map(compileMatcher);
    compiledCache.set(s.id, c);
  }
  return c;
}

export function isActive(s: Silence, nowMs: number): boolean {
  return s.expiredBy === undefined && Date.parse(s.startsAt) <= nowMs && Date.parse(s.endsAt) > nowMs;
}

export function silenceMatches(s: Silence, hit: Hit, nowMs: number): boolean {
  if (!isActive(s, nowMs) || s.matchers.length === 0) return false;
  return compiledOf(s).every((c) => c.test(fieldOf(hit, c.name) ?? '') !== c.negate);
}

/** Older silences kept matchers as `{ field: value }` (a trailing `*` a prefix). */
function upgrade(s: Silence | (Omit<Silence, 'matchers'> & { matchers: Record<string, string> })): Silence {
  if (Array.isArray(s.matchers)) return s as Silence;
  return {
    ...s,
    matchers: Object.entries(s.matchers).map(([name, value]) => ({
      name: name as MatcherKey,
      op: value.endsWith('*') ? 'glob' : '=',
      value,
    })),
  };
}

export class Silences {
  readonly #store: Store;
  readonly #now: () => Date;
  #cache: { list: Silence[]; at: number } | undefined;
  /** The one re-read of the list in flight, which every hit that needs it waits for. */
  #loading: Promise<void> | undefined;
  #generation = 0;
  #migrated: Promise<void> | undefined;

  constructor(store: Store, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  /** Silences that are active, to come, or ended in the last 30 days; oldest first. */
  async list(): Promise<Silence[]> {
    await this.#migrate();
    const horizon = new Date(this.#now().getTime() - KEEP_ENDED_MS).toISOString();
    return (await this.#store.listSilences(horizon)).map(upgrade);
  }

  async get(id: string): Promise<Silence | undefined> {
    await this.#migrate();
    const s = await this.#store.getSilence(id);
    return s ? upgrade(s) : undefined;
  }

  async create(raw: SilenceInput, by: string): Promise<Silence> {
    const parsed = silenceInputSchema.safeParse(raw);
    if (!parsed.success)
      throw new SilenceError(
        parsed.error.issues.map((i) => `${i.path.join('.') || 'silence'}: ${i.message}`).join('; '),
      );
    const input = parsed.data;
    const matchers = normaliseMatchers(input.matchers);
    if (matchers.length === 0)
      throw new SilenceError(
        `a silence needs at least one matcher (on ${MATCHER_KEYS.join(', ')}): matchers is empty`,
      );
    if (!input.matchAll && matchers.every(matchesAnything))
      throw new SilenceError(
        `these matchers (${matchers.map(formatMatcher).join(' ')}) would silence every hit: add a matcher that narrows it, or ask for it with matchAll: true (CLI --match-all)`,
      );
    const now = this.#now();
    const start = input.startsAt ? new Date(input.startsAt) : now;
    const end = input.endsAt
      ? new Date(input.endsAt)
      : new Date(start.getTime() + (input.durationMinutes ?? 60) * 60_000);
    if (end <= start) throw new SilenceError('endsAt must be after startsAt');
    if (end.getTime() <= now.getTime())
      throw new SilenceError('endsAt is in the past: the silence would never apply');
    const silence: Silence = {
      id: `sil_${randomBytes(8).toString('hex')}`,
      matchers,
      startsAt: start.toISOString(),
      endsAt: end.toISOString(),
      createdBy: by,
      createdAt: now.toISOString(),
      comment: input.comment,
      ...(input.matchAll && matchers.every(matchesAnything) ? { matchAll: true } : {}),
    };
    await this.#store.putSilence(silence);
    this.#forget();
    return silence;
  }

  /** Ends a silence now; undefined when there is no such silence. Ending one that already ended changes nothing. */
  async expire(id: string, by: string): Promise<Silence | undefined> {
    const s = await this.get(id);
    if (!s) return undefined;
    const now = this.#now().toISOString();
    if (s.expiredBy !== undefined || s.endsAt <= now) return s;
    const ended: Silence = { ...s, expiredBy: by, endsAt: now < s.startsAt ? s.startsAt : now };
    await this.#store.putSilence(ended);
    this.#forget();
    return ended;
  }

  /**
   * The active silence matching the hit, if any. The list is re-read every 2 s at most, once for all the
   * hits handled meanwhile (hits are handled concurrently; each waiting on its own search made every one
   * of them wait). Past 2 s a hit waits for that one read: a silence made on another replica (or by the
   * API role) is applied within 2 s, never to a hit judged with an older list.
   */
  async matching(hit: Hit): Promise<Silence | undefined> {
    const nowMs = this.#now().getTime();
    const age = this.#cache ? nowMs - this.#cache.at : Number.POSITIVE_INFINITY;
    if (age >= CACHE_MS) await this.#reload(nowMs);
    return this.#cache?.list.find((s) => silenceMatches(s, hit, nowMs));
  }

  #reload(nowMs: number): Promise<void> {
    if (!this.#loading) {
      const generation = this.#generation;
      // a silence created or ended meanwhile made this read out of date: the next one counts
      const current = () => generation === this.#generation;
      this.#loading = this.list()
        .then((list) => {
          if (current())
            this.#cache = {
              list: list.filter((s) => isActive(s, nowMs) || Date.parse(s.startsAt) > nowMs),
              at: nowMs,
            };
        })
        .finally(() => {
          if (current()) this.#loading = undefined;
        });
    }
    return this.#loading;
  }

  /** A silence was created or ended here: the next hit reads the list again, and waits for it. */
  #forget(): void {
    this.#generation++;
    this.#cache = undefined;
    this.#loading = undefined;
  }

  /** Silences kept the old way (one state document for all) become one document each, once. */
  #migrate(): Promise<void> {
    this.#migrated ??= (async () => {
      const text = await this.#store.getState(LEGACY_STATE_KEY);
      if (!text) return;
      const old = JSON.parse(text) as Array<Parameters<typeof upgrade>[0]>;
      for (const s of old)
        if (!(await this.#store.getSilence(s.id))) await this.#store.putSilence(upgrade(s));
      await this.#store.putState(LEGACY_STATE_KEY, '[]');
    })().catch((err: unknown) => {
      this.#migrated = undefined; // try again next time
      throw err;
    });
    return this.#migrated;
  }
}
