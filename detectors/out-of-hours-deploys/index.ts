// Deploys outside the working hours of the team or environment they belong to, on public holidays, or
// inside a change freeze, judged on the event's own time in the calendar's IANA time zone.
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import { MINUTE } from '../../src/detect/config.ts';
import type { Detector } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { compileGlob, type GlobMatcher } from '../../src/util/glob.ts';
import { capped, linearRegex, safeRegexString } from '../../src/util/safe-regex.ts';
import type { CoverageRow } from '../owasp.ts';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
type Day = (typeof DAYS)[number];

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const regex = safeRegexString('i'); // valid and free of nested quantifiers (src/util/safe-regex.ts)
const hhmm = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be HH:MM (00:00 .. 24:00)');
// A local wall time in the calendar's zone ("2024-12-20", "2024-12-20T18:00"), or an instant with a zone.
const LOCAL = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2})?$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;
const when = z.string().refine((s) => LOCAL.test(s) || (INSTANT.test(s) && !Number.isNaN(Date.parse(s))), {
  message:
    'must be a local date or date-time ("2024-12-20", "2024-12-20T18:00") or an ISO instant with a zone',
});

const calendarSchema = z
  .strictObject({
    /** IANA zone, e.g. Europe/London, America/New_York. Daylight saving is applied from the zone's rules. */
    timeZone: z.string().refine(validZone, 'must be an IANA time zone, e.g. Europe/London').default('UTC'),
    workingDays: z.array(z.enum(DAYS)).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    /** Local wall-clock hours; start inclusive, end exclusive. */
    hours: z.strictObject({ start: hhmm.default('09:00'), end: hhmm.default('18:00') }).prefault({}),
    /** Public holidays: "YYYY-MM-DD", or "MM-DD" for every year. */
    holidays: z
      .array(z.string().regex(/^(?:\d{4}-)?\d{2}-\d{2}$/, 'must be YYYY-MM-DD or MM-DD'))
      .default([]),
    /** Change freezes: from inclusive, to exclusive; local to the calendar unless given with a zone. */
    freezes: z.array(z.strictObject({ from: when, to: when, reason: z.string().optional() })).default([]),
  })
  .prefault({});

export type Calendar = z.output<typeof calendarSchema>;

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** The calendar for deploys no route claims. */
    defaultCalendar: calendarSchema,
    /** Named calendars, per team or environment. */
    calendars: z.record(z.string().min(1), calendarSchema).default({}),
    /**
     * Which calendar a deploy follows: the first route whose every given filter matches (globs, `*`
     * within a segment, `**` across; case-insensitive). No match: `defaultCalendar`.
     */
    routes: z
      .array(
        z.strictObject({
          calendar: z.string().min(1),
          environments: z.array(z.string().min(1)).optional(),
          repositories: z.array(z.string().min(1)).optional(),
          organizations: z.array(z.string().min(1)).optional(),
          sources: z.array(z.string().min(1)).optional(),
        }),
      )
      .default([]),
    /** Environments never reported (globs): review apps and previews deploy all night. */
    ignoreEnvironments: z.array(z.string().min(1)).default(['review/*', 'preview*', 'pr-*']),
    /** Actions of kind `deploy` that are not deploys themselves (regexes on event.action). */
    ignoreActions: z.array(regex).default(['^deployment_review\\.', '^deployment_protection_rule\\.']),
    /** Builds that are deploys: jobs or pipelines whose name matches (regexes, case-insensitive), e.g. Jenkins. */
    deployJobs: z.array(regex).default(['deploy']),
    /** Builds that target an environment (GitHub jobs with a deployment, GitLab jobs with `environment`) are deploys. */
    buildsWithEnvironment: z.boolean().default(true),
    /** Published artefacts whose version/tag matches are releases (regex per path or tag segment); null: off. */
    releaseTagPattern: regex.nullable().default('^v?\\d+\\.\\d+(?:\\.\\d+)?$'),
    /** Approved emergency deploys, not reported. */
    emergency: z
      .strictObject({
        /** Actors allowed to deploy at any hour (on-call leads, release managers). Exact. */
        approvers: z.array(z.string().min(1)).default([]),
        /** Labels, as whole words in the message or ref, e.g. "emergency", "hotfix-approved". */
        labels: z.array(z.string().min(1)).default([]),
        /** A ticket reference in the message or ref, e.g. "\\bCHG-\\d+\\b". */
        ticketPattern: regex.nullable().default(null),
      })
      .prefault({}),
    ignoreActors: z.array(z.string().min(1)).default([]),
  })
  .superRefine((c, ctx) => {
    c.routes.forEach((r, i) => {
      if (!(r.calendar in c.calendars)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'calendar'],
          message: `unknown calendar '${r.calendar}'; define it under calendars (known: ${Object.keys(c.calendars).join(', ') || 'none'})`,
        });
      }
    });
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

