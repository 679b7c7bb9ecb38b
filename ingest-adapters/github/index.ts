// GitHub webhooks (github.com, GHEC, GHES): repository, organisation, app and enterprise hooks.
import { parseVerifiedJson, verifiedContent } from '../../src/bus/encode.ts';
import { type EventKind, eventIdWithContent, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { githubRepo } from '../../src/ingest/build-logs/egress.ts';
import { idOf, type LogFetcher } from '../../src/ingest/build-logs/fetcher.ts';
import { hmacHex, verifyPrefixedHmac } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { checkShape } from '../../src/ingest/shape.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';
import { GITHUB_MARKERS, GITHUB_SHAPES } from './shapes.ts';

const SECRET_ENV = 'PIPEWARDEN_GITHUB_WEBHOOK_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV);

interface Classification {
  kind: EventKind;
  category: string[];
  type: string[];
}

const CONFIG: Classification = { kind: 'config.change', category: ['configuration'], type: ['change'] };
const IAM: Classification = { kind: 'permission.change', category: ['iam'], type: ['change'] };
const DEPLOY: Classification = { kind: 'deploy', category: ['process'], type: ['start'] };
const BUILD: Classification = { kind: 'build', category: ['process'], type: ['info'] };
const PUSH: Classification = { kind: 'code.push', category: ['configuration'], type: ['change'] };
const ALERT: Classification = { kind: 'security.alert', category: ['vulnerability'], type: ['info'] };
const PUBLISH: Classification = { kind: 'artifact.publish', category: ['package'], type: ['creation'] };
const OTHER: Classification = { kind: 'other', category: ['web'], type: ['info'] };

// Webhook event name → kind. Everything not listed is kept in the audit trail as "other".
const BY_EVENT = table<Classification>({
  branch_protection_rule: CONFIG,
  branch_protection_configuration: CONFIG,
  repository_ruleset: CONFIG,
  repository: CONFIG,
  public: CONFIG,
  meta: CONFIG,
  repository_advisory: ALERT,
  member: IAM,
  membership: IAM,
  organization: IAM,
  team: IAM,
  team_add: IAM,
  deploy_key: IAM,
  installation: IAM,
  installation_repositories: IAM,
  installation_target: IAM,
  github_app_authorization: IAM,
  org_block: IAM,
  personal_access_token_request: IAM,
  deployment: DEPLOY,
  deployment_status: DEPLOY,
  deployment_review: DEPLOY,
  deployment_protection_rule: DEPLOY,
  workflow_run: BUILD,
  workflow_job: BUILD,
  workflow_dispatch: BUILD,
  check_run: BUILD,
  check_suite: BUILD,
  status: BUILD,
  push: PUSH,
  create: PUSH,
  delete: PUSH,
  secret_scanning_alert: ALERT,
  secret_scanning_alert_location: ALERT,
  code_scanning_alert: ALERT,
  dependabot_alert: ALERT,
  repository_vulnerability_alert: ALERT,
  security_advisory: ALERT,
  package: PUBLISH,
  registry_package: PUBLISH,
  enterprise: CONFIG,
  // Poisoned-pipeline inputs: kept as "other" (no kind-based rule), read by poisoned-pipeline-execution.
  security_and_analysis: CONFIG,
  pull_request: OTHER,
  pull_request_target: OTHER,
  issues: OTHER,
  issue_comment: OTHER,
  pull_request_review_comment: OTHER,
});

type GithubExtras = PipewardenEvent['pipewarden'];

function classify(name: string, action: string | undefined, body: Json): Classification {
  const base = BY_EVENT[name] ?? OTHER;
  if (base === CONFIG || base === IAM) {
    if (action === 'created' || action === 'added' || action === 'member_added')
      return { ...base, type: ['creation'] };
    if (action === 'deleted' || action === 'removed' || action === 'member_removed')
      return { ...base, type: ['deletion'] };
  }
  if (name === 'deployment_status') return { ...DEPLOY, type: ['end'] };
  if (name === 'push' && body.deleted === true) return { ...PUSH, type: ['deletion'] };
  if (name === 'push' && body.created === true) return { ...PUSH, type: ['creation'] };
  return base;
}

function outcome(name: string, body: Json): PipewardenEvent['event']['outcome'] {
  const state =
    str(obj(body.deployment_status)?.state) ??
    str(obj(body.workflow_run)?.conclusion) ??
    str(obj(body.workflow_job)?.conclusion) ??
    (name === 'status' ? str(body.state) : undefined);
  if (!state) return 'unknown';
  if (state === 'success') return 'success';
  if (['failure', 'error', 'cancelled', 'timed_out', 'startup_failure'].includes(state)) return 'failure';
  return 'unknown';
}

function eventTime(body: Json, receivedAt: Date): string {
  const candidates = [
    obj(body.deployment_status)?.updated_at,
    obj(body.deployment)?.updated_at,
    obj(body.workflow_job)?.completed_at,
    obj(body.workflow_job)?.started_at,
    obj(body.workflow_run)?.updated_at,
    body.updated_at,
  ];
  for (const c of candidates) {
    if (typeof c === 'string' && !Number.isNaN(Date.parse(c))) return new Date(c).toISOString();
  }
  return receivedAt.toISOString();
}

const lower = (v: unknown): string | undefined => str(v)?.toLowerCase();

type Target = NonNullable<NonNullable<PipewardenEvent['user']>['target']>;
type Change = NonNullable<GithubExtras['change']>;

function targetOf(account: Json | undefined, role: string | undefined): Target | undefined {
  const name = str(account?.login);
  const id = idStr(account?.id);
  if (!name && !id && !role) return undefined;
  return { ...(name ? { name } : {}), ...(id ? { id } : {}), ...(role ? { roles: [role] } : {}) };
}

/**
 * Who a membership hook is about and the role it moves, where the payload says. Field names per GitHub's
 * webhook payload reference (github/rest-api-description; octokit/webhooks payload examples):
 * - `member.added`: `member`; `changes.role_name.to` (the full role: read, triage, write, maintain, admin
 *   or a custom role), else the legacy `changes.permission.to` (write | admin);
 * - `member.edited`: `member`; `changes.permission.from` / `.to`, or the older `changes.old_permission.from`;
 * - `member.removed`, `membership.*` (team membership: no role in the payload): `member`;
 * - `organization.member_added`: `membership.user`, `membership.role` (admin | member);
 * - `organization.member_removed`: `membership.user` (its `role` is the one taken away, not kept);
 * - `organization.member_invited`: `invitation.login` / `user`, `invitation.role` (the role offered).
 */
/** The highest level a `permissions` object grants (GitHub's repository roles, lower case). */
function repositoryLevel(perms: Json): string | undefined {
  for (const [key, level] of [
    ['admin', 'admin'],
    ['maintain', 'maintain'],
    ['push', 'write'],
    ['triage', 'triage'],
    ['pull', 'read'],
  ] as const)
    if (perms[key] === true) return level;
  return undefined;
}

function membershipChange(
  name: string,
  action: string | undefined,
  p: Json,
): { target?: Target; change?: Change } {
  const changes = obj(p.changes);
  if (name === 'member') {
    if (action === 'added') {
      const roleName = lower(obj(changes?.role_name)?.to);
      const permission = lower(obj(changes?.permission)?.to);
      const to = roleName ?? permission;
      const field = roleName ? 'role_name' : 'permission';
      return {
        target: targetOf(obj(p.member), to),
        ...(to ? { change: { field, to } } : {}),
      };
    }
    if (action === 'edited') {
      const permission = obj(changes?.permission);
      const from = lower(permission?.from) ?? lower(obj(changes?.old_permission)?.from);
      const to = lower(permission?.to);
      return {
        target: targetOf(obj(p.member), to),
        ...(from || to
          ? { change: { field: 'permission', ...(from ? { from } : {}), ...(to ? { to } : {}) } }
          : {}),
      };
    }
    return { target: targetOf(obj(p.member), undefined) };
  }
  if (name === 'membership') return { target: targetOf(obj(p.member), undefined) };
  // A team's access to a repository: `repository.permissions` is the team's level after the change;
  // `edited` carries the level before under `changes.repository.permissions.from` (other edits: none).
  if (name === 'team' && (action === 'added_to_repository' || action === 'edited')) {
    const perms = obj(obj(p.repository)?.permissions);
    const before = obj(obj(obj(changes?.repository)?.permissions)?.from);
    if (!perms || (action === 'edited' && !before)) return {};
    const to = repositoryLevel(perms);
    const from = before ? repositoryLevel({ ...perms, ...before }) : undefined;
    const team = obj(p.team);
    const teamName = str(team?.slug) ?? str(team?.name);
    return {
      ...(teamName ? { target: { name: teamName, ...(to ? { roles: [to] } : {}) } } : {}),
      ...(to ? { change: { field: 'permission', ...(from ? { from } : {}), to } } : {}),
    };
  }
  if (name === 'organization') {
    const membership = obj(p.membership);
    if (action === 'member_added')
      return { target: targetOf(obj(membership?.user), lower(membership?.role)) };
    if (action === 'member_removed') return { target: targetOf(obj(membership?.user), undefined) };
    if (action === 'member_invited') {
      const invitation = obj(p.invitation);
      const role = lower(invitation?.role);
      // invitation.id is the invitation's, not the user's: without `user`, only the login is kept.
      const invitee = obj(p.user) ?? { login: invitation?.login };
      return { target: targetOf(invitee, role) };
    }
  }
  return {};
}

/** Longest piece of attacker-controlled text kept per field (bounds every later regex). */
const UNTRUSTED_MAX = 2048;
const bounded = (v: unknown): string | undefined => str(v)?.slice(0, UNTRUSTED_MAX);

/**
 * What a poisoned-pipeline check needs from a webhook, per GitHub's webhook payload reference: the event
 * that started a run (`workflow_run.event`), whether the change came from a fork (`pull_request.head.repo`
 * vs `base.repo`; `workflow_run.head_repository` vs `repository`; `workflow_run.pull_requests[]`), the
 * author's `author_association`, the text a workflow may interpolate into a script, and the files a push
 * touched (`commits[].added / modified / removed`).
 */
function untrustedContext(name: string, p: Json): Partial<GithubExtras> {
  const out: Partial<GithubExtras> = {};
  const texts: Array<{ field: string; value: string }> = [];
  const add = (field: string, v: unknown) => {
    const value = bounded(v);
    if (value) texts.push({ field, value });
  };
  const pr = obj(p.pull_request);
  if (pr) {
    const head = obj(obj(pr.head)?.repo);
    const base = obj(obj(pr.base)?.repo);
    const headName = str(head?.full_name);
    const baseName = str(base?.full_name);
    if (headName && baseName) out.fork = headName !== baseName;
    else if (head && obj(pr.head) && head.fork === true) out.fork = true;
    add('pull_request.title', pr.title);
    add('pull_request.body', pr.body);
    add('pull_request.head.ref', obj(pr.head)?.ref);
    add('pull_request.head.label', obj(pr.head)?.label);
    const assoc = lower(pr.author_association);
    if (assoc) out.association = assoc;
  }
  const issue = obj(p.issue);
  if (issue && name !== 'pull_request') {
    add('issue.title', issue.title);
    add('issue.body', issue.body);
    const assoc = lower(issue.author_association);
    if (assoc) out.association = assoc;
  }
  const comment = obj(p.comment);
  if (comment) {
    add('comment.body', comment.body);
    const assoc = lower(comment.author_association);
    if (assoc) out.association = assoc;
  }
  const run = obj(p.workflow_run);
  if (run) {
    const trigger = lower(run.event);
    if (trigger) out.trigger = trigger;
    const headRepo = obj(run.head_repository);
    const repo = obj(run.repository) ?? obj(p.repository);
    const headId = idStr(headRepo?.id);
    const baseId = idStr(repo?.id);
    const crossPr = Array.isArray(run.pull_requests)
      ? run.pull_requests.some((x) => {
          const h = idStr(obj(obj(obj(x)?.head)?.repo)?.id);
          const b = idStr(obj(obj(obj(x)?.base)?.repo)?.id);
          return h !== undefined && b !== undefined && h !== b;
        })
      : false;
    if (headRepo?.fork === true || crossPr || (headId && baseId && headId !== baseId)) out.fork = true;
    else if (headId && baseId) out.fork = false;
    add('workflow_run.head_branch', run.head_branch);
    add('workflow_run.display_title', run.display_title);
    add('workflow_run.head_commit.message', obj(run.head_commit)?.message);
  }
  if (name === 'push' && Array.isArray(p.commits)) {
    const files = new Set<string>();
    for (const c of p.commits.slice(0, 100)) {
      const commit = obj(c);
      add('commit.message', commit?.message);
      for (const k of ['added', 'modified', 'removed']) {
        const list = commit?.[k];
        if (Array.isArray(list))
          for (const f of list) if (typeof f === 'string' && files.size < 200) files.add(f.slice(0, 512));
      }
    }
    if (files.size) out.files = [...files];
  }
  if (texts.length) out.untrusted = texts.slice(0, 50);
  return out;
}

/**
 * The setting a `branch_protection_rule.edited` hook moved: the first key of `changes` (e.g.
 * `allow_force_pushes_enforcement_level`, `admin_enforced`), `changes.<key>.from`, and the rule's new value.
 * A `secret_scanning_alert.resolved` / `code_scanning_alert.closed_by_user` / `dependabot_alert.dismissed`
 * hook: why it was closed (`alert.resolution`, `alert.dismissed_reason`).
 */
function settingOf(name: string, action: string | undefined, p: Json): Change | undefined {
  if (name === 'branch_protection_rule' && action === 'edited') {
    const changes = obj(p.changes);
    const rule = obj(p.rule);
    const field = changes ? Object.keys(changes)[0] : undefined;
    if (!field) return undefined;
    const scalar = (v: unknown) =>
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
        ? String(v).toLowerCase()
        : undefined;
    const from = scalar(obj(changes?.[field])?.from);
    const to = scalar(rule?.[field]);
    return { field, ...(from ? { from } : {}), ...(to ? { to } : {}) };
  }
  // security_and_analysis: `changes.from.security_and_analysis.<feature>.status` before, the repository's
  // `security_and_analysis.<feature>.status` after ("enabled" / "disabled"); the first feature that moved.
  if (name === 'security_and_analysis') {
    const before = obj(obj(obj(p.changes)?.from)?.security_and_analysis);
    const after = obj(obj(p.repository)?.security_and_analysis);
    for (const [feature, v] of Object.entries(after ?? {})) {
      const to = lower(obj(v)?.status);
      const from = lower(obj(before?.[feature])?.status);
      if (to && from !== to) return { field: feature, ...(from ? { from } : {}), to };
    }
    return undefined;
  }
  const alert = obj(p.alert);
  if (alert && /_alert$/.test(name)) {
    const reason = lower(alert.resolution) ?? lower(alert.dismissed_reason);
    return reason ? { field: 'resolution', to: reason } : undefined;
  }
  return undefined;
}

function sentence(
  actor: string | undefined,
  action: string,
  repository: string | undefined,
  org: string | undefined,
) {
  const where = repository ?? org;
  return `${actor ?? 'someone'} ${action.replace(/[._]/g, ' ')}${where ? ` on ${where}` : ''}`;
}

/**
 * GitHub Actions job logs: when a workflow_job completes, `GET /repos/{owner}/{repo}/actions/jobs/{id}/logs`,
 * which answers 302 to a pre-signed URL on Actions' storage (`*.actions.githubusercontent.com`, Azure blob
 * storage `*.blob.core.windows.net`, per "Communication between self-hosted runners and GitHub").
 */
const githubLogFetcher: LogFetcher = {
  defaultApiUrl: 'https://api.github.com',
  tokenEnv: 'PIPEWARDEN_GITHUB_TOKEN',
  vendorHosts: ['*.actions.githubusercontent.com', '*.blob.core.windows.net'],
  target(_event, raw, { apiUrl, token }) {
    if (raw.action !== 'completed') return null;
    const jobId = idOf(obj(raw.workflow_job)?.id);
    const repo = githubRepo(obj(raw.repository)?.full_name); // `../..` is no repository
    if (!jobId || !repo) return null;
    const path = `${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`;
    return {
      job: `github:${repo.owner}/${repo.name}:${jobId}`,
      url: `${apiUrl}/repos/${path}/actions/jobs/${jobId}/logs`,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
      },
    };
  },
};

