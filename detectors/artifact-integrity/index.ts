// Artefact integrity (OWASP CICD-SEC-9): what a consumer pulls is no longer what the pipeline built.
// A release tag re-pointed to another commit (GitHub and GitLab pushes to an existing tag), a published
// component or asset overwritten in place (Nexus UPDATED), and an artefact published by an identity that
// is not one of the CI's publishers (any artefact source, when `publishers` is configured).
import { z } from 'zod';
import type { Detector, Match } from '../../src/detect/types.ts';
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
// GitLab `push` / `tag_push` hooks). GitHub's `create` / `delete` hooks carry no before/after.
const REF_PUSH = new Set(['push', 'tag_push']);

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
  const what = e.pipewarden.artifact ?? e.pipewarden.repository ?? 'an artefact';
  return {
    summary: `${e.user?.name ?? 'Someone'} overwrote published ${what} in ${e.event.provider}`,
    severity: 'high',
    context: { check: 'overwrite', artifact: what },
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
};

export const coverage: CoverageRow[] = [
  {
    row: 'moved-tag',
    what: 'a release tag re-pointed to another commit',
    owasp: ['CICD-SEC-9'],
    sources: ['github', 'gitlab'],
  },
  {
    row: 'overwrite',
    what: 'a published component or asset overwritten in place',
    owasp: ['CICD-SEC-9'],
    sources: ['nexus'],
  },
  {
    row: 'foreign-publisher',
    what: 'an artefact published by an identity that is not the CI’s (config `publishers`)',
    owasp: ['CICD-SEC-9', 'CICD-SEC-2'],
    sources: ['artifactory', 'nexus', 'harbor', 'docker-distribution', 'github'],
  },
];
