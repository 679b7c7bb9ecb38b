// GitHub audit log: a Splunk-HEC-compatible endpoint for audit-log streaming, and (poller.ts) the REST API.
import cron from 'node-cron';
import { z } from 'zod';
import { secretRef } from '../../src/config/secrets.ts';
import type { PipewardenEvent } from '../../src/event.ts';
import { tokenEquals } from '../../src/ingest/crypto.ts';
import { NO_BODY } from '../../src/ingest/guard.ts';
import { secretSourceSchema } from '../../src/ingest/source-config.ts';
import { AdapterInputError, header, type IngestAdapter } from '../../src/ingest/types.ts';
import { HEC_PATHS, HEC_TEXT, hecCode, hecReplies, splitConcatenatedJson } from './hec.ts';
import { auditEventToPipewarden, obj } from './normalise.ts';
import { githubAuditPoller } from './poller.ts';

const pollSchema = z
  .strictObject({
    /** node-cron expression; the enterprise endpoint allows 1,750 queries an hour. */
    schedule: z
      .string()
      .refine((s) => cron.validate(s), 'must be a valid cron expression')
      .default('*/5 * * * *'),
    /** https://api.github.com, or https://<ghes-host>/api/v3 for GitHub Enterprise Server. */
    apiUrl: z.url().default('https://api.github.com'),
    // Slugs as GitHub allows them: `..` would move the token to another API path.
    org: z
      .string()
      .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/, 'must be a GitHub organisation login')
      .optional(),
    enterprise: z
      .string()
      .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,99})$/, 'must be a GitHub enterprise slug')
      .optional(),
    /** A classic PAT with read:audit_log (admin:enterprise on older GHES). */
    tokenEnv: secretRef('PIPEWARDEN_GITHUB_AUDIT_API_TOKEN'),
    include: z.enum(['web', 'git', 'all']).default('all'),
    /** Extra search phrase, e.g. "action:repo". */
    phrase: z.string().optional(),
    perPage: z.number().int().min(1).max(100).default(100),
    maxPagesPerRun: z.number().int().min(1).default(50),
    /** How far back the very first run reaches. */
    initialLookbackHours: z.number().positive().default(24),
    /** A rate-limit wait longer than this ends the run; the next scheduled run resumes from the cursor. */
    maxWaitSeconds: z.number().min(0).default(60),
  })
  .superRefine((c, ctx) => {
    if (!c.org === !c.enterprise) {
      ctx.addIssue({ code: 'custom', path: ['org'], message: 'set exactly one of org or enterprise' });
    }
    if (!c.tokenEnv) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenEnv'],
        message:
          'the audit-log poller needs a token: export PIPEWARDEN_GITHUB_AUDIT_API_TOKEN (or _FILE), or the variable named by tokenEnv',
      });
    }
  })
  .transform(({ tokenEnv, ...rest }) => ({ ...rest, token: tokenEnv! }));

export type GithubAuditPollConfig = z.output<typeof pollSchema>;

/**
 * The HEC endpoint is a push source like the others (its token as the secret, with rotation and
 * additional tokens); `poll` adds the REST poller.
 */
const SECRET_ENV = 'PIPEWARDEN_GITHUB_AUDIT_HEC_TOKEN';

const configSchema = secretSourceSchema(SECRET_ENV, { poll: pollSchema.optional() });

export type GithubAuditConfig = z.output<typeof configSchema>;

