// Artefact integrity (OWASP CICD-SEC-9): what a consumer pulls is no longer what the pipeline built.
// A release tag re-pointed to another commit (GitHub and GitLab pushes to an existing tag), a published
// component or asset overwritten in place (Nexus UPDATED), a container tag or artefact path published
// again with other content (stateful: the digests seen per `artifact_ref`), and an artefact published by
// an identity that is not one of the CI's publishers (any artefact source, when `publishers` is configured).
import { z } from 'zod';
import { minutes, windowAndDedup } from '../../src/detect/config.ts';
import type { Detector, Firing, Match, Rule } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { globToRegExp } from '../anonymous-access/index.ts';
import type { CoverageRow } from '../owasp.ts';

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    movedTags: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Tags that are meant to move (globs), e.g. "latest", "nightly", "v1" (a major-version alias). */
        allowTags: z.array(z.string().min(1)).default(['latest', 'nightly', 'edge', 'stable']),
      })
      .prefault({}),
    overwrites: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    /**
     * A registry tag (Docker Distribution, Harbor, GHCR, Artifactory Docker) or an artefact path
     * (Artifactory) published again with another digest within the window (the tag moved / the path was
     * overwritten), and, where the source gives no digest (Artifactory access log), a path deployed twice.
     * Tags in `movedTags.allowTags` and mutable metadata paths (maven-metadata.xml, SNAPSHOT, checksums,
     * index files) are not judged. One hit per artefact and dedup period.
     */
    republished: z
      .strictObject({
        enabled: z.boolean().default(true),
        windowMinutes: minutes(7 * 24 * 60),
        dedupMinutes: minutes(7 * 24 * 60),
      })
      .prefault({}),
    /**
     * The identities that publish artefacts (the CI's service accounts), as globs on `user.name`, e.g.
     * `svc-jenkins`, `gitlab-ci-token`, `*[bot]`. Empty: the check is off (nothing to compare with).
     */
    publishers: z.array(z.string().min(1)).default([]),
    /** Repositories (or artefact repositories) excluded, e.g. a scratch area. Matched exactly. */
    ignoreRepositories: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

// The push actions whose event.type says whether a ref was created, deleted or moved (GitHub `push`,
// GitLab `push` / `tag_push` hooks, Bitbucket Cloud `repo:push`, Bitbucket Data Center `repo:refs_changed`).
// GitHub's `create` / `delete` hooks carry no before/after.
const REF_PUSH = new Set(['push', 'tag_push', 'repo:push', 'repo:refs_changed']);

function movedTag(e: PipewardenEvent, config: Config): Match | undefined {
  const pw = e.pipewarden;
  if (!config.movedTags.enabled || pw.kind !== 'code.push' || pw.ref_type !== 'tag') return undefined;
  if (!REF_PUSH.has(e.event.action) || !e.event.type.includes('change')) return undefined;
  const tag = pw.branch ?? '';
  if (config.movedTags.allowTags.some((g) => globToRegExp(g).test(tag))) return undefined;
  return {
    summary: `${e.user?.name ?? 'Someone'} moved tag ${tag} of ${pw.repository ?? 'a repository'} to another commit${pw.commit ? ` (${pw.commit.slice(0, 12)})` : ''}${pw.forced ? ' with a force push' : ''}`,
    severity: 'high',
    context: { check: 'moved-tag', tag, ...(pw.commit ? { commit: pw.commit } : {}) },
  };
}

// Nexus repository webhooks: an existing component or asset replaced in place.
const OVERWRITE = /^(?:component|asset)\.updated$/;

function overwrite(e: PipewardenEvent, config: Config): Match | undefined {
  if (!config.overwrites.enabled || e.pipewarden.kind !== 'artifact.publish') return undefined;
  if (!OVERWRITE.test(e.event.action)) return undefined;
  // Only what should keep its content: the adapter names no ref for documents Nexus rewrites by design
  // (npm package metadata, PyPI indices, manifests by digest); metadata paths and moving tags are allowed.
  if (judgedRef(e, config) === undefined) return undefined;
  const what = e.pipewarden.artifact ?? e.pipewarden.repository ?? 'an artefact';
  return {
    summary: `${e.user?.name ?? 'Someone'} overwrote published ${what} in ${e.event.provider}`,
    severity: 'high',
    context: { check: 'overwrite', artifact: what },
  };
}

/** The tag of an artefact ref (`repo:tag`), undefined for a path. */
export function tagOf(ref: string): string | undefined {
  const m = /:([\w][\w.-]{0,127})$/.exec(ref);
  return m ? m[1] : undefined;
}

// Paths a repository manager rewrites on every deploy, by design: Maven metadata and snapshots, checksum
// and signature side files, package indices (Helm, npm, PyPI, Debian, RPM), upload scratch areas.
const MUTABLE_PATH =
  /(?:^|\/)(?:maven-metadata\.xml|index\.yaml|repodata|\.npm|\.pypi|Packages(?:\.gz|\.bz2)?|Release|InRelease|_uploads)(?:[./]|$)|-SNAPSHOT(?:\/|$)|\.(?:md5|sha1|sha256|sha512|asc)$/i;

/** The artefact ref an event publishes, when it names content that should not change. */
function judgedRef(e: PipewardenEvent, config: Config): string | undefined {
  const ref = e.pipewarden.artifact_ref;
  if (!ref || e.pipewarden.kind !== 'artifact.publish' || MUTABLE_PATH.test(ref)) return undefined;
  const tag = tagOf(ref);
  if (tag !== undefined && config.movedTags.allowTags.some((g) => globToRegExp(g).test(tag)))
    return undefined;
  return ref;
}

