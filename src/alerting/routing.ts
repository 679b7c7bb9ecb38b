// The routing tree (Alertmanager's model): each hit walks the tree from the root; at each route the first
// child whose matchers all match takes the hit (and further siblings too when that child says `continue`);
// the deepest routes that took it name the receivers. A route without receivers inherits its parent's.
// A receiver is one sink of the registry with its own settings (`#sec-oncall` vs `#sec-low`); the sinks
// configured directly under `alerting.<sink>` are the implicit receivers of the default route, named by
// their sink id, so a config without `route` behaves as before.
import { z } from 'zod';
import { compileGlob, type GlobMatcher } from '../util/glob.ts';
import { type Hit, SEVERITIES, type Severity, severityRank } from './types.ts';

/**
 * Whether `text` matches `pattern`, where `*` matches any run of characters (`/` included: a route's
 * `octo-org/*` is a whole organisation) and `?` one character; case-insensitive. Matched by the linear glob
 * matcher of src/util/glob.ts (no regex is built), each pattern compiled once.
 */
export function globMatch(pattern: string, text: string): boolean {
  let m = compiled.get(pattern);
  if (!m) {
    m = compileGlob(pattern.replace(/\*+/g, '**'), { ignoreCase: true });
    compiled.set(pattern, m);
  }
  return m.test(text);
}
// Patterns come from the routing config: a bounded set.
const compiled = new Map<string, GlobMatcher>();

/** A duration as Alertmanager writes it: 30s, 5m, 4h, 1d. */
export const durationSchema = z
  .string()
  .regex(/^\d{1,6}(ms|s|m|h|d)$/, 'must be a duration such as 30s, 5m, 4h or 1d')
  .transform((s) => {
    const [, n, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(s)!;
    const ms = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms'];
    return Number(n) * ms;
  });

const patterns = z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).min(1).max(100)]);

/** The fields a route matches on; each takes a glob or a list of globs (any of them). */
export const MATCH_FIELDS = [
  'detector',
  'rule',
  'severity',
  'source',
  'repository',
  'organisation',
  'environment',
  'actor',
  'key',
] as const;
export type MatchField = (typeof MATCH_FIELDS)[number];

export const matchSchema = z.strictObject({
  ...(Object.fromEntries(MATCH_FIELDS.map((f) => [f, patterns.optional()])) as Record<
    MatchField,
    z.ZodOptional<typeof patterns>
  >),
  /** At or above this severity. */
  min_severity: z.enum(SEVERITIES).optional(),
  /** Context fields of the hit (e.g. `team: platform`), each a glob or a list of globs. */
  labels: z.record(z.string().min(1).max(100), patterns).optional(),
});
export type RouteMatch = z.output<typeof matchSchema>;

export interface RouteConfig {
  match?: RouteMatch | undefined;
  receivers?: string[] | undefined;
  continue: boolean;
  routes: RouteConfig[];
}

const receiverName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a receiver name: letters, digits, _ . - (at most 64)');

export const routeSchema: z.ZodType<RouteConfig, unknown> = z.lazy(() => routeObject);
const routeObject = z.strictObject({
  match: matchSchema.optional(),
  receivers: z.array(receiverName).optional(),
  /** Go on to the next sibling route after this one matched. */
  continue: z.boolean().default(false),
  routes: z.array(routeSchema).default([]),
});

/** Hit fields an incident's group key can be made of (incidents.ts). */
export const GROUP_FIELDS = [...MATCH_FIELDS, 'source_ip'] as const;

export const rootRouteSchema = z
  .strictObject({
    /** The default route's receivers; without: every sink enabled directly under alerting.<sink>. */
    receivers: z.array(receiverName).optional(),
    routes: z.array(routeSchema).default([]),
    /** Hits with the same values of these fields form one incident (incidents.ts). */
    group_by: z.array(z.enum(GROUP_FIELDS)).min(1).default(['detector', 'rule', 'key']),
    /** A hit later than this after an incident's last hit opens a new incident. */
    group_interval: durationSchema.prefault('1h'),
    /** Email (and other sinks that cannot edit what they sent) repeat an update at most this often. */
    repeat_interval: durationSchema.prefault('4h'),
  })
  .prefault({});
