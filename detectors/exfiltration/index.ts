// Exfiltration and reconnaissance: one actor cloning or downloading many repositories or artefacts in a
// window (GitHub audit git.clone / git.fetch / repo.download_zip, GitLab audit Git fetches and archive
// downloads, artefact downloads from Artifactory, Nexus, Harbor and registries), and a token used from
// another address than before within a day, state per token (GitHub audit entries carry the hashed
// token, its id and the actor IP; GitLab api_json.log lines the token id, type and remote IP).
import { z } from 'zod';
import { count, mins, minutes, windowAndDedup } from '../../src/detect/config.ts';
import type { Detector, Firing, Match, Rule } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import type { CoverageRow } from '../owasp.ts';

const rule = (threshold: number, window: number, dedup: number) =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Distinct repositories / artefacts / addresses for one actor within the window before a hit. */
      threshold: count(threshold),
      windowMinutes: minutes(window),
      dedupMinutes: minutes(dedup),
    })
    .prefault({});

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Distinct repositories cloned, fetched or downloaded as archives by one actor. */
    repositories: rule(20, 60, 240),
    /** Distinct artefacts downloaded by one actor (mirrors and CI caches: see ignoreActors). */
    artifacts: rule(200, 60, 240),
    /** Distinct source addresses one actor's tokens were used from (2: a second address). */
    tokenAddresses: rule(2, 24 * 60, 24 * 60),
    /** Actors expected to read in bulk (mirrors, backup jobs, CI service accounts). Matched exactly. */
    ignoreActors: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

// Reads of a whole repository: GitHub audit (git.clone, git.fetch, repo.download_zip), GitLab audit
// streaming (repository_git_operation.git-upload-pack, repository_download_operation).
const REPO_READ =
  /^(?:git\.(?:clone|fetch)|repo\.download_zip|repository_git_operation\.git-upload-pack|repository_download_operation)$/;

export const isRepositoryRead = (e: PipewardenEvent) =>
  REPO_READ.test(e.event.action) && e.pipewarden.repository !== undefined;
const isArtifactRead = (e: PipewardenEvent) =>
  e.pipewarden.kind === 'artifact.download' && (e.pipewarden.artifact ?? e.url?.original) !== undefined;
const tokenOf = (e: PipewardenEvent) => e.pipewarden.token?.id ?? e.pipewarden.token?.hashed;
/** How the hit names the token: its id, else the first characters of its hash (never the credential). */
const tokenLabel = (e: PipewardenEvent) =>
  e.pipewarden.token?.id
    ? `id ${e.pipewarden.token.id}`
    : `hash ${(e.pipewarden.token?.hashed ?? '').slice(0, 12)}…`;

function describeMany(noun: string) {
  return (f: Firing): Match => ({
    summary: `${f.key} read ${f.count} distinct ${noun} within ${mins(f.windowMs)} (latest ${f.event.pipewarden.repository ?? f.event.pipewarden.artifact ?? ''}${f.event.source?.ip ? ` from ${f.event.source.ip}` : ''})`,
    context: {
      provider: f.event.event.provider,
      latest_action: f.event.event.action,
      sample: (f.values ?? []).slice(0, 5).join(', '),
    },
  });
}

// Repositories that supply-chain worms create to publish stolen secrets: Nx "s1ngularity" (GHSA-cxm3-wv7p-598c,
// `s1ngularity-repository`, `-0`, `-1`, …) and "Shai-Hulud" (npm worm, 2025: `Shai-Hulud`, `…-migration`).
const WORM_REPO = /(?:^|\/)(?:s1ngularity-repository(?:-\d+)?|shai-hulud(?:[-_ ]?\w+)?)$/i;
const CREATED = /^(?:repo\.create|repository\.created|project_create|project_created)$/;

