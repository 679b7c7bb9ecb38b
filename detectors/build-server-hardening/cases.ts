// Positive and negative examples for build-server-hardening. Every event comes out of the real Jenkins
// adapter: its real Audit Trail samples, and Audit Trail lines in the format the plugin writes.
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { bodyEvents, fixtureBody, fixtureEvent } from '../fixtures.ts';

/** The real GitLab job hook (xanzy/go-gitlab build.json) with its documented `runner` block varied. */
function gitlabJob(runner: Record<string, unknown>, buildName = 'test'): PipewardenEvent {
  const b = structuredClone(fixtureBody('gitlab', 'build.json')) as Record<string, any>;
  b.runner = { ...b.runner, ...runner };
  b.build_name = buildName;
  const [e] = bodyEvents('gitlab', b, { 'x-gitlab-event': 'Job Hook' });
  if (!e) throw new Error('no event');
  return e;
}
const SHARED_UNTAGGED = {
  runner_type: 'instance_type',
  is_shared: true,
  tags: [],
  description: 'shared-docker-1',
};

const RECEIVED = new Date('2026-01-08T09:00:00Z');

function fromBody(body: unknown, contentType: string): PipewardenEvent {
  const [event] = bodyEvents('jenkins', body, { 'content-type': contentType }, RECEIVED);
  if (!event) throw new Error('the Jenkins adapter produced no event');
  return event;
}

const fromFixture = (file: string) => fixtureEvent('jenkins', file, RECEIVED);

/** One Audit Trail file-logger line: "MMM d, yyyy h:mm:ss,SSS aa <message>". */
const line = (message: string) => fromBody(`Jan 8, 2026 9:15:02,611 AM ${message}`, 'text/plain');

const built = (job: string, n: number, node: string) =>
  line(
    `${job} #${n} Started by user alice, Parameters:[] on ${node} started at 2026-01-08T09:10:00Z completed in 1000ms completed: SUCCESS`,
  );