export interface WallTime {
  date: string; // YYYY-MM-DD, local
  time: string; // HH:MM, local
  day: Day;
}

/** The local wall-clock date, time and weekday of an instant in an IANA zone (DST from the zone's rules). */
export function wallTime(instant: Date, timeZone: string): WallTime {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    weekday: 'short',
  }).formatToParts(instant);
  const get = (t: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === t)?.value ?? '';
  return {
    date: `${get('year')}-${get('month')}-${get('day')}`,
    time: `${get('hour')}:${get('minute')}`,
    day: get('weekday').slice(0, 3).toLowerCase() as Day,
  };
}

export type Verdict =
  | { ok: true; local: WallTime }
  | {
      ok: false;
      local: WallTime;
      reason: 'freeze' | 'holiday' | 'non-working day' | 'outside working hours';
      detail: string;
    };

function inFreeze(instant: Date, local: WallTime, f: Calendar['freezes'][number]): boolean {
  const wall = `${local.date}T${local.time}`;
  const edge = (s: string) =>
    LOCAL.test(s) ? { wall: s.length === 10 ? `${s}T00:00` : s } : { at: Date.parse(s) };
  const from = edge(f.from);
  const to = edge(f.to);
  const afterFrom = 'at' in from ? instant.getTime() >= from.at! : wall >= from.wall!;
  const beforeTo = 'at' in to ? instant.getTime() < to.at! : wall < to.wall!;
  return afterFrom && beforeTo;
}

/** Whether an instant falls in the calendar's working time, and if not, why. Pure. */
export function assess(instant: Date, cal: Calendar): Verdict {
  const local = wallTime(instant, cal.timeZone);
  const freeze = cal.freezes.find((f) => inFreeze(instant, local, f));
  if (freeze)
    return { ok: false, local, reason: 'freeze', detail: freeze.reason ?? `${freeze.from} .. ${freeze.to}` };
  const holiday = cal.holidays.find((h) => h === local.date || h === local.date.slice(5));
  if (holiday) return { ok: false, local, reason: 'holiday', detail: local.date };
  if (!cal.workingDays.includes(local.day))
    return { ok: false, local, reason: 'non-working day', detail: local.day };
  const { start, end } = cal.hours;
  // Overnight hours (start > end, e.g. 22:00..06:00) wrap past midnight.
  const inHours =
    start <= end ? local.time >= start && local.time < end : local.time >= start || local.time < end;
  if (!inHours) return { ok: false, local, reason: 'outside working hours', detail: `${start}-${end}` };
  return { ok: true, local };
}

/** `*` matches within one path segment, `**` across; case-insensitive; linear time (src/util/glob.ts). */
const glob = (pattern: string): GlobMatcher => compileGlob(pattern, { ignoreCase: true });

const anyGlob = (patterns: string[] | undefined, value: string | undefined) =>
  patterns === undefined || (value !== undefined && patterns.some((p) => glob(p).test(capped(value))));

function calendarFor(e: PipewardenEvent, config: Config): { name: string; calendar: Calendar } {
  for (const r of config.routes) {
    if (
      anyGlob(r.environments, e.pipewarden.environment) &&
      anyGlob(r.repositories, e.pipewarden.repository) &&
      anyGlob(r.organizations, e.organization?.name) &&
      anyGlob(r.sources, e.pipewarden.source)
    ) {
      const calendar = config.calendars[r.calendar];
      if (calendar) return { name: r.calendar, calendar };
    }
  }
  return { name: 'default', calendar: config.defaultCalendar };
}

