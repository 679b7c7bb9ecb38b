// Vendor deep links: where at the vendor an analyst fixes or checks what a hit is about — the branch
// protection / ruleset settings of the repository for a protection change at GitHub, GitLab, Bitbucket or
// Gitea, the job's configuration page for Jenkins, the repository page for Artifactory and Nexus.
//
// The host never comes from the event: every link is built on the base URL configured for the source
// (`alerting.links.<source>`; github.com, gitlab.com and bitbucket.org by default), and only from fields that
// pass a strict shape check (repository paths, job names, repository keys), each path segment URL-encoded.
// A hit whose fields do not fit gets no link rather than a wrong one.
import { z } from 'zod';
import type { Hit, VendorLink } from './types.ts';

const baseUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .refine((u) => !/[?#]/.test(u), 'must be a base URL without query or fragment')
  .optional();

/** The vendor families a link can be made for, each with the source ids that belong to it. */
const FAMILIES = {
  github: ['github', 'github-audit'],
  gitlab: ['gitlab', 'gitlab-audit', 'gitlab-logs'],
  bitbucket: ['bitbucket'],
  'bitbucket-server': ['bitbucket-server'],
  gitea: ['gitea'],
  jenkins: ['jenkins'],
  artifactory: ['artifactory'],
  nexus: ['nexus'],
} as const;
type Family = keyof typeof FAMILIES;

const FAMILY_OF: ReadonlyMap<string, Family> = new Map(
  (Object.entries(FAMILIES) as Array<[Family, readonly string[]]>).flatMap(([f, ids]) =>
    ids.map((id): [string, Family] => [id, f]),
  ),
);

const SAAS: Partial<Record<Family, string>> = {
  github: 'https://github.com',
  gitlab: 'https://gitlab.com',
  bitbucket: 'https://bitbucket.org',
};

export const linksConfigSchema = z
  .strictObject({
    /** Add a link to the vendor's page for the hit (settings, job, repository) to every alert. */
    enabled: z.boolean().default(true),
    /** GitHub's web UI (GitHub Enterprise Server: https://github.example.com); default https://github.com. */
    github: baseUrl,
    /** GitLab's web UI; default https://gitlab.com. */
    gitlab: baseUrl,
    /** Bitbucket Cloud; default https://bitbucket.org. */
    bitbucket: baseUrl,
    /** Bitbucket Server / Data Center's web UI; no link without it. */
    'bitbucket-server': baseUrl,
    /** Gitea's web UI; no link without it. */
    gitea: baseUrl,
    /** Jenkins' root URL; no link without it. */
    jenkins: baseUrl,
    /** Artifactory's web UI (https://acme.jfrog.io); no link without it. */
    artifactory: baseUrl,
    /** Nexus Repository's web UI; no link without it. */
    nexus: baseUrl,
  })
  .prefault({});
export type LinksConfig = z.output<typeof linksConfigSchema>;

/** What a link may be built from besides the hit: the triggering event's action and job, when known. */
export interface LinkFacts {
  action?: string | undefined;
  job?: string | undefined;
}

// owner/name, group/subgroup/project (GitLab nests up to 20 levels; we take 8): letters, digits, - _ .
const REPO_PATH = /^[A-Za-z0-9_.-]{1,100}(?:\/[A-Za-z0-9_.-]{1,100}){1,7}$/;
// an Artifactory / Nexus repository key
const REPO_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
// a protection change: GitHub protected_branch.* / branch_protection_rule.* / ruleset.*, GitLab
// protected_branch_*, Bitbucket branch restrictions / permissions, push rules
const PROTECTION = /protect|ruleset|branch_restriction|branch[_-]permission|push_rule/i;

const enc = (segments: readonly string[]) => segments.map((s) => encodeURIComponent(s)).join('/');
const okPath = (p: string) => REPO_PATH.test(p) && !p.split('/').some((s) => s === '.' || s === '..');

function base(config: LinksConfig, family: Family): string | undefined {
  const configured = config[family] ?? SAAS[family];
  return configured?.replace(/\/+$/, '');
}

/** Jenkins job names as events carry them: `folder/job`, maybe with ` #12`; each segment checked. */
function jenkinsJob(job: string): string[] | undefined {
  const name = job.replace(/\s+#\d+$/, '').trim();
  if (!name || name.length > 500) return undefined;
  const segs = name.split('/');
  if (segs.some((s) => !s || s === '.' || s === '..' || s.length > 200 || /[\u0000-\u001f\u007f]/.test(s)))
    return undefined;
  return segs;
}

/** Pure: the vendor page for a hit, or undefined when the source has no known base or the fields do not fit. */
export function vendorLink(hit: Hit, config: LinksConfig, facts: LinkFacts = {}): VendorLink | undefined {
  if (!config.enabled) return undefined;
  const family = FAMILY_OF.get(hit.source);
  if (!family) return undefined;
  const root = base(config, family);
  if (!root) return undefined;
  const ctx = (k: string) => (typeof hit.context[k] === 'string' ? (hit.context[k] as string) : undefined);
  const action = facts.action ?? ctx('action') ?? '';
  const repo = hit.repository;
  const protection = PROTECTION.test(action);
  switch (family) {
    case 'github': {
      const rules = /ruleset/i.test(action);
      if (repo && okPath(repo) && repo.split('/').length === 2) {
        if (!protection) return { url: `${root}/${enc(repo.split('/'))}`, label: 'Repository at GitHub' };
        return rules
          ? { url: `${root}/${enc(repo.split('/'))}/settings/rules`, label: 'Rulesets at GitHub' }
          : {
              url: `${root}/${enc(repo.split('/'))}/settings/branches`,
              label: 'Branch protection at GitHub',
            };
      }
      const org = hit.organization;
      if (rules && org && REPO_KEY.test(org))
        return {
          url: `${root}/organizations/${enc([org])}/settings/rules`,
          label: 'Organisation rulesets at GitHub',
        };
      return undefined;
    }
    case 'gitlab': {
      if (!repo || !okPath(repo)) return undefined;
      const project = `${root}/${enc(repo.split('/'))}`;
      return protection
        ? { url: `${project}/-/settings/repository`, label: 'Protected branches at GitLab' }
        : { url: project, label: 'Project at GitLab' };
    }
    case 'bitbucket': {
      if (!repo || !okPath(repo) || repo.split('/').length !== 2) return undefined;
      const r = `${root}/${enc(repo.split('/'))}`;
      return protection
        ? { url: `${r}/admin/branch-restrictions`, label: 'Branch restrictions at Bitbucket' }
        : { url: r, label: 'Repository at Bitbucket' };
    }
    case 'bitbucket-server': {
      if (!repo || !okPath(repo) || repo.split('/').length !== 2) return undefined;
      const [project, slug] = repo.split('/') as [string, string];
      const r = `${root}/projects/${enc([project])}/repos/${enc([slug])}`;
      return protection
        ? { url: `${r}/permissions`, label: 'Branch permissions at Bitbucket' }
        : { url: `${r}/browse`, label: 'Repository at Bitbucket' };
    }
    case 'gitea': {
      if (!repo || !okPath(repo) || repo.split('/').length !== 2) return undefined;
      const r = `${root}/${enc(repo.split('/'))}`;
      return protection
        ? { url: `${r}/settings/branches`, label: 'Branch protection at Gitea' }
        : { url: r, label: 'Repository at Gitea' };
    }
    case 'jenkins': {
      const job = facts.job ?? ctx('job');
      const segs = job ? jenkinsJob(job) : undefined;
      if (!segs) return undefined;
      return {
        url: `${root}/${segs.map((s) => `job/${encodeURIComponent(s)}`).join('/')}/configure`,
        label: 'Job configuration at Jenkins',
      };
    }
    case 'artifactory':
      if (!repo || !REPO_KEY.test(repo)) return undefined;
      return { url: `${root}/ui/repos/tree/General/${enc([repo])}`, label: 'Repository at Artifactory' };
    case 'nexus':
      if (!repo || !REPO_KEY.test(repo)) return undefined;
      return { url: `${root}/#browse/browse:${enc([repo])}`, label: 'Repository at Nexus' };
  }
}

/** Whether a link for the hit's source could use the triggering event (its action or job) it lacks. */
export function wantsFacts(hit: Hit, config: LinksConfig): boolean {
  const family = FAMILY_OF.get(hit.source);
  if (!config.enabled || !family || !base(config, family)) return false;
  if (family === 'jenkins') return typeof hit.context.job !== 'string';
  if (family === 'artifactory' || family === 'nexus') return false;
  return typeof hit.context.action !== 'string';
}
