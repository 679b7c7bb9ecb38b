// Positive and negative examples for anonymous-access. Real samples go through the real adapters (GitHub
// webhooks, GitHub audit log, Artifactory access log, Jenkins Audit Trail); a busy public mirror is the
// real Artifactory line replayed with other times and addresses.
import { artifactoryAccessLines } from '../../ingest-adapters/artifactory/index.ts';
import { dockerDistribution } from '../../ingest-adapters/docker-distribution/index.ts';
import { auditEventToPipewarden } from '../../ingest-adapters/github-audit/normalise.ts';
import { gitlabLogs } from '../../ingest-adapters/gitlab-logs/index.ts';
import { jenkins } from '../../ingest-adapters/jenkins/index.ts';
import { nexus } from '../../ingest-adapters/nexus/index.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { fixtureBody, fixtureEvent, RECEIVED } from '../fixtures.ts';

const sample = (adapter: string, file: string) => ({ body: fixtureBody(adapter, file) });

const fromGithub = (file: string) => fixtureEvent('github', file);

const fromArtifactory = (file: string) => fixtureEvent('artifactory', file);

/** Any adapter's fixture through its own parse and toEvents, as the ingest plugin runs them. */
const fromFixture = (adapter: { id: string }, file: string) => fixtureEvent(adapter.id, file);

/** The real anonymous-download line, at another time and from another address. */
const REAL_DOWNLOAD = String(
  sample('artifactory', 'artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json').body,
);
function download(atIso: string, ip: string, verb = 'DOWNLOAD'): PipewardenEvent {
  const line = REAL_DOWNLOAD.replace(/^\S+ \S+/, atIso.replace('T', ' ').replace('Z', '').replace('.', ','))
    .replace('86.12.14.192', ip)
    .replace('ACCEPTED DOWNLOAD', `ACCEPTED ${verb}`);
  const e = artifactoryAccessLines.read(line, RECEIVED, { transport: 'syslog' });
  if (!e) throw new Error('the access line no longer parses');
  return e;
}

function jenkinsLine(message: string): PipewardenEvent {
  const headers = { 'content-type': 'text/plain' };
  const raw = Buffer.from(`Jan 8, 2026 3:15:02,611 AM ${message}`);
  const [e] = jenkins.toEvents(jenkins.parse!(raw, headers), headers, RECEIVED).events;
  if (!e) throw new Error('no Jenkins event');
  return e;
}

const audit = (action: string, extra: Record<string, unknown>) =>
  auditEventToPipewarden(
    {
      action,
      actor: 'mallory',
      org: 'octo-org',
      created_at: 1717243200000,
      _document_id: `doc-${action}`,
      ...extra,
    },
    RECEIVED,
    { source: 'github-audit', dataset: 'github.audit' },
  );

const mirror = Array.from({ length: 40 }, (_, i) =>
  download(
    new Date(Date.parse('2024-06-01T10:00:00Z') + i * 45_000).toISOString(),
    `198.51.100.${(i % 20) + 1}`,
  ),
);