const jobName = (job: string | undefined) => job?.replace(/ #\d+$/, '');

/** The release tag of a published artefact: the first path or tag segment that looks like a release. */
function releaseTag(e: PipewardenEvent, pattern: string | null): string | undefined {
  if (pattern === null) return undefined;
  const re = linearRegex(pattern, 'i');
  const segments = [e.pipewarden.artifact, e.pipewarden.branch]
    .filter((s): s is string => s !== undefined)
    .flatMap((s) => s.split(/[/:@]/));
  return segments.find((s) => re.test(capped(s)));
}

/** What kind of deploy this event is, or undefined when it is none. */
function deployOf(e: PipewardenEvent, config: Config): { what: string; tag?: string } | undefined {
  const k = e.pipewarden.kind;
  if (k === 'deploy')
    return config.ignoreActions.some((a) => linearRegex(a).test(capped(e.event.action)))
      ? undefined
      : { what: 'deploy' };
  if (k === 'build') {
    if (config.buildsWithEnvironment && e.pipewarden.environment) return { what: 'deploy job' };
    const name = [jobName(e.pipewarden.job), e.pipewarden.pipeline].filter(Boolean).join(' ');
    if (name && config.deployJobs.some((p) => linearRegex(p, 'i').test(capped(name))))
      return { what: 'deploy job' };
    return undefined;
  }
  if (k === 'artifact.publish') {
    const tag = releaseTag(e, config.releaseTagPattern);
    return tag ? { what: 'release', tag } : undefined;
  }
  return undefined;
}

function approvedEmergency(e: PipewardenEvent, config: Config): string | undefined {
  const { approvers, labels, ticketPattern } = config.emergency;
  if (e.user?.name && approvers.includes(e.user.name)) return `approver ${e.user.name}`;
  const text = [e.message, e.pipewarden.branch, e.pipewarden.pipeline, e.pipewarden.job]
    .filter(Boolean)
    .map((s) => capped(s as string))
    .join('\n');
  const label = labels.find((l) =>
    new RegExp(`(^|[^\\w-])${l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w-])`, 'i').test(text),
  );
  if (label) return `label ${label}`;
  const ticket = ticketPattern ? linearRegex(ticketPattern, 'i').match(text) : undefined;
  return ticket ? `ticket ${ticket}` : undefined;
}

const SEVERITY: Record<Exclude<Verdict, { ok: true }>['reason'], Severity> = {
  freeze: 'high',
  holiday: 'medium',
  'non-working day': 'medium',
  'outside working hours': 'medium',
};

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'out-of-hours',
    what: 'deploys, deploy jobs and release tags outside working hours, on holidays or in change freezes',
    owasp: ['CICD-SEC-1'],
    sources: [
      'github',
      'github-audit',
      'gitlab',
      'azure-devops',
      'circleci',
      'jenkins',
      'artifactory',
      'harbor',
    ],
  },
];

export const outOfHoursDeploys: Detector<Config> = {
  id: 'out-of-hours-deploys',
  title: 'Deploy out of hours',
  severity: 'medium',
  description:
    'A deploy (deployment, deploy job, or release published to a registry) happened outside the working hours of its team or environment, on a public holiday, or during a change freeze, and carries no emergency approval.',
  runbook: 'detectors/out-of-hours-deploys/README.md#runbook',
  reference: 'https://attack.mitre.org/techniques/T1195/002/',
  configSchema,
  coverage,
  // A deployment and its status updates are one deploy: one hit per target and summary within the hour.
  dedupMs: 60 * MINUTE,

  appliesTo(event, config) {
    const k = event.pipewarden.kind;
    if (k !== 'deploy' && k !== 'build' && k !== 'artifact.publish') return false;
    if (config.ignoreActors.includes(event.user?.name ?? '')) return false;
    const env = event.pipewarden.environment;
    return !(env && config.ignoreEnvironments.some((g) => glob(g).test(capped(env))));
  },

  key(event) {
    const target = event.pipewarden.repository ?? jobName(event.pipewarden.job) ?? event.pipewarden.source;
    return `${target}|${event.pipewarden.environment ?? ''}`;
  },

  match(event, { config }) {
    const deploy = deployOf(event, config);
    if (!deploy) return null;
    const instant = new Date(event['@timestamp']);
    if (Number.isNaN(instant.getTime())) return null;
    const { name, calendar } = calendarFor(event, config);
    const verdict = assess(instant, calendar);
    if (verdict.ok) return null;
    if (approvedEmergency(event, config)) return null;
    const target =
      event.pipewarden.repository ??
      jobName(event.pipewarden.job) ??
      event.pipewarden.artifact ??
      event.pipewarden.source;
    const what = deploy.tag ? `Release ${deploy.tag} of ${target}` : `Deploy of ${target}`;
    const env = event.pipewarden.environment ? ` to ${event.pipewarden.environment}` : '';
    const by = event.user?.name ? ` by ${event.user.name}` : '';
    const why =
      verdict.reason === 'freeze'
        ? `during a change freeze (${verdict.detail})`
        : verdict.reason === 'holiday'
          ? `on a public holiday (${verdict.detail})`
          : verdict.reason === 'non-working day'
            ? `on a non-working day (${verdict.local.day})`
            : `outside working hours (${verdict.detail})`;
    return {
      summary: `${what}${env}${by} ${why}, calendar ${name} (${calendar.timeZone})`,
      severity: SEVERITY[verdict.reason],
      context: {
        reason: verdict.reason,
        calendar: name,
        time_zone: calendar.timeZone,
        local_time: `${verdict.local.date} ${verdict.local.time} (${verdict.local.day})`,
        environment: event.pipewarden.environment ?? null,
        action: event.event.action,
        provider: event.event.provider,
      },
    };
  },
};
