// `pipewarden silence add|list|expire`: silences from the command line, on the store directly (as the token
// commands are), so they work with only the config file at hand; every alert replica sees them within 2 s.
import type { Config } from '../config/schema.ts';
import { createStore } from '../factories.ts';
import { parseDuration, parseExpiry } from '../util/duration.ts';
import { formatTable } from '../util/text-table.ts';
import { formatMatcher, isActive, type Silence, SilenceError, Silences } from './silences.ts';

export interface SilenceCliValues {
  match?: string[];
  duration?: string;
  ends?: string;
  starts?: string;
  comment?: string;
  by?: string;
  'match-all'?: boolean;
  all?: boolean;
  json?: boolean;
  id?: string;
}

export async function runSilenceCommand(
  command: string,
  values: SilenceCliValues,
  config: Config,
  io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; fail: (message: string) => never },
): Promise<void> {
  const now = new Date();
  const store = createStore(config);
  await store.init();
  const silences = new Silences(store, () => now);
  const by = values.by ?? `cli:${process.env.USER ?? 'unknown'}`;
  try {
    if (command === 'silence add') {
      if (!values.match?.length)
        io.fail(
          'silence add needs at least one --match (name=value, name!=value, name=~regex, name!~regex, name~glob)',
        );
      if (!values.comment) io.fail('silence add needs --comment TEXT (why: shown with every silenced hit)');
      if (values.duration !== undefined && values.ends !== undefined)
        io.fail('give --duration or --ends, not both');
      let durationMinutes: number | undefined;
      if (values.duration !== undefined) {
        const ms = parseDuration(values.duration);
        if (!ms) io.fail(`--duration must be a duration such as 30m, 12h or 7d, got '${values.duration}'`);
        durationMinutes = Math.max(1, Math.ceil(ms / 60_000));
      }
      let endsAt: string | undefined;
      if (values.ends !== undefined) {
        endsAt = parseExpiry(values.ends, now);
        if (!endsAt)
          io.fail(`--ends must be a duration from now (2h) or a future ISO time, got '${values.ends}'`);
      }
      let startsAt: string | undefined;
      if (values.starts !== undefined) {
        const t = Date.parse(values.starts);
        if (!/^\d{4}-\d{2}-\d{2}T/.test(values.starts) || Number.isNaN(t))
          io.fail(`--starts must be an ISO time (2026-05-01T18:00:00Z), got '${values.starts}'`);
        startsAt = new Date(t).toISOString();
      }
      const s = await silences.create(
        {
          matchers: values.match,
          comment: values.comment,
          ...(durationMinutes !== undefined ? { durationMinutes } : {}),
          ...(endsAt ? { endsAt } : {}),
          ...(startsAt ? { startsAt } : {}),
          ...(values['match-all'] ? { matchAll: true } : {}),
        },
        by,
      );
      io.err.write(
        `Silenced ${s.matchers.map(formatMatcher).join(' ')} from ${s.startsAt} until ${s.endsAt}.\n`,
      );
      io.out.write(`${s.id}\n`);
    } else if (command === 'silence list') {
      const ms = now.getTime();
      const all = (await silences.list()).reverse(); // newest first
      const shown = values.all ? all : all.filter((s) => isActive(s, ms) || Date.parse(s.startsAt) > ms);
      if (values.json) {
        io.out.write(`${JSON.stringify(shown, null, 2)}\n`);
        return;
      }
      io.out.write(
        formatTable(
          ['ID', 'MATCHERS', 'STARTS', 'ENDS', 'STATE', 'BY', 'COMMENT'],
          shown.map((s) => [
            s.id,
            s.matchers.map(formatMatcher).join(' '),
            s.startsAt,
            s.endsAt,
            stateOf(s, ms),
            s.createdBy,
            s.comment.replace(/\s+/g, ' ').slice(0, 80),
          ]),
        ),
      );
    } else if (command === 'silence expire') {
      if (!values.id) io.fail('silence expire needs --id ID (see silence list)');
      const s = await silences.expire(values.id, by);
      if (!s) io.fail(`no silence with id '${values.id}' (see silence list --all)`);
      io.err.write(
        s.expiredBy === by
          ? `Expired silence ${s.id}; matching hits are sent again within seconds.\n`
          : `Silence ${s.id} had already ended (${s.endsAt}).\n`,
      );
    }
  } catch (err) {
    if (err instanceof SilenceError) io.fail(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

function stateOf(s: Silence, ms: number): string {
  if (s.expiredBy !== undefined) return `expired by ${s.expiredBy}`;
  if (isActive(s, ms)) return 'active';
  return Date.parse(s.startsAt) > ms ? 'pending' : 'ended';
}
