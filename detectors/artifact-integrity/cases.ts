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

// --- republished: a tag or path published again with other content (stateful, per artifact_ref) ---
const DIGEST_A = 'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf';
const DIGEST_B = 'sha256:0d4bd2b6aa4e7a3c1e4a1d67c5e0e2b9f1d4c8a7e6b5a4f3e2d1c0b9a8f7e6d5';

/**
 * Docker Distribution push of `hello-world:<tag>` (the documented pull envelope of
 * distribution/distribution docs/content/about/notifications.md, turned into its documented push form:
 * action "push", an authenticated actor, the manifest's digest).
 */
const registryPush = (n: number, digest: string, tag = 'v1.2.0', minute = 0) =>
  varied('docker-distribution', 'manifest-pull.json', (b) => {
    const e = b.events[0];
    e.id = `3206${n}8d8-ca14-430f-8bb6-4ca139cd83f7`;
    e.action = 'push';
    e.timestamp = `2016-03-09T14:${String(44 + minute).padStart(2, '0')}:26.402973972-08:00`;
    e.actor = { name: 'ci-builder' };
    e.request.method = 'PUT';
    e.target.digest = digest;
    e.target.url = `http://192.168.100.227:5000/v2/hello-world/manifests/${digest}`;
    if (tag) e.target.tag = tag;
    else delete e.target.tag;
  });

/** Harbor PUSH_ARTIFACT (Default format sample) pushed by tag, with the given digest. */
const harborPush = (digest: string, tag = '3.18', at = 1680501893) =>
  varied('harbor', 'PUSH_ARTIFACT__Default.json', (b) => {
    b.occur_at = at;
    b.operator = 'robot$ci-push';
    b.event_data.resources[0] = { digest, tag, resource_url: `localhost/harbor/alpine:${tag}` };
  });

/** Artifactory webhook (JFrog docs `artifact.deployed`) to a release path, with the given checksum. */
const artifactoryDeploy = (sha256: string, path = 'org/acme/app/1.4.0/app-1.4.0.jar') =>
  varied('artifactory', 'artifact.deployed__jfrog-docs.json', (b) => {
    b.data.repo_key = 'libs-release-local';
    b.data.path = path;
    b.data.name = path.split('/').pop();
    b.data.sha256 = sha256;
  });

/** Artifactory `docker.pushed` (telegraf's mock of the JFrog docs example) for image:tag. */
const artifactoryDocker = (sha256: string, tag = '2.3.1') =>
  varied('artifactory', 'docker.pushed__dockerPushedEvent.json', (b) => {
    b.data.repo_key = 'docker-local';
    b.data.image_name = 'payments-api';
    b.data.tag = tag;
    b.data.path = `payments-api/${tag}/manifest.json`;
    b.data.sha256 = sha256;
  });

/** artifactory-access.log DEPLOY line (the documented format of the DOWNLOAD sample, action DEPLOY). */
const accessDeploy = (second: number, target = 'libs-release-local:org/acme/app/1.4.0/app-1.4.0.jar') => {
  const [e] = bodyEvents(
    'artifactory',
    `2020-05-15 15:52:${String(second).padStart(2, '0')},456 [4b1b8a0b04e31b80] [ACCEPTED DEPLOY] ${target} for deployer/86.12.14.192.`,
  );
  if (!e) throw new Error('no event');
  return e;
};

/** GitHub `package` published (octokit's docker example) as a GHCR image tag with the given digest. */
const ghcrPush = (digest: string, tag = 'v2.0.1') =>
  varied('github', 'package__published.docker.json', (b) => {
    b.package.package_version.version = digest;
    b.package.package_version.container_metadata.tag = { name: tag, digest };
  });

/** Nexus asset webhook (Sonatype's documented asset example) for another asset, action and time. */
const nexusAsset = (action: string, format: string, name: string, minute = 0) =>
  varied('nexus', 'asset.json', (b) => {
    b.action = action;
    b.repositoryName = format === 'docker' ? 'docker-hosted' : `${format}-releases`;
    b.timestamp = `2016-11-10T23:${String(10 + minute).padStart(2, '0')}:49.664+0000`;
    b.initiator = 'deployer/10.0.0.5';
    b.asset = { ...b.asset, format, name };
  });

/** Bitbucket Cloud `repo:push` (Atlassian's documented example) of tag `tag` with old and new set. */
const bitbucketTagPush = (created: boolean) =>
  varied('bitbucket', 'repo-push.json', (b) => {
    const c = b.push.changes[0];
    c.new.type = 'tag';
    c.new.name = 'v2.4.0';
    c.old.type = 'tag';
    c.old.name = 'v2.4.0';
    c.created = created;
    if (created) c.old = null;
  });

/**
 * Bitbucket Data Center `repo:refs_changed` for tag v2.4.0: the documented repo:modified sample's actor
 * and repository with the documented `changes` entry (ref.type TAG, type UPDATE or ADD).
 */
