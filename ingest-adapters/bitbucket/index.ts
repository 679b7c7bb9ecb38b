// Bitbucket Cloud webhooks: X-Hub-Signature is HMAC-SHA256 here (the header name GitHub uses for SHA-1).
import { type EventKind, eventId, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { hmacHex, verifyHubSignatureSha256 } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { checkShape, type Shape } from '../../src/ingest/shape.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';

const SECRET_ENV = 'PIPEWARDEN_BITBUCKET_WEBHOOK_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV);

/** A forced push or ref change. Not yet in src/event.ts: kept in _source (mapping dynamic: false). */
type WithForced = PipewardenEvent['pipewarden'] & { forced?: boolean };

function classify(key: string): { kind: EventKind; category: string; type: string } {
  if (key === 'repo:push') return { kind: 'code.push', category: 'configuration', type: 'change' };
  if (key.startsWith('repo:commit_status_')) return { kind: 'build', category: 'process', type: 'info' };
  if (key === 'repo:deleted') return { kind: 'config.change', category: 'configuration', type: 'deletion' };
  if (key === 'repo:created') return { kind: 'config.change', category: 'configuration', type: 'creation' };
  if (key === 'repo:updated' || key === 'repo:transfer')
    return { kind: 'config.change', category: 'configuration', type: 'change' };
  return { kind: 'other', category: 'web', type: 'info' };
}

/** Fields Bitbucket's event payload reference documents for the event keys mapped above (src/ingest/shape.ts). */
function bitbucketShape(key: string): Shape | undefined {
  if (key === 'repo:push') return { push: 'object', repository: 'object' };
  if (key.startsWith('repo:commit_status_')) return { commit_status: 'object', repository: 'object' };
  if (key === 'repo:updated') return { changes: 'object', repository: 'object' };
  if (key.startsWith('repo:')) return { repository: 'object' };
  if (key.startsWith('pullrequest:')) return { pullrequest: 'object' };
  if (key.startsWith('issue:')) return { issue: 'object' };
  return undefined;
}

export const bitbucket: IngestAdapter<typeof configSchema._output> = {
  id: 'bitbucket',
  title: 'Bitbucket Cloud webhooks',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'Bitbucket Cloud webhooks',
      route: '`POST /ingest/bitbucket`',
      auth: '`X-Hub-Signature: sha256=` HMAC-SHA256',
    },
  ],
  testing: {
    sign: (raw, secret) => ({ 'x-hub-signature': `sha256=${hmacHex('sha256', secret, raw)}` }),
  },
  contentTypes: ['application/json'],

  // A signed body: refused before it is read when the signature header is missing (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) =>
    header(headers, 'x-hub-signature') ? 'body' : bitbucket.verify(NO_BODY, headers, config, now),

  verify(raw, headers, config) {
    return verifyHubSignatureSha256(headers, config.secret?.reveal(), raw);
  },

  deliveryId(headers) {
    return header(headers, 'x-request-uuid');
  },

  // X-Event-Key is not signed: the signed body must have the shape of the event it names.
  checkHeaders(body, headers) {
    const key = header(headers, 'x-event-key');
    const p = obj(body);
    if (key && p) checkShape('X-Event-Key', key, bitbucketShape(key), p);
  },

  toEvents(body, headers, receivedAt) {
    const key = header(headers, 'x-event-key');
    if (!key) throw new AdapterInputError('missing X-Event-Key header');
    const p = obj(body);
    if (!p) throw new AdapterInputError('a Bitbucket webhook body must be a JSON object');
    const cls = classify(key);
    const delivery = header(headers, 'x-request-uuid');
    const actor = obj(p.actor);
    const repo = obj(p.repository);
    const repository = str(repo?.full_name);
    const changes = Array.isArray(obj(p.push)?.changes) ? (obj(p.push)!.changes as unknown[]).map(obj) : [];
    const first = changes[0];
    const pr = obj(p.pullrequest);
    const status = obj(p.commit_status);
    let type = cls.type;
    if (key === 'repo:push' && first) {
      if (first.created === true) type = 'creation';
      else if (first.closed === true) type = 'deletion';
    }
    const pw: WithForced = { kind: cls.kind, source: 'bitbucket', raw: redactPayload(p) };
    if (delivery) pw.delivery_id = delivery;
    if (repository) pw.repository = repository;
    const branch =
      str(obj(first?.new)?.name) ??
      str(obj(first?.old)?.name) ??
      str(obj(obj(pr?.destination)?.branch)?.name) ??
      str(status?.refname);
    if (branch) pw.branch = branch;
    // repo:push: `new.type` / `old.type` branch or tag (a tag with both old and new was re-pointed).
    const refType = str(obj(first?.new)?.type) ?? str(obj(first?.old)?.type);
    if (refType === 'tag' || refType === 'branch') pw.ref_type = refType;
    const commit = str(obj(obj(first?.new)?.target)?.hash) ?? str(obj(status?.commit)?.hash);
    if (commit) pw.commit = commit;
    if (changes.some((c) => c?.forced === true)) pw.forced = true;
    if (status) {
      const url = str(status.url);
      if (url) pw.build_url = url;
      const name = str(status.name);
      if (name) pw.job = name;
    }
    if (typeof repo?.is_private === 'boolean') pw.visibility = repo.is_private ? 'private' : 'public';

    const state = str(status?.state);
    const outcome =
      state === 'SUCCESSFUL' ? 'success' : state === 'FAILED' || state === 'STOPPED' ? 'failure' : 'unknown';
    const times = [
      status?.updated_on,
      pr?.updated_on,
      obj(obj(first?.new)?.target)?.date,
      obj(p.comment)?.updated_on,
    ];
    const time = times.map(str).find((t) => t && !Number.isNaN(Date.parse(t)));
    const who = str(actor?.nickname) ?? str(actor?.username) ?? str(actor?.display_name);
    const event = makeEvent({
      at: time ? new Date(time).toISOString() : receivedAt.toISOString(),
      message: `${who ?? 'someone'} ${pw.forced ? 'force-pushed' : key.replace(/[:_]/g, ' ')}${repository ? ` on ${repository}` : ''}`,
      id: eventId('bitbucket', `${key}:${JSON.stringify(p)}`), // signed content, not X-Request-UUID
      category: [cls.category],
      type: [type],
      action: key,
      outcome,
      dataset: 'bitbucket.webhook',
      provider: 'bitbucket',
      receivedAt,
      pipewarden: pw,
    });
    if (who) {
      const id = str(actor?.account_id) ?? str(actor?.uuid);
      event.user = {
        name: who,
        ...(id ? { id } : {}),
        ...(str(actor?.type) ? { type: str(actor?.type) } : {}),
      };
    }
    const workspace = str(obj(repo?.workspace)?.slug) ?? repository?.split('/')[0];
    if (workspace) event.organization = { name: workspace };
    const url = str(obj(obj(repo?.links)?.html)?.href);
    if (url) event.url = { original: url };
    return { events: [event] };
  },
};
