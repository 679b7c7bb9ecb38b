// Actions from Slack: the buttons on each incident message (Acknowledge, Silence 1 h / 24 h, Open in console)
// post to POST /slack/interactions. Each request is verified with the Slack app's signing secret (`v0` HMAC-
// SHA256 over `v0:<timestamp>:<body>`, a 5-minute window, constant-time compare, a signature seen before is
// refused) and answered 401 otherwise. The message is then replaced (through the signed payload's
// response_url) to say who acted, and the acting Slack user is recorded on the incident.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { secretRef } from '../config/secrets.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import { type Incident, type IncidentTracker, incidentInfo } from './incidents.ts';
import { SLACK_ACTIONS as ACTIONS, renderSlackMessage } from './sinks/slack.ts';
import type { Hit } from './types.ts';

export const SLACK_SIGNING_SECRET_ENV = 'PIPEWARDEN_SLACK_SIGNING_SECRET';
/** Slack's own advice: refuse requests older than five minutes. */
export const SIGNATURE_WINDOW_S = 300;

export const slackInteractionsConfigSchema = z
  .strictObject({
    /** Serve POST /slack/interactions (the Slack app's Interactivity request URL) with the API role. */
    enabled: z.boolean().default(false),
    signingSecretEnv: secretRef(SLACK_SIGNING_SECRET_ENV),
    /** Only response_urls under this prefix are followed (Slack's own; a test server in tests). */
    responseUrlPrefix: z.url({ protocol: /^https?$/ }).default('https://hooks.slack.com/'),
  })
  .superRefine((c, ctx) => {
    if (c.enabled && !c.signingSecretEnv)
      ctx.addIssue({
        code: 'custom',
        path: ['signingSecretEnv'],
        message: `slack interactions are enabled but no signing secret was found: set $${SLACK_SIGNING_SECRET_ENV} (or the variable named by signingSecretEnv, or its _FILE twin)`,
      });
  })
  .prefault({});
export type SlackInteractionsConfig = z.output<typeof slackInteractionsConfigSchema>;

/**
 * Creating a silence, as src/alerting/silences.ts offers it: equality matchers (`{ field: value }`) on the
 * incident's detector and key, a start and end, who and why.
 */
export interface SilenceCreator {
  create(silence: {
    matchers: Record<string, string>;
    startsAt: string;
    endsAt: string;
    createdBy: string;
    comment: string;
  }): Promise<{ id: string }>;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** Pure: whether a request carries a valid Slack signature at `nowS` (seconds). Constant-time compare. */
export function verifySlackSignature(
  rawBody: Buffer,
  headers: { timestamp?: string | undefined; signature?: string | undefined },
  secret: string,
  nowS: number,
): Verdict {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature)
    return { ok: false, reason: 'missing X-Slack-Request-Timestamp or X-Slack-Signature' };
  if (!/^\d{1,12}$/.test(timestamp))
    return { ok: false, reason: 'X-Slack-Request-Timestamp is not a number' };
  if (Math.abs(nowS - Number(timestamp)) > SIGNATURE_WINDOW_S)
    return { ok: false, reason: 'X-Slack-Request-Timestamp is outside the 5-minute window' };
  const expected = Buffer.from(
    `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`,
  );
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'X-Slack-Signature does not match' };
  return { ok: true };
}

/** The parts of a block_actions payload we read. */
const payloadSchema = z.looseObject({
  type: z.string(),
  user: z.looseObject({
    id: z.string().max(64),
    username: z.string().max(200).optional(),
    name: z.string().max(200).optional(),
  }),
  actions: z
    .array(z.looseObject({ action_id: z.string().max(255), value: z.string().max(2000).optional() }))
    .min(1),
  response_url: z.string().max(2000).optional(),
});

export interface InteractionOptions {
  config: SlackInteractionsConfig;
  store: Store;
  incidents: IncidentTracker;
  silences?: SilenceCreator;
  consoleUrl?: string;
  /**
   * Called after an acknowledgement with the incident and its latest hit, so receivers that track
   * incidents elsewhere follow it (the api role puts a lifecycle request on the bus: lifecycle.ts).
   */
  onChange?: (incident: Incident, hit: Hit) => Promise<void>;
  log: Logger;
  now: () => Date;
}

