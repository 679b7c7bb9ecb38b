// GitLab project and group webhooks and instance system hooks (X-Gitlab-Token, or the Standard-Webhooks signature).
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type EventKind,
  eventId,
  type Outcome,
  type PipewardenEvent,
  redactPayload,
} from '../../src/event.ts';
import { idOf, type LogFetcher } from '../../src/ingest/build-logs/fetcher.ts';
import { tokenEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';

const SECRET_ENV = 'PIPEWARDEN_GITLAB_WEBHOOK_TOKEN';

const configSchema = secretSourceSchema(SECRET_ENV);

/** Standard-Webhooks signatures older or newer than this are refused as replays (the spec's tolerance). */
const SIGNATURE_TOLERANCE_S = 300;

interface Classification {
  kind: EventKind;
  category: string[];
  type: string[];
}

const c = (kind: EventKind, category: string, type: string): Classification => ({
  kind,
  category: [category],
  type: [type],
});

// object_kind (webhooks, and push/tag_push/merge_request from system hooks) → kind.
const BY_OBJECT_KIND = table<Classification>({
  push: c('code.push', 'configuration', 'change'),
  tag_push: c('code.push', 'configuration', 'change'),
  pipeline: c('build', 'process', 'info'),
  build: c('build', 'process', 'info'),
  deployment: c('deploy', 'process', 'start'),
  feature_flag: c('config.change', 'configuration', 'change'),
  merge_request: c('other', 'web', 'info'),
  issue: c('other', 'web', 'info'),
  note: c('other', 'web', 'info'),
  wiki_page: c('other', 'web', 'info'),
  release: c('other', 'web', 'info'),
  emoji: c('other', 'web', 'info'),
  access_token: c('other', 'iam', 'info'),
});

// event_name (system hooks, member and subgroup hooks) → kind.
function byEventName(name: string): Classification | undefined {
  if (name === 'user_failed_login') return c('login.failure', 'authentication', 'start');
  if (name === 'repository_update') return c('code.push', 'configuration', 'change');
  // Push and tag-push system hooks in their documented form: event_name, no object_kind.
  if (name === 'push' || name === 'tag_push') return BY_OBJECT_KIND[name];
  const type = /_(create|add_to_\w+)$/.test(name)
    ? 'creation'
    : /_(destroy|remove_from_\w+|deny)$/.test(name)
      ? 'deletion'
      : 'change';
  // Users, memberships, access requests and SSH keys: who can do what.
  if (/^(user_|key_|group_member|project_member)/.test(name)) return c('permission.change', 'iam', type);
  if (/^(project_|group_|subgroup_)/.test(name)) return c('config.change', 'configuration', type);
  return undefined;
}

type WithRunner = PipewardenEvent['pipewarden'];

/** Longest piece of attacker-controlled text kept per field (bounds every later regex). */
const UNTRUSTED_MAX = 2048;

/**
 * What a poisoned-pipeline check needs from a GitLab hook, per GitLab's webhook docs: a merge request from a
 * fork (`source_project_id` ≠ `target_project_id`, on `object_attributes` or a note's `merge_request`), and
 * the text a pipeline may interpolate (merge request title, description and source branch, issue title
 * and description, note body, pushed commit messages).
 */
function untrustedInputs(kind: string | undefined, p: Json, attrs: Json | undefined): Partial<WithRunner> {
  const out: Partial<WithRunner> = {};
  const texts: Array<{ field: string; value: string }> = [];
  const add = (field: string, v: unknown) => {
    const value = str(v)?.slice(0, UNTRUSTED_MAX);
    if (value) texts.push({ field, value });
  };
  const mr = kind === 'merge_request' ? attrs : obj(p.merge_request);
  if (mr) {
    const source = idStr(mr.source_project_id);
    const target = idStr(mr.target_project_id);
    if (source && target) out.fork = source !== target;
    add('merge_request.title', mr.title);
    add('merge_request.description', mr.description);
    add('merge_request.source_branch', mr.source_branch);
  }
  if (kind === 'issue' && attrs) {
    add('issue.title', attrs.title);
    add('issue.description', attrs.description);
  }
  if (kind === 'note' && attrs) add('comment.body', attrs.note);
  if ((kind === 'push' || kind === 'tag_push') && Array.isArray(p.commits))
    for (const c of p.commits.slice(0, 100)) add('commit.message', obj(c)?.message);
  if (texts.length) out.untrusted = texts.slice(0, 50);
  return out;
}

/**
 * Membership hooks (system hooks and group "Member Hook"s): their `user_*` fields are the MEMBER, not
 * who made the change, which GitLab does not send. The new role is `group_access` on group events and
 * `access_level` on project ("team") events, GitLab's role names ("Guest" … "Maintainer", "Owner"), as in
 * GitLab's system-hook documentation and the xanzy/go-gitlab test payloads in fixtures/.
 */
const MEMBERSHIP = table<{ roleKey: string; sets: 'add' | 'update' | 'remove' }>({
  user_add_to_group: { roleKey: 'group_access', sets: 'add' },
  user_update_for_group: { roleKey: 'group_access', sets: 'update' },
  user_remove_from_group: { roleKey: 'group_access', sets: 'remove' },
  user_add_to_team: { roleKey: 'access_level', sets: 'add' },
  user_update_for_team: { roleKey: 'access_level', sets: 'update' },
  user_remove_from_team: { roleKey: 'access_level', sets: 'remove' },
});

/** GitLab writes times as ISO 8601 or as "2021-02-25 21:23:34 UTC". */
export function gitlabTime(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  // "YYYY-MM-DD HH:MM:SS UTC" (older hooks) → ISO
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC$/.exec(s);
  const t = Date.parse(m ? `${m[1]}T${m[2]}Z` : s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

function outcomeOf(status: string | undefined): Outcome {
  if (!status) return 'unknown';
  if (status === 'success') return 'success';
  if (['failed', 'canceled', 'cancelled'].includes(status)) return 'failure';
  return 'unknown';
}

/** Standard-Webhooks check (GitLab's `webhook_signing_token`, `whsec_` keys): HMAC over "id.timestamp.body". */
function verifySigned(
  rawBody: Buffer,
  headers: Parameters<IngestAdapter['verify']>[1],
  key: string,
  now: Date,
) {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sig = header(headers, 'webhook-signature');
  if (!id || !ts || !sig)
    return { ok: false as const, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false as const, reason: 'webhook-timestamp must be unix seconds' };
  if (Math.abs(now.getTime() / 1000 - Number(ts)) > SIGNATURE_TOLERANCE_S) {
    return {
      ok: false as const,
      reason: `webhook-timestamp is more than ${SIGNATURE_TOLERANCE_S} s from now (stale or replayed)`,
    };
  }
  const expected = createHmac('sha256', Buffer.from(key.slice('whsec_'.length), 'base64'))
    .update(`${id}.${ts}.`)
    .update(rawBody)
    .digest();
  // The header lists space-separated "v1,<base64>" entries (several during key rotation).
  for (const part of sig.split(' ')) {
    const [version, value] = part.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const sent = Buffer.from(value, 'base64');
    if (sent.length === expected.length && timingSafeEqual(sent, expected)) return { ok: true as const };
  }
  return { ok: false as const, reason: 'webhook-signature does not match the body' };
}

// GitLab job statuses after which the trace is complete.
const FINISHED_JOB = new Set(['success', 'failed', 'canceled', 'cancelled', 'skipped']);

/** GitLab job traces: when a Job Hook says a job finished, `GET /api/v4/projects/{id}/jobs/{id}/trace`. */
const gitlabLogFetcher: LogFetcher = {
  defaultApiUrl: 'https://gitlab.com',
  tokenEnv: 'PIPEWARDEN_GITLAB_TOKEN',
  vendorHosts: [], // the trace comes from the instance itself
  target(_event, raw, { apiUrl, token }) {
    if (raw.object_kind !== 'build') return null;
    const status = raw.build_status;
    const project = idOf(raw.project_id);
    const build = idOf(raw.build_id);
    if (typeof status !== 'string' || !FINISHED_JOB.has(status) || !project || !build) return null;
    return {
      job: `gitlab:${project}:${build}`,
      url: `${apiUrl}/api/v4/projects/${project}/jobs/${build}/trace`,
      headers: { 'private-token': token },
    };
  },
};

export const gitlab: IngestAdapter<typeof configSchema._output> = {
  id: 'gitlab',
  title: 'GitLab webhooks and system hooks',
  configSchema,
  logFetcher: gitlabLogFetcher,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'GitLab webhooks and system hooks',
      route: '`POST /ingest/gitlab`',
      auth: '`X-Gitlab-Token`, constant-time (or Standard-Webhooks signature with a `whsec_` key)',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ 'x-gitlab-token': secret }),
  },
  contentTypes: ['application/json'],

  // A token is checked before the body is read; a Standard Webhooks signature needs the body (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) =>
    config.secret?.reveal().startsWith('whsec_') &&
    header(headers, 'webhook-id') &&
    header(headers, 'webhook-timestamp') &&
    header(headers, 'webhook-signature')
      ? 'body'
      : gitlab.verify(NO_BODY, headers, config, now),
  verify(rawBody, headers, config, now) {
    const key = config.secret?.reveal();
    if (!key) return { ok: false, reason: 'no GitLab webhook token is configured' };
    if (key.startsWith('whsec_')) return verifySigned(rawBody, headers, key, now);
    const sent = header(headers, 'x-gitlab-token');
    if (!sent) return { ok: false, reason: 'missing X-Gitlab-Token header (set a secret token on the hook)' };
    if (!tokenEquals(key, sent)) return { ok: false, reason: 'X-Gitlab-Token does not match' };
    return { ok: true };
  },

  // Idempotency-Key is stable across retries (17.4+); X-Gitlab-Event-UUID before that.
  deliveryId(headers) {
    return (
      header(headers, 'idempotency-key') ??
      header(headers, 'webhook-id') ??
      header(headers, 'x-gitlab-event-uuid')
    );
  },

  toEvents(body, headers, receivedAt) {
    const hook = header(headers, 'x-gitlab-event');
    if (!hook) throw new AdapterInputError('missing X-Gitlab-Event header');
    const p = obj(body);
    if (!p) throw new AdapterInputError('GitLab hook body must be a JSON object');
    const objectKind = str(p.object_kind);
    const eventName = str(p.event_name);
    const system = hook === 'System Hook';
    let cls =
      (objectKind ? BY_OBJECT_KIND[objectKind] : undefined) ??
      (eventName ? byEventName(eventName) : undefined);
    if (!objectKind && !eventName) {
      throw new AdapterInputError(`GitLab ${hook} body has neither object_kind nor event_name`);
    }
    cls ??= c('other', 'web', 'info');

    const attrs = obj(p.object_attributes);
    const user = obj(p.user);
    const project = obj(p.project);
    const delivery = gitlab.deliveryId(headers, p);

    // The action: the vendor's name, with the sub-action where the hook carries one.
    const baseName = objectKind === 'build' ? 'job' : (objectKind ?? eventName!);
    const sub =
      str(attrs?.action) ??
      str(p.action) ??
      (objectKind === 'build' ? str(p.build_status) : undefined) ??
      (objectKind === 'pipeline' ? str(attrs?.status) : undefined) ??
      (objectKind === 'deployment' ? str(p.status) : undefined) ??
      (objectKind && eventName && eventName !== objectKind ? eventName : undefined);
    const action = sub ? `${baseName}.${sub}` : baseName;

    const membership = eventName ? MEMBERSHIP[eventName] : undefined;
    const actor = membership
      ? undefined
      : (str(p.user_username) ??
        str(user?.username) ??
        (eventName?.startsWith('user_') || eventName?.startsWith('key_') ? str(p.username) : undefined) ??
        str(p.user_name));
    const actorId = membership ? undefined : (idStr(p.user_id) ?? idStr(user?.id));
    // The member and, unless removed, the role it now holds (lower case, as pipewarden.change wants it).
    const memberName = membership ? (str(p.user_username) ?? str(p.user_name)) : undefined;
    const memberId = membership ? idStr(p.user_id) : undefined;
    const role =
      membership && membership.sets !== 'remove' ? str(p[membership.roleKey])?.toLowerCase() : undefined;
    const repository =
      str(project?.path_with_namespace) ??
      str(p.path_with_namespace) ??
      str(p.project_path_with_namespace) ??
      str(p.full_path) ??
      (objectKind === 'build' ? str(p.project_name)?.replace(/\s/g, '') : undefined);
    const ref = str(p.ref) ?? str(attrs?.ref) ?? str(attrs?.target_branch);

    let outcome: Outcome = 'unknown';
    let type = cls.type;
    if (objectKind === 'pipeline') outcome = outcomeOf(str(attrs?.status));
    if (objectKind === 'build') outcome = outcomeOf(str(p.build_status));
    if (objectKind === 'deployment') {
      const status = str(p.status);
      outcome = outcomeOf(status);
      if (status && status !== 'running' && status !== 'created') type = ['end'];
    }
    if (eventName === 'user_failed_login') outcome = 'failure';
    const zero = /^0+$/;
    const pushKind = objectKind ?? eventName;
    const isPush = pushKind === 'push' || pushKind === 'tag_push';
    if (isPush && zero.test(str(p.after) ?? '')) type = ['deletion'];
    if (isPush && zero.test(str(p.before) ?? '')) type = ['creation'];

    const pw: WithRunner = { kind: cls.kind, source: 'gitlab', raw: redactPayload(p) };
    if (delivery) pw.delivery_id = delivery;
    if (repository) pw.repository = repository;
    if (ref) pw.branch = ref.replace(/^refs\/(heads|tags)\//, '');
    if (ref?.startsWith('refs/tags/') || pushKind === 'tag_push') pw.ref_type = 'tag';
    else if (ref?.startsWith('refs/heads/')) pw.ref_type = 'branch';
    // Files a push touched (commits[].added / modified / removed, per GitLab's push hook docs), bounded.
    if (isPush && Array.isArray(p.commits)) {
      const files = new Set<string>();
      for (const cm of p.commits.slice(0, 100))
        for (const k of ['added', 'modified', 'removed']) {
          const l = obj(cm)?.[k];
          if (Array.isArray(l))
            for (const f of l) if (typeof f === 'string' && files.size < 200) files.add(f.slice(0, 512));
        }
      if (files.size) pw.files = [...files];
    }
    Object.assign(pw, untrustedInputs(pushKind, p, attrs));
    const environment = str(p.environment) ?? str(obj(p.environment)?.name) ?? str(attrs?.environment);
    if (environment) pw.environment = environment;
    if (objectKind === 'pipeline' && attrs) {
      pw.pipeline = idStr(attrs.id) ?? '';
      // What started it (`source`: push, web, schedule, merge_request_event, …). A merge request pipeline
      // that runs in another project than the merge request's source project — a maintainer's "Run
      // pipeline in the parent project" for a fork's merge request — runs the fork's .gitlab-ci.yml with the
      // parent's CI/CD variables; one that runs in the fork itself is the fork's own business.
      const source = str(attrs.source);
      if (source) pw.trigger = source;
      const mr = obj(p.merge_request);
      const runsIn = idStr(obj(p.project)?.id);
      if (pw.fork && runsIn !== undefined && runsIn === idStr(mr?.source_project_id)) pw.fork = false;
    }
    if (objectKind === 'build') {
      pw.job = str(p.build_name) ?? idStr(p.build_id) ?? '';
      const pipelineId = idStr(p.pipeline_id);
      if (pipelineId) pw.pipeline = pipelineId;
      const runner = obj(p.runner);
      if (runner) {
        const tags = Array.isArray(runner.tags)
          ? runner.tags.filter((t): t is string => typeof t === 'string')
          : [];
        // instance_type runners are GitLab's (or the admin's) shared fleet; group and project runners are self-managed.
        pw.runner = {
          ...(str(runner.description) ? { name: str(runner.description) } : {}),
          ...(idStr(runner.id) ? { id: idStr(runner.id) } : {}),
          ...(str(runner.runner_type) ? { type: str(runner.runner_type) } : {}),
          labels: tags, // GitLab's runner tags play the role of GitHub's runner labels
          self_hosted: runner.is_shared !== true && str(runner.runner_type) !== 'instance_type',
        };
      }
    }
    const commit =
      str(p.checkout_sha) ?? str(p.after) ?? str(p.sha) ?? str(attrs?.sha) ?? str(obj(p.commit)?.id);
    if (commit && !zero.test(commit)) pw.commit = commit;
    const level = project?.visibility_level;
    const visibility =
      str(p.project_visibility)?.replace(/^visibilitylevel\|/, '') ??
      str(project?.visibility) ??
      // Webhooks carry project.visibility_level: 0 private, 10 internal, 20 public (GitLab's Gitlab::VisibilityLevel).
      (level === 20 ? 'public' : level === 10 ? 'internal' : level === 0 ? 'private' : undefined);
    if (visibility) pw.visibility = visibility;
    // An update names only the new role: the change has no `from`.
    if (membership?.sets === 'update' && role) pw.change = { field: membership.roleKey, to: role };
    const buildUrl = str(attrs?.url) ?? str(p.deployable_url);
    if (buildUrl && (objectKind === 'pipeline' || objectKind === 'deployment')) pw.build_url = buildUrl;
    // --- trace (src/trail/trace.ts): correlation fields where GitLab sends them ---
    if (str(p.ref)?.startsWith('refs/')) pw.ref = str(p.ref)!;
    const buildId =
      objectKind === 'pipeline' ? idStr(attrs?.id) : (idStr(p.pipeline_id) ?? idStr(p.deployable_id));
    if (buildId) pw.build_id = buildId;
    if (objectKind === 'deployment' && idStr(p.deployment_id)) pw.deployment_id = idStr(p.deployment_id)!;
    const mr = objectKind === 'merge_request' ? attrs : obj(p.merge_request);
    if (idStr(mr?.iid)) pw.pull_request = idStr(mr?.iid)!;
    // --- end trace ---

    // Event time: the status time the hook carries; otherwise (system hooks, whose created_at is the
    // record's age, e.g. the blocked user's creation) the time we received it.
    const when =
      gitlabTime(p.status_changed_at) ??
      gitlabTime(p.build_finished_at) ??
      gitlabTime(p.build_started_at) ??
      (objectKind === 'pipeline'
        ? (gitlabTime(attrs?.finished_at) ?? gitlabTime(attrs?.created_at))
        : undefined) ??
      (objectKind && !system && attrs ? gitlabTime(attrs.updated_at) : undefined) ??
      receivedAt.toISOString();

    const where = repository ?? str(p.group_path) ?? str(p.path);
    const message =
      eventName === 'user_failed_login'
        ? `blocked GitLab user ${actor ?? 'unknown'} (state ${str(p.state) ?? 'unknown'}) tried to sign in`
        : `${actor ?? 'someone'} ${action.replace(/[._]/g, ' ')}${
            memberName ? ` (member ${memberName}${role ? `, ${role}` : ''})` : ''
          }${where ? ` on ${where}` : ''}`;

    const event = makeEvent({
      at: when,
      message,
      id: eventId('gitlab', JSON.stringify(p)), // the body only: Idempotency-Key and X-Gitlab-Event are not signed
      category: cls.category,
      type,
      action,
      outcome,
      dataset: system ? 'gitlab.system_hook' : 'gitlab.webhook',
      provider: 'gitlab',
      receivedAt,
      pipewarden: pw,
    });
    if (actor) event.user = { name: actor, ...(actorId ? { id: actorId } : {}) };
    if (memberName || memberId) {
      event.user = {
        ...event.user,
        target: {
          ...(memberName ? { name: memberName } : {}),
          ...(memberId ? { id: memberId } : {}),
          ...(role ? { roles: [role] } : {}),
        },
      };
    }
    const group = str(p.group_path) ?? str(project?.namespace);
    if (group) event.organization = { name: group };
    const url = str(project?.web_url) ?? str(obj(p.repository)?.homepage);
    if (url) event.url = { original: url };
    return { events: [event] };
  },
};
