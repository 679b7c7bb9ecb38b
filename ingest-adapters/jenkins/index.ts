// Jenkins has no webhook of its own: this adapter takes what its plugins send. Audit Trail records (its
// Elasticsearch logger's JSON, or plain lines from the file and syslog loggers), Audit Log plugin records,
// Logstash plugin build documents and Notification plugin build phases, all at POST /ingest/jenkins.
import { isIP } from 'node:net';
import {
  type EventKind,
  eventId,
  type Outcome,
  type PipewardenEvent,
  redactPayload,
} from '../../src/event.ts';
import { tokenEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, type Json, obj, str } from '../../src/ingest/json.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import {
  AdapterInputError,
  type Headers,
  header,
  type IngestAdapter,
  type LineFormat,
  type VerifyResult,
} from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';

const configSchema = secretSourceSchema('PIPEWARDEN_JENKINS_SECRET');

/** Basic (any user name, the secret as password) or Bearer (the secret), compared in constant time. */
export function basicOrBearer(headers: Headers, secret: string | undefined): VerifyResult {
  const auth = header(headers, 'authorization');
  if (!auth)
    return {
      ok: false,
      reason: 'missing Authorization header (send Basic <user:secret> or Bearer <secret>)',
    };
  const space = auth.indexOf(' ');
  const scheme = (space === -1 ? auth : auth.slice(0, space)).toLowerCase();
  const value = space === -1 ? '' : auth.slice(space + 1).trim();
  let sent: string;
  if (scheme === 'bearer') sent = value;
  else if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return { ok: false, reason: 'Basic credentials must be base64 of "user:password"' };
    sent = decoded.slice(colon + 1);
  } else return { ok: false, reason: 'Authorization must use the Basic or Bearer scheme' };
  // Compare even when no secret is configured, so the answer time does not say which case it was.
  const ok = tokenEquals(secret ?? '\u0000no secret configured', sent) && secret !== undefined;
  return ok
    ? { ok: true }
    : { ok: false, reason: 'Authorization credentials do not match the configured secret' };
}

interface Classified {
  kind: EventKind;
  category: string[];
  type: string[];
  action: string;
  outcome?: Outcome;
}

interface Parsed extends Classified {
  user?: string; // undefined: anonymous or unknown
  anonymous?: boolean;
  ip?: string;
  job?: string;
  buildUrl?: string;
  node?: string;
  labels?: string[];
  at?: string; // ISO time stated by the record itself
  detail: Record<string, unknown>;
}

const MONTHS = table<number>({
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
});
// The file loggers' java.util.logging prefix "MMM d, yyyy h:mm:ss,SSS aa", then a separator (often a space, can be empty).
const FILE_PREFIX = /^([A-Z][a-z]{2}) (\d{1,2}), (\d{4}) (\d{1,2}):(\d{2}):(\d{2}),(\d{3}) ([AP]M) ?/;

/** Strips the file logger's time prefix; the file has no zone, so the time is read as UTC. */
function stripPrefix(line: string): { message: string; at?: string } {
  const m = FILE_PREFIX.exec(line);
  if (!m) return { message: line };
  const [, mon, d, y, h, mi, s, ms, ampm] = m;
  const month = MONTHS[mon!];
  if (month === undefined) return { message: line };
  const hour = (Number(h) % 12) + (ampm === 'PM' ? 12 : 0);
  const t = Date.UTC(Number(y), month, Number(d), hour, Number(mi), Number(s), Number(ms));
  return Number.isNaN(t)
    ? { message: line }
    : { message: line.slice(m[0].length), at: new Date(t).toISOString() };
}

/** A remote address as Jenkins prints it ("[0:0:0:0:0:0:0:1]", "10.0.0.1", "10.0.0.1:5555"), or undefined. */
function cleanIp(addr: string | undefined): string | undefined {
  if (!addr) return undefined;
  let a = addr.trim();
  if (a.startsWith('[') && a.includes(']')) a = a.slice(1, a.indexOf(']'));
  if (isIP(a)) return a;
  const hostPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(a);
  return hostPort && isIP(hostPort[1]!) ? hostPort[1] : undefined;
}

