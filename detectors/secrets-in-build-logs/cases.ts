// Cases run the real scanner over real-looking log text, so they cover scanner and detector together.
import { createHash } from 'node:crypto';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { LogScrubber } from '../../src/secrets/edge.ts';
import { SecretEngine } from '../../src/secrets/scanner.ts';

const engine = new SecretEngine();
const KEY = 'cases-fingerprint-key-0123456789';
const at = new Date('2024-06-01T12:00:00Z');

// Built at run time so no token-shaped literal sits in the repository.
const githubToken = `ghp_${createHash('sha256').update('case-1').digest('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`;
const awsKeyId = `AKIA${createHash('sha256')
  .update('case-2')
  .digest('hex')
  .toUpperCase()
  .replace(/[01890]/g, 'Q')
  .slice(0, 16)}`;

function scan(log: string, job = 'github:octo-org/octo-repo:1001'): PipewardenEvent[] {
  const s = new LogScrubber({ engine, fingerprintKey: KEY, job, source: 'github', now: () => at });
  return [...s.push(log).events, ...s.end().events];
}

function only(events: PipewardenEvent[]): PipewardenEvent {
  if (events.length !== 1) throw new Error(`expected one finding, got ${events.length}`);
  return events[0]!;
}

export const cases: DetectorCase[] = [
  {
    name: 'a GitHub token echoed by a debug step',
    event: only(
      scan(
        `2024-06-01T11:59:58.1234567Z + curl -H "Authorization: token ${githubToken}" https://api.github.com/user\n`,
      ),
    ),
    expect: 1,
    summaryIncludes: 'printed in the build log of github:octo-org/octo-repo:1001',
  },
  {
    name: 'an AWS access key id in an environment dump',
    event: only(scan(`AWS_ACCESS_KEY_ID=${awsKeyId}\nAWS_REGION=eu-west-1\n`)),
    expect: 1,
  },
  {
    name: 'a suppressed fingerprint is not reported',
    event: only(scan(`token: ${githubToken}\n`)),
    config: {
      suppressFingerprints: [only(scan(`token: ${githubToken}\n`)).pipewarden.secret!.fingerprint],
    },
    expect: 0,
  },
  {
    name: 'a suppressed rule is not reported',
    event: only(scan(`AWS_ACCESS_KEY_ID=${awsKeyId}\n`)),
    config: { suppressRules: [only(scan(`AWS_ACCESS_KEY_ID=${awsKeyId}\n`)).pipewarden.secret!.rule] },
    expect: 0,
  },
  {
    name: 'an ordinary build event is not a finding',
    event: {
      '@timestamp': at.toISOString(),
      event: {
        id: 'b1',
        kind: 'event',
        category: ['process'],
        type: ['end'],
        action: 'workflow_job.completed',
        outcome: 'success',
        dataset: 'github.webhook',
        provider: 'github',
        ingested: at.toISOString(),
      },
      pipewarden: { kind: 'build', source: 'github' },
    },
    expect: 0,
  },
];