/** Signatures seen within the window, per process and in the store (shared by every API replica). */
class ReplayGuard {
  readonly #seen = new Map<string, number>();
  readonly #store: Store;
  constructor(store: Store) {
    this.#store = store;
  }
  async firstTime(signature: string, nowS: number): Promise<boolean> {
    for (const [sig, at] of this.#seen) if (at < nowS - 2 * SIGNATURE_WINDOW_S) this.#seen.delete(sig);
    if (this.#seen.has(signature)) return false;
    this.#seen.set(signature, nowS);
    const key = `slack-signature:${signature.slice(3, 43)}`;
    if (await this.#store.getState(key)) return false;
    await this.#store.putState(key, String(nowS));
    return true;
  }
}

export async function slackInteractionRoutes(app: FastifyInstance, opts: InteractionOptions): Promise<void> {
  const secret = opts.config.signingSecretEnv;
  if (!secret) throw new Error('slack interactions need a signing secret');
  const replay = new ReplayGuard(opts.store);
  // The signature covers the raw body: keep it as bytes, parse after verifying.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) =>
    done(null, body),
  );

  app.post('/slack/interactions', async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const header = (n: string) => {
      const v = req.headers[n];
      return Array.isArray(v) ? v[0] : v;
    };
    const signature = header('x-slack-signature');
    const nowS = Math.floor(opts.now().getTime() / 1000);
    const verdict = verifySlackSignature(
      raw,
      { timestamp: header('x-slack-request-timestamp'), signature },
      secret.reveal(),
      nowS,
    );
    if (!verdict.ok) return reply.code(401).send({ error: 'unauthorized', message: verdict.reason });
    if (!(await replay.firstTime(signature!, nowS)))
      return reply
        .code(401)
        .send({ error: 'unauthorized', message: 'this signed request was already received (replay)' });

    const form = new URLSearchParams(raw.toString('utf8'));
    let payload: z.output<typeof payloadSchema>;
    try {
      payload = payloadSchema.parse(JSON.parse(form.get('payload') ?? ''));
    } catch {
      return reply
        .code(400)
        .send({ error: 'bad_request', message: 'body must be payload=<block_actions JSON>' });
    }
    const action = payload.actions[0]!;
    const user = payload.user.id;
    const who = payload.user.username ?? payload.user.name ?? user;
    if (action.action_id === ACTIONS.open) return reply.code(200).send();
    const incident = action.value ? await opts.incidents.byId(action.value) : undefined;
    if (!incident)
      return reply
        .code(200)
        .send({ response_type: 'ephemeral', text: 'That incident is no longer known to pipewarden.' });
    const at = opts.now().toISOString();
    let updated: Incident | undefined;
    let note: string;
    if (action.action_id === ACTIONS.ack) {
      updated = await opts.incidents.setStatus(incident.id, 'acknowledged', user, at);
      note = `acknowledged by ${who}`;
    } else if (action.action_id === ACTIONS.silence1h || action.action_id === ACTIONS.silence24h) {
      const hours = action.action_id === ACTIONS.silence1h ? 1 : 24;
      if (!opts.silences)
        return reply
          .code(200)
          .send({ response_type: 'ephemeral', text: 'Silences are not available on this pipewarden.' });
      const silence = await opts.silences.create({
        matchers: { detector: incident.detector, key: incident.key },
        startsAt: at,
        endsAt: new Date(opts.now().getTime() + hours * 3_600_000).toISOString(),
        createdBy: `slack:${user} (${who})`,
        comment: `Silenced from Slack for ${hours} h on incident ${incident.id}`,
      });
      updated = await opts.incidents.setStatus(incident.id, 'acknowledged', user, at);
      note = `silenced for ${hours} h by ${who} (silence ${silence.id})`;
    } else {
      return reply.code(400).send({ error: 'bad_request', message: `unknown action '${action.action_id}'` });
    }
    opts.log.info(
      { incident: incident.id, slackUser: user, action: action.action_id },
      'Slack user acted on an incident.',
    );
    const current = updated ?? incident;
    const hit = await latestHit(opts.store, current);
    await replaceMessage(opts, payload.response_url, current, hit, note);
    if (hit && opts.onChange)
      await opts
        .onChange(current, { ...hit, incident: incidentInfo(current) })
        .catch((err: unknown) =>
          opts.log.warn(
            { incident: current.id, err },
            'Could not pass the acknowledgement on to every receiver.',
          ),
        );
    return reply.code(200).send();
  });
}

/** The incident's latest hit, as stored. */
async function latestHit(store: Store, incident: Incident): Promise<Hit | undefined> {
  const last = await store.getAlert(incident.hits[incident.hits.length - 1] ?? '');
  if (!last) return undefined;
  const { status: _s, deliveries: _d, incident_id: _i, ...hit } = last;
  return hit;
}

/** Replaces the incident's Slack message (its latest hit, with who acted) through the response_url. */
async function replaceMessage(
  opts: InteractionOptions,
  url: string | undefined,
  incident: Incident,
  hit: Hit | undefined,
  note: string,
) {
  if (!url || !url.startsWith(opts.config.responseUrlPrefix)) {
    opts.log.warn(
      { incident: incident.id },
      'Slack response_url missing or not under responseUrlPrefix; message not replaced.',
    );
    return;
  }
  if (!hit) return;
  const message = renderSlackMessage(
    { ...hit, incident: incidentInfo(incident) },
    { channel: '', ...(opts.consoleUrl ? { consoleUrl: opts.consoleUrl } : {}) },
  );
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      replace_original: true,
      text: `${message.text} (${note})`,
      blocks: message.blocks,
    }),
    signal: AbortSignal.timeout(10_000),
  }).catch((err: unknown) => {
    opts.log.warn({ incident: incident.id, err }, 'Could not replace the Slack message.');
    return undefined;
  });
  if (res && !res.ok)
    opts.log.warn({ incident: incident.id, status: res.status }, 'Slack refused the message replacement.');
}
