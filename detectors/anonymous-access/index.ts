// Anonymous access: the configuration that allows it (a repository or Pages site made public, private
// forking enabled, anonymous read switched on) and its actual use (kind access.anonymous from every
// source: artefact downloads and uploads, Jenkins requests by "NA", registry pulls without credentials).
import { z } from 'zod';
import type { Severity } from '../../src/alerting/types.ts';
import { count, mins, minutes, windowAndDedup } from '../../src/detect/config.ts';
import type { Detector, Firing, KeyField, Match, Rule } from '../../src/detect/types.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { compileGlob, type GlobMatcher } from '../../src/util/glob.ts';
import { ipMatcher, ipOrCidr } from '../../src/util/ip.ts';
import { table } from '../../src/util/table.ts';
import type { CoverageRow } from '../owasp.ts';

/** What the use rules group on: the tool (default, one alert per tool), the client, or the repository. */
const USE_KEYS = [
  'pipewarden.source',
  'source.ip',
  'pipewarden.repository',
] as const satisfies readonly KeyField[];

const useRule = (threshold: number, window: number, dedup: number) =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Anonymous requests for one key within the window before a hit. */
      threshold: count(threshold),
      windowMinutes: minutes(window),
      /** After a hit, the same key is quiet this long: a busy mirror pages once, not every minute. */
      dedupMinutes: minutes(dedup),
      keyBy: z.enum(USE_KEYS).default('pipewarden.source'),
    })
    .prefault({});

const configSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Configuration changes that allow anonymous access (stateless, one hit per change). */
    configuration: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    /** Anonymous reads (downloads, pulls, API reads). */
    reads: useRule(1, 10, 60),
    /** Anonymous writes (uploads, deletes, job changes): rarer and worse, so a shorter quiet period. */
    writes: useRule(1, 10, 10),
    /**
     * Repositories meant to be public, as globs on `pipewarden.repository` (`*` within a path segment,
     * `**` across): e.g. `acme/docs`, `public-*`, `jcenter-cache`. Neither their configuration nor their
     * anonymous use is reported.
     */
    allowRepositories: z.array(z.string().min(1)).default([]),
    /** Paths meant to be public, as globs on the artefact path or URL path, e.g. `/artifactory/api/npm/**`. */
    allowPaths: z.array(z.string().min(1)).default([]),
    /** Source IPs or CIDR blocks whose anonymous use is expected (health checks, your own mirror sync). */
    allowIps: z.array(ipOrCidr).default([]),
  })
  .prefault({});

type Config = z.output<typeof configSchema>;

interface Opening {
  what: string;
  severity: Severity;
}

/**
 * Configuration changes that open anonymous access, by normalised action with the scope prefix removed
 * (`repo.` / `org.` / `enterprise.` / `business.`). Visibility changes additionally need the event's
 * `pipewarden.visibility` to be public (see `opening`).
 */
const OPENINGS = table<Opening>({
  'repository.publicized': { what: 'made the repository public', severity: 'high' }, // GitHub webhook
  public: { what: 'made the repository public', severity: 'high' }, // GitHub webhook "public"
  anonymous_access_enabled: { what: 'enabled anonymous Git read access for the instance', severity: 'high' }, // GHES enterprise webhook
  'config.enable_anonymous_git_access': { what: 'enabled anonymous Git read access', severity: 'high' }, // GHES audit
  'config.unlock_anonymous_git_access': { what: 'unlocked anonymous Git read access', severity: 'medium' },
  pages_public: { what: 'made the GitHub Pages site public', severity: 'medium' }, // repo.pages_public
  'private_repository_forking.enable': {
    what: 'enabled forking of private repositories',
    severity: 'medium',
  },
  enable_private_repository_forking: { what: 'enabled forking of private repositories', severity: 'medium' },
  // The enterprise / organisation policy cleared: organisations or repositories may now allow forking.
  'private_repository_forking.clear': {
    what: 'cleared the private repository forking policy (forking may now be allowed below)',
    severity: 'low',
  },
});

