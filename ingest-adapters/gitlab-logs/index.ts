// GitLab Rails JSON logs (application_json.log, audit_json.log, auth_json.log), one JSON object a line:
// posted by a shipper as text/plain or NDJSON, or arriving as syslog lines routed here by `lines`.
import { type EventKind, eventId, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { tokenEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, type Json, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter, type LineFormat } from '../../src/ingest/types.ts';

const SECRET_ENV = 'PIPEWARDEN_GITLAB_LOGS_TOKEN';

const configSchema = secretSourceSchema(SECRET_ENV);

// "Failed Login: username=<u> ip=<ip>", "Successful Login: username=<u> ip=<ip> method=… admin=…", "User Logout: …"
const SESSION = /^(Failed Login|Successful Login|User Logout): username=(\S*) ip=(\S+)/;
// 'User "<u>" (<email>) was created', 'Project "<p>" was deleted', 'Group "<g>" was created'
const LIFECYCLE =
  /^(User|Project|Group) "([^"]+)"(?: \([^)]*\))? was (created|deleted|removed|renamed|transferred)/;

interface Found {
  kind: EventKind;
  category: string;
  type: string;
  action: string;
  dataset: string;
  outcome: PipewardenEvent['event']['outcome'];
  user?: string;
  ip?: string;
  repository?: string;
  visibility?: string;
  url?: string;
  change?: { field: string; to: string };
  token?: { id: string; type?: string };
}

/**
 * How many addresses a password reset was asked for (CVE-2023-7028: a second address receives the reset
 * link): production_json.log `POST /users/password` with `params` `[{ key: 'user', value: { email: [...] } }]`,
 * or audit_json.log "Ask for password reset" with `target_details` a JSON array of addresses.
 */
export function resetEmailCount(rec: Json): number | undefined {
  if (str(rec.path)?.split('?')[0] === '/users/password' && (str(rec.method) ?? 'POST') === 'POST') {
    const params = Array.isArray(rec.params) ? rec.params : [];
    for (const p of params) {
      const param = p && typeof p === 'object' ? (p as Json) : undefined;
      const value = param?.value && typeof param.value === 'object' ? (param.value as Json) : undefined;
      if (str(param?.key) === 'user' && value) return Array.isArray(value.email) ? value.email.length : 1;
    }
    return undefined;
  }
  if (str(rec.custom_message) === 'Ask for password reset') return emailsIn(str(rec.target_details));
  return undefined;
}

/** Addresses in an audit `target_details`: a JSON array (several) or one address. */
export function emailsIn(details: string | undefined): number | undefined {
  if (!details) return undefined;
  if (details.trimStart().startsWith('[')) {
    try {
      const list: unknown = JSON.parse(details);
      if (Array.isArray(list)) return list.length;
    } catch {
      // not JSON: counted below as one address
    }
  }
  return 1;
}