const bitbucketServerTagPush = (type: 'UPDATE' | 'ADD') => {
  const b = structuredClone(fixtureBody('bitbucket-server', 'repo-modified.json')) as Body;
  const repository = b.new;
  delete b.old;
  delete b.new;
  b.eventKey = 'repo:refs_changed';
  b.repository = repository;
  b.changes = [
    {
      ref: { id: 'refs/tags/v2.4.0', displayId: 'v2.4.0', type: 'TAG' },
      refId: 'refs/tags/v2.4.0',
      fromHash:
        type === 'ADD'
          ? '0000000000000000000000000000000000000000'
          : 'aab847db53d6d2ac8e8cb5ef5e4e7e5b6bb4b7b1',
      toHash: '178864a7d521b6f5e720b386b2c2b0ef8563e0dc',
      type,
    },
  ];
  const headers = {
    ...headersOf('bitbucket-server', 'repo-modified.json'),
    'X-Event-Key': 'repo:refs_changed',
  };
  const [e] = bodyEvents('bitbucket-server', b, headers);
  if (!e) throw new Error('no event');
  return e;
};

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
  {
    name: 'Docker Distribution: a tag pushed again with another digest (tag moved)',
    events: [registryPush(1, DIGEST_A), registryPush(2, DIGEST_B, 'v1.2.0', 5)],
    expect: 1,
    expectByRule: { 'tag-moved': 1 },
    summaryIncludes: 'pushed tag hello-world:v1.2.0 to another digest',
  },
  {
    name: 'Docker Distribution: the same tag and digest pushed again (a retry) is not a move',
    events: [registryPush(1, DIGEST_A), registryPush(2, DIGEST_A, 'v1.2.0', 5)],
    expect: 0,
  },
  {
    name: 'Docker Distribution: two tags of one repository are two artefacts',
    events: [registryPush(1, DIGEST_A, 'v1.2.0'), registryPush(2, DIGEST_B, 'v1.3.0', 5)],
    expect: 0,
  },
  {
    name: 'Docker Distribution: "latest" is meant to move',
    events: [registryPush(1, DIGEST_A, 'latest'), registryPush(2, DIGEST_B, 'latest', 5)],
    expect: 0,
  },
  {
    name: 'Docker Distribution: pushes by digest (no tag: layers, platform manifests) name immutable content',
    events: [registryPush(1, DIGEST_A, ''), registryPush(2, DIGEST_B, '', 5)],
    expect: 0,
  },
  {
    name: 'Harbor: a tag pushed again with another digest',
    events: [harborPush(DIGEST_A), harborPush(DIGEST_B, '3.18', 1680505493)],
    expect: 1,
    expectByRule: { 'tag-moved': 1 },
    summaryIncludes: 'harbor/alpine:3.18',
  },
  {
    name: 'Harbor: the real replication pushes by digest (tag = digest) are not judged',
    events: [
      fixtureEvent('harbor', 'PUSH_ARTIFACT__Default.json'),
      fixtureEvent('harbor', 'harbor.artifact.pushed__CloudEvents.json'),
    ],
    expect: 0,
  },
  {
    name: 'Artifactory: a release path re-deployed with another checksum',
    events: [artifactoryDeploy('1c2d3e4f'), artifactoryDeploy('9f8e7d6c')],
    expect: 1,
    expectByRule: { 'tag-moved': 1 },
    summaryIncludes: 'overwrote libs-release-local/org/acme/app/1.4.0/app-1.4.0.jar',
  },
  {
    name: 'Artifactory: maven-metadata.xml is rewritten on every deploy (not judged)',
    events: [
      artifactoryDeploy('1c2d3e4f', 'org/acme/app/maven-metadata.xml'),
      artifactoryDeploy('9f8e7d6c', 'org/acme/app/maven-metadata.xml'),
    ],
    expect: 0,
  },
  {
    name: 'Artifactory: a SNAPSHOT path re-deployed is expected',
    events: [
      artifactoryDeploy('1c2d3e4f', 'org/acme/app/1.5.0-SNAPSHOT/app-1.5.0-SNAPSHOT.jar'),
      artifactoryDeploy('9f8e7d6c', 'org/acme/app/1.5.0-SNAPSHOT/app-1.5.0-SNAPSHOT.jar'),
    ],
    expect: 0,
  },
  {
    name: 'Artifactory: a Docker tag pushed again with another digest',
    events: [artifactoryDocker('aaaa1111'), artifactoryDocker('bbbb2222')],
    expect: 1,
    summaryIncludes: 'docker-local/payments-api:2.3.1',
  },
  {
    name: 'Artifactory: one Docker push per tag is no move',
    events: [artifactoryDocker('aaaa1111', '2.3.1'), artifactoryDocker('bbbb2222', '2.3.2')],
    expect: 0,
  },
  {
    name: 'Artifactory access log: the same release path deployed twice (no checksum in the log)',
    events: [accessDeploy(11), accessDeploy(40)],
    expect: 1,
    expectByRule: { redeploy: 1 },
    summaryIncludes: 'deployed libs-release-local/org/acme/app/1.4.0/app-1.4.0.jar again',
  },
  {
    name: 'Artifactory access log: checksum side files re-deployed are not judged',
    events: [
      accessDeploy(11, 'libs-release-local:org/acme/app/1.4.0/app-1.4.0.jar.sha1'),
      accessDeploy(40, 'libs-release-local:org/acme/app/1.4.0/app-1.4.0.jar.sha1'),
    ],
    expect: 0,
  },
  {
    name: 'GHCR: a container tag published again with another digest',
    events: [ghcrPush(DIGEST_A), ghcrPush(DIGEST_B)],
    expect: 1,
    summaryIncludes: 'ghcr.io/codertocat/hello-world-npm:v2.0.1',
  },
  {
    name: 'GHCR: the real package event (no tag name) is not judged',
    events: [fixtureEvent('github', 'package__published.docker.json')],
    expect: 0,
  },
  {
    name: 'republished off: no stateful hit',
    events: [registryPush(1, DIGEST_A), registryPush(2, DIGEST_B, 'v1.2.0', 5)],
    config: { republished: { enabled: false } },
    expect: 0,
  },
  {
    name: 'Nexus: a release jar asset updated in place',
    event: nexusAsset('UPDATED', 'maven2', 'org/acme/app/1.4.0/app-1.4.0.jar'),
    expect: 1,
    summaryIncludes: 'overwrote published',
  },
  {
    name: 'Nexus: maven-metadata.xml is rewritten on every deploy',
    event: nexusAsset('UPDATED', 'maven2', 'org/acme/app/maven-metadata.xml'),
    expect: 0,
  },
  {
    name: 'Nexus: npm package metadata refreshed (the real asset sample’s "concrete" document, UPDATED)',
    event: varied('nexus', 'asset.json', (b) => {
      b.action = 'UPDATED';
    }),
    expect: 0,
  },
  {
    name: 'Nexus: an npm tarball updated in place',
    event: nexusAsset('UPDATED', 'npm', 'concrete/-/concrete-1.0.0.tgz'),
    expect: 1,
  },
  {
    name: 'Nexus: a Docker manifest by tag updated (tag moved)',
    event: nexusAsset('UPDATED', 'docker', 'v2/payments-api/manifests/2.3.1'),
    expect: 1,
    summaryIncludes: 'docker-hosted/v2/payments-api/manifests/2.3.1',
  },
  {
    name: 'Nexus: the Docker "latest" manifest moving is expected',
    event: nexusAsset('UPDATED', 'docker', 'v2/payments-api/manifests/latest'),
    expect: 0,
  },
  {
    name: 'Nexus: a release asset deleted and uploaded again (two CREATED for one path)',
    events: [
      nexusAsset('CREATED', 'maven2', 'org/acme/app/1.4.0/app-1.4.0.jar', 0),
      nexusAsset('DELETED', 'maven2', 'org/acme/app/1.4.0/app-1.4.0.jar', 5),
      nexusAsset('CREATED', 'maven2', 'org/acme/app/1.4.0/app-1.4.0.jar', 9),
    ],
    expect: 1,
    expectByRule: { redeploy: 1 },
  },
  {
    name: 'Nexus: CREATED then UPDATED is one overwrite, not also a re-deploy',
    events: [
      nexusAsset('CREATED', 'maven2', 'org/acme/app/1.4.0/app-1.4.0.jar', 0),
      nexusAsset('UPDATED', 'maven2', 'org/acme/app/1.4.0/app-1.4.0.jar', 9),
    ],
    expect: 1,
    expectByRule: { match: 1 },
  },
  {
    name: 'Bitbucket Cloud: a tag pushed with an old target (re-pointed)',
    event: bitbucketTagPush(false),
    expect: 1,
    summaryIncludes: 'moved tag v2.4.0',
  },
  { name: 'Bitbucket Cloud: a new tag is not a move', event: bitbucketTagPush(true), expect: 0 },
  {
    name: 'Bitbucket Cloud: the real branch push is not a tag move',
    event: fixtureEvent('bitbucket', 'repo-push.json'),
    expect: 0,
  },
  {
    name: 'Bitbucket Data Center: refs_changed UPDATE of a TAG',
    event: bitbucketServerTagPush('UPDATE'),
    expect: 1,
    summaryIncludes: 'moved tag v2.4.0',
  },
  {
    name: 'Bitbucket Data Center: refs_changed ADD of a TAG',
    event: bitbucketServerTagPush('ADD'),
    expect: 0,
  },
];
