// Positive and negative examples for security-alert-triage: real GitHub webhook samples (octokit/webhooks)
// through the real adapter, varied in the documented `action` and `alert.resolution` fields; audit-log
// entries in the documented shape through the real normaliser.
import { auditEventToPipewarden } from '../../ingest-adapters/github-audit/normalise.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { bodyEvents, fixtureBody, fixtureEvent, RECEIVED } from '../fixtures.ts';

type Body = Record<string, any>;

function secretAlert(action: string, resolution: string | null): PipewardenEvent {
  const b = structuredClone(fixtureBody('github', 'secret_scanning_alert__reopened.json')) as Body;
  b.action = action;
  b.alert.resolution = resolution;
  const [e] = bodyEvents('github', b, { 'x-github-event': 'secret_scanning_alert' });
  if (!e) throw new Error('no event');
  return e;
}

function dependabot(action: string): PipewardenEvent {
  const b = structuredClone(fixtureBody('github', 'dependabot_alert__created.json')) as Body;
  b.action = action;
  const [e] = bodyEvents('github', b, { 'x-github-event': 'dependabot_alert' });
  if (!e) throw new Error('no event');
  return e;
}

const audit = (action: string, extra: Body = {}) =>
  auditEventToPipewarden(
    {
      action,
      actor: 'mallory',
      org: 'octo-org',
      repo: 'octo-org/api',
      created_at: 1717243200000,
      _document_id: `d-${action}`,
      ...extra,
    },
    RECEIVED,
    { source: 'github-audit', dataset: 'github.audit' },
  );

export const cases: DetectorCase[] = [
  {
    name: 'secret_scanning_alert.created (webhook)',
    event: secretAlert('created', null),
    expect: 1,
    summaryIncludes: 'A secret was committed',
  },
  {
    name: 'secret_scanning_alert.reopened (real webhook sample)',
    event: fixtureEvent('github', 'secret_scanning_alert__reopened.json'),
    expect: 1,
  },
  { name: 'secret_scanning_alert.create (audit)', event: audit('secret_scanning_alert.create'), expect: 1 },
  {
    name: 'secret alert closed as won’t fix',
    event: secretAlert('resolved', 'wont_fix'),
    expect: 1,
    summaryIncludes: 'as wont fix',
  },
  {
    name: 'secret alert closed as false positive',
    event: secretAlert('resolved', 'false_positive'),
    expect: 1,
  },
  {
    name: 'secret alert resolved as revoked is not reported',
    event: secretAlert('resolved', 'revoked'),
    expect: 0,
  },
  { name: 'dependabot_alert.dismissed (webhook)', event: dependabot('dismissed'), expect: 1 },
  {
    name: 'dependabot_alert.created is not a dismissal',
    event: fixtureEvent('github', 'dependabot_alert__created.json'),
    expect: 0,
  },
  { name: 'dependabot_alert.fixed is not reported', event: dependabot('fixed'), expect: 0 },
  {
    name: 'repository_vulnerability_alert.dismiss (audit)',
    event: audit('repository_vulnerability_alert.dismiss'),
    expect: 1,
  },
  {
    name: 'code_scanning_alert.closed_by_user (real webhook sample, false positive)',
    event: fixtureEvent('github', 'code_scanning_alert__closed-by-user.json'),
    expect: 1,
    summaryIncludes: 'dismissed a code scanning alert as false positive',
  },
  {
    name: 'code_scanning_alert.fixed is not reported (real webhook sample)',
    event: fixtureEvent('github', 'code_scanning_alert__fixed.json'),
    expect: 0,
  },
  {
    name: 'new secrets switched off',
    event: secretAlert('created', null),
    config: { newSecrets: { enabled: false } },
    expect: 0,
  },
];