export const cases: DetectorCase[] = [
  {
    name: 'a pipeline that ran on the built-in node (real Audit Trail sample)',
    event: fromFixture('audit-trail__build-completed.json'),
    expect: 1,
    summaryIncludes: 'monitor-jenkins-grafana-prometheus ran on the built-in controller node (Built-In Node)',
  },
  {
    name: 'a job configuration saved is not a hardening change (real Audit Trail sample)',
    event: fromFixture('audit-trail__configSubmit.json'),
    expect: 0,
  },
  {
    name: 'a build phase from the Notification plugin names no node (real sample)',
    event: fromFixture('completed.json'),
    expect: 0,
  },
  { name: 'a build on the legacy "master" node', event: built('release', 7, 'master'), expect: 1 },
  { name: 'a build on an agent is fine', event: built('release', 8, 'linux-agent-3'), expect: 0 },
  {
    name: 'a job allowed on the controller (seed job) is not reported',
    event: built('seed', 3, 'built-in'),
    config: { allowBuiltInJobs: ['seed'] },
    expect: 0,
  },
  {
    name: 'the same job on the controller twice within the hour is one hit',
    events: [built('release', 9, 'built-in'), built('release', 10, 'built-in')],
    expect: 1,
  },
  {
    name: 'plugin install through the plugin manager',
    event: line('/manage/pluginManager/install by admin from 10.0.0.5'),
    expect: 1,
    summaryIncludes: 'admin installed or updated a plugin on Jenkins from 10.0.0.5',
  },
  {
    name: 'plugin removed',
    event: line('/manage/pluginManager/plugin/audit-trail/doUninstall by admin from 10.0.0.5'),
    expect: 1,
  },
  {
    name: 'script console used (Audit Trail script record)',
    event: line("A groovy script was executed by user 'alice'. Origin: Script Console Controller."),
    expect: 1,
    summaryIncludes: 'alice ran a script in the script console',
  },
  { name: 'script console request', event: line('/manage/script by alice from 10.0.0.7'), expect: 1 },
  {
    name: 'anonymous script console use is critical',
    event: line('/scriptText by NA from 198.51.100.4'),
    expect: 1,
    summaryIncludes: 'An anonymous user ran a script in the script console on Jenkins from 198.51.100.4',
  },
  {
    name: 'security realm or authorization strategy changed',
    event: line('/manage/configureSecurity/configure by admin from 10.0.0.5'),
    expect: 1,
    summaryIncludes: 'changed the global security configuration',
  },
  {
    name: 'a configuration-as-code account is ignored',
    event: line('/manage/configureSecurity/configure by casc-bot from 10.0.0.5'),
    config: { ignoreActors: ['casc-bot'] },
    expect: 0,
  },
  {
    name: 'plugin checks switched off',
    event: line('/manage/pluginManager/install by admin from 10.0.0.5'),
    config: { checks: { plugins: false } },
    expect: 0,
  },
  {
    name: 'a build started by hand is not a hardening change',
    event: line('/job/release/build by alice from 10.0.0.5'),
    expect: 0,
  },
  {
    name: 'GitLab: a job on an instance runner without tags',
    event: gitlabJob(SHARED_UNTAGGED),
    expect: 1,
    summaryIncludes: 'instance runner shared-docker-1 has no tags',
  },
  {
    name: 'GitLab: two jobs on the same untagged instance runner within the hour are one finding',
    events: [gitlabJob(SHARED_UNTAGGED, 'build'), gitlabJob(SHARED_UNTAGGED, 'deploy')],
    expect: 1,
  },
  {
    name: 'GitLab: an instance runner with tags is not reported',
    event: gitlabJob({ runner_type: 'instance_type', is_shared: true, tags: ['docker'] }),
    expect: 0,
  },
  {
    name: 'GitLab: the real job on a tagged project runner is not reported',
    event: fixtureEvent('gitlab', 'build.json'),
    expect: 0,
  },
  {
    name: 'GitLab: the check can be switched off',
    event: gitlabJob(SHARED_UNTAGGED),
    config: { checks: { sharedUntaggedRunners: false } },
    expect: 0,
  },
  // Script Security approvals, new agents, self sign-up (Audit Trail request lines, issue 11 recall)
  {
    name: 'a script approved outside the Groovy sandbox (Stapler bound URL of In-process Script Approval)',
    event: line(
      '/manage/scriptApproval/$stapler/bound/6c1b7a0e-1f2a-4b9e-9d4f-0a1b2c3d4e5f/approveScript by admin from 10.0.0.5',
    ),
    expect: 1,
    summaryIncludes: 'admin approved a script or method signature to run outside the Groovy sandbox',
  },
  {
    name: 'a method signature approved (aclApproveSignature)',
    event: line('/scriptApproval/$stapler/bound/0d9e/aclApproveSignature by admin'),
    expect: 1,
  },
  {
    name: 'a pending approval denied is not an approval',
    event: line('/manage/scriptApproval/$stapler/bound/6c1b/denyScript by admin from 10.0.0.5'),
    expect: 0,
  },
  {
    name: 'a new agent defined (/computer/doCreateItem)',
    event: line('/manage/computer/doCreateItem by admin from 10.0.0.5'),
    expect: 1,
    summaryIncludes: 'added a build agent',
  },
  {
    name: 'a new agent from the Audit Log plugin (createNode)',
    event: fromBody(
      '<110>1 2026-01-08T09:15:02.611Z jenkins.example audit-log - - [createNode@18060 userId="admin" nodeName="linux-agent-9" timestamp="2026-01-08T09:15:02.611Z"]',
      'text/plain',
    ),
    expect: 1,
  },
  {
    name: 'agents check off',
    event: line('/manage/computer/doCreateItem by admin from 10.0.0.5'),
    config: { checks: { agents: false } },
    expect: 0,
  },
  {
    name: 'an account created through self sign-up (anonymous /securityRealm/createAccount)',
    event: line('/securityRealm/createAccount by anonymous from 198.51.100.7'),
    expect: 1,
    summaryIncludes: 'self sign-up',
    hitMatches: { severity: 'high' },
  },
  {
    name: 'an admin creating a user is not a sign-up',
    event: line('/manage/securityRealm/createAccountByAdmin by admin from 10.0.0.5'),
    expect: 0,
  },
];