function describeRepublished(f: Firing): Match {
  const e = f.event;
  const ref = f.key;
  const tag = tagOf(ref);
  const who = e.user?.name ?? 'Someone';
  const context = {
    check: f.rule,
    artifact_ref: ref,
    provider: e.event.provider,
    ...(e.pipewarden.artifact_digest ? { digest: e.pipewarden.artifact_digest } : {}),
  };
  if (f.rule === 'redeploy')
    return {
      summary: `${who} deployed ${ref} again (${f.count} deploys of the same path within ${Math.round(f.windowMs / 3_600_000)} h; the source gives no checksum, so the content may or may not differ)`,
      context,
    };
  const before = (f.values ?? []).slice(1, 3).join(', ');
  return {
    summary: tag
      ? `${who} pushed tag ${ref} to another digest (${e.pipewarden.artifact_digest ?? 'unknown'}; before ${before})`
      : `${who} overwrote ${ref} with other content (${e.pipewarden.artifact_digest ?? 'unknown'}; before ${before})`,
    context: { ...context, previous: before },
  };
}

function foreignPublisher(e: PipewardenEvent, config: Config): Match | undefined {
  if (config.publishers.length === 0 || e.pipewarden.kind !== 'artifact.publish') return undefined;
  const who = e.user?.name;
  if (!who || config.publishers.some((g) => globToRegExp(g).test(who))) return undefined;
  const what = e.pipewarden.artifact ?? e.pipewarden.repository ?? 'an artefact';
  return {
    summary: `${who}, not a CI publisher, published ${what} to ${e.event.provider}`,
    severity: 'medium',
    context: { check: 'foreign-publisher', artifact: what, publisher: who },
  };
}

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'moved-tag',
    what: 'a release tag re-pointed to another commit',
    owasp: ['CICD-SEC-9'],
    sources: ['github', 'gitlab', 'bitbucket', 'bitbucket-server'],
  },
  {
    row: 'overwrite',
    what: 'a published component or asset overwritten in place',
    owasp: ['CICD-SEC-9'],
    sources: ['nexus'],
  },
  {
    row: 'tag-moved',
    what: 'a container tag or artefact path published again with another digest (state: the digests per tag / path)',
    owasp: ['CICD-SEC-9'],
    sources: ['docker-distribution', 'harbor', 'github', 'artifactory'],
  },
  {
    row: 'redeploy',
    what: 'an artefact path published twice where the source gives no checksum (Artifactory access log; Nexus deleted and uploaded again)',
    owasp: ['CICD-SEC-9'],
    sources: ['artifactory', 'nexus'],
  },
  {
    row: 'foreign-publisher',
    what: 'an artefact published by an identity that is not the CI’s (config `publishers`)',
    owasp: ['CICD-SEC-9', 'CICD-SEC-2'],
    sources: ['artifactory', 'nexus', 'harbor', 'docker-distribution', 'github'],
  },
];

export const artifactIntegrity: Detector<Config> = {
  id: 'artifact-integrity',
  title: 'Artefact integrity',
  severity: 'high',
  description:
    'What consumers pull may no longer be what the pipeline built: a release tag moved to another commit, a published component overwritten in place, or an artefact published by an identity that is not one of the CI’s publishers.',
  runbook: 'detectors/artifact-integrity/README.md#runbook',
  reference:
    'https://owasp.org/www-project-top-10-ci-cd-security-risks/CICD-SEC-09-Improper-Artifact-Integrity-Validation',
  configSchema,
  coverage,
  dedupMs: 0,

  appliesTo(event, config) {
    const k = event.pipewarden.kind;
    return (
      (k === 'code.push' || k === 'artifact.publish') &&
      !config.ignoreRepositories.includes(event.pipewarden.repository ?? '')
    );
  },

  key(event) {
    return event.pipewarden.artifact ?? event.pipewarden.repository ?? 'global';
  },

  match(event, { config }) {
    const found = [movedTag(event, config), overwrite(event, config), foreignPublisher(event, config)].filter(
      (m): m is Match => m !== undefined,
    );
    return found.length ? found : null;
  },

  rules(config) {
    if (!config.republished.enabled) return [];
    const rules: Rule<Config>[] = [
      {
        id: 'tag-moved',
        type: 'distinct',
        keyBy: 'pipewarden.artifact_ref',
        threshold: 2,
        ...windowAndDedup(config.republished),
        severity: 'high',
        when: (e, c) => judgedRef(e, c) !== undefined && e.pipewarden.artifact_digest !== undefined,
        field: (e) => e.pipewarden.artifact_digest,
        describe: describeRepublished,
      },
      {
        id: 'redeploy',
        type: 'threshold',
        keyBy: 'pipewarden.artifact_ref',
        threshold: 2,
        ...windowAndDedup(config.republished),
        severity: 'medium',
        // Nexus UPDATED is its own finding (`overwrite`): not counted again as a re-deploy.
        when: (e, c) =>
          judgedRef(e, c) !== undefined &&
          e.pipewarden.artifact_digest === undefined &&
          !OVERWRITE.test(e.event.action),
        describe: describeRepublished,
      },
    ];
    return rules;
  },
};