// Actions that change visibility; they open access only when the new visibility is public.
// GitHub audit repo.access, GitLab audit/log visibility changes ("change: visibility", *_visibility_*).
const VISIBILITY_CHANGE = /^(?:access|.*visibility.*)$/;

// Repository creation: GitHub audit repo.create, webhook repository.created, GitLab project_create(d).
const CREATED = /^(?:create|created|project_create|project_created)$/;

/** The new visibility when the event carries it as a setting change rather than `pipewarden.visibility`. */
const visibilityTo = (e: PipewardenEvent): string | undefined =>
  e.pipewarden.change?.field === 'visibility' ? e.pipewarden.change.to : undefined;

// "Anonymous access … enabled" in any source's own words: Jenkins, Artifactory, Nexus (security.anonymous), …
const ANONYMOUS_ENABLED = /anonymous.*(?:enable|allow|grant)|(?:enable|allow).*anonymous/i;

const SCOPE = /^(?:repo|repository|org|organization|enterprise|business)[._]/;

function opening(e: PipewardenEvent): Opening | undefined {
  // "other" too: an adapter may not classify a newer action yet (GitHub audit private_repository_forking.*).
  const k = e.pipewarden.kind;
  if (k !== 'config.change' && k !== 'permission.change' && k !== 'other') return undefined;
  const action = e.event.action;
  const bare = action.replace(SCOPE, '');
  const known = OPENINGS[action] ?? OPENINGS[bare];
  if (known) return known;
  const visibility = (e.pipewarden.visibility ?? visibilityTo(e))?.toLowerCase();
  if (VISIBILITY_CHANGE.test(bare)) {
    if (visibility === 'public') return { what: 'changed the visibility to public', severity: 'high' };
    // The entry does not say which way it moved (GitHub repo.access without `visibility`): it may be public.
    if (visibility === undefined)
      return {
        what: 'changed the visibility (the new visibility is not recorded; it may be public)',
        severity: 'low',
      };
  }
  if (CREATED.test(bare) && visibility === 'public' && e.organization?.name)
    return { what: 'created a public repository', severity: 'medium' };
  if (ANONYMOUS_ENABLED.test(action)) return { what: 'enabled anonymous access', severity: 'high' };
  return undefined;
}

// A write: an upload, delete or change, by ECS type or by the verb the source logs (Artifactory
// "ACCEPTED DEPLOY", request-log "PUT 201", registry "push", Jenkins "build.build", "script_console" …).
const WRITE_VERB =
  /\b(?:DEPLOY|DELETE|PUT|POST|PATCH|CREATE|UPDATE|push|delete|mount|upload|build|script_console)\b/;

export function isWrite(e: PipewardenEvent): boolean {
  if (e.event.type.some((t) => t === 'creation' || t === 'deletion' || t === 'change')) return true;
  return WRITE_VERB.test(e.event.action);
}

/** `*` matches within one path segment, `**` across segments; everything else is literal; linear time. */
export const globToRegExp = (glob: string): GlobMatcher => compileGlob(glob);

/** The path part of an artefact ("repo:path/to/file") or URL. */
function paths(e: PipewardenEvent): string[] {
  const out: string[] = [];
  const artifact = e.pipewarden.artifact;
  if (artifact) {
    out.push(artifact);
    const colon = artifact.indexOf(':');
    if (colon > 0)
      out.push(artifact.slice(colon + 1), `${artifact.slice(0, colon)}/${artifact.slice(colon + 1)}`);
  }
  const url = e.url?.original;
  if (url) out.push(url.replace(/^[a-z]+:\/\/[^/]+/i, '').split('?')[0]!);
  return out;
}

/** Predicate: is this event about something meant to be public? Built once per config. */
function allowedBy(config: Config): (e: PipewardenEvent) => boolean {
  const repos = config.allowRepositories.map(globToRegExp);
  const pathRes = config.allowPaths.map(globToRegExp);
  const fromAllowedIp = ipMatcher(config.allowIps);
  return (e) => {
    const repo = e.pipewarden.repository;
    if (repo && repos.some((r) => r.test(repo))) return true;
    if (pathRes.length && paths(e).some((p) => pathRes.some((r) => r.test(p)))) return true;
    return fromAllowedIp(e.source?.ip);
  };
}