function read(rec: Json): Found | null {
  const message = str(rec.message) ?? '';
  const remoteIp = str(rec['meta.remote_ip']) ?? str(rec.remote_ip);
  const metaUser = str(rec['meta.user']);

  const resets = resetEmailCount(rec);
  if (resets !== undefined) {
    // The reset is asked for by someone not signed in (author_id -1): no actor then.
    const user = metaUser ?? (Number(rec.author_id) > 0 ? str(rec.author_name) : undefined);
    return {
      kind: 'other',
      category: 'authentication',
      type: 'change',
      action: 'password_reset_request',
      dataset: str(rec.path) ? 'gitlab.production' : 'gitlab.audit',
      outcome: 'unknown',
      ...(user ? { user } : {}),
      ...(remoteIp ? { ip: remoteIp } : {}),
      change: { field: 'password reset emails', to: String(resets) },
    };
  }
  const s = SESSION.exec(message);
  if (s) {
    const [, what, username, ip] = s;
    const base = {
      category: 'authentication',
      type: 'start',
      dataset: 'gitlab.application',
      ip: ip ?? remoteIp,
      ...(username ? { user: username } : {}),
    };
    if (what === 'Failed Login')
      return { ...base, kind: 'login.failure', action: 'failed_login', outcome: 'failure' };
    if (what === 'Successful Login')
      return { ...base, kind: 'login.success', action: 'successful_login', outcome: 'success' };
    return { ...base, kind: 'logout', type: 'end', action: 'logout', outcome: 'success' };
  }
  if (message === 'Rack_Attack') {
    // A request refused (blocklist) or throttled by Rack::Attack: someone hammering or banned.
    const env = str(rec.env) ?? 'unknown';
    return {
      kind: 'access.denied',
      category: 'web',
      type: 'denied',
      action: `rack_attack.${env}`,
      dataset: 'gitlab.auth',
      outcome: 'failure',
      ...(remoteIp ? { ip: remoteIp } : {}),
      ...(str(rec.path) ? { url: str(rec.path) } : {}),
      ...((metaUser ?? str(rec.user)) ? { user: metaUser ?? str(rec.user) } : {}),
    };
  }
  const l = LIFECYCLE.exec(message);
  if (l) {
    const [, what, name, verb] = l;
    const type =
      verb === 'created' ? 'creation' : verb === 'deleted' || verb === 'removed' ? 'deletion' : 'change';
    return {
      kind: what === 'User' ? 'permission.change' : 'config.change',
      category: what === 'User' ? 'iam' : 'configuration',
      type,
      action: `${what!.toLowerCase()}_${verb}`,
      dataset: 'gitlab.application',
      outcome: 'success',
      ...(metaUser ? { user: metaUser } : {}),
      ...(remoteIp ? { ip: remoteIp } : {}),
      ...(what === 'Project' ? { repository: name } : {}),
    };
  }
  // audit_json.log: author_id + entity_type + a change or a sign-in ("with").
  if (rec.author_id !== undefined && str(rec.entity_type)) {
    const user = metaUser ?? str(rec.author_name);
    const common = {
      dataset: 'gitlab.audit',
      ...(user ? { user } : {}),
      ...(remoteIp ? { ip: remoteIp } : {}),
    };
    const withMethod = str(rec.with);
    if (withMethod) {
      return {
        ...common,
        kind: 'login.success',
        category: 'authentication',
        type: 'start',
        action: `login.${withMethod}`,
        outcome: 'success',
      };
    }
    const change = str(rec.change);
    if (change) {
      const to = str(rec.to);
      return {
        ...common,
        kind: /access|role|permission|member/.test(change) ? 'permission.change' : 'config.change',
        category: 'configuration',
        type: 'change',
        action: `change.${change.replace(/\s+/g, '_')}`,
        outcome: 'success',
        ...(str(rec.entity_type) === 'Project' && str(rec.target_details)
          ? { repository: str(rec.target_details) }
          : {}),
        ...(change === 'visibility' && to ? { visibility: to.toLowerCase() } : {}),
        // A user made (or unmade) instance administrator or auditor: the before / after pipeline-weakening judges.
        ...((change === 'admin status' || change === 'auditor status') && rec.to !== undefined
          ? { change: { field: change, to: String(rec.to).toLowerCase() } }
          : {}),
      };
    }
    return null;
  }
  // api_json.log (GitLab 15.3+, gitlab-org/gitlab!92608): a request authenticated by a token names it
  // (`token_type` PersonalAccessToken / OAuth / DeployToken / CiJobToken…, `token_id`), never its value.
  const tokenId = idStr(rec.token_id);
  if (tokenId && str(rec.route) !== undefined) {
    const status = typeof rec.status === 'number' ? rec.status : undefined;
    const denied = status === 401 || status === 403;
    const user = metaUser ?? str(rec.username);
    const type = str(rec.token_type);
    return {
      kind: denied ? 'access.denied' : 'other',
      category: 'web',
      type: denied ? 'denied' : 'access',
      action: 'api_request',
      dataset: 'gitlab.api',
      outcome: denied ? 'failure' : status !== undefined && status < 400 ? 'success' : 'unknown',
      ...(user ? { user } : {}),
      ...(remoteIp ? { ip: remoteIp } : {}),
      ...(str(rec.path) ? { url: str(rec.path) } : {}),
      token: { id: tokenId, ...(type ? { type } : {}) },
    };
  }
  return null;
}

