// The normalised event: Elastic Common Schema field names, with `pipewarden.*` for what ECS lacks.
import { createHash } from 'node:crypto';
import type { TrailLink } from './trail/types.ts';

/**
 * The small fixed vocabulary detectors match on. Adapters map every vendor event to exactly one kind,
 * so one rule (for example "failed login") covers every source.
 */
export const EVENT_KINDS = [
  'login.failure', // a sign-in attempt that failed (bad password, blocked user, denied token)
  'login.success', // a successful sign-in
  'logout',
  'access.anonymous', // something was read or written without authentication
  'access.denied', // an authenticated or anonymous request refused for lack of permission
  'deploy', // a deployment started, finished or was requested
  'config.change', // a setting of a repository, organisation, pipeline or server changed
  'permission.change', // members, teams, roles, keys, tokens, apps granted or revoked
  'code.push', // commits or tags pushed, branches created or deleted
  'build', // a pipeline, workflow, job or build changed state
  'build.log', // console text of a build (travels on its own topic)
  'artifact.publish',
  'artifact.download',
  'artifact.delete',
  'security.alert', // a finding raised by the source itself (secret scanning, code scanning, dependabot)
  'other', // kept in the audit trail, matched by no kind-based rule
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export type Outcome = 'success' | 'failure' | 'unknown';

export interface PipewardenEvent {
  '@timestamp': string; // when it happened at the source (ISO 8601); received time when the source gives none
  message?: string; // one human sentence
  event: {
    id: string; // content-derived: the same delivery always yields the same id
    kind: 'event';
    category: string[]; // ECS categories: authentication, configuration, iam, process, web, file, ...
    type: string[]; // ECS types: start, end, change, creation, deletion, access, info, ...
    action: string; // the vendor's own name, e.g. "repository.publicized"
    outcome: Outcome;
    dataset: string; // e.g. "github.webhook", "jenkins.audit"
    provider: string; // the source system, e.g. "github"
    ingested: string; // when pipewarden received it
    original?: never; // raw payload lives in pipewarden.raw (not indexed), never here
  };
  /**
   * The actor (ECS `user.*`). `target` (ECS `user.target.*`) is the user or team a permission change was
   * applied to, with the roles it holds AFTER the change (lower-case vendor names: "admin", "owner",
   * "maintainer", "write", "developer"; for an invitation, the role offered). Only what the payload
   * carries: no `roles` means the source did not say.
   */
  user?: {
    name?: string;
    id?: string;
    type?: string;
    target?: { name?: string; id?: string; roles?: string[] };
  };
  source?: { ip?: string };
  user_agent?: { original?: string };
  url?: { original?: string };
  organization?: { name?: string; id?: string };
  pipewarden: {
    kind: EventKind;
    source: string; // the adapter id that produced it
    delivery_id?: string;
    repository?: string; // owner/name
    branch?: string;
    environment?: string;
    pipeline?: string;
    job?: string;
    build_url?: string;
    artifact?: string;
    /**
     * The mutable name an artefact was published under, which should keep pointing to the same content:
     * a registry `repository:tag`, an Artifactory `repo/path`. Set only where the source names it; the
     * content it points to is `artifact_digest` (when the source says).
     */
    artifact_ref?: string;
    commit?: string;
    visibility?: string;
    /** How many occurrences this one event stands for (an aggregate, e.g. rejected ingest requests); absent: one. */
    count?: number;
    /** Where a CI job ran (GitHub workflow_job, GitLab job): self-hosted runners are a pipeline risk. */
    runner?: {
      name?: string;
      id?: string;
      group?: string;
      type?: string;
      labels: string[];
      self_hosted: boolean;
    };
    /** A push that rewrote history. */
    forced?: boolean;
    /** What started a CI run (GitHub `workflow_run.event`: push, pull_request_target, workflow_run, …). */
    trigger?: string;
    /** The change (pull request, run) came from a fork: its head repository is not the base repository. */
    fork?: boolean;
    /** How the author of a pull request, issue or comment relates to the repository (GitHub
     * `author_association`, lower case: owner, member, collaborator, contributor, first_time_contributor, none). */
    association?: string;
    /**
     * Attacker-controlled text a workflow may interpolate (pull request title and body, head branch, issue
     * title and body, comment body, commit messages), each bounded in length by the adapter.
     */
    untrusted?: Array<{ field: string; value: string }>;
    /** Whether `branch` names a branch or a tag (from the full ref, `refs/tags/…`), when the source says. */
    ref_type?: 'branch' | 'tag';
    /** Paths a push added, modified or removed (bounded), e.g. `.github/workflows/ci.yml`. */
    files?: string[];
    /** Which credential acted, as the source identifies it: its hash or id, never the credential. */
    token?: { hashed?: string; id?: string; scopes?: string; type?: string };
    /**
     * The one setting a change moved, before and after, lower case as the vendor names them, e.g.
     * `{ field: 'role', from: 'member', to: 'admin' }`, `{ field: 'access_level', from: 'developer', to: 'owner' }`,
     * `{ field: 'default_workflow_permissions', from: 'read', to: 'write' }`. `field` is the vendor's name
     * for the setting; `from` / `to` absent: the source does not carry that side.
     */
    change?: { field: string; from?: string; to?: string };
    /** A secret found in a build log: never the secret itself, only what identifies it safely. */
    secret?: SecretFindingFields;
    /** The vendor payload, secrets redacted. Stored for the audit trail, not indexed for search. */
    raw?: unknown;
    // --- trail (src/trail): the chain link and the correlation fields a trace follows ---------------
    /** Set by the index role: this event's link in its partition's hash chain. */
    trail?: TrailLink;
    ref?: string; // the full git ref, e.g. refs/heads/main
    pull_request?: string; // the pull or merge request number
    build_id?: string; // workflow run / pipeline / build id or number
    artifact_version?: string;
    artifact_digest?: string; // e.g. sha256:...
    deployment_id?: string;
    approvers?: string[]; // who approved (a review, a deployment protection rule, an input step)
    // --- end trail ---------------------------------------------------------------------------------
  };
}

export interface SecretFindingFields {
  rule: string;
  title: string;
  severity: 'info' | 'low' | 'medium' | 'high' | 'critical';
  tier: 'high' | 'generic';
  line: number;
  column: number;
  preview: string; // the token's known prefix and at most its last 4 characters
  fingerprint: string; // HMAC-SHA256 under the deployment's key: correlates, cannot be reversed
  encoding?: string;
}

/** Stable event id from the parts that identify one occurrence at its source. */
export function eventId(...parts: Array<string | number | undefined>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${p ?? ''}\u0000`);
  return h.digest('base64url').slice(0, 32);
}

/**
 * eventId(...parts, `${lastPrefix}${content}`), the last part's content given as its UTF-8 bytes when the
 * caller has them (a signed body): the same id, without building and encoding the concatenated string.
 */
export function eventIdWithContent(
  parts: Array<string | number | undefined>,
  lastPrefix: string,
  content: string | Uint8Array,
): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${p ?? ''}\u0000`);
  h.update(lastPrefix);
  h.update(content);
  h.update('\u0000');
  return h.digest('base64url').slice(0, 32);
}

