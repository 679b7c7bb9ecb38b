// Positive and negative examples for failed-logins. Stateful behaviours are sequences of events run
// in order through the real engine. The events are normalised the way the login-reporting adapters
// (Jenkins audit trail, GitLab auth log, Artifactory access log, GitHub audit log) emit them.
import type { DetectorCase } from '../../src/detect/types.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { fixtureEvent } from '../fixtures.ts';

interface Source {
  provider: string;
  dataset: string;
  action: { failure: string; success: string };
}

const JENKINS: Source = {
  provider: 'jenkins',
  dataset: 'jenkins.audit',
  action: { failure: 'login_failed', success: 'login' },
};
const GITLAB: Source = {
  provider: 'gitlab',
  dataset: 'gitlab.audit',
  action: { failure: 'failed_login', success: 'user_authenticated' },
};
const ARTIFACTORY: Source = {
  provider: 'artifactory',
  dataset: 'artifactory.access',
  action: { failure: 'DENIED LOGIN', success: 'ACCEPTED LOGIN' },
};

const T0 = Date.parse('2024-06-01T09:00:00Z');
const MIN = 60_000;

function login(
  outcome: 'failure' | 'success',
  user: string | undefined,
  atMs: number,
  options: { ip?: string; source?: Source; n?: number } = {},
): PipewardenEvent {
  const src = options.source ?? JENKINS;
  const at = new Date(atMs).toISOString();
  const e: PipewardenEvent = {
    '@timestamp': at,
    message: `${user ?? 'unknown user'} ${outcome === 'failure' ? 'failed to log in' : 'logged in'}`,
    event: {
      id: eventId('case', src.provider, user, at, options.ip, options.n),
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      action: src.action[outcome],
      outcome,
      dataset: src.dataset,
      provider: src.provider,
      ingested: at,
    },
    pipewarden: { kind: outcome === 'failure' ? 'login.failure' : 'login.success', source: src.provider },
  };
  if (user) e.user = { name: user };
  if (options.ip) e.source = { ip: options.ip };
  return e;
}

/** `n` failures for `user`, `everyMs` apart from `startMs`. */
function failures(
  user: string | undefined,
  n: number,
  startMs: number,
  everyMs: number,
  ip?: string,
  source?: Source,
) {
  return Array.from({ length: n }, (_, i) =>
    login('failure', user, startMs + i * everyMs, {
      ...(ip ? { ip } : {}),
      ...(source ? { source } : {}),
      n: i,
    }),
  );
}

/** The real GitLab `user_failed_login` system hook, through the real adapter. */
function gitlabFailedLogin(): PipewardenEvent {
  return fixtureEvent('gitlab', 'system__user_failed_login.json', new Date('2024-06-01T09:00:00Z'));
}

/** Copies of one event, `everyMs` apart, each with its own id (as separate deliveries would have). */
function repeated(e: PipewardenEvent, n: number, startMs: number, everyMs: number): PipewardenEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const at = new Date(startMs + i * everyMs).toISOString();
    return { ...e, '@timestamp': at, event: { ...e.event, id: eventId(e.event.id, i) } };
  });
}