export const cases: DetectorCase[] = [
  // Configuration that allows it
  {
    name: 'repository made public (real GitHub sample)',
    event: fromGithub('repository__publicized.json'),
    expect: 1,
    summaryIncludes: 'Codertocat made the repository public on Codertocat/Hello-World',
  },
  {
    name: 'public event (real GitHub sample)',
    event: fromGithub('public__with-installation.json'),
    expect: 1,
  },
  {
    name: 'GHES anonymous Git access enabled (real GitHub Enterprise Server sample)',
    event: fromGithub('ghes__enterprise__anonymous_access_enabled.json'),
    expect: 1,
    summaryIncludes: 'enabled anonymous Git read access',
  },
  {
    name: 'repository made private is not an opening (real GitHub sample)',
    event: fromGithub('repository__privatized.json'),
    expect: 0,
  },
  {
    // Issue 11: a repository created public in an organisation is reported (it was silent before).
    name: 'a public repository created in an organisation is reported (real GitHub sample)',
    event: fromGithub('repository__created.json'),
    expect: 1,
    summaryIncludes: 'created a public repository',
  },
  {
    name: 'audit repo.create public',
    event: audit('repo.create', { repo: 'octo-org/leak', visibility: 'public', public_repo: true }),
    expect: 1,
    summaryIncludes: 'created a public repository on octo-org/leak',
  },
  {
    name: 'audit repo.create internal is not reported (real entry)',
    event: auditEventToPipewarden(fixtureBody('github-audit', 'repo.create.json'), RECEIVED, {
      source: 'github-audit',
      dataset: 'github.audit',
    }),
    expect: 0,
  },
  {
    name: 'audit repo.access without a visibility field is reported at low severity',
    event: audit('repo.access', { repo: 'octo-org/api' }),
    expect: 1,
    summaryIncludes: 'may be public',
  },
  {
    name: 'audit repo.access with previous_visibility private and visibility public',
    event: audit('repo.access', {
      repo: 'octo-org/api',
      previous_visibility: 'private',
      visibility: 'public',
    }),
    expect: 1,
    summaryIncludes: 'changed the visibility to public',
  },
  {
    name: 'a repository meant to be public is allowlisted',
    event: fromGithub('repository__publicized.json'),
    config: { allowRepositories: ['Codertocat/*'] },
    expect: 0,
  },
  {
    name: 'audit repo.access to public',
    event: audit('repo.access', { repo: 'octo-org/api', visibility: 'public' }),
    expect: 1,
  },
  {
    name: 'audit repo.access to private',
    event: audit('repo.access', { repo: 'octo-org/api', visibility: 'private' }),
    expect: 0,
  },
  {
    name: 'audit repo.pages_public',
    event: audit('repo.pages_public', { repo: 'octo-org/site' }),
    expect: 1,
  },
  {
    name: 'audit private_repository_forking.enable',
    event: audit('private_repository_forking.enable', {}),
    expect: 1,
  },
  {
    name: 'audit GHES enterprise.config.enable_anonymous_git_access',
    event: audit('enterprise.config.enable_anonymous_git_access', {}),
    expect: 1,
  },
  {
    name: 'GitLab project visibility Private -> Public (real GitLab audit_json.log line)',
    event: fromFixture(gitlabLogs, 'audit_json.log__project_visibility_Private-_Public.json'),
    expect: 1,
    summaryIncludes: 'changed the visibility to public on namespace2/project2',
  },
  // Its use
  {
    name: 'a registry pull without authentication (real Docker Distribution notification)',
    event: fromFixture(dockerDistribution, 'manifest-pull.json'),
    expect: 1,
    expectByRule: { 'anonymous-read': 1 },
  },
  {
    name: 'an anonymous component upload to Nexus (real Nexus webhook)',
    event: fromFixture(nexus, 'component.json'),
    expect: 1,
    expectByRule: { 'anonymous-write': 1 },
  },
  {
    name: 'an authenticated Nexus asset upload is not anonymous (real Nexus webhook)',
    event: fromFixture(nexus, 'asset.json'),
    expect: 0,
  },
  {
    name: 'anonymous download from an artefact repository (real Artifactory access-log line)',
    event: fromArtifactory('artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json'),
    expect: 1,
    summaryIncludes: 'artifactory: an anonymous read',
  },
  {
    name: 'anonymous session on Artifactory (real Artifactory 6 access-log line)',
    event: fromArtifactory('access.log__ACCEPTED_LOGIN_anonymous_.json'),
    expect: 1,
  },
  {
    name: 'a token login is not anonymous (real Artifactory sample)',
    event: fromArtifactory('artifactory-access.log__ACCEPTED_LOGIN_token_.json'),
    expect: 0,
  },
  {
    name: 'an anonymous browser loading the UI is not counted (real Artifactory 6 request-log line)',
    event: fromArtifactory('request.log_Artifactory_6.x_anonymous___line.json'),
    expect: 0,
  },
  {
    name: 'a remote cache meant to be public is allowlisted',
    event: fromArtifactory('artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json'),
    config: { allowRepositories: ['jcenter-cache'] },
    expect: 0,
  },
  {
    name: 'an allowlisted public path',
    event: fromArtifactory('artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json'),
    config: { allowPaths: ['jcenter-cache/org/**'] },
    expect: 0,
  },
  {
    name: 'a busy public mirror pages once per dedup period, not every minute (40 reads in 30 min)',
    events: mirror,
    expect: 1,
    expectByRule: { 'anonymous-read': 1 },
  },
  {
    name: 'the same mirror keyed by client IP: one hit per address',
    events: mirror.slice(0, 5),
    config: { reads: { keyBy: 'source.ip' } },
    expect: 5,
  },
  {
    name: 'a threshold of 50 reads is not reached by 40',
    events: mirror,
    config: { reads: { threshold: 50, windowMinutes: 60 } },
    expect: 0,
  },
  {
    name: 'an anonymous upload is a write, reported apart from the reads',
    events: [
      download('2024-06-01T10:00:00Z', '203.0.113.7'),
      download('2024-06-01T10:01:00Z', '203.0.113.7', 'DEPLOY'),
    ],
    expect: 2,
    expectByRule: { 'anonymous-read': 1, 'anonymous-write': 1 },
  },
  {
    name: 'an anonymous Jenkins build trigger (Audit Trail "by NA")',
    event: jenkinsLine('/job/deploy-prod/build by NA from 198.51.100.4'),
    expect: 1,
    expectByRule: { 'anonymous-write': 1 },
  },
  {
    name: 'an authenticated Jenkins build trigger is not anonymous',
    event: jenkinsLine('/job/deploy-prod/build by alice from 198.51.100.4'),
    expect: 0,
  },
  {
    name: 'reads switched off',
    event: fromArtifactory('artifactory-access.log__ACCEPTED_DOWNLOAD_anonymous_.json'),
    config: { reads: { enabled: false } },
    expect: 0,
  },
  {
    name: 'audit private_repository_forking.clear (policy cleared)',
    event: audit('private_repository_forking.clear', { business: 'octo-enterprise' }),
    expect: 1,
  },
];
