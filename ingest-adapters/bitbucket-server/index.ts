// Bitbucket Server / Data Center webhooks (X-Hub-Signature: sha256=…), and its audit-log JSON lines.
import { type EventKind, eventId, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { hmacHex, verifyHubSignatureSha256 } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, isoTime, type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter, type LineFormat } from '../../src/ingest/types.ts';

const SECRET_ENV = 'PIPEWARDEN_BITBUCKET_SERVER_WEBHOOK_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV);

function classify(key: string): { kind: EventKind; category: string; type: string } {
  if (key === 'repo:refs_changed' || key === 'mirror:repo_synchronized') {
    return { kind: 'code.push', category: 'configuration', type: 'change' };
  }
  if (key === 'repo:secret_detected')
    return { kind: 'security.alert', category: 'vulnerability', type: 'info' };
  if (key === 'repo:modified' || key === 'project:modified')
    return { kind: 'config.change', category: 'configuration', type: 'change' };
  return { kind: 'other', category: 'web', type: 'info' };
}

export const bitbucketServer: IngestAdapter<typeof configSchema._output> = {
  id: 'bitbucket-server',
  title: 'Bitbucket Server / Data Center webhooks',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'Bitbucket Server / Data Center',
      route: '`POST /ingest/bitbucket-server` (webhooks), syslog (audit log lines)',
      auth: '`X-Hub-Signature: sha256=` HMAC-SHA256',
    },
  ],
  testing: {
    sign: (raw, secret) => ({ 'x-hub-signature': `sha256=${hmacHex('sha256', secret, raw)}` }),
  },
  contentTypes: ['application/json'],

  // A signed body: refused before it is read when the signature header is missing (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) =>
    header(headers, 'x-hub-signature') ? 'body' : bitbucketServer.verify(NO_BODY, headers, config, now),

  verify(raw, headers, config) {
    return verifyHubSignatureSha256(headers, config.secret?.reveal(), raw);
  },

  deliveryId(headers) {
    return header(headers, 'x-request-id');
  },

  // X-Event-Key is not signed: when the signed body names its event, the header must agree with it.
  checkHeaders(body, headers) {
    const key = header(headers, 'x-event-key');
    const bodyKey = str(obj(body)?.eventKey);
    if (key && bodyKey && bodyKey !== key)
      throw new AdapterInputError(
        `X-Event-Key says '${key.slice(0, 100)}' but the signed body's eventKey is '${bodyKey.slice(0, 100)}'`,
      );
  },

  toEvents(body, headers, receivedAt) {
    const p = obj(body);
    if (!p) throw new AdapterInputError('a Bitbucket Server webhook body must be a JSON object');
    const key = header(headers, 'x-event-key') ?? str(p.eventKey);
    if (!key) throw new AdapterInputError('missing X-Event-Key header and eventKey');
    if (key === 'diagnostics:ping') {
      return { events: [], reply: { pong: true } };
    }
    const cls = classify(key);
    const delivery = header(headers, 'x-request-id');
    const actor = obj(p.actor);
    const pr = obj(p.pullRequest);
    const repo = obj(p.repository) ?? obj(p.new) ?? obj(obj(pr?.toRef)?.repository);
    const projectKey = str(obj(repo?.project)?.key);
    const repository = projectKey && str(repo?.slug) ? `${projectKey}/${str(repo?.slug)}` : undefined;
    const changes = Array.isArray(p.changes) ? (p.changes as unknown[]).map(obj) : [];
    const first = changes[0];
    let type = cls.type;
    if (first?.type === 'ADD') type = 'creation';
    if (first?.type === 'DELETE') type = 'deletion';

    const pw: PipewardenEvent['pipewarden'] = {
      kind: cls.kind,
      source: 'bitbucket-server',
      raw: redactPayload(p),
    };
    if (delivery) pw.delivery_id = delivery;
    if (repository) pw.repository = repository;
    const branch = str(obj(first?.ref)?.displayId) ?? str(obj(pr?.toRef)?.displayId);
    if (branch) pw.branch = branch;
    // repo:refs_changed: `ref.type` BRANCH or TAG (an UPDATE of a TAG re-points it).
    const refType = str(obj(first?.ref)?.type);
    if (refType === 'TAG' || refType === 'BRANCH') pw.ref_type = refType === 'TAG' ? 'tag' : 'branch';
    const commit = str(first?.toHash) ?? str(obj(pr?.toRef)?.latestCommit);
    if (commit && !/^0+$/.test(commit)) pw.commit = commit;
    if (typeof repo?.public === 'boolean') pw.visibility = repo.public ? 'public' : 'private';

    const who = str(actor?.slug) ?? str(actor?.name);
    const event = makeEvent({
      at: isoTime(p.date, { epochMs: true }) ?? receivedAt.toISOString(),
      message: `${who ?? 'someone'} ${key.replace(/[:_]/g, ' ')}${repository ? ` on ${repository}` : ''}`,
      id: eventId('bitbucket-server', `${key}:${JSON.stringify(p)}`), // signed content, not X-Request-Id
      category: [cls.category],
      type: [type],
      action: key,
      outcome: 'unknown',
      dataset: 'bitbucket_server.webhook',
      provider: 'bitbucket-server',
      receivedAt,
      pipewarden: pw,
    });
    if (who) {
      const id = idStr(actor?.id);
      event.user = {
        name: who,
        ...(id ? { id } : {}),
        ...(str(actor?.type) ? { type: str(actor?.type) } : {}),
      };
    }
    if (projectKey) event.organization = { name: projectKey };
    return { events: [event] };
  },
};

