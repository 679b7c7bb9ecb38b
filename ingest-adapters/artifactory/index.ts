// JFrog Artifactory: Event-service webhooks at POST /ingest/artifactory, and its access and request log
// lines (by syslog, or as a text/plain body at the same route), where logins, client IPs and anonymous use live.
import { isIP } from 'node:net';
import { z } from 'zod';
import {
  type EventKind,
  eventId,
  type Outcome,
  type PipewardenEvent,
  redactPayload,
} from '../../src/event.ts';
import { hmacHexEquals, tokenEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import {
  AdapterInputError,
  header,
  type IngestAdapter,
  type LineFormat,
  readLine,
} from '../../src/ingest/types.ts';

const SECRET_ENV = 'PIPEWARDEN_ARTIFACTORY_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV, {
  /** token: X-JFrog-Event-Auth carries the secret itself (Artifactory's default); hmac-sha256: a hex HMAC of the body. */
  authMode: z.enum(['token', 'hmac-sha256']).default('token'),
});
export type ArtifactoryConfig = z.output<typeof configSchema>;

interface Classified {
  kind: EventKind;
  category: string[];
  type: string[];
  outcome: Outcome;
}
const C = (kind: EventKind, category: string, type: string, outcome: Outcome = 'unknown'): Classified => ({
  kind,
  category: [category],
  type: [type],
  outcome,
});

// Webhook "<domain>.<event_type>" → kind. Domains not listed keep their events as "other".
function classifyWebhook(domain: string, type: string): Classified {
  switch (domain) {
    case 'artifact':
    case 'docker':
      if (type === 'deployed' || type === 'pushed')
        return C('artifact.publish', 'package', 'creation', 'success');
      if (type === 'deleted') return C('artifact.delete', 'package', 'deletion', 'success');
      if (type === 'promoted') return C('deploy', 'package', 'change', 'success');
      // copied, moved: the artefact now exists in another repository.
      return C('artifact.publish', 'package', 'change', 'success');
    case 'artifact_property':
      return C('config.change', 'configuration', type === 'deleted' ? 'deletion' : 'change', 'success');
    case 'build':
      if (type === 'promoted') return C('deploy', 'process', 'change', 'success');
      return C('build', 'process', type === 'deleted' ? 'deletion' : 'info', 'success');
    case 'release_bundle':
    case 'release_bundle_v2':
      return type === 'deleted'
        ? C('artifact.delete', 'package', 'deletion', 'success')
        : C('artifact.publish', 'package', type === 'created' ? 'creation' : 'change', 'success');
    case 'distribution':
    case 'destination': {
      const outcome: Outcome = /failed|aborted/.test(type)
        ? 'failure'
        : /completed/.test(type)
          ? 'success'
          : 'unknown';
      return C(
        'deploy',
        'package',
        /delete/.test(type) ? 'deletion' : /started|received/.test(type) ? 'start' : 'end',
        outcome,
      );
    }
    case 'user':
      // "locked": Artifactory locks a user after repeated failed logins.
      if (type === 'locked') return C('login.failure', 'authentication', 'info', 'failure');
      return C('permission.change', 'iam', 'change');
    default:
      return C('other', 'web', 'info');
  }
}

