// Positive and negative examples for out-of-hours-deploys. Real GitHub, Jenkins and Artifactory samples go
// through the real adapters; the daylight-saving edges re-time the real GitHub deployment (the calendar
// is matched on the event's own time).
import { artifactory, artifactoryAccessLines } from '../../ingest-adapters/artifactory/index.ts';
import { azureDevops } from '../../ingest-adapters/azure-devops/index.ts';
import { jenkins } from '../../ingest-adapters/jenkins/index.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import { eventId, type PipewardenEvent } from '../../src/event.ts';
import { fixtureEvent } from '../fixtures.ts';

const fromGithub = (file: string) => fixtureEvent('github', file);

/** Webhook bodies without an event time take the receive time: a Saturday night here. */
function fromJson(adapter: { id: string }, file: string, received: string): PipewardenEvent {
  return fixtureEvent(adapter.id, file, new Date(received));
}

/** An Artifactory access-log line of an authenticated upload, through the real line parser. */
function published(at: string, path: string): PipewardenEvent {
  const line = `${at.replace('T', ' ').replace('Z', '').replace('.', ',')} [7a3f2c1e9b] [ACCEPTED DEPLOY] ${path} for client : ci-bot / 10.0.0.8.`;
  const e = artifactoryAccessLines.read(line, new Date(at), { transport: 'syslog' });
  if (!e) throw new Error('the access line no longer parses');
  return e;
}

const DEPLOYMENT = fromGithub('deployment__gh-pages.json'); // Monday 2022-01-03 01:28:40Z, github-pages

/** The real deployment at another instant (and, optionally, another ref). */
function deployAt(iso: string, patch: Partial<PipewardenEvent['pipewarden']> = {}): PipewardenEvent {
  const e = structuredClone(DEPLOYMENT);
  e['@timestamp'] = new Date(iso).toISOString();
  e.event.id = eventId('case', iso, JSON.stringify(patch));
  Object.assign(e.pipewarden, patch);
  return e;
}

const LONDON = { timeZone: 'Europe/London', hours: { start: '09:00', end: '17:30' } };
const NEW_YORK = { timeZone: 'America/New_York', hours: { start: '09:00', end: '17:00' } };
const ALL_DAY = {
  workingDays: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  hours: { start: '00:00', end: '24:00' },
};

