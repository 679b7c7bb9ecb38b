// Audit Trail plugin (jenkinsci/audit-trail-plugin) records: plain lines from its file and syslog loggers
// (with the file loggers' time prefix), or the message of its Elasticsearch logger's JSON. Audit Log plugin
// records travel the same ways, so this line format reads both (audit-log.ts for the latter).
import { isIP } from 'node:net';
import type { PipewardenEvent } from '../../src/event.ts';
import type { LineFormat } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';
import { readAuditLog } from './audit-log.ts';
import {
  ANONYMOUS,
  BUILD,
  buildOutcome,
  type Classified,
  CONFIG,
  IAM,
  type Parsed,
  safeDecode,
  startedBy,
  toEvent,
  validTime,
} from './record.ts';

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
  // Script Security: a script, method signature or classpath entry approved to run outside the Groovy
  // sandbox (`/scriptApproval/…/approveScript`, also through Stapler's bound-object URLs).
  if (/\/scriptApproval\//.test(u) && /^(?:approve|aclApprove)/.test(last))
    return CONFIG('script_approval.approve');
  // A new agent (node) defined: `/computer/doCreateItem` (or the older `createItem`), under /manage too.
  if (/^\/(manage\/)?computer\/(doCreateItem|createItem)$/.test(u))
    return CONFIG('node.create', ['creation']);
  if (/^\/(securityRealm|user|me)(\/|$)/.test(u) || /ApiTokenProperty|generateNewToken|revoke/.test(u)) {
    if (last === 'doDelete') return IAM('user.delete', ['deletion']);
    // `createAccount` is the sign-up form anyone may post when the realm allows sign-up; an admin's
    // `createAccountByAdmin` and the setup wizard's `createFirstAccount` are ordinary user creation.
    if (last === 'createAccount') return IAM('user.signup', ['creation']);
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
  return readAuditLog(firstLine);
}

/** An Audit Trail or Audit Log line: optional file-logger time prefix, then the message. */
export function lineEvent(
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
