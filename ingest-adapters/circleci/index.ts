// CircleCI outbound webhooks: circleci-signature v1=<hex HMAC-SHA256>, and a happened_at we hold to a max age.
import { z } from 'zod';
import { eventId, type Outcome, type PipewardenEvent, redactPayload } from '../../src/event.ts';
import { hmacHex, hmacHexEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { type Json, obj, str } from '../../src/ingest/json.ts';
import { makeEvent } from '../../src/ingest/make-event.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';

const SECRET_ENV = 'PIPEWARDEN_CIRCLECI_WEBHOOK_SECRET';

const configSchema = secretSourceSchema(SECRET_ENV, {
  /** Deliveries whose happened_at is older than this are refused as replays. CircleCI retries for a while;
   * 15 minutes covers its retries and refuses old captures. */
  maxAgeMinutes: z.number().positive().default(15),
});
export type CircleciConfig = z.output<typeof configSchema>;

/** Clocks disagree a little: an event this far in the future is still taken. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The newest signature version we can check from "v1=<hex>,v2=<hex>" (only v1 exists today). */
export function newestSignature(value: string): { version: number; hex: string } | undefined {
  let best: { version: number; hex: string } | undefined;
  for (const part of value.split(',')) {
    const m = /^\s*v(\d+)=([0-9a-fA-F]+)\s*$/.exec(part);
    if (!m) continue;
    const version = Number(m[1]);
    if (version !== 1) continue; // a scheme we do not know cannot vouch for the body
    if (!best || version > best.version) best = { version, hex: m[2]! };
  }
  return best;
}

function outcomeOf(status: string | undefined): Outcome {
  if (status === 'success') return 'success';
  if (
    status &&
    [
      'failed',
      'error',
      'canceled',
      'unauthorized',
      'infrastructure_fail',
      'timedout',
      'terminated-unknown',
    ].includes(status)
  ) {
    return 'failure';
  }
  return 'unknown';
}

/**
 * Pipelines of GitLab, GitHub App and Bitbucket Data Center projects carry no `vcs` block: branch, commit
 * and actor sit under `pipeline.trigger_parameters` (CircleCI's "Pipeline values" and webhook docs):
 * `trigger_parameters.git` (`branch`, `tag`, `ref`, `checkout_sha`) and one block per provider
 * (`gitlab`, `github_app`, `bitbucket_dc`, …) with `branch`, `ref`, `checkout_sha` / `commit_sha` and the
 * user (`user_username`, `user_login`, `user_name`).
 */
function triggerParameters(pipeline: Json | undefined): { actor?: string; branch?: string; commit?: string } {
  const tp = obj(pipeline?.trigger_parameters);
  if (!tp) return {};
  const blocks = [
    obj(tp.git),
    ...Object.entries(tp)
      .filter(([k]) => k !== 'git' && k !== 'circleci')
      .map(([, v]) => obj(v)),
  ].filter((b): b is Json => b !== undefined);
  const first = (...keys: string[]) => {
    for (const b of blocks) for (const k of keys) if (str(b[k])) return str(b[k]);
    return undefined;
  };
  const ref = first('ref');
  const branch = first('branch', 'tag') ?? ref?.replace(/^refs\/(heads|tags)\//, '');
  const commit = first('checkout_sha', 'commit_sha', 'revision');
  const actor = first('user_username', 'user_login', 'user_name', 'commit_author_name');
  return { ...(actor ? { actor } : {}), ...(branch ? { branch } : {}), ...(commit ? { commit } : {}) };
}

export const circleci: IngestAdapter<CircleciConfig> = {
  id: 'circleci',
  title: 'CircleCI webhooks',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'CircleCI webhooks',
      route: '`POST /ingest/circleci`',
      auth: '`circleci-signature: v1=` HMAC-SHA256; `happened_at` max age',
    },
  ],
  testing: {
    sign: (raw, secret) => ({ 'circleci-signature': `v1=${hmacHex('sha256', secret, raw)}` }),
  },
  contentTypes: ['application/json'],

  // A signed body: refused before it is read when the signature header is missing (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) =>
    header(headers, 'circleci-signature') ? 'body' : circleci.verify(NO_BODY, headers, config, now),

  verify(raw, headers, config, now) {
    const sent = header(headers, 'circleci-signature');
    if (!sent)
      return { ok: false, reason: 'missing circleci-signature header (set a secret on the webhook)' };
    const sig = newestSignature(sent);
    if (!sig) return { ok: false, reason: 'circleci-signature has no v1=<hex> entry' };
    const key = config.secret?.reveal();
    if (!key || !hmacHexEquals('sha256', key, raw, sig.hex)) {
      return { ok: false, reason: 'circleci-signature does not match the body' };
    }
    // The body is authentic from here on: reading its time is safe.
    let happened: string | undefined;
    try {
      happened = str(obj(JSON.parse(raw.toString('utf8')))?.happened_at);
    } catch {
      return { ok: true }; // malformed JSON is answered 400 by the parse step
    }
    const t = happened ? Date.parse(happened) : Number.NaN;
    if (Number.isNaN(t))
      return { ok: false, reason: 'happened_at is missing or not a time: cannot rule out a replay' };
    if (now.getTime() - t > config.maxAgeMinutes * 60_000) {
      return {
        ok: false,
        reason: `happened_at ${happened} is older than ${config.maxAgeMinutes} min (stale or replayed)`,
      };
    }
    if (t - now.getTime() > CLOCK_SKEW_MS)
      return { ok: false, reason: `happened_at ${happened} is in the future` };
    return { ok: true };
  },

  // CircleCI may deliver one event twice, with the same id.
  deliveryId(_headers, body) {
    return str(obj(body)?.id);
  },

  toEvents(body, headers, receivedAt) {
    const p = obj(body);
    if (!p) throw new AdapterInputError('a CircleCI webhook body must be a JSON object');
    const type = str(p.type) ?? header(headers, 'circleci-event-type');
    if (!type) throw new AdapterInputError('a CircleCI webhook body must have a type');
    const id = str(p.id);
    const project = obj(p.project);
    const pipeline = obj(p.pipeline);
    const vcs = obj(pipeline?.vcs);
    const workflow = obj(p.workflow);
    const job = obj(p.job);
    const status = str(job?.status) ?? str(workflow?.status);
    const trigger = obj(pipeline?.trigger);
    const tp = triggerParameters(pipeline);
    const actor = str(obj(trigger?.actor)?.login) ?? str(obj(obj(vcs?.commit)?.author)?.name) ?? tp.actor;

    const pw: PipewardenEvent['pipewarden'] = {
      kind: type === 'workflow-completed' || type === 'job-completed' ? 'build' : 'other',
      source: 'circleci',
      raw: redactPayload(p),
    };
    if (id) pw.delivery_id = id;
    const slug = str(project?.slug);
    if (slug) pw.repository = slug.split('/').slice(1).join('/') || slug;
    const branch = str(vcs?.branch) ?? str(vcs?.tag) ?? tp.branch;
    if (branch) pw.branch = branch;
    const commit = str(vcs?.revision) ?? tp.commit;
    if (commit) pw.commit = commit;
    const wf = str(workflow?.name);
    if (wf) pw.pipeline = wf;
    const jobName = str(job?.name);
    if (jobName) pw.job = jobName;
    const url = str(workflow?.url);
    if (url) pw.build_url = url;

    const happened = str(p.happened_at);
    const when =
      happened && !Number.isNaN(Date.parse(happened))
        ? new Date(happened).toISOString()
        : receivedAt.toISOString();
    const event = makeEvent({
      at: when,
      message:
        `${type.replace('-', ' ')} ${jobName ?? wf ?? ''} ${status ?? ''} on ${slug ?? 'a project'}`.replace(
          /\s+/g,
          ' ',
        ),
      id: eventId('circleci', id ?? JSON.stringify(p)),
      category: ['process'],
      type: ['end'],
      action: status ? `${type}.${status}` : type,
      outcome: outcomeOf(status),
      dataset: 'circleci.webhook',
      provider: 'circleci',
      receivedAt,
      pipewarden: pw,
    });
    if (actor) event.user = { name: actor };
    const org = str(obj(p.organization)?.name);
    if (org)
      event.organization = {
        name: org,
        ...(str(obj(p.organization)?.id) ? { id: str(obj(p.organization)?.id) } : {}),
      };
    const origin = str(vcs?.origin_repository_url);
    if (origin) event.url = { original: origin };
    return { events: [event] };
  },
};
