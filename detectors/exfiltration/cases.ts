// Positive and negative examples for exfiltration: the real GitLab streamed Git fetch (ssh_fetch_user) and
// the real Artifactory anonymous-download line replayed for other projects, artefacts and times; GitHub
// audit-log entries (`git.clone`, `hashed_token`, `actor_ip`, as GitHub's audit reference documents them)
// through the real normaliser.
import { artifactoryAccessLines } from '../../ingest-adapters/artifactory/index.ts';
import { auditEventToPipewarden } from '../../ingest-adapters/github-audit/normalise.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { bodyEvents, fixtureBody, RECEIVED } from '../fixtures.ts';

type Body = Record<string, any>;
const at = (minute: number) => new Date(Date.UTC(2024, 5, 3, 10, minute)).toISOString();

/** The real GitLab streamed `git-upload-pack` over SSH, for another project at another time. */
function gitlabFetch(project: string, minute: number): PipewardenEvent {
  const b = structuredClone(fixtureBody('gitlab-audit', 'ssh_fetch_user.json')) as Body;
  b.id = 1000 + minute;
  b.entity_path = `example-group/${project}`;
  b.details.entity_path = `example-group/${project}`;
  b.created_at = at(minute);
  const [e] = bodyEvents('gitlab-audit', b);
  if (!e) throw new Error('no event');
  return e;
}

const githubAudit = (action: string, minute: number, extra: Body) =>
  auditEventToPipewarden(
    {
      action,
      actor: 'mallory',
      org: 'octo-org',
      '@timestamp': Date.parse(at(minute)),
      _document_id: `x-${action}-${minute}-${JSON.stringify(extra)}`,
      ...extra,
    },
    RECEIVED,
    { source: 'github-audit', dataset: 'github.audit' },
  );

/** The real Artifactory access line, downloading another artefact as user `bulk` at another time. */
const REAL = String(fixtureBody('artifactory', 'artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json'));
function download(n: number, minute: number): PipewardenEvent {
  const line = REAL.replace(/^\S+ \S+/, at(minute).replace('T', ' ').replace('Z', '').replace('.', ','))
    .replace(/\[ACCEPTED DOWNLOAD\] (\S+?):\S+/, `[ACCEPTED DOWNLOAD] $1:lib/pkg-${n}.jar`)
    .replace(/for (?:anonymous|\S+)/, 'for bulk');
  const e = artifactoryAccessLines.read(line, RECEIVED, { transport: 'syslog' });
  if (!e) throw new Error('the access line no longer parses');
  return e;
}

const projects = (n: number) => Array.from({ length: n }, (_, i) => `project-${i}`);

/** The api_json.log token line (gitlab-org/gitlab!92608) for token `id` from `ip` at another time. */
function gitlabTokenUse(id: number, ip: string, minute: number): PipewardenEvent {
  const line = JSON.parse(fixtureBody('gitlab-logs', 'api_json.log__personal_access_token.json') as string);
  const [e] = bodyEvents(
    'gitlab-logs',
    JSON.stringify({ ...line, token_id: id, remote_ip: ip, 'meta.remote_ip': ip, time: at(minute) }),
  );
  if (!e) throw new Error('no event');
  return e;
}