/**
 * Data Center audit log (`<home>/log/audit/*.audit.log`, one JSON object a line, Atlassian audit framework):
 * authentication entries carry the login and the client IP. Field names per Atlassian's audit-log
 * documentation [unverified against a real file: the corpus has no sample].
 */
export const bitbucketAuditLine: LineFormat = {
  read(line, receivedAt, meta) {
    // A JSON object with the audit framework's "auditType" and "author" keys.
    const t = line.trimStart();
    if (!(t.startsWith('{') && t.includes('"auditType"') && t.includes('"author"'))) return undefined;
    let r: Json | undefined;
    try {
      r = obj(JSON.parse(line));
    } catch {
      return null;
    }
    const auditType = obj(r?.auditType);
    const action = str(auditType?.action) ?? str(auditType?.actionI18nKey);
    if (!r || !action) return null;
    const category = str(auditType?.category) ?? '';
    const author = obj(r.author);
    const name = str(author?.name) ?? str(author?.id);
    const ip = str(r.source);
    let kind: EventKind = 'other';
    let outcome: PipewardenEvent['event']['outcome'] = 'unknown';
    if (/fail|denied|invalid/i.test(action) && /log\s*in|authenticat/i.test(`${action} ${category}`)) {
      kind = 'login.failure';
      outcome = 'failure';
    } else if (/log(ged)?\s*in|authenticated/i.test(action)) {
      kind = 'login.success';
      outcome = 'success';
    } else if (/log(ged)?\s*out/i.test(action)) kind = 'logout';
    else if (/permission|group|user|token|key/i.test(`${category} ${action}`)) kind = 'permission.change';
    else if (/repository|project|settings|config/i.test(`${category} ${action}`)) kind = 'config.change';
    // "2019-03-01T10:08:35+0100" (no colon in the offset), epoch ms, or a Java Instant
    // { epochSecond, nano } (seconds, not milliseconds).
    const epochSecond = obj(r.timestamp)?.epochSecond;
    const when =
      isoTime(r.timestamp, { epochMs: true }) ??
      (typeof epochSecond === 'number' ? isoTime(epochSecond * 1000, { epochMs: true }) : undefined) ??
      receivedAt.toISOString();
    const event = makeEvent({
      at: when,
      message: `${name ?? 'someone'} ${action}${ip ? ` from ${ip}` : ''}${meta.host ? ` (${meta.host})` : ''}`,
      id: eventId('bitbucket-server', line.trim()),
      category: [kind.startsWith('log') ? 'authentication' : 'configuration'],
      type: [kind.startsWith('login') ? 'start' : 'change'],
      action,
      outcome,
      dataset: 'bitbucket_server.audit',
      provider: 'bitbucket-server',
      receivedAt,
      pipewarden: { kind, source: 'bitbucket-server', raw: redactPayload(r) },
    });
    if (name) event.user = { name, ...(str(author?.type) ? { type: str(author?.type) } : {}) };
    if (ip) event.source = { ip };
    return event;
  },
};
bitbucketServer.lines = [bitbucketAuditLine];
