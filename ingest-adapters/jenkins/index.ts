// Jenkins has no webhook of its own: this adapter takes what its plugins send. Audit Trail records (its
// Elasticsearch logger's JSON, or plain lines from the file and syslog loggers), Audit Log plugin records,
// Logstash plugin build documents and Notification plugin build phases, all at POST /ingest/jenkins.
// One file per plugin format: audit-trail.ts (with audit-log.ts), logstash.ts, notification.ts; record.ts
// holds what they share.
import type { PipewardenEvent } from '../../src/event.ts';
import { basicAuth } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { idStr, obj, str } from '../../src/ingest/json.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';
import { jenkinsLines, lineEvent } from './audit-trail.ts';
import { basicOrBearer } from './auth.ts';
import { logstashEvent } from './logstash.ts';
import { notificationEvent } from './notification.ts';
import { isoOf, validTime } from './record.ts';

export { jenkinsLines } from './audit-trail.ts';
export { basicOrBearer } from './auth.ts';

const SECRET_ENV = 'PIPEWARDEN_JENKINS_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV);

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
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'build',
      source: 'Jenkins (Audit Trail, Audit Log, Logstash, Notification plugins)',
      route: '`POST /ingest/jenkins` (JSON or text/plain lines), or syslog lines',
      auth: '`Authorization: Basic <any user>:<secret>` or `Bearer <secret>`, constant-time',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ authorization: basicAuth('sample', secret) }),
  },
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