export const cases: DetectorCase[] = [
  {
    name: 'GitLab: one user fetches 20 projects within an hour',
    events: projects(20).map((p, i) => gitlabFetch(p, i)),
    expect: 1,
    expectByRule: { 'mass-clone': 1 },
    summaryIncludes: 'read 20 distinct repositories',
  },
  {
    name: 'GitLab: 19 projects is under the threshold',
    events: projects(19).map((p, i) => gitlabFetch(p, i)),
    expect: 0,
  },
  {
    name: 'GitLab: the same project fetched 30 times is not bulk',
    events: Array.from({ length: 30 }, (_, i) => gitlabFetch('same', i)),
    expect: 0,
  },
  {
    name: 'GitHub audit: git.clone of 5 repositories with threshold 5',
    events: projects(5).map((p, i) => githubAudit('git.clone', i, { repo: `octo-org/${p}` })),
    config: { repositories: { threshold: 5 } },
    expect: 1,
  },
  {
    name: 'GitHub audit: an ignored backup account',
    events: projects(5).map((p, i) => githubAudit('git.clone', i, { repo: `octo-org/${p}` })),
    config: { repositories: { threshold: 5 }, ignoreActors: ['mallory'] },
    expect: 0,
  },
  {
    name: 'GitHub audit: a token used from a second address within a day',
    events: [
      githubAudit('git.clone', 0, {
        repo: 'octo-org/a',
        hashed_token: 'h1',
        token_id: 77,
        actor_ip: '198.51.100.4',
      }),
      githubAudit('git.clone', 5, {
        repo: 'octo-org/a',
        hashed_token: 'h1',
        token_id: 77,
        actor_ip: '198.51.100.4',
      }),
      githubAudit('git.clone', 9, {
        repo: 'octo-org/b',
        hashed_token: 'h1',
        token_id: 77,
        actor_ip: '203.0.113.50',
      }),
    ],
    expect: 1,
    expectByRule: { 'token-new-address': 1 },
    summaryIncludes: 'now 203.0.113.50',
  },
  {
    name: 'GitHub audit: two tokens of one actor, each from its own address, are two keys (state per token)',
    events: [
      githubAudit('git.clone', 0, {
        repo: 'octo-org/a',
        hashed_token: 'laptop-hash',
        token_id: 77,
        actor_ip: '198.51.100.4',
      }),
      githubAudit('git.clone', 9, {
        repo: 'octo-org/b',
        hashed_token: 'runner-hash',
        token_id: 78,
        actor_ip: '203.0.113.50',
      }),
    ],
    expect: 0,
  },
  {
    name: 'GitHub audit: a token known only by its hash (no token_id) used from a second address',
    events: [
      githubAudit('repo.download_zip', 0, {
        repo: 'octo-org/a',
        hashed_token: 'k3FqXWbH2hxLrR9Zz0h1Zl7YcM9u2PQ1nXw3aT8oJ0E=',
        actor_ip: '198.51.100.4',
      }),
      githubAudit('repo.download_zip', 30, {
        repo: 'octo-org/a',
        hashed_token: 'k3FqXWbH2hxLrR9Zz0h1Zl7YcM9u2PQ1nXw3aT8oJ0E=',
        actor_ip: '192.0.2.201',
      }),
    ],
    expect: 1,
    summaryIncludes: 'hash k3FqXWbH2hxL',
  },
  {
    name: 'GitLab api_json.log: one personal access token used from a second address',
    events: [gitlabTokenUse(9, '127.0.0.1', 0), gitlabTokenUse(9, '198.51.100.23', 40)],
    expect: 1,
    expectByRule: { 'token-new-address': 1 },
    summaryIncludes: 'PersonalAccessToken (id 9) of project_8_bot',
  },
  {
    name: 'GitLab api_json.log: two tokens of one bot from two addresses are two keys',
    events: [gitlabTokenUse(9, '127.0.0.1', 0), gitlabTokenUse(10, '198.51.100.23', 40)],
    expect: 0,
  },
  {
    name: 'GitHub audit: a token used from one address only',
    events: [0, 5, 9].map((m) =>
      githubAudit('git.fetch', m, { repo: 'octo-org/a', hashed_token: 'h1', actor_ip: '198.51.100.4' }),
    ),
    expect: 0,
  },
  {
    name: 'Artifactory: one user downloads 10 distinct artefacts (threshold 10)',
    events: Array.from({ length: 10 }, (_, i) => download(i, i)),
    config: { artifacts: { threshold: 10 } },
    expect: 1,
    expectByRule: { 'mass-download': 1 },
  },
  {
    name: 'Artifactory: the same artefact downloaded 10 times is not bulk',
    events: Array.from({ length: 10 }, (_, i) => download(1, i)),
    config: { artifacts: { threshold: 10 } },
    expect: 0,
  },
  {
    name: 'GitHub audit: repo.create of s1ngularity-repository-0 (Nx worm)',
    event: githubAudit('repo.create', 1, {
      repo: 'victim-user/s1ngularity-repository-0',
      visibility: 'public',
    }),
    expect: 1,
    summaryIncludes: 'supply-chain worm',
  },
  {
    name: 'GitHub webhook: repository.created named Shai-Hulud',
    event: (() => {
      const b = structuredClone(fixtureBody('github', 'repository__created.json')) as Body;
      b.repository.name = 'Shai-Hulud';
      b.repository.full_name = 'Octocoders/Shai-Hulud';
      return bodyEvents('github', b, { 'x-github-event': 'repository' })[0]!;
    })(),
    expect: 1,
  },
  {
    name: 'GitHub audit: an ordinary repo.create',
    event: githubAudit('repo.create', 1, { repo: 'octo-org/api' }),
    expect: 0,
  },
];
