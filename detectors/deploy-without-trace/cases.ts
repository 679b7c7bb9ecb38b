// Positive and negative examples for deploy-without-trace, from real samples through the real adapters.
import type { DetectorCase } from '../../src/detect/types.ts';
import { fixtureEvent } from '../fixtures.ts';

const github = (file: string) => fixtureEvent('github', file);

export const cases: DetectorCase[] = [
  {
    name: 'an Azure DevOps release deployment that names no commit, build or artefact (real sample)',
    event: fixtureEvent('azure-devops', 'deployment_completed.json'),
    expect: 1,
    summaryIncludes: 'cannot be traced: it names no commit, CI build or artefact digest',
  },
  {
    name: 'an Artifactory build promotion names its build (real sample)',
    event: fixtureEvent('artifactory', 'build.promoted__buildPromotedEvent.json'),
    expect: 0,
  },
  {
    name: 'a GitHub deployment made by a workflow run for a commit (real sample)',
    event: github('deployment__gh-pages.json'),
    expect: 0,
  },
  {
    name: 'the same deployment to an environment that requires approval, with no approver on it',
    event: github('deployment__gh-pages.json'),
    config: { requireApproval: ['GitHub-Pages'] },
    expect: 1,
    summaryIncludes: 'has no approver, and github-pages requires one',
  },
  {
    name: 'a deployment and its status are reported once (real samples)',
    events: [github('deployment__gh-pages.json'), github('deployment_status__gh-pages.json')],
    config: { requireApproval: ['github-pages'] },
    expect: 1,
  },
  {
    name: 'a review request is not a deploy (real sample)',
    event: github('deployment_review__requested.json'),
    config: { requireApproval: ['TST'] },
    expect: 0,
  },
];