export const github: IngestAdapter<typeof configSchema._output> = {
  id: 'github',
  title: 'GitHub webhooks',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'GitHub webhooks',
      route: '`POST /ingest/github`',
      auth: '`X-Hub-Signature-256` HMAC-SHA256 of the raw body, constant-time compare',
    },
  ],
  testing: {
    sign: (raw, secret) => ({ 'x-hub-signature-256': `sha256=${hmacHex('sha256', secret, raw)}` }),
  },
  // A hook's content type is JSON or form encoding (`payload=<url-encoded JSON>`); both are signed as sent.
  contentTypes: ['application/json', 'application/x-www-form-urlencoded'],
  logFetcher: githubLogFetcher,

  // A signed body: refused before it is read when the signature header is missing (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) =>
    header(headers, 'x-hub-signature-256') ? 'body' : github.verify(NO_BODY, headers, config, now),

  verify(rawBody, headers, config) {
    return verifyPrefixedHmac(header(headers, 'x-hub-signature-256'), {
      header: 'X-Hub-Signature-256',
      prefix: 'sha256=',
      algorithm: 'sha256',
      key: config.secret?.reveal(),
      body: rawBody,
    });
  },

  parse(rawBody, headers) {
    const type = (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      return parseVerifiedJson(rawBody.toString('utf8'), rawBody);
    const payload = new URLSearchParams(rawBody.toString('utf8')).get('payload');
    if (payload === null) throw new AdapterInputError('form-encoded GitHub webhook has no "payload" field');
    try {
      return parseVerifiedJson(payload);
    } catch (err) {
      throw new AdapterInputError(`the "payload" field is not JSON: ${(err as Error).message}`);
    }
  },

  deliveryId(headers) {
    return header(headers, 'x-github-delivery');
  },

  // X-GitHub-Event is not signed: the signed body must have the shape of the event it names (shapes.ts).
  checkHeaders(body, headers) {
    const name = header(headers, 'x-github-event');
    const payload = obj(body);
    if (name && payload) checkShape('X-GitHub-Event', name, GITHUB_SHAPES[name], payload, GITHUB_MARKERS);
  },

  toEvents(body, headers, receivedAt) {
    const name = header(headers, 'x-github-event');
    if (!name) throw new AdapterInputError('missing X-GitHub-Event header');
    const payload = obj(body);
    if (!payload) throw new AdapterInputError('GitHub webhook body must be a JSON object');
    const action = str(payload.action);
    const delivery = header(headers, 'x-github-delivery');
    const repo = obj(payload.repository);
    const org = obj(payload.organization) ?? obj(payload.enterprise);
    const sender = obj(payload.sender);
    const cls = classify(name, action, payload);
    const fullAction = action ? `${name}.${action}` : name;
    const repository = str(repo?.full_name);
    const actor = str(sender?.login);
    const deployment = obj(payload.deployment);
    const run = obj(payload.workflow_run);
    const job = obj(payload.workflow_job);
    const ref = str(payload.ref) ?? str(deployment?.ref) ?? str(run?.head_branch) ?? str(job?.head_branch);

    const pw: GithubExtras = {
      kind: cls.kind,
      source: 'github',
      raw: redactPayload(payload),
    };
    if (delivery) pw.delivery_id = delivery;
    if (repository) pw.repository = repository;
    if (ref) pw.branch = ref.replace(/^refs\/(heads|tags)\//, '');
    if (ref?.startsWith('refs/tags/') || (name !== 'push' && str(payload.ref_type) === 'tag'))
      pw.ref_type = 'tag';
    else if (ref?.startsWith('refs/heads/') || str(payload.ref_type) === 'branch') pw.ref_type = 'branch';
    const environment =
      str(deployment?.environment) ??
      str(obj(payload.deployment_status)?.environment) ??
      str(payload.environment);
    if (environment) pw.environment = environment;
    const pipeline = str(run?.name) ?? str(obj(payload.workflow)?.name) ?? str(job?.workflow_name);
    if (pipeline) pw.pipeline = pipeline;
    if (job) {
      pw.job = str(job.name) ?? idStr(job.id) ?? '';
      const labels = Array.isArray(job.labels)
        ? job.labels.filter((l): l is string => typeof l === 'string')
        : [];
      const group = str(job.runner_group_name);
      // Self-hosted runners always carry the "self-hosted" label; GitHub's own sit in the "GitHub Actions" group.
      const selfHosted =
        labels.some((l) => l.toLowerCase() === 'self-hosted') ||
        (group !== undefined && group !== 'GitHub Actions');
      if (str(job.runner_name) || group || labels.length) {
        pw.runner = {
          ...(str(job.runner_name) ? { name: str(job.runner_name) } : {}),
          ...(idStr(job.runner_id) ? { id: idStr(job.runner_id) } : {}),
          ...(group ? { group } : {}),
          labels,
          self_hosted: selfHosted,
        };
      }
    }
    // A forced push rewrote the branch history (force-push over protection is a classic tampering signal).
    if (name === 'push' && payload.forced === true) pw.forced = true;
    const buildUrl =
      str(run?.html_url) ?? str(job?.html_url) ?? str(obj(payload.deployment_status)?.target_url);
    if (buildUrl) pw.build_url = buildUrl;
    const pr = obj(payload.pull_request);
    const checkRun = obj(payload.check_run);
    const commit =
      str(payload.after) ??
      str(deployment?.sha) ??
      str(run?.head_sha) ??
      str(job?.head_sha) ??
      str(payload.sha) ?? // status
      str(checkRun?.head_sha) ??
      str(obj(pr?.head)?.sha);
    if (commit) pw.commit = commit;
    // --- trace (src/trail/trace.ts): correlation fields where GitHub sends them ---
    if (str(payload.ref)?.startsWith('refs/')) pw.ref = str(payload.ref)!;
    const prNumber =
      idStr(pr?.number) ??
      (Array.isArray(run?.pull_requests) ? idStr(obj(run.pull_requests[0])?.number) : undefined);
    if (prNumber) pw.pull_request = prNumber;
    const buildId = idStr(run?.id) ?? idStr(job?.run_id);
    if (buildId) pw.build_id = buildId;
    if (idStr(deployment?.id)) pw.deployment_id = idStr(deployment?.id)!;
    const review = obj(payload.review);
    const approver =
      str(review?.state)?.toLowerCase() === 'approved'
        ? str(obj(review?.user)?.login)
        : name === 'deployment_review' && action === 'approved'
          ? str(obj(payload.approver)?.login)
          : undefined;
    if (approver) pw.approvers = [approver];
    // `registry_package` is the newer name of the same hook (GitHub Packages), its body under that key.
    const pkg = obj(payload.package) ?? obj(payload.registry_package);
    if ((name === 'package' || name === 'registry_package') && str(pkg?.name)) {
      pw.artifact = str(pkg?.name)!;
      const version = obj(pkg?.package_version);
      if (str(version?.version)) pw.artifact_version = str(version?.version)!;
      // A container image published by tag (GHCR): the tag names mutable content, `digest` what it is now.
      const tag = obj(obj(version?.container_metadata)?.tag);
      const digest =
        str(tag?.digest) ??
        (str(version?.version)?.startsWith('sha256:') ? str(version?.version) : undefined);
      if (digest) pw.artifact_digest = digest;
      if (str(tag?.name) && digest) {
        const owner = str(obj(pkg?.owner)?.login);
        pw.artifact_ref = `ghcr.io/${owner ? `${owner.toLowerCase()}/` : ''}${str(pkg?.name)}:${str(tag?.name)}`;
      }
    }
    // --- end trace ---
    const visibility =
      str(repo?.visibility) ??
      (typeof repo?.private === 'boolean' ? (repo.private ? 'private' : 'public') : undefined);
    if (visibility) pw.visibility = visibility;
    const member = membershipChange(name, action, payload);
    if (member.change) pw.change = member.change;
    else {
      const moved = settingOf(name, action, payload);
      if (moved) pw.change = moved;
    }
    Object.assign(pw, untrustedContext(name, payload));

    const event = makeEvent({
      at: eventTime(payload, receivedAt),
      message: sentence(
        actor,
        payload.forced === true ? 'force-pushed' : fullAction,
        repository,
        str(org?.login) ?? str(org?.slug),
      ),
      // Signed content, not X-GitHub-Delivery: the text that was signed when the body came through the
      // route (its bytes are what a replay repeats), else the payload serialised.
      id: eventIdWithContent(['github'], `${name}:`, verifiedContent(payload) ?? JSON.stringify(payload)),
      category: cls.category,
      type: cls.type,
      action: fullAction,
      outcome: outcome(name, payload),
      dataset: 'github.webhook',
      provider: 'github',
      receivedAt,
      pipewarden: pw,
    });
    if (actor || member.target)
      event.user = {
        ...(actor ? { name: actor } : {}),
        ...(idStr(sender?.id) ? { id: idStr(sender?.id) } : {}),
        ...(str(sender?.type) ? { type: str(sender?.type) } : {}),
        ...(member.target ? { target: member.target } : {}),
      };
    const orgName = str(org?.login) ?? str(org?.slug);
    if (orgName) event.organization = { name: orgName };
    const url = str(repo?.html_url);
    if (url) event.url = { original: url };

    const reply = name === 'ping' ? { pong: true, zen: str(payload.zen) ?? '' } : undefined;
    return reply ? { events: [event], reply } : { events: [event] };
  },
};
