// Positive and negative examples for artifact-integrity: real webhook samples (octokit/webhooks push,
// xanzy/go-gitlab tag push, GitLab's documented system-hook tag push, Sonatype's Nexus component example,
// Harbor and Artifactory samples) through the real adapters, varied in the documented fields
// (GitHub `created` / `deleted` / `forced` / `after`; GitLab `before`; Nexus `action` / `initiator`).
import { readFileSync } from 'node:fs';
import type { DetectorCase } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { bodyEvents, fixtureBody, fixtureEvent } from '../fixtures.ts';

type Body = Record<string, any>;
const headersOf = (adapter: string, file: string): Record<string, string> =>
  (
    JSON.parse(
      readFileSync(new URL(`../../ingest-adapters/${adapter}/fixtures/${file}`, import.meta.url), 'utf8'),
    ) as { headers: Record<string, string> }
  ).headers ?? {};

function varied(adapter: string, file: string, change: (b: Body) => void): PipewardenEvent {
  const b = structuredClone(fixtureBody(adapter, file)) as Body;
  change(b);
  const [e] = bodyEvents(adapter, b, headersOf(adapter, file));
  if (!e) throw new Error('no event');
  return e;
}

/** GitHub push of tag `simple-tag` that moves it (neither created nor deleted). */
const githubTagMoved = (tag = 'refs/tags/simple-tag', forced = true) =>
  varied('github', 'push__default.json', (b) => {
    b.ref = tag;
    b.created = false;
    b.deleted = false;
    b.forced = forced;
    b.before = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
    b.after = '9a8f2e4b1c0d5e6f7a8b9c0d1e2f3a4b5c6d7e8f';
  });

const nexus = (action: string, initiator = 'deployer/10.0.0.5') =>
  varied('nexus', 'component.json', (b) => {
    b.action = action;
    b.initiator = initiator;
  });

export const cases: DetectorCase[] = [
  {
    name: 'GitHub: a release tag force-moved to another commit',
    event: githubTagMoved(),
    expect: 1,
    summaryIncludes: 'moved tag simple-tag',
  },
  {
    name: 'GitHub: the real tag deletion is not a move',
    event: fixtureEvent('github', 'push__default.json'),
    expect: 0,
  },
  {
    name: 'GitHub: a new tag is not a move',
    event: varied('github', 'push__default.json', (b) => {
      b.created = true;
      b.deleted = false;
    }),
    expect: 0,
  },
  {
    name: 'GitHub: moving "latest" is expected',
    event: githubTagMoved('refs/tags/latest', false),
    expect: 0,
  },
  {
    name: 'GitHub: a branch push is not a tag move',
    event: varied('github', 'push__default.json', (b) => {
      b.ref = 'refs/heads/main';
      b.deleted = false;
    }),
    expect: 0,
  },
  {
    name: 'GitLab: a tag pushed over an existing tag (before is a commit)',
    event: varied('gitlab', 'tag_push.json', (b) => {
      b.before = '95790bf891e76fee5e1747ab589903a6a1f80f22';
    }),
    expect: 1,
    summaryIncludes: 'moved tag v1.0.0',
  },
  {
    name: 'GitLab: the real new tag is not a move',
    event: fixtureEvent('gitlab', 'tag_push.json'),
    expect: 0,
  },
  {
    name: 'GitLab system hook: a tag pushed over an existing tag',
    event: varied('gitlab', 'system__tag_push.json', (b) => {
      b.before = '95790bf891e76fee5e1747ab589903a6a1f80f22';
    }),
    expect: 1,
  },
  {
    name: 'Nexus: a component updated in place',
    event: nexus('UPDATED'),
    expect: 1,
    summaryIncludes: 'overwrote published',
  },
  { name: 'Nexus: a component created is not an overwrite', event: nexus('CREATED'), expect: 0 },
  {
    name: 'Harbor: a push by an identity outside the CI publishers',
    event: fixtureEvent('harbor', 'PUSH_ARTIFACT__Default.json'),
    config: { publishers: ['robot$ci-*', 'svc-jenkins'] },
    expect: 1,
    summaryIncludes: 'not a CI publisher',
  },
  {
    name: 'Harbor: a push by a CI publisher',
    event: fixtureEvent('harbor', 'PUSH_ARTIFACT__Default.json'),
    config: { publishers: ['harbor-jobservice'] },
    expect: 0,
  },
  {
    name: 'Harbor: no publishers configured, no check',
    event: fixtureEvent('harbor', 'PUSH_ARTIFACT__Default.json'),
    expect: 0,
  },
  {
    name: 'Artifactory: the documented deploy event names no user, so it is not judged',
    event: fixtureEvent('artifactory', 'artifact.deployed__jfrog-docs.json'),
    config: { publishers: ['svc-ci'] },
    expect: 0,
  },
];
