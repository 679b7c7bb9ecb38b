// Positive and negative examples for account-takeover: GitLab log lines built from GitLab's documented
// production_json.log and audit_json.log shapes (fixtures' provenance), through the real gitlab-logs adapter;
// GitLab's streamed audit example varied into an "Ask for password reset" event through gitlab-audit.
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { bodyEvents, fixtureBody } from '../fixtures.ts';

function line(file: string): PipewardenEvent {
  const [e] = bodyEvents('gitlab-logs', fixtureBody('gitlab-logs', file) as string);
  if (!e) throw new Error('no event');
  return e;
}

function streamed(targetDetails: string): PipewardenEvent {
  const b = structuredClone(fixtureBody('gitlab-audit', 'project_group_link_create.json')) as Record<
    string,
    any
  >;
  b.event_type = 'password_reset_requested';
  b.entity_type = 'User';
  b.target_details = targetDetails;
  b.details = { ...b.details, custom_message: 'Ask for password reset', target_details: targetDetails };
  const [e] = bodyEvents('gitlab-audit', b);
  if (!e) throw new Error('no event');
  return e;
}

export const cases: DetectorCase[] = [
  {
    name: 'production_json.log: reset asked for two addresses',
    event: line('production_json.log__password_reset_two_emails.json'),
    expect: 1,
    summaryIncludes: '2 email addresses',
  },
  {
    name: 'production_json.log: reset for one address',
    event: line('production_json.log__password_reset_one_email.json'),
    expect: 0,
  },
  {
    name: 'audit_json.log: "Ask for password reset" to two addresses',
    event: line('audit_json.log__password_reset_two_emails.json'),
    expect: 1,
  },
  {
    name: 'streamed audit event with two addresses',
    event: streamed('["victim@example.com", "attacker@evil.example"]'),
    expect: 1,
  },
  { name: 'streamed audit event with one address', event: streamed('victim@example.com'), expect: 0 },
];