export type RootRoute = z.output<typeof rootRouteSchema>;

/** What a route matches a hit's field against. */
export function fieldOf(hit: Hit, field: MatchField | 'source_ip'): string | undefined {
  const ctx = (k: string) => {
    const v = hit.context[k];
    return v === null || v === undefined ? undefined : String(v);
  };
  switch (field) {
    case 'detector':
      return hit.detector;
    case 'rule':
      return ctx('rule');
    case 'severity':
      return hit.severity;
    case 'source':
      return hit.source;
    case 'repository':
      return hit.repository;
    case 'organisation':
      return (
        hit.organization ??
        ctx('organisation') ??
        ctx('organization') ??
        (hit.repository?.includes('/') ? hit.repository.split('/')[0] : undefined)
      );
    case 'environment':
      return hit.environment ?? ctx('environment');
    case 'actor':
      return hit.actor;
    case 'key':
      return hit.key;
    case 'source_ip':
      return hit.source_ip;
  }
}

function anyGlob(p: string | string[], value: string | undefined): boolean {
  if (value === undefined) return false;
  return (Array.isArray(p) ? p : [p]).some((g) => globMatch(g, value));
}

/** Whether every matcher of `match` holds for the hit (no matchers: always). */
export function routeMatches(match: RouteMatch | undefined, hit: Hit): boolean {
  if (!match) return true;
  for (const f of MATCH_FIELDS) {
    const p = match[f];
    if (p !== undefined && !anyGlob(p, fieldOf(hit, f))) return false;
  }
  if (match.min_severity && severityRank(hit.severity) < severityRank(match.min_severity as Severity))
    return false;
  for (const [label, p] of Object.entries(match.labels ?? {})) {
    if (!Object.hasOwn(hit.context, label)) return false;
    const v = hit.context[label];
    if (!anyGlob(p, v === null || v === undefined ? undefined : String(v))) return false;
  }
  return true;
}

/** The receivers a hit goes to, and the routes (paths such as `route.routes.0`) that named them. */
export interface Routing {
  receivers: string[];
  routes: string[];
}

export class Router {
  readonly #root: RouteConfig;

  /** `defaults`: the default route's receivers when `root.receivers` is not given (the implicit ones). */
  constructor(root: Pick<RootRoute, 'receivers' | 'routes'>, defaults: string[]) {
    this.#root = { receivers: root.receivers ?? defaults, routes: root.routes, continue: false };
  }

  route(hit: Hit): Routing {
    const receivers = new Set<string>();
    const routes: string[] = [];
    // Returns whether some child took the hit; when none did, this node takes it.
    const walk = (node: RouteConfig, path: string, inherited: string[]): void => {
      const own = node.receivers ?? inherited;
      let taken = false;
      for (const [i, child] of node.routes.entries()) {
        if (!routeMatches(child.match, hit)) continue;
        walk(child, `${path}.routes.${i}`, own);
        taken = true;
        if (!child.continue) break;
      }
      if (!taken) {
        routes.push(path);
        for (const r of own) receivers.add(r);
      }
    };
    walk(this.#root, 'route', []);
    return { receivers: [...receivers], routes };
  }
}

/** Every receiver name a route names, with its config path, for the config check. */
export function namedReceivers(root: Pick<RootRoute, 'receivers' | 'routes'>): Array<{
  name: string;
  path: Array<string | number>;
}> {
  const out: Array<{ name: string; path: Array<string | number> }> = [];
  for (const [i, name] of (root.receivers ?? []).entries()) out.push({ name, path: ['receivers', i] });
  const walk = (routes: RouteConfig[], path: Array<string | number>) => {
    for (const [i, r] of routes.entries()) {
      for (const [j, name] of (r.receivers ?? []).entries())
        out.push({ name, path: [...path, i, 'receivers', j] });
      walk(r.routes, [...path, i, 'routes']);
    }
  };
  walk(root.routes, ['routes']);
  return out;
}