/** The key an event travels under on the bus: who did it, else from where, else what it touched. */
export function partitionKey(e: PipewardenEvent): string {
  return e.user?.name ?? e.source?.ip ?? e.pipewarden.repository ?? e.event.id;
}

const SECRET_KEY =
  /(secret|token|password|passwd|authorization|api[_-]?key|private[_-]?key|credential|signature)/i;

const REDACT_MAX_DEPTH = 32;

// Vendors use a small vocabulary of keys: each one's verdict is remembered (bounded), so the scan of a
// payload is mostly map lookups of keys JSON.parse has already hashed (measured on the GitHub push sample:
// 2.4 µs instead of 5.6 µs per payload).
const verdicts = new Map<string, boolean>();
const VERDICTS_MAX = 4_096;
const VERDICT_KEY_MAX = 64;

/** Whether a key names a credential (SECRET_KEY), remembered for short keys. */
function secretKey(k: string): boolean {
  let v = verdicts.get(k);
  if (v === undefined) {
    v = SECRET_KEY.test(k);
    if (verdicts.size < VERDICTS_MAX && k.length <= VERDICT_KEY_MAX) verdicts.set(k, v);
  }
  return v;
}

/**
 * A vendor payload with the values of credential-looking keys replaced, so the raw payload kept for the
 * audit trail never carries a secret the vendor chose to echo. Most payloads hold none: they are scanned
 * first and returned as they are (no copy); only a payload that needs a change is copied.
 */
export function redactPayload(value: unknown): unknown {
  return needsRedaction(value, 0) ? redactCopy(value, 0) : value;
}

/** Whether redactCopy would change anything: a credential-looking key holding a string, or too deep. */
function needsRedaction(value: unknown, depth: number): boolean {
  if (depth > REDACT_MAX_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const v of value) {
      if (depth + 1 > REDACT_MAX_DEPTH) return true;
      if (v !== null && typeof v === 'object' && needsRedaction(v, depth + 1)) return true;
    }
    return false;
  }
  if (value !== null && typeof value === 'object') {
    for (const k in value) {
      if (!Object.hasOwn(value, k)) continue;
      if (depth + 1 > REDACT_MAX_DEPTH) return true;
      const v = (value as Record<string, unknown>)[k];
      if (typeof v === 'string') {
        if (v.length > 0 && secretKey(k)) return true;
      } else if (v !== null && typeof v === 'object' && needsRedaction(v, depth + 1)) return true;
    }
  }
  return false;
}

function redactCopy(value: unknown, depth: number): unknown {
  if (depth > REDACT_MAX_DEPTH) return '[depth limit]';
  if (Array.isArray(value)) return value.map((v) => redactCopy(v, depth + 1));
  if (value && typeof value === 'object') {
    // Object.fromEntries defines own properties, so a vendor key named "__proto__" stays data.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        // Keys such as "token_scopes" or "secret_scanning" describe, they do not carry: keep non-strings.
        typeof v === 'string' && v.length > 0 && secretKey(k) ? '[REDACTED]' : redactCopy(v, depth + 1),
      ]),
    );
  }
  return value;
}
