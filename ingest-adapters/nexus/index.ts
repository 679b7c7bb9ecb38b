// Sonatype Nexus Repository 3 webhooks: "Webhook: Global" (audit, repository) and "Webhook: Repository"
// (component, asset), signed with X-Nexus-Webhook-Signature = hex HMAC-SHA1 of the body.
import { isIP } from 'node:net';
import { type EventKind, eventId, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { hmacHex, hmacHexEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { isoTime, type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { checkShape, type Shape } from '../../src/ingest/shape.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';
import { table } from '../../src/util/table.ts';

const SECRET_ENV = 'PIPEWARDEN_NEXUS_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV);

/** "admin/10.0.0.1" → user and IP; "anonymous/…" is anonymous. The IP is after the last slash. */
export function parseInitiator(v: unknown): { user?: string; ip?: string; anonymous: boolean } {
  const s = str(v);
  if (!s) return { anonymous: false };
  const slash = s.lastIndexOf('/');
  const user = slash === -1 ? s : s.slice(0, slash);
  const ipText = slash === -1 ? undefined : s.slice(slash + 1);
  const ip = ipText && isIP(ipText) ? ipText : undefined;
  const anonymous = user === 'anonymous';
  return { ...(anonymous || !user ? {} : { user }), ...(ip ? { ip } : {}), anonymous };
}

interface Classified {
  kind: EventKind;
  category: string[];
  type: string[];
}
const TYPE = table<string>({ CREATED: 'creation', UPDATED: 'change', DELETED: 'deletion' });

function classify(webhook: string, body: Json, anonymous: boolean): { cls: Classified; action: string } {
  const act = str(body.action) ?? '';
  const type = [TYPE[act] ?? 'info'];
  if (webhook === 'rm:global:audit') {
    const audit = obj(body.audit) ?? {};
    const domain = str(audit.domain) ?? 'unknown';
    const t = str(audit.type) ?? 'unknown';
    const auditType = [t === 'created' ? 'creation' : t === 'deleted' ? 'deletion' : 'change'];
    // security.* covers users, roles, privileges, realms, anonymous access and LDAP: who may do what.
    const cls: Classified = domain.startsWith('security.')
      ? { kind: 'permission.change', category: ['iam'], type: auditType }
      : { kind: 'config.change', category: ['configuration'], type: auditType };
    return { cls, action: `audit.${domain}.${t}` };
  }
  if (webhook === 'rm:global:repository') {
    return {
      cls: { kind: 'config.change', category: ['configuration'], type },
      action: `repository.${act.toLowerCase()}`,
    };
  }
  const what = webhook === 'rm:repository:asset' ? 'asset' : 'component';
  const action = `${what}.${act.toLowerCase()}`;
  if (anonymous) return { cls: { kind: 'access.anonymous', category: ['package', 'web'], type }, action };
  if (act === 'DELETED') return { cls: { kind: 'artifact.delete', category: ['package'], type }, action };
  if (act === 'CREATED' || act === 'UPDATED')
    return { cls: { kind: 'artifact.publish', category: ['package'], type }, action };
  return { cls: { kind: 'other', category: ['package'], type }, action };
}

/**
 * A user account the audit event is about, with the roles it holds after the change. Keys as in Sonatype's
 * "Example Headers and Payloads" (fixtures/audit.json): domain "security.user", `context` = the user id,
 * `attributes.id`, `attributes.roles` ("nx-admin, nx-anonymous": a comma-separated list). A deletion
 * leaves the account no roles, so none are reported for it.
 */
function auditTarget(
  audit: Json | undefined,
): NonNullable<NonNullable<PipewardenEvent['user']>['target']> | undefined {
  if (!audit || str(audit.domain) !== 'security.user') return undefined;
  const attributes = obj(audit.attributes);
  const name = str(attributes?.id) ?? str(audit.context);
  const roles =
    str(audit.type) === 'deleted'
      ? []
      : (str(attributes?.roles)
          ?.split(',')
          .map((r) => r.trim().toLowerCase())
          .filter((r) => r !== '') ?? []);
  if (!name && roles.length === 0) return undefined;
  return { ...(name ? { name } : {}), ...(roles.length ? { roles } : {}) };
}

/** The object each Nexus webhook type carries (Sonatype's webhook reference; src/ingest/shape.ts). */
const NEXUS_SHAPES = new Map<string, Shape>([
  ['rm:global:audit', { audit: 'object' }],
  ['rm:repository:asset', { asset: 'object' }],
  ['rm:repository:component', { component: 'object' }],
]);

/**
 * The name a published component or asset should keep its content under (`pipewarden.artifact_ref`): a
 * component's `group/name@version`; an asset's path, a Docker manifest by tag as `image:tag`. None for the
 * documents Nexus rewrites by design: npm package metadata (the package's root document, not a `/-/`
 * tarball), PyPI `simple/` indices, Docker manifests by digest.
 */
function artifactRef(
  repo: string,
  component: string | undefined,
  asset: Json | undefined,
): string | undefined {
  if (component) return `${repo}/${component}`;
  const name = str(asset?.name);
  if (!name) return undefined;
  const format = str(asset?.format);
  if (format === 'docker') {
    const m = /^\/?v2\/(.+)\/manifests\/([^/]+)$/.exec(name);
    return m && !m[2]!.includes(':') ? `${repo}/${m[1]}:${m[2]}` : undefined;
  }
  if (format === 'npm' && !name.includes('/-/')) return undefined;
  if (format === 'pypi' && name.startsWith('simple/')) return undefined;
  return `${repo}/${name.replace(/^\//, '')}`;
}

export const nexus: IngestAdapter<typeof configSchema._output> = {
  id: 'nexus',
  title: 'Sonatype Nexus Repository webhooks',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'build',
      source: 'Sonatype Nexus Repository webhooks',
      route: '`POST /ingest/nexus`',
      auth: '`X-Nexus-Webhook-Signature`: hex HMAC-SHA1 of the body',
    },
  ],
  testing: {
    sign: (raw, secret) => ({ 'x-nexus-webhook-signature': hmacHex('sha1', secret, raw) }),
  },
  contentTypes: ['application/json'],

  // A signed body: refused before it is read when the signature header is missing (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) =>
    header(headers, 'x-nexus-webhook-signature') ? 'body' : nexus.verify(NO_BODY, headers, config, now),

  verify(rawBody, headers, config) {
    const sent = header(headers, 'x-nexus-webhook-signature');
    if (!sent)
      return {
        ok: false,
        reason: 'missing X-Nexus-Webhook-Signature header (set a secret key on the webhook capability)',
      };
    const key = config.secret?.reveal();
    if (!key || !hmacHexEquals('sha1', key, rawBody, sent.trim())) {
      return { ok: false, reason: 'X-Nexus-Webhook-Signature does not match the body' };
    }
    return { ok: true };
  },

  deliveryId(headers) {
    return header(headers, 'x-nexus-webhook-delivery');
  },

  // X-Nexus-Webhook-Id is not signed: the signed body must carry the object of the type it names.
  checkHeaders(body, headers) {
    const webhook = header(headers, 'x-nexus-webhook-id');
    const payload = obj(body);
    if (webhook && payload) checkShape('X-Nexus-Webhook-Id', webhook, NEXUS_SHAPES.get(webhook), payload);
  },

  toEvents(body, headers, receivedAt) {
    const payload = obj(body);
    if (!payload) throw new AdapterInputError('Nexus webhook body must be a JSON object');
    const webhook =
      header(headers, 'x-nexus-webhook-id') ??
      (payload.audit
        ? 'rm:global:audit'
        : payload.asset
          ? 'rm:repository:asset'
          : payload.component
            ? 'rm:repository:component'
            : undefined);
    if (!webhook) throw new AdapterInputError('missing X-Nexus-Webhook-Id header');
    const who = parseInitiator(payload.initiator);
    const { cls, action } = classify(webhook, payload, who.anonymous);
    const delivery = header(headers, 'x-nexus-webhook-delivery');
    const repoName = str(payload.repositoryName) ?? str(obj(payload.repository)?.name);
    const component = obj(payload.component);
    const asset = obj(payload.asset);
    const audit = obj(payload.audit);
    const artifact = component
      ? `${[str(component.group), str(component.name)].filter(Boolean).join('/')}${str(component.version) ? `@${str(component.version)}` : ''}`
      : str(asset?.name);
    const pw: PipewardenEvent['pipewarden'] = {
      kind: cls.kind,
      source: 'nexus',
      raw: redactPayload(payload),
    };
    if (delivery) pw.delivery_id = delivery;
    if (repoName) pw.repository = repoName;
    if (artifact) pw.artifact = repoName ? `${repoName}/${artifact}` : artifact;
    const ref = repoName ? artifactRef(repoName, component ? artifact : undefined, asset) : undefined;
    if (ref && cls.kind === 'artifact.publish') pw.artifact_ref = ref;
    const actor = who.user ?? (who.anonymous ? 'anonymous' : 'Nexus');
    const target = pw.artifact ?? (audit ? str(audit.context) : repoName);
    const event = makeEvent({
      at: isoTime(payload.timestamp) ?? receivedAt.toISOString(),
      message: `${actor} ${action.replace(/[._]/g, ' ')}${target ? ` ${target}` : ''}${who.ip ? ` from ${who.ip}` : ''}`,
      id: eventId('nexus', JSON.stringify(payload)), // signed content, not X-Nexus-Webhook-Delivery
      category: cls.category,
      type: cls.type,
      action,
      outcome: 'success',
      dataset: webhook === 'rm:global:audit' ? 'nexus.audit' : 'nexus.webhook',
      provider: 'nexus',
      receivedAt,
      pipewarden: pw,
    });
    const affected = auditTarget(audit);
    if (who.user || affected)
      event.user = { ...(who.user ? { name: who.user } : {}), ...(affected ? { target: affected } : {}) };
    if (who.ip) event.source = { ip: who.ip };
    const ua = header(headers, 'user-agent');
    // The User-Agent is Nexus's own ("Nexus/3.x …"), not the client's: kept in raw only.
    // A copy: the parsed body itself may be published as its verified text (src/bus/encode.ts).
    if (ua) pw.raw = { ...(pw.raw as Json), sender_user_agent: ua };
    return { events: [event] };
  },
};
