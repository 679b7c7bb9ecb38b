// Docker Distribution (the open-source registry) notifications: an envelope of events per POST,
// authenticated only by the Authorization header configured under notifications.endpoints[].headers.
import { isIP } from 'node:net';
import { type EventKind, eventId, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { tokenEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import {
  AdapterInputError,
  type Headers,
  header,
  type IngestAdapter,
  type VerifyResult,
} from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';

const SECRET_ENV = 'PIPEWARDEN_DOCKER_DISTRIBUTION_TOKEN';

const configSchema = secretSourceSchema(SECRET_ENV);

/** The configured value is the token ("Bearer <token>" is sent) or the whole header value; constant time. */
export function authorizationEquals(headers: Headers, secret: string | undefined): VerifyResult {
  const sent = header(headers, 'authorization');
  if (!sent) return { ok: false, reason: 'missing Authorization header (configure it in the sender)' };
  const s = secret ?? '\u0000no secret configured';
  // Both compares always run, so timing does not tell which form was configured.
  const whole = tokenEquals(s, sent);
  const bearer = tokenEquals(`Bearer ${s}`, sent);
  return secret !== undefined && (whole || bearer)
    ? { ok: true }
    : { ok: false, reason: 'Authorization does not match the configured value' };
}

/** "192.168.64.11:42961", "[::1]:5000" or a bare address → the IP, else undefined. */
export function stripPort(addr: string | undefined): string | undefined {
  if (!addr) return undefined;
  if (isIP(addr)) return addr;
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (v6 && isIP(v6[1]!)) return v6[1];
  const v4 = /^([^:]+):\d+$/.exec(addr);
  return v4 && isIP(v4[1]!) ? v4[1] : undefined;
}

const KINDS = table<{ kind: EventKind; type: string }>({
  push: { kind: 'artifact.publish', type: 'creation' },
  mount: { kind: 'artifact.publish', type: 'creation' },
  pull: { kind: 'artifact.download', type: 'access' },
  delete: { kind: 'artifact.delete', type: 'deletion' },
});

function toEvent(e: Json, receivedAt: Date): PipewardenEvent {
  const id = str(e.id);
  const action = str(e.action);
  if (!id || !action) throw new AdapterInputError('each registry event needs "id" and "action"');
  const target = obj(e.target) ?? {};
  const request = obj(e.request) ?? {};
  const actor = str(obj(e.actor)?.name);
  const base = KINDS[action] ?? { kind: 'other' as const, type: 'info' };
  // No actor: the registry served or took it without authentication.
  const kind: EventKind = !actor && base.kind !== 'other' ? 'access.anonymous' : base.kind;
  const repo = str(target.repository);
  const ref = str(target.tag) ? `:${str(target.tag)}` : str(target.digest) ? `@${str(target.digest)}` : '';
  const ip = stripPort(str(request.addr));
  const ua = str(request.useragent);
  const t = Date.parse(str(e.timestamp) ?? '');
  const pw: PipewardenEvent['pipewarden'] = {
    kind,
    source: 'docker-distribution',
    delivery_id: id,
    raw: redactPayload(e),
  };
  if (repo) {
    pw.repository = repo;
    pw.artifact = `${repo}${ref}`;
    // A tag names mutable content: the manifest it points to is `digest` (a layer push has no tag).
    const tag = str(target.tag);
    if (tag) {
      pw.artifact_ref = `${repo}:${tag}`;
      pw.artifact_version = tag;
    }
  }
  if (str(target.digest)) pw.artifact_digest = str(target.digest)!;
  const event = makeEvent({
    at: Number.isNaN(t) ? receivedAt.toISOString() : new Date(t).toISOString(),
    message: `${actor ?? 'anonymous'} ${action} ${pw.artifact ?? ''}${ip ? ` from ${ip}` : ''}`.replace(
      / {2,}/g,
      ' ',
    ),
    id: eventId('docker-distribution', id),
    category: kind === 'access.anonymous' ? ['package', 'web'] : ['package'],
    type: [base.type],
    action,
    outcome: 'success',
    dataset: 'docker_distribution.notification',
    provider: 'docker-distribution',
    receivedAt,
    pipewarden: pw,
  });
  if (actor) event.user = { name: actor };
  if (ip) event.source = { ip };
  if (ua) event.user_agent = { original: ua };
  const url = str(target.url);
  if (url) event.url = { original: url };
  return event;
}

function envelopeEvents(body: unknown): Json[] {
  const events = obj(body)?.events;
  if (!Array.isArray(events))
    throw new AdapterInputError('registry notifications are an envelope {"events": [...]}');
  return events.map((e) => {
    const o = obj(e);
    if (!o) throw new AdapterInputError('each registry event must be a JSON object');
    return o;
  });
}

export const dockerDistribution: IngestAdapter<typeof configSchema._output> = {
  id: 'docker-distribution',
  title: 'Docker Distribution registry notifications',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'build',
      source: 'Docker Distribution registry notifications',
      route: '`POST /ingest/docker-distribution`',
      auth: 'the configured `Authorization` value, constant-time',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ authorization: `Bearer ${secret}` }),
    // The configured value is compared with the whole Authorization header.
    secretValue: (secret) => `Bearer ${secret}`,
  },
  contentTypes: [
    'application/vnd.docker.distribution.events.v2+json',
    'application/vnd.docker.distribution.events.v1+json',
    'application/json',
  ],

  // The credential is a header: checked before the body is read (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) => dockerDistribution.verify(NO_BODY, headers, config, now),

  verify(_rawBody, headers, config) {
    return authorizationEquals(headers, config.secret?.reveal());
  },

  deliveryId(_headers, body) {
    // The registry resends the same envelope after a failure: its event ids together identify it.
    try {
      const ids = envelopeEvents(body).map((e) => str(e.id) ?? '');
      return ids.length ? eventId('envelope', ...ids) : undefined;
    } catch {
      return undefined;
    }
  },

  toEvents(body, _headers, receivedAt) {
    return { events: envelopeEvents(body).map((e) => toEvent(e, receivedAt)) };
  },
};