/** A new repository named like a known worm's exfiltration repository. */
export function wormRepository(e: PipewardenEvent): string | undefined {
  const repo = e.pipewarden.repository;
  return repo && CREATED.test(e.event.action) && WORM_REPO.test(repo.slice(0, 300)) ? repo : undefined;
}

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'mass-clone',
    what: 'one actor cloning, fetching or downloading many repositories in a window',
    owasp: ['CICD-SEC-10', 'CICD-SEC-2'],
    sources: ['github-audit', 'gitlab-audit'],
  },
  {
    row: 'mass-download',
    what: 'one actor downloading many artefacts in a window',
    owasp: ['CICD-SEC-10', 'CICD-SEC-2'],
    sources: ['artifactory', 'nexus', 'harbor', 'docker-distribution'],
  },
  {
    row: 'worm-repository',
    what: 'a repository created with the name supply-chain worms use for stolen secrets (s1ngularity, Shai-Hulud)',
    owasp: ['CICD-SEC-6', 'CICD-SEC-3'],
    sources: ['github', 'github-audit', 'gitlab'],
  },
  {
    row: 'token-new-address',
    what: 'one token (state per token id / hash) used from another address within a day',
    owasp: ['CICD-SEC-6', 'CICD-SEC-2'],
    sources: ['github-audit', 'gitlab-logs'],
  },
];

export const exfiltration: Detector<Config> = {
  id: 'exfiltration',
  title: 'Bulk reads and token reuse',
  severity: 'high',
  description:
    'One actor cloned or downloaded many repositories or artefacts in a short window (exfiltration or reconnaissance), a token was used from another address than before within a day, or a repository was created with the name supply-chain worms use to publish stolen secrets.',
  runbook: 'detectors/exfiltration/README.md#runbook',
  reference: 'https://attack.mitre.org/techniques/T1213/003/',
  configSchema,
  coverage,

  appliesTo(event, config) {
    if (wormRepository(event) !== undefined) return true;
    const actor = event.user?.name;
    if (actor !== undefined && config.ignoreActors.includes(actor)) return false;
    // A token's use is judged per token, also when the line does not name its owner.
    if (tokenOf(event) !== undefined && event.source?.ip !== undefined) return true;
    return actor !== undefined && (isRepositoryRead(event) || isArtifactRead(event));
  },

  match(event) {
    const repo = wormRepository(event);
    if (!repo) return null;
    return {
      summary: `${event.user?.name ?? 'Someone'} created ${repo}, named like a supply-chain worm’s repository of stolen secrets (s1ngularity / Shai-Hulud)`,
      severity: 'critical',
      context: { action: event.event.action, repository: repo, check: 'worm-repository' },
    };
  },

  rules(config) {
    const rules: Rule<Config>[] = [];
    if (config.repositories.enabled)
      rules.push({
        id: 'mass-clone',
        type: 'distinct',
        keyBy: 'user.name',
        threshold: config.repositories.threshold,
        ...windowAndDedup(config.repositories),
        severity: 'high',
        when: isRepositoryRead,
        field: (e) => e.pipewarden.repository,
        describe: describeMany('repositories'),
      });
    if (config.artifacts.enabled)
      rules.push({
        id: 'mass-download',
        type: 'distinct',
        keyBy: 'user.name',
        threshold: config.artifacts.threshold,
        ...windowAndDedup(config.artifacts),
        severity: 'medium',
        when: isArtifactRead,
        field: (e) => e.pipewarden.artifact ?? e.url?.original,
        describe: describeMany('artefacts'),
      });
    if (config.tokenAddresses.enabled)
      rules.push({
        id: 'token-new-address',
        type: 'distinct',
        // Per token (provider + token id, else its hash), not per actor: two tokens of one person used
        // from two offices are two keys; one stolen token used from a second network is one.
        keyBy: 'pipewarden.token',
        threshold: config.tokenAddresses.threshold,
        ...windowAndDedup(config.tokenAddresses),
        severity: 'medium',
        when: (e) => tokenOf(e) !== undefined,
        field: (e) => e.source?.ip,
        describe: (f) => ({
          summary: `A ${f.event.pipewarden.token?.type ?? 'token'} (${tokenLabel(f.event)}) of ${f.event.user?.name ?? 'an unnamed owner'} was used from ${f.count} addresses within ${mins(f.windowMs)} (now ${f.event.source?.ip ?? 'unknown'}; before ${(f.values ?? []).slice(1, 4).join(', ')})`,
          context: {
            provider: f.event.event.provider,
            token_id: f.event.pipewarden.token?.id ?? null,
            token_hash_prefix: f.event.pipewarden.token?.hashed?.slice(0, 12) ?? null,
            token_type: f.event.pipewarden.token?.type ?? null,
            latest_action: f.event.event.action,
          },
        }),
      });
    return rules;
  },
};