function describeUse(kind: 'read' | 'write') {
  return (x: Firing): Match => {
    const e = x.event;
    const what = e.pipewarden.artifact ?? e.url?.original ?? e.pipewarden.repository ?? e.pipewarden.job;
    const from = e.source?.ip ? ` from ${e.source.ip}` : '';
    const n = x.count === 1 ? 'an anonymous' : `${x.count} anonymous`;
    return {
      summary: `${e.event.provider}: ${n} ${kind}${x.count === 1 ? '' : 's'} within ${mins(x.windowMs)}${
        x.keyBy === 'pipewarden.source' ? '' : ` for ${x.key}`
      }; latest ${e.event.action}${what ? ` ${what}` : ''}${from}`,
      context: {
        provider: e.event.provider,
        dataset: e.event.dataset,
        access: kind,
        latest_action: e.event.action,
        ...(what ? { latest_target: what } : {}),
      },
    };
  };
}

/** The OWASP coverage rows of this detector (the README table is generated from them). */
export const coverage: CoverageRow[] = [
  {
    row: 'configuration',
    what: 'repositories made or created public, anonymous Git read, private forking, anonymous access enabled',
    owasp: ['CICD-SEC-7', 'CICD-SEC-2'],
    sources: ['github', 'github-audit', 'gitlab-audit', 'gitlab-logs', 'nexus', 'artifactory'],
  },
  {
    row: 'anonymous-read',
    what: 'anonymous downloads, pulls and API reads',
    owasp: ['CICD-SEC-2', 'CICD-SEC-7'],
    sources: ['artifactory', 'docker-distribution', 'harbor', 'jenkins', 'nexus'],
  },
  {
    row: 'anonymous-write',
    what: 'anonymous uploads, deletes and job changes',
    owasp: ['CICD-SEC-2', 'CICD-SEC-7', 'CICD-SEC-9'],
    sources: ['artifactory', 'docker-distribution', 'harbor', 'jenkins', 'nexus'],
  },
];

export const anonymousAccess: Detector<Config> = {
  id: 'anonymous-access',
  title: 'Anonymous access',
  severity: 'medium',
  description:
    'Anonymous access to a pipeline tool was allowed (a repository or Pages site made public, private forking or anonymous read enabled) or actually used (anonymous downloads, uploads, API calls or registry pulls).',
  runbook: 'detectors/anonymous-access/README.md#runbook',
  reference: 'https://attack.mitre.org/techniques/T1078/001/',
  configSchema,
  coverage,
  dedupMs: 0, // each configuration change is its own finding

  appliesTo(event) {
    return event.pipewarden.kind === 'access.anonymous' || opening(event) !== undefined;
  },

  key(event) {
    return event.pipewarden.repository ?? event.organization?.name ?? event.pipewarden.source;
  },

  match(event, { config }) {
    if (!config.configuration.enabled || event.pipewarden.kind === 'access.anonymous') return null;
    const o = opening(event);
    if (!o || allowedBy(config)(event)) return null;
    const where =
      event.pipewarden.repository ?? event.organization?.name ?? `the ${event.event.provider} instance`;
    return {
      summary: `${event.user?.name ?? 'Someone'} ${o.what} on ${where}`,
      severity: o.severity,
      context: { action: event.event.action, provider: event.event.provider, scope: where },
    };
  },

  rules(config) {
    const allowed = allowedBy(config);
    const anon = (e: PipewardenEvent) => e.pipewarden.kind === 'access.anonymous' && !allowed(e);
    const rules: Rule<Config>[] = [];
    for (const kind of ['read', 'write'] as const) {
      const r = kind === 'read' ? config.reads : config.writes;
      if (!r.enabled) continue;
      rules.push({
        id: `anonymous-${kind}`,
        type: 'threshold',
        keyBy: r.keyBy,
        threshold: r.threshold,
        ...windowAndDedup(r),
        severity: kind === 'write' ? 'high' : 'medium',
        when: (e) => anon(e) && isWrite(e) === (kind === 'write'),
        describe: describeUse(kind),
      });
    }
    return rules;
  },
};