function webhookEvent(payload: Json, raw: string, receivedAt: Date): PipewardenEvent {
  const domain = str(payload.domain);
  const type = str(payload.event_type);
  if (!domain || !type)
    throw new AdapterInputError('Artifactory webhook body needs "domain" and "event_type"');
  const data = obj(payload.data) ?? {};
  const cls = classifyWebhook(domain, type);
  const action = `${domain}.${type}`;
  const repoKey = str(data.repo_key);
  const path = str(data.path);
  const bundle = str(data.release_bundle_name);
  const artifact =
    repoKey && path
      ? `${repoKey}/${path}`
      : bundle
        ? `${bundle}:${str(data.release_bundle_version) ?? ''}`
        : str(data.image_name) && str(data.tag)
          ? `${str(data.image_name)}:${str(data.tag)}`
          : undefined;
  const buildName = str(data.build_name);
  const pw: PipewardenEvent['pipewarden'] = {
    kind: cls.kind,
    source: 'artifactory',
    raw: redactPayload(payload),
  };
  if (repoKey) pw.repository = repoKey;
  if (artifact) pw.artifact = artifact;
  if (buildName) {
    pw.pipeline = buildName;
    pw.job = `${buildName} #${str(data.build_number) ?? ''}`;
  }
  // --- trace (src/trail/trace.ts): build "<name>#<number>" as Jenkins names it; digest and version ---
  if (buildName && str(data.build_number)) pw.build_id = `${buildName}#${str(data.build_number)}`;
  if (str(data.sha256)) pw.artifact_digest = `sha256:${str(data.sha256)}`;
  // A deploy names a path that should keep its content; a Docker push names `<image>:<tag>`.
  if (cls.kind === 'artifact.publish' && (type === 'deployed' || type === 'pushed') && repoKey) {
    const image = str(data.image_name);
    const tag = str(data.tag);
    const ref = domain === 'docker' && image && tag ? `${image}:${tag}` : path;
    if (ref) pw.artifact_ref = `${repoKey}/${ref}`;
  }
  const version = str(data.release_bundle_version) ?? str(data.tag);
  if (version) pw.artifact_version = version;
  // --- end trace ---
  const what = artifact ?? (buildName ? pw.job : undefined);
  const origin = str(payload.jpd_origin);
  const event = makeEvent({
    at: receivedAt.toISOString(), // webhook bodies carry no event time
    message: `Artifactory ${action.replace(/[._]/g, ' ')}${what ? ` ${what}` : ''}`,
    id: eventId('artifactory', 'webhook', raw),
    category: cls.category,
    type: cls.type,
    action,
    outcome: cls.outcome,
    dataset: 'artifactory.webhook',
    provider: 'artifactory',
    receivedAt,
    pipewarden: pw,
  });
  if (origin && /^https?:\/\//.test(origin)) event.url = { original: origin };
  return event;
}

// ---- log lines ----

/** "2019-06-17 22:01:39,942" (no zone: read as UTC) or "2025-06-06T12:28:06.772Z". */
function logTime(ts: string): string | undefined {
  const iso = ts.replace(' ', 'T').replace(',', '.');
  const t = Date.parse(/Z$|[+-]\d{2}:?\d{2}$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

const ipOf = (s: string | undefined) => (s && isIP(s) ? s : undefined);

// artifactory-access.log: "<ts> [<trace>] [ACCEPTED|DENIED <ACTION>] <repo:path> for [client : ]<user> / <ip>[.][ [token|APIKEY…]]".
// Artifactory 6 has no trace column and may have no path: "<ts> [DENIED LOGIN]  for <user>/<ip>."
const ACCESS =
  /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[,.]\d{1,6})?Z?) +(?:\[([0-9A-Za-z-]+)\] +)?\[(ACCEPTED|DENIED) ([A-Z_ ]+?)\] *(.*?) *\bfor (?:client : )?(\S+?) *\/ *([^\s/]+?)\.?(?: +\[([A-Za-z_ ]+)\])? *$/;

function classifyAccess(
  verdict: string,
  action: string,
  user: string,
  marker: string | undefined,
): Classified {
  const anonymous = user === 'anonymous';
  if (verdict === 'DENIED') {
    if (action === 'LOGIN' || action === 'AUTHENTICATE')
      return C('login.failure', 'authentication', 'start', 'failure');
    return C('access.denied', 'web', 'access', 'failure');
  }
  if (action === 'LOGIN' || action === 'AUTHENTICATE') {
    // A token or API-key login logs the user as "anonymous" with a [token]/[APIKEY] marker: not anonymous.
    if (anonymous && !marker) return C('access.anonymous', 'authentication', 'start', 'success');
    return C('login.success', 'authentication', 'start', 'success');
  }
  if (anonymous) return C('access.anonymous', 'web', 'access', 'success');
  switch (action) {
    case 'DOWNLOAD':
      return C('artifact.download', 'package', 'access', 'success');
    case 'DEPLOY':
      return C('artifact.publish', 'package', 'creation', 'success');
    case 'DELETE':
      return C('artifact.delete', 'package', 'deletion', 'success');
    case 'CONFIGURATION_CHANGE':
    case 'CREATE':
    case 'UPDATE':
      return C('config.change', 'configuration', 'change', 'success');
    default:
      return C('other', 'web', 'info', 'success');
  }
}

function accessEvent(
  line: string,
  receivedAt: Date,
  meta: { host?: string; transport: string },
): PipewardenEvent | null {
  const m = ACCESS.exec(line.trim());
  if (!m) return null;
  const [, ts, trace, verdict, action, target, user, ipText, marker] = m;
  const cls = classifyAccess(verdict!, action!, user!, marker);
  const at = logTime(ts!) ?? receivedAt.toISOString();
  const ip = ipOf(ipText);
  const anonymous = user === 'anonymous' && !(marker && (action === 'LOGIN' || action === 'AUTHENTICATE'));
  const pw: PipewardenEvent['pipewarden'] = {
    kind: cls.kind,
    source: 'artifactory',
    raw: {
      line,
      ...(trace ? { trace } : {}),
      ...(meta.host ? { host: meta.host } : {}),
      transport: meta.transport,
    },
  };
  if (target) {
    pw.artifact = target;
    const colon = target.indexOf(':');
    if (colon > 0) pw.repository = target.slice(0, colon);
    if (cls.kind === 'artifact.publish') pw.artifact_ref = target.replace(':', '/');
  }
  const event = makeEvent({
    at: at,
    message: `${user} ${verdict!.toLowerCase()} ${action!.toLowerCase()}${target ? ` ${target}` : ''} from ${ipText}${marker ? ` [${marker}]` : ''}`,
    id: eventId('artifactory', 'access', meta.host ?? '', line.trim()),
    category: cls.category,
    type: cls.type,
    action: `${verdict} ${action}`,
    outcome: cls.outcome,
    dataset: 'artifactory.access',
    provider: 'artifactory',
    receivedAt,
    pipewarden: pw,
  });
  // "anonymous [token]" is a token whose owner this line does not name: leave the user unset.
  if (user !== 'anonymous') event.user = { name: user! };
  else if (!anonymous) event.user = { type: marker! };
  if (ip) event.source = { ip };
  return event;
}

// UI pages and static files an anonymous browser loads before signing in: not worth an "anonymous access".
const UI_PATH = /^\/(?:artifactory\/)?(?:webapp|ui|router|favicon\.ico|api\/system\/ping|$)/;

interface RequestLine {
  at?: string;
  trace?: string;
  ip?: string;
  user: string;
  method: string;
  url: string;
  status: number;
  userAgent?: string;
  remoteRepo?: string;
  variant: 'request' | 'request6' | 'request_out';
}

/** artifactory-request.log (7+), Artifactory 6 request.log, and artifactory-request-out.log. */
function parseRequest(line: string): RequestLine | null {
  const f = line.trim().split('|');
  if (f.length < 10) return null;
  // 6.x: timestamp|duration|REQUEST|ip|user|method|url|protocol|status|bytes
  if (f[2] === 'REQUEST' && /^\d{14}$/.test(f[0]!)) {
    const t = f[0]!;
    const at = logTime(
      `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)} ${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}`,
    );
    const status = Number(f[8]);
    if (!Number.isInteger(status)) return null;
    return {
      ...(at ? { at } : {}),
      ip: f[3]!,
      user: f[4]!,
      method: f[5]!,
      url: f[6]!,
      status,
      variant: 'request6',
    };
  }
  const at = logTime(f[0]!);
  if (!at || !/^[A-Z]+$/.test(f[4]!)) return null;
  const status = Number(f[6]);
  if (!Number.isInteger(status)) return null;
  // request-out: ts|trace|remote repo|user|method|remote url|status|…: the third field is a repository key.
  if (!isIP(f[2]!) && /^https?:\/\//.test(f[5]!)) {
    return {
      at,
      trace: f[1]!,
      remoteRepo: f[2]!,
      user: f[3]!,
      method: f[4]!,
      url: f[5]!,
      status,
      variant: 'request_out',
    };
  }
  if (!isIP(f[2]!)) return null;
  const ua = f.slice(10).join('|');
  return {
    at,
    trace: f[1]!,
    ip: f[2]!,
    user: f[3]!,
    method: f[4]!,
    url: f[5]!,
    status,
    ...(ua ? { userAgent: ua } : {}),
    variant: 'request',
  };
}

function classifyRequest(r: RequestLine): Classified {
  if (r.variant === 'request_out')
    return C('other', 'network', 'connection', r.status < 400 ? 'success' : 'failure');
  const anonymous = r.user === 'anonymous' || r.user === '' || r.user === 'non_authenticated_user';
  if (r.status === 401) {
    // An anonymous 401 is the normal challenge before credentials are sent; a named one is a failed login.
    return anonymous
      ? C('other', 'web', 'access', 'failure')
      : C('login.failure', 'authentication', 'start', 'failure');
  }
  if (r.status === 403) return C('access.denied', 'web', 'access', 'failure');
  const path = r.url.replace(/^https?:\/\/[^/]+/, '');
  if (anonymous && r.status < 400 && !UI_PATH.test(path))
    return C('access.anonymous', 'web', 'access', 'success');
  return C('other', 'web', 'access', r.status < 400 ? 'success' : 'failure');
}

function requestEvent(
  line: string,
  receivedAt: Date,
  meta: { host?: string; transport: string },
): PipewardenEvent | null {
  const r = parseRequest(line);
  if (!r) return null;
  const cls = classifyRequest(r);
  const dataset = r.variant === 'request_out' ? 'artifactory.request_out' : 'artifactory.request';
  const pw: PipewardenEvent['pipewarden'] = {
    kind: cls.kind,
    source: 'artifactory',
    raw: { line, ...(meta.host ? { host: meta.host } : {}), transport: meta.transport },
  };
  if (r.remoteRepo) pw.repository = r.remoteRepo;
  // Built by hand, not by makeEvent: its url comes before pipewarden, and stored documents keep that order.
  const event: PipewardenEvent = {
    '@timestamp': r.at ?? receivedAt.toISOString(),
    message: `${r.user || 'anonymous'} ${r.method} ${r.url} ${r.status}${r.ip ? ` from ${r.ip}` : ''}`,
    event: {
      id: eventId('artifactory', dataset, meta.host ?? '', line.trim()),
      kind: 'event',
      category: cls.category,
      type: cls.type,
      action: `${r.method} ${r.status}`,
      outcome: cls.outcome,
      dataset,
      provider: 'artifactory',
      ingested: receivedAt.toISOString(),
    },
    url: { original: r.url },
    pipewarden: pw,
  };
  if (r.user && r.user !== 'anonymous' && r.user !== 'non_authenticated_user') event.user = { name: r.user };
  const ip = ipOf(r.ip);
  if (ip) event.source = { ip };
  if (r.userAgent) event.user_agent = { original: r.userAgent };
  return event;
}

export const artifactoryAccessLines: LineFormat = {
  read: (line, receivedAt, meta) =>
    line.includes('[ACCEPTED ') || line.includes('[DENIED ')
      ? (accessEvent(line, receivedAt, meta) ?? undefined)
      : undefined,
};

export const artifactoryRequestLines: LineFormat = {
  read: (line, receivedAt, meta) =>
    line.includes('|') ? (requestEvent(line, receivedAt, meta) ?? undefined) : undefined,
};

const LINE_FORMATS = [artifactoryAccessLines, artifactoryRequestLines];

class TextLines {
  readonly lines: string[];
  constructor(lines: string[]) {
    this.lines = lines;
  }
}

class WebhookBody {
  readonly payload: Json;
  readonly raw: string;
  constructor(payload: Json, raw: string) {
    this.payload = payload;
    this.raw = raw;
  }
}

export const artifactory: IngestAdapter<ArtifactoryConfig> = {
  id: 'artifactory',
  title: 'JFrog Artifactory (webhooks, access and request logs)',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'build',
      source: 'JFrog Artifactory webhooks and access/request logs',
      route: '`POST /ingest/artifactory` (JSON webhooks, or text/plain log lines), or syslog lines',
      auth: '`X-JFrog-Event-Auth`: the secret (constant-time) or, with `authMode: hmac-sha256`, hex HMAC-SHA256 of the body',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ 'x-jfrog-event-auth': secret }),
  },
  contentTypes: ['application/json', 'text/plain'],
  lines: LINE_FORMATS,

  // The plain secret is a header, checked before the body is read; the HMAC mode needs the body (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) =>
    config.authMode === 'hmac-sha256' && header(headers, 'x-jfrog-event-auth')
      ? 'body'
      : artifactory.verify(NO_BODY, headers, config, now),
  verify(rawBody, headers, config) {
    const sent = header(headers, 'x-jfrog-event-auth');
    if (!sent)
      return { ok: false, reason: 'missing X-JFrog-Event-Auth header (set a secret token on the webhook)' };
    const key = config.secret?.reveal();
    if (config.authMode === 'hmac-sha256') {
      const hex = sent.startsWith('sha256=') ? sent.slice(7) : sent;
      if (!key || !hmacHexEquals('sha256', key, rawBody, hex)) {
        return {
          ok: false,
          reason: 'X-JFrog-Event-Auth is not the HMAC-SHA256 of the body (authMode hmac-sha256)',
        };
      }
      return { ok: true };
    }
    const ok = tokenEquals(key ?? '\u0000no secret configured', sent) && key !== undefined;
    return ok
      ? { ok: true }
      : { ok: false, reason: 'X-JFrog-Event-Auth does not match the configured secret' };
  },

  parse(rawBody, headers) {
    const type = (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const text = rawBody.toString('utf8');
    if (type === 'text/plain') return new TextLines(text.split(/\r?\n/).filter((l) => l.trim() !== ''));
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new AdapterInputError(`malformed JSON: ${(err as Error).message}`);
    }
    const payload = obj(parsed);
    if (!payload) throw new AdapterInputError('Artifactory webhook body must be a JSON object');
    return new WebhookBody(payload, text);
  },

  deliveryId() {
    return undefined; // Artifactory sends no delivery id; event ids are derived from the body.
  },

  toEvents(body, _headers, receivedAt) {
    if (body instanceof TextLines) {
      const events: PipewardenEvent[] = [];
      for (const line of body.lines) {
        const e = readLine(LINE_FORMATS, line, receivedAt, { transport: 'http' });
        if (e) events.push(e);
      }
      if (events.length === 0)
        throw new AdapterInputError('no line of the body is an Artifactory access or request log line');
      return { events };
    }
    if (body instanceof WebhookBody) return { events: [webhookEvent(body.payload, body.raw, receivedAt)] };
    const payload = obj(body);
    if (!payload) throw new AdapterInputError('Artifactory webhook body must be a JSON object');
    return { events: [webhookEvent(payload, JSON.stringify(payload), receivedAt)] };
  },
};