const CONFIG = (action: string, type = ['change']): Classified => ({
  kind: 'config.change',
  category: ['configuration'],
  type,
  action,
});
const IAM = (action: string, type = ['change']): Classified => ({
  kind: 'permission.change',
  category: ['iam'],
  type,
  action,
});
const BUILD = (action: string, type = ['info'], outcome?: Outcome): Classified => ({
  kind: 'build',
  category: ['process'],
  type,
  action,
  ...(outcome ? { outcome } : {}),
});

/** What a request URI logged by the Audit Trail filter did. */
function classifyUri(uri: string): Classified {
  const u = uri.replace(/\/+$/, '');
  const last = u.slice(u.lastIndexOf('/') + 1);
  if (/\/configureSecurity(\/|$)/.test(u)) return IAM('security.configure');
  if (/^\/(manage\/)?(pluginManager|updateCenter)(\/|$)/.test(u)) {
    const uninstall = /doUninstall|uninstall/.test(last);
    return CONFIG(uninstall ? 'plugin.uninstall' : 'plugin.install', [
      uninstall ? 'deletion' : 'installation',
    ]);
  }
  if (/^\/(manage\/)?(script|scriptText)$|\/computer\/[^/]+\/script(Text)?$/.test(u)) {
    return CONFIG('script_console', ['start']);
  }
  if (/^\/(securityRealm|user|me)(\/|$)/.test(u) || /ApiTokenProperty|generateNewToken|revoke/.test(u)) {
    if (last === 'doDelete') return IAM('user.delete', ['deletion']);
    if (/createAccount/.test(last)) return IAM('user.create', ['creation']);
    return IAM(`user.${last || 'change'}`);
  }
  if (last === 'logout')
    return { kind: 'logout', category: ['authentication'], type: ['end'], action: 'logout' };
  if (['stop', 'cancelQueue', 'cancelItem', 'kill', 'term'].includes(last))
    return BUILD(`build.${last}`, ['end']);
  if (['build', 'buildWithParameters', 'rebuild', 'replay', 'postBuildResult'].includes(last))
    return BUILD(`build.${last}`, ['start']);
  if (['createItem', 'createView'].includes(last)) return CONFIG(last, ['creation']);
  if (['doDelete', 'doWipeOutWorkspace'].includes(last)) return CONFIG(last, ['deletion']);
  if (
    ['restart', 'safeRestart', 'exit', 'safeExit', 'quietDown', 'cancelQuietDown', 'toggleOffline'].includes(
      last,
    )
  ) {
    return CONFIG(`server.${last}`);
  }
  if (u.startsWith('/job/') || u.startsWith('/view/')) return CONFIG(`job.${last}`);
  return CONFIG(last || 'request');
}