function toEvent(line: string, receivedAt: Date, transport: string, host?: string): PipewardenEvent | null {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    throw new AdapterInputError('a GitLab log line must be one JSON object');
  }
  if (!rec || typeof rec !== 'object' || Array.isArray(rec))
    throw new AdapterInputError('a GitLab log line must be one JSON object');
  const r = rec as Json;
  const found = read(r);
  if (!found) return null;
  const time = str(r.time) ?? str(r.created_at);
  const when =
    time && !Number.isNaN(Date.parse(time)) ? new Date(time).toISOString() : receivedAt.toISOString();
  const pw: PipewardenEvent['pipewarden'] = {
    kind: found.kind,
    source: 'gitlab-logs',
    raw: redactPayload(r),
  };
  if (found.repository) pw.repository = found.repository;
  if (found.visibility) pw.visibility = found.visibility;
  if (found.change) pw.change = found.change;
  if (found.token) pw.token = found.token;
  const correlation = str(r.correlation_id);
  if (correlation) pw.delivery_id = correlation;
  const event = makeEvent({
    at: when,
    message: `${found.user ?? 'someone'} ${found.action.replace(/[._]/g, ' ')}${found.repository ? ` on ${found.repository}` : ''}${found.ip ? ` from ${found.ip}` : ''}${host ? ` (${host}, ${transport})` : ''}`,
    id: eventId('gitlab-logs', line.trim()),
    category: [found.category],
    type: [found.type],
    action: found.action,
    outcome: found.outcome,
    dataset: found.dataset,
    provider: 'gitlab',
    receivedAt,
    pipewarden: pw,
  });
  if (found.user) {
    const id = idStr(r['meta.user_id']) ?? idStr(r.author_id);
    event.user = {
      name: found.user,
      ...(id && found.user === (str(r['meta.user']) ?? str(r.author_name)) ? { id } : {}),
    };
  }
  if (found.ip) event.source = { ip: found.ip };
  if (found.url) event.url = { original: found.url };
  return event;
}

/** GitLab's Rails JSON log lines (possibly behind a syslog header the listener strips). */
export const gitlabJsonLine: LineFormat = {
  read(line, receivedAt, meta) {
    // A JSON object with GitLab's field names: Rails' correlation_id with severity, or meta.* keys.
    const t = line.trimStart();
    const ours =
      t.startsWith('{') &&
      // production_json.log (Lograge) lines carry controller/path instead of severity.
      /"(severity|controller)"\s*:/.test(t) &&
      /"(correlation_id|meta\.caller_id|meta\.remote_ip|author_id)"\s*:/.test(t);
    if (!ours) return undefined;
    try {
      return toEvent(line, receivedAt, meta.transport, meta.host);
    } catch (err) {
      if (err instanceof AdapterInputError) return null;
      throw err;
    }
  },
};

export const gitlabLogs: IngestAdapter<typeof configSchema._output> = {
  id: 'gitlab-logs',
  title: 'GitLab Rails JSON logs (application, audit, auth)',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'GitLab Rails JSON logs',
      route: '`POST /ingest/gitlab-logs` (text/plain, NDJSON), or syslog lines',
      auth: '`Authorization: Bearer <token>`, constant-time',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ authorization: `Bearer ${secret}` }),
  },
  contentTypes: ['text/plain', 'application/x-ndjson', 'application/json'],
  lines: [gitlabJsonLine],

  // The credential is a header: checked before the body is read (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) => gitlabLogs.verify(NO_BODY, headers, config, now),

  verify(_raw, headers, config) {
    const sent = header(headers, 'authorization');
    if (!sent) return { ok: false, reason: 'missing Authorization header (expected "Bearer <token>")' };
    const m = /^Bearer\s+(.+)$/i.exec(sent);
    if (!m) return { ok: false, reason: 'Authorization must be "Bearer <token>"' };
    const key = config.secret?.reveal();
    if (!key || !tokenEquals(key, m[1]!.trim())) return { ok: false, reason: 'bearer token does not match' };
    return { ok: true };
  },

  parse(raw) {
    const lines = raw
      .toString('utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '');
    if (lines.length === 0) throw new AdapterInputError('no log lines in the body');
    return lines;
  },

  // Log lines have no delivery id; event ids derive from the line, so a re-shipped line is stored once.
  deliveryId() {
    return undefined;
  },

  toEvents(body, _headers, receivedAt) {
    if (!Array.isArray(body) || !body.every((l) => typeof l === 'string')) {
      throw new AdapterInputError('expected GitLab log lines');
    }
    const events: PipewardenEvent[] = [];
    // One bad line does not cost the others: they are accepted, the bad ones reported (by line number).
    const rejected: Array<{ item: number; reason: string }> = [];
    body.forEach((line: string, i) => {
      try {
        const e = toEvent(line, receivedAt, 'http');
        if (e) events.push(e);
      } catch (err) {
        if (!(err instanceof AdapterInputError)) throw err;
        rejected.push({ item: i + 1, reason: `line ${i + 1}: ${err.message}` });
      }
    });
    if (events.length === 0 && rejected.length > 0) throw new AdapterInputError(rejected[0]!.reason);
    return rejected.length ? { events, rejected } : { events };
  },
};
