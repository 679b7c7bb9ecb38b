// Gitea and Forgejo webhooks: X-Gitea-Signature / X-Forgejo-Signature, the hex HMAC-SHA256 of the raw body.
import {
  type EventKind,
  eventId,
  type Outcome,
  type PipewardenEvent,
  redactPayload,
} from '../../src/event.ts';
import { hmacHex, hmacHexEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, type Headers, header, type IngestAdapter } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';

const SECRET_ENV = 'PIPEWARDEN_GITEA_WEBHOOK_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV);

/** Forgejo's own header first (it also sends Gitea's), then Gitea's. */
const either = (headers: Headers, suffix: string) =>
  header(headers, `x-forgejo-${suffix}`) ?? header(headers, `x-gitea-${suffix}`);

interface Classification {
  kind: EventKind;
  category: string[];
  type: string[];
}

const PUSH: Classification = { kind: 'code.push', category: ['configuration'], type: ['change'] };
const CONFIG: Classification = { kind: 'config.change', category: ['configuration'], type: ['change'] };
const BUILD: Classification = { kind: 'build', category: ['process'], type: ['info'] };
const OTHER: Classification = { kind: 'other', category: ['web'], type: ['info'] };

// Event type → kind; every other event (pull requests, issues, releases, wiki, fork) is kept as "other".
const BY_EVENT = table<Classification>({
  push: PUSH,
  create: { ...PUSH, type: ['creation'] },
  delete: { ...PUSH, type: ['deletion'] },
  repository: CONFIG,
  status: BUILD,
  workflow_run: BUILD,
  workflow_job: BUILD,
});

const ZERO_SHA = /^0+$/;

function classify(name: string, action: string | undefined, body: Json): Classification {
  if (name === 'package') {
    return action === 'deleted'
      ? { kind: 'artifact.delete', category: ['package'], type: ['deletion'] }
      : { kind: 'artifact.publish', category: ['package'], type: ['creation'] };
  }
  const base = BY_EVENT[name] ?? OTHER;
  if (base === CONFIG && action === 'created') return { ...base, type: ['creation'] };
  if (base === CONFIG && action === 'deleted') return { ...base, type: ['deletion'] };
  if (base === PUSH) {
    // A push from the all-zero commit creates the branch; one to it deletes the branch.
    if (ZERO_SHA.test(str(body.before) ?? '')) return { ...base, type: ['creation'] };
    if (ZERO_SHA.test(str(body.after) ?? '')) return { ...base, type: ['deletion'] };
  }
  return base;
}

function outcomeOf(name: string, body: Json): Outcome {
  const state =
    str(body.state) ?? str(obj(body.workflow_run)?.conclusion) ?? str(obj(body.workflow_job)?.conclusion);
  if (name === 'status' || name === 'workflow_run' || name === 'workflow_job') {
    if (state === 'success') return 'success';
    if (state === 'failure' || state === 'error' || state === 'cancelled') return 'failure';
    return 'unknown';
  }
  return 'success';
}

/** refs/heads/main → main; a create/delete ref is already short. */
const branchOf = (ref: string | undefined) => ref?.replace(/^refs\/heads\//, '');

function normalise(
  name: string,
  body: Json,
  delivery: string | undefined,
  receivedAt: Date,
): PipewardenEvent {
  const action = str(body.action);
  const cls = classify(name, action, body);
  const repo = obj(body.repository);
  const repoName = str(repo?.full_name);
  const actor = obj(body.pusher) ?? obj(body.sender);
  const who = str(actor?.login) ?? str(actor?.username);
  const pkg = obj(body.package);
  const ref = str(body.ref);
  const pw: PipewardenEvent['pipewarden'] = { kind: cls.kind, source: 'gitea', raw: redactPayload(body) };
  if (delivery) pw.delivery_id = delivery;
  if (repoName) pw.repository = repoName;
  if (repo && typeof repo.private === 'boolean') pw.visibility = repo.private ? 'private' : 'public';
  if (ref && (name === 'push' || str(body.ref_type) === 'branch')) pw.branch = branchOf(ref)!;
  const commit = name === 'push' ? str(body.after) : str(body.sha);
  if (commit && !ZERO_SHA.test(commit)) pw.commit = commit;
  if (pkg) {
    const artifact = [str(pkg.type), str(pkg.name), str(pkg.version)].filter(Boolean).join(':');
    if (artifact) pw.artifact = artifact;
  }
  const actionName = action ? `${name}.${action}` : name;
  const what = pw.artifact ?? repoName ?? 'Gitea';
  const event = makeEvent({
    at: receivedAt.toISOString(), // Gitea payloads carry no time of the event itself
    message: `${who ?? 'Gitea'} ${actionName.replace(/[._]/g, ' ')} ${what}${pw.branch ? ` (${pw.branch})` : ''}`,
    id: eventId('gitea', `${name}:${JSON.stringify(body)}`), // signed content, not X-Gitea-Delivery
    category: cls.category,
    type: cls.type,
    action: actionName,
    outcome: outcomeOf(name, body),
    dataset: 'gitea.webhook',
    provider: 'gitea',
    receivedAt,
    pipewarden: pw,
  });
  if (who) event.user = { name: who, ...(idStr(actor?.id) ? { id: idStr(actor?.id) } : {}) };
  const org = obj(body.organization);
  if (str(org?.login))
    event.organization = { name: str(org?.login)!, ...(idStr(org?.id) ? { id: idStr(org?.id) } : {}) };
  const url =
    str(obj(body.release)?.html_url) ?? str(pkg?.html_url) ?? str(body.compare_url) ?? str(repo?.html_url);
  if (url) event.url = { original: url };
  return event;
}

export const gitea: IngestAdapter<typeof configSchema._output> = {
  id: 'gitea',
  title: 'Gitea and Forgejo webhooks',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'Gitea / Forgejo webhooks ([details](ingest-adapters/gitea/README.md))',
      route: '`POST /ingest/gitea`',
      auth: '`X-Gitea-Signature` / `X-Forgejo-Signature` hex HMAC-SHA256 of the raw body, constant-time',
    },
  ],
  testing: {
    sign: (raw, secret) => ({ 'x-gitea-signature': hmacHex('sha256', secret, raw) }),
  },
  contentTypes: ['application/json'],

  // A signed body: refused before it is read when the signature header is missing (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) =>
    either(headers, 'signature') ? 'body' : gitea.verify(NO_BODY, headers, config, now),

  verify(raw, headers, config) {
    const sent = either(headers, 'signature');
    if (!sent) return { ok: false, reason: 'missing X-Gitea-Signature header (set a secret on the webhook)' };
    const key = config.secret?.reveal();
    if (!key || !hmacHexEquals('sha256', key, raw, sent.trim())) {
      return { ok: false, reason: 'X-Gitea-Signature does not match the body' };
    }
    return { ok: true };
  },

  // Gitea reuses the delivery's UUID when it redelivers it.
  deliveryId(headers) {
    return either(headers, 'delivery');
  },

  toEvents(body, headers, receivedAt) {
    const name = either(headers, 'event-type') ?? either(headers, 'event');
    if (!name) throw new AdapterInputError('missing X-Gitea-Event header');
    const payload = obj(body);
    if (!payload) throw new AdapterInputError('a Gitea webhook body must be a JSON object');
    return { events: [normalise(name, payload, either(headers, 'delivery'), receivedAt)] };
  },
};