/** ISO text of a millisecond time, or undefined when it is not a representable date. */
function validTime(ms: number): string | undefined {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Percent-decoded, or as it is when it is not valid percent-encoding (a job named "100%"). */
const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

const jobOfUri = (uri: string): string | undefined => {
  const parts = [...uri.matchAll(/\/job\/([^/]+)/g)].map((m) => safeDecode(m[1]!));
  return parts.length ? parts.join('/') : undefined;
};

// Audit Trail request records: "<uri>[ (<queued task>)] by <user>[ from <remote address>]".
const REQUEST = /^(\/\S*?)(?: \((.*)\))? by (.+?)(?: from (\S+))?$/;
// Build start: "job/<j>/ #<n> <causes>[, Parameters:[...]]".
const BUILD_START = /^((?:job\/[^/\s]+\/)+) #(\d+) (.*?)(?:, Parameters:\[(.*)\])?$/;
// Build end: "<full display name> #<n> <causes>, Parameters:[…] on [node ]<node> started at <ts> completed in <ms>ms completed: <RESULT>".
const BUILD_END =
  /^(.+?) #(\d+) (.*?) on (?:node )?(.+?) started at (\S+) completed in (\d+)ms completed: (\w+)$/;
// Credential use: "'<user of it>' (<its class>) used credentials '<id>' (<class>)."
const CREDENTIALS = /^'(.*?)' \((.*?)\) used credentials(?: '(.*?)' \((.*?)\)| of type (\S+).*)\.?$/;
// Script console: "A groovy script was executed[ by user '<u>']. Origin: <feature>." (the script follows on later lines).
const SCRIPT = /^A groovy script was executed(?: by user '(.*?)')?\. Origin: (.*?)\.\s*(?:\n|$)/;
// Authentication listener (Audit Trail 3.x): successful and failed logins, logouts.
const AUTH = /^(Successful login|Failed login attempt|Logout) for user '(.*)'$/;
// Audit Log plugin (Log4j-Audit) structured data: "[login@18060 userId="alice" timestamp="…"]".
const AUDIT_LOG = /\[(\w+)(?:@\d+)?((?: [\w.-]+="(?:[^"\\]|\\.)*")*)\]/;

const AUDIT_LOG_EVENTS = table<Classified>({
  login: {
    kind: 'login.success',
    category: ['authentication'],
    type: ['start'],
    action: 'login',
    outcome: 'success',
  },
  logout: {
    kind: 'logout',
    category: ['authentication'],
    type: ['end'],
    action: 'logout',
    outcome: 'success',
  },
  createUser: IAM('createUser', ['creation']),
  updatePassword: IAM('updatePassword'),
  createKey: IAM('createKey', ['creation']),
  deleteKey: IAM('deleteKey', ['deletion']),
  buildStart: BUILD('buildStart', ['start']),
  buildFinish: BUILD('buildFinish', ['end']),
  createItem: CONFIG('createItem', ['creation']),
  updateItem: CONFIG('updateItem'),
  deleteItem: CONFIG('deleteItem', ['deletion']),
  copyItem: CONFIG('copyItem', ['creation']),
  createNode: CONFIG('createNode', ['creation']),
  updateNode: CONFIG('updateNode'),
  deleteNode: CONFIG('deleteNode', ['deletion']),
});

const ANONYMOUS = new Set(['NA', 'anonymous', 'SYSTEM_ANONYMOUS']);

function startedBy(causes: string): { user?: string; anonymous?: boolean } {
  const m = /Started by user ([^,]+)/.exec(causes);
  if (!m) return {};
  const name = m[1]!.trim();
  return ANONYMOUS.has(name) ? { anonymous: true } : { user: name };
}

function buildOutcome(result: string | undefined): Outcome {
  if (!result) return 'unknown';
  if (result === 'SUCCESS') return 'success';
  if (['FAILURE', 'ABORTED', 'UNSTABLE', 'NOT_BUILT'].includes(result)) return 'failure';
  return 'unknown';
}

/** One Audit Trail or Audit Log message (file prefix already removed) to what it says, or null. */
function parseMessage(message: string): Parsed | null {
  const firstLine = message.split('\n', 1)[0]!.trimEnd();
  let m = AUTH.exec(firstLine);
  if (m) {
    const [, what, user] = m;
    const base: Classified =
      what === 'Successful login'
        ? {
            kind: 'login.success',
            category: ['authentication'],
            type: ['start'],
            action: 'login',
            outcome: 'success',
          }
        : what === 'Logout'
          ? {
              kind: 'logout',
              category: ['authentication'],
              type: ['end'],
              action: 'logout',
              outcome: 'success',
            }
          : {
              kind: 'login.failure',
              category: ['authentication'],
              type: ['start'],
              action: 'login.failed',
              outcome: 'failure',
            };
    return { ...base, ...(user && user !== '<unknown>' ? { user } : {}), detail: {} };
  }
  m = SCRIPT.exec(message);
  if (m) {
    // The script itself is not kept: it may hold credentials; Jenkins keeps it in its own log.
    const script = message.slice(message.indexOf('\n') + 1);
    return {
      ...CONFIG('script_console', ['start']),
      ...(m[1] ? { user: m[1] } : { anonymous: true }),
      detail: { origin: m[2], script_chars: message.includes('\n') ? script.length : 0 },
    };
  }
  m = CREDENTIALS.exec(firstLine);
  if (m) {
    const [, usedBy, usedByType, credId, credType, fallbackType] = m;
    return {
      kind: 'other',
      category: ['iam'],
      type: ['access'],
      action: 'credentials.use',
      job: usedBy,
      // Key names avoid the redactor's credential words: these are ids and class names, not secrets.
      detail: {
        used_by: usedBy,
        used_by_type: usedByType,
        used: { id: credId, type: credType ?? fallbackType },
      },
    };
  }
  m = BUILD_END.exec(firstLine);
  if (m) {
    const [, name, num, causes, node, startedAt, ms, result] = m;
    const started = Date.parse(startedAt!);
    return {
      ...BUILD('build.completed', ['end'], buildOutcome(result)),
      ...startedBy(causes!),
      job: `${name} #${num}`,
      node,
      ...(validTime(started + Number(ms)) ? { at: validTime(started + Number(ms))! } : {}),
      detail: { causes, node, started_at: startedAt, duration_ms: Number(ms), result },
    };
  }
  m = BUILD_START.exec(firstLine);
  if (m) {
    const [, url, num, causes, params] = m;
    const job = [...url!.matchAll(/job\/([^/]+)\//g)].map((x) => safeDecode(x[1]!)).join('/');
    return {
      ...BUILD('build.started', ['start']),
      ...startedBy(causes!),
      job: `${job} #${num}`,
      buildUrl: `${url}${num}/`,
      detail: { causes, ...(params !== undefined ? { parameters: params } : {}) },
    };
  }
  m = REQUEST.exec(firstLine);
  if (m) {
    const [, uri, extra, by, from] = m;
    const cls = classifyUri(uri!);
    // Anonymous requests show as "NA" (older versions print the remote address as the user).
    const anonymous = ANONYMOUS.has(by!) || cleanIp(by) !== undefined;
    const ip = cleanIp(from) ?? (anonymous ? cleanIp(by) : undefined);
    const job = jobOfUri(uri!);
    return {
      ...(anonymous && cls.kind !== 'logout'
        ? { ...cls, kind: 'access.anonymous' as const, category: ['web', ...cls.category] }
        : cls),
      ...(anonymous ? { anonymous: true } : { user: by }),
      ...(ip ? { ip } : {}),
      ...(job ? { job } : {}),
      detail: { uri, ...(extra ? { task: extra } : {}) },
    };
  }
  m = AUDIT_LOG.exec(firstLine);
  if (m) {
    const name = m[1]!;
    const cls = AUDIT_LOG_EVENTS[name];
    if (!cls) return null;
    const attrs: Record<string, string> = {};
    for (const a of m[2]!.matchAll(/ ([\w.-]+)="((?:[^"\\]|\\.)*)"/g))
      attrs[a[1]!] = a[2]!.replace(/\\(.)/g, '$1');
    const user = attrs.userId;
    const at =
      attrs.timestamp && !Number.isNaN(Date.parse(attrs.timestamp))
        ? new Date(attrs.timestamp).toISOString()
        : undefined;
    return {
      ...cls,
      ...(user && !ANONYMOUS.has(user) ? { user } : {}),
      ...(attrs.projectName
        ? { job: `${attrs.projectName}${attrs.buildNumber ? ` #${attrs.buildNumber}` : ''}` }
        : {}),
      ...(attrs.nodeName ? { node: attrs.nodeName } : {}),
      ...(at ? { at } : {}),
      detail: { audit_log: attrs },
    };
  }
  return null;
}

function toEvent(
  parsed: Parsed,
  opts: {
    dataset: string;
    receivedAt: Date;
    at?: string;
    idParts: string[];
    original?: string;
    host?: string;
    transport: string;
  },
): PipewardenEvent {
  const at = parsed.at ?? opts.at ?? opts.receivedAt.toISOString();
  const who = parsed.user ?? (parsed.anonymous ? 'anonymous' : 'Jenkins');
  const what = parsed.job ? ` on ${parsed.job}` : '';
  const node = parsed.node ? ` (node ${parsed.node})` : '';
  const from = parsed.ip ? ` from ${parsed.ip}` : '';
  const pw: PipewardenEvent['pipewarden'] = {
    kind: parsed.kind,
    source: 'jenkins',
    raw: redactPayload({
      ...(opts.original !== undefined ? { line: opts.original.split('\n', 1)[0] } : {}),
      ...parsed.detail,
      ...(opts.host ? { host: opts.host } : {}),
      transport: opts.transport,
    }),
  };
  if (parsed.job) pw.job = parsed.job;
  if (parsed.buildUrl) pw.build_url = parsed.buildUrl;
  // Every Jenkins node (built-in or agent) is infrastructure the team runs itself.
  if (parsed.node) pw.runner = { name: parsed.node, labels: parsed.labels ?? [], self_hosted: true };
  const event: PipewardenEvent = {
    '@timestamp': at,
    message: `${who} ${parsed.action.replace(/[._]/g, ' ')}${what}${node}${from}`,
    event: {
      id: eventId('jenkins', ...opts.idParts),
      kind: 'event',
      category: parsed.category,
      type: parsed.type,
      action: parsed.action,
      outcome: parsed.outcome ?? 'unknown',
      dataset: opts.dataset,
      provider: 'jenkins',
      ingested: opts.receivedAt.toISOString(),
    },
    pipewarden: pw,
  };
  if (parsed.user) event.user = { name: parsed.user };
  if (parsed.ip) event.source = { ip: parsed.ip };
  return event;
}

/** An Audit Trail or Audit Log line: optional file-logger time prefix, then the message. */
function lineEvent(
  line: string,
  receivedAt: Date,
  meta: { host?: string; transport: string },
  stated?: string,
): PipewardenEvent | null {
  const { message, at } = stripPrefix(line);
  const parsed = parseMessage(message);
  if (!parsed) return null;
  const when = at ?? stated;
  const dataset = 'audit_log' in parsed.detail ? 'jenkins.audit_log' : 'jenkins.audit';
  return toEvent(parsed, {
    dataset,
    receivedAt,
    ...(when ? { at: when } : {}),
    // The record's own time keeps ids stable on redelivery; without one the receive time separates repeats.
    idParts: [meta.host ?? '', message, when ?? receivedAt.toISOString()],
    original: message,
    ...(meta.host ? { host: meta.host } : {}),
    transport: meta.transport,
  });
}

export const jenkinsLines: LineFormat = {
  // Parsing is the only sure test of an audit-trail message, so an unparsable line is simply not ours.
  read: (line, receivedAt, meta) => lineEvent(line, receivedAt, meta) ?? undefined,
};

/** Audit Trail's Elasticsearch logger writes "yyyy-MM-dd'T'HH:mm:ssZ" (zone without a colon). */
function isoOf(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  const t = Date.parse(s.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

function repoOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const m = /[/:]([^/:]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/** Logstash plugin document: build metadata plus console lines (which are not kept here). */
function logstashEvent(doc: Json, receivedAt: Date): PipewardenEvent {
  const data = obj(doc.data)!;
  const job = str(data.fullProjectName) ?? str(data.projectName) ?? 'unknown';
  const num = idStr(data.buildNum);
  const result = str(data.result);
  const lines = Array.isArray(doc.message)
    ? doc.message.filter((l): l is string => typeof l === 'string')
    : [];
  const by = startedBy(lines.find((l) => l.startsWith('Started by')) ?? '');
  const node = str(data.buildHost);
  const { message: _console, ...rest } = doc;
  const parsed: Parsed = {
    ...BUILD(result ? 'build.completed' : 'build.log', result ? ['end'] : ['info'], buildOutcome(result)),
    ...by,
    job: num ? `${job} #${num}` : job,
    ...(node ? { node } : {}),
    ...(str(data.buildLabel) ? { labels: str(data.buildLabel)!.split(/\s+/) } : {}),
    ...(str(data.url) ? { buildUrl: `${str(doc.source_host) ?? ''}${str(data.url)}` } : {}),
    detail: { ...rest, console_lines: lines.length },
  };
  const at = isoOf(doc['@timestamp']);
  return toEvent(parsed, {
    dataset: 'jenkins.logstash',
    receivedAt,
    ...(at ? { at } : {}),
    idParts: ['logstash', job, num ?? '', str(data.id) ?? '', at ?? '', String(lines.length)],
    transport: 'http',
  });
}

const PHASE_TYPE = table<string[]>({
  QUEUED: ['start'],
  STARTED: ['start'],
  COMPLETED: ['end'],
  FINALIZED: ['end'],
});

/** Notification plugin: one build phase (QUEUED, STARTED, COMPLETED, FINALIZED). */
function notificationEvent(doc: Json, receivedAt: Date): PipewardenEvent {
  const build = obj(doc.build)!;
  const name = str(doc.name) ?? 'unknown';
  const num = idStr(build.number);
  const phase = str(build.phase) ?? 'UNKNOWN';
  const status = str(build.status);
  const scm = obj(build.scm);
  const { log: _tail, ...buildRest } = build;
  const parsed: Parsed = {
    ...BUILD(`build.${phase.toLowerCase()}`, PHASE_TYPE[phase] ?? ['info'], buildOutcome(status)),
    job: num ? `${name} #${num}` : name,
    ...(str(build.full_url) ? { buildUrl: str(build.full_url) } : {}),
    detail: { name, url: doc.url, build: buildRest },
  };
  const event = toEvent(parsed, {
    dataset: 'jenkins.notification',
    receivedAt,
    idParts: ['notification', name, num ?? '', phase, idStr(build.queue_id) ?? ''],
    transport: 'http',
  });
  const branch = str(scm?.branch);
  if (branch) event.pipewarden.branch = branch.replace(/^(origin|refs\/heads)\//, '');
  const commit = str(scm?.commit);
  if (commit) event.pipewarden.commit = commit;
  const repo = repoOf(str(scm?.url));
  if (repo) event.pipewarden.repository = repo;
  return event;
}

/** What parse hands to toEvents for a text/plain body: its non-empty lines. */
class TextLines {
  readonly lines: string[];
  constructor(lines: string[]) {
    this.lines = lines;
  }
}

function recordEvents(doc: unknown, receivedAt: Date): PipewardenEvent[] {
  const o = obj(doc);
  if (!o) throw new AdapterInputError('each Jenkins record must be a JSON object');
  if (obj(o.data) && (Array.isArray(o.message) || o.message === undefined))
    return [logstashEvent(o, receivedAt)];
  if (obj(o.build)) return [notificationEvent(o, receivedAt)];
  const message = str(o.message);
  if (message) {
    // Audit Trail Elasticsearch logger {message, @timestamp}; Audit Log plugin JSON layout {message, instant|timeMillis, …}.
    const millis = typeof o.timeMillis === 'number' ? o.timeMillis : undefined;
    const instant = obj(o.instant);
    const stated =
      isoOf(o['@timestamp']) ??
      (millis !== undefined ? validTime(millis) : undefined) ??
      (typeof instant?.epochSecond === 'number' ? validTime(instant.epochSecond * 1000) : undefined);
    const e = lineEvent(message, receivedAt, { transport: 'http' }, stated);
    if (!e)
      throw new AdapterInputError('the message is not an Audit Trail or Audit Log record Pipewarden knows');
    return [e];
  }
  throw new AdapterInputError(
    'not a Jenkins record: expected an Audit Trail {message, @timestamp}, a Logstash {data, message[]} or a Notification {name, build}',
  );
}

export const jenkins: IngestAdapter<typeof configSchema._output> = {
  id: 'jenkins',
  title: 'Jenkins (Audit Trail, Audit Log, Logstash and Notification plugins)',
  configSchema,
  contentTypes: ['application/json', 'text/plain'],
  lines: [jenkinsLines],

  // The credential is a header: checked before the body is read (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) => jenkins.verify(NO_BODY, headers, config, now),

  verify(_rawBody, headers, config) {
    return basicOrBearer(headers, config.secret?.reveal());
  },

  parse(rawBody, headers) {
    const type = (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const text = rawBody.toString('utf8');
    if (type === 'text/plain') return new TextLines(text.split(/\r?\n/).filter((l) => l.trim() !== ''));
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new AdapterInputError(`malformed JSON: ${(err as Error).message}`);
    }
  },

  deliveryId(_headers, body) {
    // The plugins send no delivery id; a Notification phase is unique per build, so a resend is a duplicate.
    const o = obj(body);
    const build = obj(o?.build);
    if (o && build && str(o.name) && idStr(build.number) && str(build.phase)) {
      return `notification:${str(o.name)}#${idStr(build.number)}:${str(build.phase)}`;
    }
    return undefined;
  },

  toEvents(body, _headers, receivedAt) {
    if (body instanceof TextLines) {
      const events = body.lines
        .map((l) => lineEvent(l, receivedAt, { transport: 'http' }))
        .filter((e): e is PipewardenEvent => e !== null);
      if (events.length === 0 && body.lines.length > 0) {
        throw new AdapterInputError('no line of the body is an Audit Trail or Audit Log record');
      }
      return { events };
    }
    if (Array.isArray(body)) return { events: body.flatMap((d) => recordEvents(d, receivedAt)) };
    return { events: recordEvents(body, receivedAt) };
  },
};