export const githubAudit: IngestAdapter<GithubAuditConfig> = {
  id: 'github-audit',
  title: 'GitHub audit log (Splunk HEC streaming and REST API)',
  configSchema,
  secretEnv: SECRET_ENV,
  docs: [
    {
      group: 'scm',
      source: 'GitHub audit log (Splunk HEC)',
      route: '`POST /services/collector/event`, `/services/collector` (also `/ingest/github-audit`)',
      auth: '`Authorization: Splunk <token>`, constant-time',
    },
    {
      group: 'scm',
      source: 'GitHub audit log (REST API poll)',
      route: 'poller: `GET /orgs/{org}/audit-log` or `/enterprises/{e}/audit-log`',
      auth: 'PAT (`read:audit_log`) from env',
      secretEnv: 'PIPEWARDEN_GITHUB_AUDIT_API_TOKEN',
    },
  ],
  testing: {
    sign: (_raw, secret) => ({ authorization: `Splunk ${secret}` }),
    // GitHub streams each audit entry inside a Splunk HEC envelope.
    deliver: (body) => JSON.stringify({ event: body }),
  },
  paths: HEC_PATHS,
  // HEC senders label the body variously (application/json, text/plain, none): it is always our framing.
  contentTypes: '*',

  // The credential is a header: checked before the body is read (src/ingest/guard.ts).
  verifyHeaders: (headers, config, now) => githubAudit.verify(NO_BODY, headers, config, now),

  verify(_raw, headers, config) {
    const sent = header(headers, 'authorization');
    if (!sent) return { ok: false, reason: 'missing Authorization header (expected "Splunk <token>")' };
    const m = /^Splunk\s+(.+)$/i.exec(sent);
    if (!m) return { ok: false, reason: 'Authorization must be "Splunk <token>"' };
    const key = config.secret?.reveal();
    if (!key || !tokenEquals(key, m[1]!.trim())) return { ok: false, reason: 'HEC token does not match' };
    return { ok: true };
  },

  parse(raw) {
    return splitConcatenatedJson(raw.toString('utf8'));
  },

  // One request carries many events, each with its own _document_id: dedup is per event (content ids).
  deliveryId() {
    return undefined;
  },

  toEvents(body, _headers, receivedAt) {
    if (!Array.isArray(body))
      throw new AdapterInputError(`${HEC_TEXT.invalidFormat}: expected HEC event objects`);
    // One bad entry does not cost the others: the valid ones are accepted, the bad ones reported with
    // HEC's own fields (`invalid-event-number`, 0-based like Splunk's, and its text and code).
    const events: PipewardenEvent[] = [];
    const rejected: Array<{ item: number; reason: string }> = [];
    body.forEach((item, i) => {
      try {
        events.push(hecEntry(item, i, receivedAt));
      } catch (err) {
        if (!(err instanceof AdapterInputError)) throw err;
        rejected.push({ item: i, reason: err.message });
      }
    });
    if (events.length === 0) throw new AdapterInputError(rejected[0]?.reason ?? HEC_TEXT.noData);
    if (rejected.length === 0) return { events, reply: { text: 'Success', code: 0 } };
    const first = rejected[0]!;
    const text = Object.values(HEC_TEXT).find((t) => first.reason.startsWith(t)) ?? HEC_TEXT.invalidFormat;
    return {
      events,
      rejected,
      reply: { text, code: hecCode(text), 'invalid-event-number': first.item },
    };
  },
  // HEC senders read {text, code} on errors too.
  httpHooks: hecReplies,
  pollers: (config) => (config.poll ? [githubAuditPoller(config.poll)] : []),
};

/** One HEC envelope to an event; AdapterInputError (with HEC's text first) when it is not one. */
function hecEntry(item: unknown, i: number, receivedAt: Date): PipewardenEvent {
  const envelope = obj(item);
  if (!envelope || !('event' in envelope))
    throw new AdapterInputError(`${HEC_TEXT.eventRequired} (event ${i})`);
  let inner = envelope.event;
  if (inner === null || inner === '' || (obj(inner) && Object.keys(inner as object).length === 0)) {
    throw new AdapterInputError(`${HEC_TEXT.eventBlank} (event ${i})`);
  }
  // Some forwarders send the entry as a JSON string inside "event".
  if (typeof inner === 'string') {
    try {
      inner = JSON.parse(inner);
    } catch {
      throw new AdapterInputError(
        `${HEC_TEXT.invalidFormat}: event ${i} is text, not a GitHub audit-log entry`,
      );
    }
  }
  try {
    return auditEventToPipewarden(inner, receivedAt, {
      source: 'github-audit',
      dataset: 'github.audit',
      envelopeTime: envelope.time,
    });
  } catch (err) {
    if (err instanceof AdapterInputError)
      throw new AdapterInputError(`${HEC_TEXT.invalidFormat}: event ${i}: ${err.message}`);
    throw err;
  }
}
