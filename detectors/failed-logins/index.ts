// Failed logins correlated across every source that reports them (matched on kind, not vendor):
// brute force per user, password spraying per source IP, failures then a success, built-in accounts.
import { z } from 'zod';
import { count, MINUTE, mins, minutes, windowAndDedup } from '../../src/detect/config.ts';
import type { Detector, Rule } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { ipMatcher, ipOrCidr } from '../../src/util/ip.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** N failures for one user within the window. */
    bruteForce: z
      .strictObject({
        enabled: z.boolean().default(true),
        threshold: count(10),
        windowMinutes: minutes(10),
        dedupMinutes: minutes(30),
      })
      .prefault({}),
    /** M distinct users failing from one source IP within the window. */
    spraying: z
      .strictObject({
        enabled: z.boolean().default(true),
        threshold: count(5),
        windowMinutes: minutes(30),
        dedupMinutes: minutes(60),
      })
      .prefault({}),
    /** At least minFailures failures, then a success, for the same user within the window. */
    failureThenSuccess: z
      .strictObject({
        enabled: z.boolean().default(true),
        minFailures: count(3),
        windowMinutes: minutes(30),
        dedupMinutes: minutes(60),
      })
      .prefault({}),
    /** Any failed attempt on a default or built-in account (compared case-insensitively, domain stripped). */
    defaultAccounts: z
      .strictObject({
        enabled: z.boolean().default(true),
        accounts: z
          .array(z.string().min(1))
          .default([
            'admin',
            'administrator',
            'root',
            'jenkins',
            'anonymous',
            'guest',
            'test',
            'ci',
            'deploy',
            'gitlab',
            'git',
            'nexus',
            'artifactory',
            'access-admin',
            'sonar',
            'user',
            'default',
          ]),
        dedupMinutes: minutes(60),
      })
      .prefault({}),
    /** Source IPs or CIDR blocks whose login events are ignored (e.g. your own login health checks). */
    allowIps: z.array(ipOrCidr).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

const isFailure = (e: PipewardenEvent) => e.pipewarden.kind === 'login.failure';
const isSuccess = (e: PipewardenEvent) => e.pipewarden.kind === 'login.success';

/** `CORP\Administrator` and `Administrator` are the same built-in account. */
function accountName(user: string): string {
  return (user.split('\\').at(-1) ?? user).trim().toLowerCase();
}

function from(e: PipewardenEvent): string {
  return e.source?.ip ? ` from ${e.source.ip}` : '';
}

/** The sources whose failed sign-ins reach this detector (their adapters map them to login.failure). */
const LOGIN_SOURCES = [
  'artifactory',
  'bitbucket-server',
  'github-audit',
  'gitlab',
  'gitlab-audit',
  'gitlab-logs',
  'jenkins',
];

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'brute-force',
    what: 'many failed sign-ins for one user',
    owasp: ['CICD-SEC-2'],
    sources: LOGIN_SOURCES,
  },
  {
    row: 'password-spraying',
    what: 'many users failing from one address',
    owasp: ['CICD-SEC-2'],
    sources: LOGIN_SOURCES,
  },
  {
    row: 'failure-then-success',
    what: 'failures then a success (possible compromise)',
    owasp: ['CICD-SEC-2', 'CICD-SEC-6'],
    sources: LOGIN_SOURCES,
  },
  {
    row: 'built-in-account',
    what: 'any failure on a built-in account',
    owasp: ['CICD-SEC-2', 'CICD-SEC-7'],
    sources: LOGIN_SOURCES,
  },
];

export const failedLogins: Detector<Config> = {
  id: 'failed-logins',
  title: 'Failed logins',
  severity: 'medium',
  description:
    'Repeated or suspicious failed sign-ins to a pipeline tool: brute force on one account, password spraying from one address, a success after failures, or attempts on built-in accounts.',
  runbook: 'detectors/failed-logins/README.md#runbook',
  reference: 'https://attack.mitre.org/techniques/T1110/',
  configSchema,
  coverage,
  dedupMs: 60 * MINUTE, // `match` (built-in accounts); the rules declare their own

  appliesTo(event) {
    return isFailure(event) || isSuccess(event);
  },

  // Stateless: a failed attempt on a built-in account is worth a look on its own.
  match(event, { config }) {
    const d = config.defaultAccounts;
    const user = event.user?.name;
    if (!d.enabled || !isFailure(event) || !user) return null;
    if (!d.accounts.some((a) => a.toLowerCase() === accountName(user))) return null;
    if (allowedBy(config.allowIps)(event)) return null;
    return {
      summary: `Failed login on built-in account "${user}"${from(event)} (${event.event.provider})`,
      context: { user, provider: event.event.provider, dataset: event.event.dataset },
    };
  },

  key(event) {
    return event.user?.name ?? event.source?.ip ?? 'unknown';
  },

  rules(config) {
    const allowed = allowedBy(config.allowIps);
    const counted = (e: PipewardenEvent) => !allowed(e);
    const rules: Rule<Config>[] = [];
    const { bruteForce: b, spraying: s, failureThenSuccess: f } = config;
    if (b.enabled)
      rules.push({
        id: 'brute-force',
        type: 'threshold',
        keyBy: 'user.name',
        threshold: b.threshold,
        ...windowAndDedup(b),
        when: (e) => isFailure(e) && counted(e),
        describe: (x) => ({
          summary: `${x.count} failed logins for "${x.key}" within ${mins(x.windowMs)} (brute force?)`,
          context: { user: x.key, provider: x.event.event.provider },
        }),
      });
    if (s.enabled)
      rules.push({
        id: 'password-spraying',
        type: 'distinct',
        keyBy: 'source.ip',
        threshold: s.threshold,
        ...windowAndDedup(s),
        severity: 'high',
        field: (e) => e.user?.name?.toLowerCase(),
        when: (e) => isFailure(e) && counted(e),
        describe: (x) => ({
          summary: `${x.count} different users failed to log in from ${x.key} within ${mins(x.windowMs)} (password spraying?)`,
          context: {
            source_ip: x.key,
            targets: `${x.count} users from ${x.key}`,
            users: (x.values ?? []).slice(0, 10).join(', '),
          },
        }),
      });
    if (f.enabled)
      rules.push({
        id: 'failure-then-success',
        type: 'sequence',
        keyBy: 'user.name',
        minFirst: f.minFailures,
        ...windowAndDedup(f),
        severity: 'high',
        first: (e) => isFailure(e) && counted(e),
        followedBy: (e) => isSuccess(e) && counted(e),
        describe: (x) => ({
          summary: `"${x.key}" logged in${from(x.event)} after ${x.count} failed attempts within ${mins(x.windowMs)} (possible compromise)`,
          context: { user: x.key, provider: x.event.event.provider },
        }),
      });
    return rules;
  },
};

/** A predicate: does the event come from an allowlisted address? Events without an IP never are. */
function allowedBy(list: string[]): (e: PipewardenEvent) => boolean {
  const inList = ipMatcher(list);
  return (e) => inList(e.source?.ip);
}