export const cases: DetectorCase[] = [
  {
    name: 'a GitHub Pages deployment at 01:28 UTC on a Monday (real GitHub sample)',
    event: DEPLOYMENT,
    expect: 1,
    summaryIncludes:
      'Deploy of Codertocat/Hello-World to github-pages by Codertocat outside working hours (09:00-18:00), calendar default (UTC)',
  },
  {
    name: 'the deployment and its status are one deploy (real GitHub samples)',
    events: [DEPLOYMENT, fromGithub('deployment_status__gh-pages.json')],
    expect: 1,
  },
  {
    name: 'a review request is not a deploy (real GitHub sample, 02:28 in Los Angeles)',
    event: fromGithub('deployment_review__requested.json'),
    config: { defaultCalendar: { timeZone: 'America/Los_Angeles' } },
    expect: 0,
  },
  {
    name: 'a workflow job targeting an environment at 21:12 UTC (real GitHub sample)',
    event: fromGithub('workflow_job__queued.with-deployment.json'),
    expect: 1,
    summaryIncludes: 'to Test',
  },
  {
    name: 'a workflow run with no environment is a build, not a deploy (real GitHub sample)',
    event: fromGithub('workflow_run__completed.json'),
    config: { deployJobs: [] },
    expect: 0,
  },
  {
    name: 'a Jenkins job matching the deploy patterns on a Saturday night (real Notification sample)',
    event: fromJson(jenkins, 'completed.json', '2024-06-01T22:00:00Z'),
    config: { deployJobs: ['^asgard$'] },
    expect: 1,
    summaryIncludes: 'Deploy of evgeny-goldin/asgard',
  },
  {
    name: 'a Jenkins job not matching the deploy patterns (real Notification sample)',
    event: fromJson(jenkins, 'completed.json', '2024-06-01T22:00:00Z'),
    expect: 0,
  },
  {
    name: 'an Artifactory release-bundle distribution on Saturday (real sample, kind deploy)',
    event: fromJson(
      artifactory,
      'distribution.distribute_failed__distributionFailedEvent.json',
      '2024-06-01T22:00:00Z',
    ),
    expect: 1,
  },
  {
    name: 'an Azure DevOps release deployment at 08:19 UTC (real service-hook sample)',
    event: fromJson(azureDevops, 'deployment_completed.json', '2024-06-01T12:00:00Z'),
    expect: 1,
    summaryIncludes: 'to Dev by Chuck Reinhart outside working hours',
  },
  {
    name: 'the same Azure DevOps deployment is 09:19 in Berlin: in hours (real sample)',
    event: fromJson(azureDevops, 'deployment_completed.json', '2024-06-01T12:00:00Z'),
    config: { defaultCalendar: { timeZone: 'Europe/Berlin' } },
    expect: 0,
  },
  {
    name: 'a release version published to the registry at night',
    event: published('2024-06-04T23:10:00.000Z', 'libs-release-local:com/acme/app/1.4.2/app-1.4.2.jar'),
    expect: 1,
    summaryIncludes: 'Release 1.4.2 of libs-release-local',
  },
  {
    name: 'a snapshot published at night is not a release',
    event: published(
      '2024-06-04T23:10:00.000Z',
      'libs-snapshot-local:com/acme/app/1.4.3-SNAPSHOT/app-1.4.3-SNAPSHOT.jar',
    ),
    expect: 0,
  },
  {
    name: 'a release published in working hours',
    event: published('2024-06-04T10:10:00.000Z', 'libs-release-local:com/acme/app/1.4.2/app-1.4.2.jar'),
    expect: 0,
  },
  // Calendars, routes and the emergency allowlist
  {
    name: 'routed to a team calendar in Auckland, 14:28 local: in hours',
    event: DEPLOYMENT,
    config: {
      calendars: { pages: { timeZone: 'Pacific/Auckland' } },
      routes: [{ calendar: 'pages', environments: ['github-*'] }],
    },
    expect: 0,
  },
  {
    name: 'an emergency approver deploys at any hour',
    event: DEPLOYMENT,
    config: { emergency: { approvers: ['Codertocat'] } },
    expect: 0,
  },
  {
    name: 'a change ticket in the ref approves the deploy',
    event: deployAt('2024-06-04T23:00:00Z', { branch: 'hotfix/CHG-1234-login' }),
    config: { emergency: { ticketPattern: '\\bCHG-\\d+\\b' } },
    expect: 0,
  },
  {
    name: 'a ref without the ticket is still reported',
    event: deployAt('2024-06-04T23:00:00Z', { branch: 'hotfix/login' }),
    config: { emergency: { ticketPattern: '\\bCHG-\\d+\\b' } },
    expect: 1,
  },
  {
    name: 'an ignored environment',
    event: deployAt('2024-06-04T23:00:00Z', { environment: 'review/feature-x' }),
    expect: 0,
  },
  {
    name: 'a recurring public holiday (12-25) in working hours',
    event: deployAt('2024-12-25T10:00:00Z'),
    config: { defaultCalendar: { ...LONDON, holidays: ['12-25', '2024-12-26'] } },
    expect: 1,
    summaryIncludes: 'on a public holiday (2024-12-25)',
  },
  {
    name: 'a deploy in a change freeze, in working hours, is high',
    event: deployAt('2024-12-20T11:00:00Z'),
    config: {
      defaultCalendar: {
        ...LONDON,
        freezes: [{ from: '2024-12-20', to: '2025-01-02', reason: 'year-end freeze' }],
      },
    },
    expect: 1,
    summaryIncludes: 'during a change freeze (year-end freeze)',
  },
  {
    name: 'a deploy on a Saturday',
    event: deployAt('2024-06-01T11:00:00Z'),
    config: { defaultCalendar: LONDON },
    expect: 1,
    summaryIncludes: 'on a non-working day (sat)',
  },
  // Daylight saving: Europe/London (BST from 2024-03-31, GMT from 2024-10-27)
  {
    name: 'London summer: 08:30Z is 09:30 BST, in hours (a fixed UTC offset would say 08:30)',
    event: deployAt('2024-04-02T08:30:00Z'),
    config: { defaultCalendar: LONDON },
    expect: 0,
  },
  {
    name: 'London winter: 08:30Z is 08:30 GMT, before hours',
    event: deployAt('2024-01-09T08:30:00Z'),
    config: { defaultCalendar: LONDON },
    expect: 1,
  },
  {
    name: 'London fall-back: 01:30 happens twice on 2024-10-27 and both are in a 01:00-02:00 freeze',
    events: [
      deployAt('2024-10-27T00:30:00Z', { environment: 'a' }),
      deployAt('2024-10-27T01:30:00Z', { environment: 'b' }),
    ],
    config: {
      defaultCalendar: {
        ...LONDON,
        ...ALL_DAY,
        freezes: [{ from: '2024-10-27T01:00', to: '2024-10-27T02:00' }],
      },
    },
    expect: 2,
  },
  {
    name: 'London fall-back: 02:30Z is 02:30 GMT, after the freeze',
    event: deployAt('2024-10-27T02:30:00Z'),
    config: {
      defaultCalendar: {
        ...LONDON,
        ...ALL_DAY,
        freezes: [{ from: '2024-10-27T01:00', to: '2024-10-27T02:00' }],
      },
    },
    expect: 0,
  },
  // Daylight saving: America/New_York (EDT from 2024-03-10, EST from 2024-11-03)
  {
    name: 'New York after spring-forward: 13:00Z is 09:00 EDT, in hours',
    event: deployAt('2024-03-11T13:00:00Z'),
    config: { defaultCalendar: NEW_YORK },
    expect: 0,
  },
  {
    name: 'New York after spring-forward: 12:59Z is 08:59 EDT, before hours',
    event: deployAt('2024-03-11T12:59:00Z'),
    config: { defaultCalendar: NEW_YORK },
    expect: 1,
  },
  {
    name: 'New York before spring-forward: 13:30Z is 08:30 EST, before hours',
    event: deployAt('2024-03-08T13:30:00Z'),
    config: { defaultCalendar: NEW_YORK },
    expect: 1,
  },
  {
    name: 'New York fall-back: 01:30 EDT (05:30Z) and 01:30 EST (06:30Z) are both in a 01:00-02:00 freeze',
    events: [
      deployAt('2024-11-03T05:30:00Z', { environment: 'a' }),
      deployAt('2024-11-03T06:30:00Z', { environment: 'b' }),
    ],
    config: {
      defaultCalendar: {
        ...NEW_YORK,
        ...ALL_DAY,
        freezes: [{ from: '2024-11-03T01:00', to: '2024-11-03T02:00' }],
      },
    },
    expect: 2,
  },
  {
    name: 'New York fall-back: 07:30Z is 02:30 EST, after the freeze',
    event: deployAt('2024-11-03T07:30:00Z'),
    config: {
      defaultCalendar: {
        ...NEW_YORK,
        ...ALL_DAY,
        freezes: [{ from: '2024-11-03T01:00', to: '2024-11-03T02:00' }],
      },
    },
    expect: 0,
  },
];
