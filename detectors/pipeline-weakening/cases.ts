// Positive and negative examples for pipeline-weakening; real GitHub samples go through the real adapter.
import { readFileSync } from 'node:fs';
import { github } from '../../ingest-adapters/github/index.ts';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';

function fromGithubFixture(file: string): PipewardenEvent {
  const sample = JSON.parse(
    readFileSync(new URL(`../../ingest-adapters/github/fixtures/${file}`, import.meta.url), 'utf8'),
  );
  const headers = Object.fromEntries(
    Object.entries(sample.headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const [event] = github.toEvents(sample.body, headers, new Date('2024-05-01T12:00:00Z')).events;
  if (!event) throw new Error(`${file} produced no event`);
  return event;
}

export const cases: DetectorCase[] = [
  {
    name: 'branch protection rule deleted (real GitHub sample)',
    event: fromGithubFixture('branch_protection_rule__deleted.json'),
    expect: 1,
    summaryIncludes: 'deleted a branch protection rule',
  },
  {
    name: 'webhook deleted (real GitHub meta sample)',
    event: fromGithubFixture('meta__deleted.json'),
    expect: 1,
    summaryIncludes: 'deleted a webhook',
  },
  {
    name: 'deploy key added (real GitHub sample)',
    event: fromGithubFixture('deploy_key__created.json'),
    expect: 1,
  },
  {
    name: 'branch protection rule created is not a weakening',
    event: fromGithubFixture('branch_protection_rule__created.1.json'),
    expect: 0,
  },
  {
    name: 'an ordinary push is not a weakening',
    event: fromGithubFixture('push__default.json'),
    expect: 0,
  },
  {
    name: 'an ignored actor is not reported',
    event: fromGithubFixture('branch_protection_rule__deleted.json'),
    config: { ignoreActors: ['Codertocat'] },
    expect: 0,
  },
];