export const cases: DetectorCase[] = [
  // real samples
  {
    name: 'real GitLab user_failed_login hook: one failure of an ordinary user is no finding',
    event: gitlabFailedLogin(),
    expect: 0,
  },
  {
    name: 'real GitLab user_failed_login hook: counted as a failure (account listed as built-in)',
    event: gitlabFailedLogin(),
    config: { defaultAccounts: { accounts: ['user4'] } },
    expect: 1,
    summaryIncludes: '"user4"',
  },
  {
    name: 'real GitLab user_failed_login hook repeated 10 times in 5 minutes: brute force',
    events: repeated(gitlabFailedLogin(), 10, T0, 30_000),
    expect: 1,
    expectByRule: { 'brute-force': 1 },
  },
  // brute force
  {
    name: 'brute force: 10 failures for one user within 10 minutes',
    events: failures('alice', 10, T0, 50_000, '198.51.100.4'),
    expect: 1,
    expectByRule: { 'brute-force': 1 },
    summaryIncludes: '10 failed logins for "alice"',
  },
  {
    name: 'brute force: counted by user when the events carry no IP',
    events: failures('bob', 10, T0, 30_000),
    expect: 1,
    expectByRule: { 'brute-force': 1 },
  },
  {
    name: 'brute force: failures across Jenkins, GitLab and Artifactory add up (kind, not vendor)',
    events: [
      ...failures('carol', 4, T0, 10_000, undefined, JENKINS),
      ...failures('carol', 3, T0 + MIN, 10_000, undefined, GITLAB),
      ...failures('carol', 3, T0 + 2 * MIN, 10_000, '192.0.2.9', ARTIFACTORY),
    ],
    expect: 1,
    expectByRule: { 'brute-force': 1 },
  },
  {
    name: 'brute force: 20 failures in a burst make one hit (dedup period)',
    events: failures('dave', 20, T0, 10_000),
    expect: 1,
  },
  {
    name: 'brute force: a lower configured threshold fires sooner',
    events: failures('erin', 3, T0, MIN),
    config: { bruteForce: { threshold: 3 } },
    expect: 1,
    expectByRule: { 'brute-force': 1 },
  },
  {
    name: 'brute force (negative): 9 failures within the window stay below the threshold',
    events: failures('frank', 9, T0, 30_000),
    expect: 0,
  },
  {
    name: 'brute force (negative): 10 failures spread over 22 minutes never fit one 10-minute window',
    events: failures('grace', 10, T0, 2.2 * MIN),
    expect: 0,
  },
  // password spraying
  {
    name: 'spraying: 5 different users fail from one IP within 30 minutes',
    events: ['heidi', 'ivan', 'judy', 'mallory', 'oscar'].map((u, i) =>
      login('failure', u, T0 + i * 4 * MIN, { ip: '203.0.113.7', source: i % 2 ? GITLAB : JENKINS }),
    ),
    expect: 1,
    expectByRule: { 'password-spraying': 1 },
    summaryIncludes: '5 different users failed to log in from 203.0.113.7',
    // the set it targets, not the last user as its actor
    hitMatches: { actor: undefined, context: { targets: '5 users from 203.0.113.7' } },
  },
  {
    name: 'spraying (negative): one user failing 5 times from one IP is not spraying',
    events: failures('peggy', 5, T0, MIN, '203.0.113.8'),
    expect: 0,
  },
  {
    name: 'spraying (negative): 4 different users stay below the threshold',
    events: ['u1', 'u2', 'u3', 'u4'].map((u, i) => login('failure', u, T0 + i * MIN, { ip: '203.0.113.9' })),
    expect: 0,
  },
  {
    name: 'spraying (negative): 5 users over 2 hours from one IP are outside one window',
    events: ['u1', 'u2', 'u3', 'u4', 'u5'].map((u, i) =>
      login('failure', u, T0 + i * 25 * MIN, { ip: '203.0.113.10' }),
    ),
    expect: 0,
  },
  {
    name: 'spraying (negative): an allowlisted CIDR is ignored',
    events: ['u1', 'u2', 'u3', 'u4', 'u5'].map((u, i) =>
      login('failure', u, T0 + i * MIN, { ip: '10.20.30.40' }),
    ),
    config: { allowIps: ['10.0.0.0/8'] },
    expect: 0,
  },
  // failure then success
  {
    name: 'failure then success: 3 failures then a success for the same user (possible compromise)',
    events: [
      ...failures('trent', 3, T0, MIN, '198.51.100.20'),
      login('success', 'trent', T0 + 5 * MIN, { ip: '198.51.100.20' }),
    ],
    expect: 1,
    expectByRule: { 'failure-then-success': 1 },
    summaryIncludes: 'after 3 failed attempts',
  },
  {
    name: 'failure then success: the failures and the success may come from different tools',
    events: [
      ...failures('victor', 3, T0, MIN, undefined, JENKINS),
      login('success', 'victor', T0 + 4 * MIN, { source: GITLAB }),
    ],
    expect: 1,
    expectByRule: { 'failure-then-success': 1 },
  },
  {
    name: 'failure then success (negative): 2 failures then a success is a typo',
    events: [...failures('walter', 2, T0, MIN), login('success', 'walter', T0 + 3 * MIN)],
    expect: 0,
  },
  {
    name: 'failure then success (negative): a success before the failures',
    events: [login('success', 'wendy', T0), ...failures('wendy', 3, T0 + MIN, MIN)],
    expect: 0,
  },
  {
    name: 'failure then success (negative): the failures are older than the window before the success',
    events: [...failures('xavier', 3, T0, MIN), login('success', 'xavier', T0 + 40 * MIN)],
    expect: 0,
  },
  {
    name: 'failure then success (negative): another user succeeding',
    events: [...failures('yolanda', 3, T0, MIN), login('success', 'zack', T0 + 4 * MIN)],
    expect: 0,
  },
  // built-in accounts
  {
    name: 'built-in account: one failed login as admin',
    event: login('failure', 'admin', T0, { ip: '192.0.2.50' }),
    expect: 1,
    expectByRule: { match: 1 },
    summaryIncludes: 'built-in account "admin"',
  },
  {
    name: 'built-in account: CORP\\Administrator on Artifactory (case and domain ignored)',
    event: login('failure', 'CORP\\Administrator', T0, { source: ARTIFACTORY }),
    expect: 1,
  },
  {
    name: 'built-in account: a configured account list replaces the default',
    event: login('failure', 'svc-release', T0),
    config: { defaultAccounts: { accounts: ['svc-release'] } },
    expect: 1,
  },
  {
    name: 'built-in account (negative): a successful login as jenkins',
    event: login('success', 'jenkins', T0),
    expect: 0,
  },
  {
    name: 'built-in account (negative): from an allowlisted address',
    event: login('failure', 'admin', T0, { ip: '2001:db8::17' }),
    config: { allowIps: ['2001:db8::/32'] },
    expect: 0,
  },
  {
    name: 'built-in account (negative): "administrators-team" is not "administrator"',
    event: login('failure', 'administrators-team', T0),
    expect: 0,
  },
  {
    name: 'built-in account + brute force: 10 failures as root give both hits',
    events: failures('root', 10, T0, 10_000, '192.0.2.66'),
    expect: 2,
    expectByRule: { match: 1, 'brute-force': 1 },
  },
  // everything else
  {
    name: 'negative: ordinary successful logins',
    events: [login('success', 'alice', T0), login('success', 'bob', T0 + MIN)],
    expect: 0,
  },
  {
    name: 'negative: a login failure with neither user nor IP is counted by nothing',
    events: failures(undefined, 12, T0, 1_000),
    expect: 0,
  },
];
