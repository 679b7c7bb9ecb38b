// Slack sink: a pure Block Kit renderer and a thin chat.postMessage sender (falcosidekick's shape).

import {
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import { z } from 'zod';
import { secretRef } from '../../config/secrets.ts';
import { alertPageUrl } from '../../console/links.ts';
import { flatText } from '../text.ts';
import {
  type Hit,
  SEVERITIES,
  type Severity,
  type Sink,
  type SinkDefinition,
  SinkError,
  type SinkRef,
} from '../types.ts';

export const SLACK_TOKEN_ENV = 'PIPEWARDEN_SLACK_TOKEN';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

export const slackSinkConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Channel id (C0123...) or name (#alerts); the bot must be a member. */
    channel: z.string().min(1).optional(),
    tokenEnv: secretRef(SLACK_TOKEN_ENV),
    minSeverity: z.enum(SEVERITIES).default('medium'),
    /** Route only these detectors' alerts here (ids); empty: every detector. */
    detectors: z.array(z.string().min(1)).default([]),
    /** Web API base, for tests and proxies; passed to the client as slackApiUrl. */
    apiUrl: httpUrl
      .refine((u) => u.endsWith('/'), "must end with '/' (e.g. https://slack.com/api/)")
      .optional(),
    /** pipewarden's API or console, linked from each message. */
    consoleUrl: httpUrl.optional(),
  })
  .superRefine((config, ctx) => {
    if (config.enabled !== true) return;
    if (!config.channel) {
      ctx.addIssue({ code: 'custom', path: ['channel'], message: 'required when slack is enabled' });
    }
    if (config.tokenEnv === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenEnv'],
        // The parsed value no longer knows which name was configured: name the default and the field.
        message: `slack is enabled but no bot token was found: set $${SLACK_TOKEN_ENV} (or the variable named by tokenEnv, or its _FILE twin)`,
      });
    }
  });

export type SlackSinkConfig = z.output<typeof slackSinkConfigSchema>;

type PlainText = { type: 'plain_text'; text: string; emoji?: boolean };
type Mrkdwn = { type: 'mrkdwn'; text: string; verbatim?: boolean };
export type SlackBlock =
  | { type: 'header'; text: PlainText }
  | { type: 'section'; text?: Mrkdwn; fields?: Mrkdwn[] }
  | { type: 'context'; elements: Mrkdwn[] }
  | { type: 'actions'; block_id: string; elements: SlackButton[] };

type SlackButton = {
  type: 'button';
  action_id: string;
  text: PlainText;
  value?: string;
  url?: string;
  style?: 'primary' | 'danger';
};

/** The buttons' action ids (slack-interactions.ts handles them); each button's value is the incident id. */
export const SLACK_ACTIONS = {
  ack: 'pipewarden.ack',
  silence1h: 'pipewarden.silence-1h',
  silence24h: 'pipewarden.silence-24h',
  open: 'pipewarden.open',
} as const;

/** What chat.postMessage receives (a subset of ChatPostMessageArguments). */
export interface SlackMessage {
  channel: string;
  text: string;
  blocks: SlackBlock[];
}

// Block Kit limits: header text 150, section text 3000, field text 2000, at most 10 fields.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FALLBACK_MAX = 500;

const SEVERITY_EMOJI: Record<Severity, string> = {
  info: ':information_source:',
  low: ':large_blue_circle:',
  medium: ':large_yellow_circle:',
  high: ':large_orange_circle:',
  critical: ':red_circle:',
};

/** Slack's escaping: only &, < and > are control characters; escaped, a name cannot become a link or mention. */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts to `max` characters with an ellipsis, never inside an entity made by escapeSlack. */
function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  // a trailing "&", "&am", "&lt" etc. is a cut entity
  return `${s.slice(0, max - 1).replace(/&[a-z]*$/, '')}…`;
}

/** Untrusted text on one line, without bidi controls, capped (src/alerting/text.ts). */
const oneLine = (s: string): string => flatText(s);

/** A link for mrkdwn: only http(s) URLs become links; `|` and `>` would end the link markup. */
function link(url: string, label: string): string {
  if (!/^https?:\/\//i.test(url)) return `\`${escapeSlack(oneLine(url)).replace(/`/g, "'")}\``;
  const safe = escapeSlack(url).replace(/\|/g, '%7C');
  return `<${safe}|${escapeSlack(label)}>`;
}

/** Slack's date token shows the time in each reader's zone; the fallback is the ISO string. */
function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  const fallback = escapeSlack(oneLine(iso));
  if (Number.isNaN(ms)) return fallback;
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${fallback}>`;
}

function field(label: string, value: string): Mrkdwn {
  return { type: 'mrkdwn', text: truncate(`*${label}*\n${value}`, FIELD_MAX), verbatim: true };
}

/** Pure: the message for one hit. Every value that comes from an event is escaped. */
export function renderSlackMessage(
  hit: Hit,
  options: { channel: string; consoleUrl?: string },
): SlackMessage {
  const sev = hit.severity.toUpperCase();
  const title = oneLine(hit.title);
  const summary = escapeSlack(flatText(hit.summary, SECTION_MAX));
  const fields: Mrkdwn[] = [
    field('Severity', `${SEVERITY_EMOJI[hit.severity]} ${sev}`),
    field('Detector', `\`${escapeSlack(oneLine(hit.detector))}\``),
    field('Source', escapeSlack(oneLine(hit.source))),
  ];
  if (hit.context.rule !== undefined)
    fields.push(field('Rule', `\`${escapeSlack(oneLine(String(hit.context.rule)))}\``));
  if (hit.actor) fields.push(field('Actor', escapeSlack(oneLine(hit.actor))));
  else if (typeof hit.context.targets === 'string')
    fields.push(field('Targets', escapeSlack(oneLine(hit.context.targets))));
  if (hit.repository) fields.push(field('Repository', escapeSlack(oneLine(hit.repository))));
  if (hit.source_ip) fields.push(field('Source IP', escapeSlack(oneLine(hit.source_ip))));
  fields.push(field('Time', slackDate(hit['@timestamp'])));
  const inc = hit.incident;
  if (inc && inc.count > 1)
    fields.push(
      field('Hits', `${inc.count} (first ${slackDate(inc.first_at)}, last ${slackDate(inc.last_at)})`),
    );

  const context = [`Runbook: ${link(hit.runbook, 'open runbook')}`];
  if (hit.reference) context.push(`Reference: ${link(hit.reference, 'reference')}`);
  if (hit.link) context.push(link(hit.link, `open at ${oneLine(hit.source)}`));
  if (hit.vendor_link) context.push(link(hit.vendor_link.url, oneLine(hit.vendor_link.label)));
  context.push(`Hit \`${escapeSlack(oneLine(hit.id))}\``);
  // The alert's page in the console, with the events that triggered it: the first pivot.
  if (options.consoleUrl) context.push(link(alertPageUrl(options.consoleUrl, hit.id), 'alert and events'));

  return {
    channel: options.channel,
    text: truncate(
      `[${sev}] ${escapeSlack(title)}: ${escapeSlack(flatText(hit.summary, SECTION_MAX))}`,
      FALLBACK_MAX,
    ),
    blocks: [
      // plain_text is never parsed for links or mentions, so the header is not escaped
      {
        type: 'header',
        text: { type: 'plain_text', text: truncate(`[${sev}] ${title}`, HEADER_MAX), emoji: true },
      },
      { type: 'section', text: { type: 'mrkdwn', text: truncate(summary, SECTION_MAX), verbatim: true } },
      { type: 'section', fields: fields.slice(0, 10) }, // Block Kit: at most 10 fields
      { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(context.join('  ·  '), SECTION_MAX) }] },
      ...detailBlocks(hit),
      ...incidentBlocks(hit),
      ...actionBlocks(hit, options.consoleUrl),
    ],
  };
}

/** What email shows as Context (counts, first/last, the users, a secret's job and line), one line each. */
function detailBlocks(hit: Hit): SlackBlock[] {
  const shown = new Set(['rule', 'targets']);
  const lines = Object.entries(hit.context)
    .filter(([k, v]) => !shown.has(k) && v !== null && v !== '')
    .slice(0, 30)
    .map(([k, v]) => `*${escapeSlack(oneLine(k))}*: ${escapeSlack(oneLine(String(v)))}`);
  if (!lines.length) return [];
  return [
    {
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(lines.join('\n'), SECTION_MAX), verbatim: true },
    },
  ];
}

/** Who acted on the incident, as a context line (Slack user ids become mentions Slack resolves). */
function incidentBlocks(hit: Hit): SlackBlock[] {
  const inc = hit.incident;
  if (!inc || inc.status === 'open') return [];
  const who = (by: string | undefined) =>
    by && /^U[A-Z0-9]{2,20}$/.test(by) ? `<@${by}>` : escapeSlack(oneLine(by ?? 'someone'));
  const line =
    inc.status === 'acknowledged'
      ? `:eyes: Acknowledged by ${who(inc.acknowledged_by)}${inc.acknowledged_at ? ` at ${slackDate(inc.acknowledged_at)}` : ''}`
      : `:white_check_mark: Resolved by ${who(inc.resolved_by)}${inc.resolved_at ? ` at ${slackDate(inc.resolved_at)}` : ''}`;
  return [{ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(line, SECTION_MAX) }] }];
}

/** The incident's buttons: Acknowledge (while open), Silence 1 h / 24 h (same key), Open in console. */
function actionBlocks(hit: Hit, consoleUrl: string | undefined): SlackBlock[] {
  const inc = hit.incident;
  if (!inc) return [];
  const button = (action_id: string, text: string, extra: Partial<SlackButton> = {}): SlackButton => ({
    type: 'button',
    action_id,
    text: { type: 'plain_text', text },
    value: inc.id,
    ...extra,
  });
  const elements: SlackButton[] = [];
  if (inc.status === 'open') elements.push(button(SLACK_ACTIONS.ack, 'Acknowledge', { style: 'primary' }));
  elements.push(
    button(SLACK_ACTIONS.silence1h, 'Silence 1 h'),
    button(SLACK_ACTIONS.silence24h, 'Silence 24 h'),
  );
  if (consoleUrl && /^https?:\/\//i.test(consoleUrl))
    elements.push(
      button(SLACK_ACTIONS.open, 'Open in console', {
        url: `${consoleUrl.replace(/\/$/, '')}/api/alerts/${encodeURIComponent(hit.id)}`,
      }),
    );
  return [{ type: 'actions', block_id: `pipewarden:${inc.id}`.slice(0, 255), elements }];
}

/** Pure: the thread reply for a later hit of an incident: what is new. */
export function renderSlackThreadReply(hit: Hit): string {
  const inc = hit.incident;
  const count = inc ? `Hit ${inc.count}` : 'New hit';
  return truncate(
    `${count} at ${slackDate(hit['@timestamp'])}: ${escapeSlack(oneLine(hit.summary))} (hit \`${escapeSlack(oneLine(hit.id))}\`)`,
    SECTION_MAX,
  );
}

/** Pure: the thread reply when someone acknowledged or resolved the incident (who, and when). */
export function renderSlackLifecycleReply(hit: Hit): string {
  const inc = hit.incident;
  const line = incidentBlocks(hit)[0];
  if (!inc || !line || line.type !== 'context') return 'The incident changed.';
  return line.elements[0]!.text;
}

// Platform errors that say "try again later" rather than "this will never work".
const RETRYABLE_SLACK_ERRORS = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/** Maps what @slack/web-api throws to a SinkError naming the Slack error code. */
export function toSinkError(err: unknown): SinkError {
  if (err instanceof WebAPIRateLimitedError) {
    return new SinkError(`slack: ratelimited (retry after ${err.retryAfter}s)`, true, { cause: err });
  }
  if (err instanceof WebAPIPlatformError) {
    const code = err.data.error;
    return new SinkError(`slack: ${code}`, RETRYABLE_SLACK_ERRORS.has(code), { cause: err });
  }
  if (err instanceof WebAPIHTTPError) {
    const retryable = err.statusCode >= 500 || err.statusCode === 408;
    return new SinkError(`slack: http_${err.statusCode} ${err.statusMessage}`.trim(), retryable, {
      cause: err,
    });
  }
  if (err instanceof WebAPIRequestError) {
    // network failures and our own timeout: the next attempt may get through
    const code = (err.original.cause as { code?: unknown } | undefined)?.code;
    const detail = typeof code === 'string' ? `${err.original.message} (${code})` : err.original.message;
    return new SinkError(`slack: request_error: ${detail}`, true, { cause: err });
  }
  return new SinkError(`slack: ${err instanceof Error ? err.message : String(err)}`, false, { cause: err });
}

export function createSlackSink(config: SlackSinkConfig): Sink<SlackMessage> {
  const { channel, tokenEnv: token } = config;
  if (!channel || !token) throw new Error(`slack sink needs a channel and a bot token ($${SLACK_TOKEN_ENV})`);
  const client = new WebClient(token.reveal(), {
    ...(config.apiUrl ? { slackApiUrl: config.apiUrl } : {}),
    retryConfig: { retries: 0 }, // the alerter retries, with its own backoff and bookkeeping
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    logLevel: LogLevel.ERROR,
  });
  // The message a sent alert left (its channel and ts) and the incident's message as it is now.
  const messageAt = (ref: SinkRef, hit: Hit) => {
    const { channel: at, ts } = ref;
    if (!at || !ts) throw new SinkError('slack: no message to update (channel and ts)', false);
    const message = renderSlackMessage(hit, {
      channel: at,
      ...(config.consoleUrl ? { consoleUrl: config.consoleUrl } : {}),
    });
    return { at, ts, message };
  };
  return {
    name: 'slack',
    minSeverity: config.minSeverity,
    detectors: config.detectors,
    render: (hit) =>
      renderSlackMessage(hit, { channel, ...(config.consoleUrl ? { consoleUrl: config.consoleUrl } : {}) }),
    async send(payload) {
      try {
        const res = await client.chat.postMessage({ ...payload, unfurl_links: false, unfurl_media: false });
        // where the message is, so an incident's later hits edit it and reply in its thread
        return res.channel && res.ts ? { channel: res.channel, ts: res.ts } : undefined;
      } catch (err) {
        throw toSinkError(err);
      }
    },
    async update(ref, hit, options) {
      const { at, ts, message } = messageAt(ref, hit);
      try {
        await client.chat.update({ channel: at, ts, text: message.text, blocks: message.blocks });
        // past the flood budget with throttle.edits: quiet, the message is kept current without a reply
        if (options?.quiet) return;
        await client.chat.postMessage({
          channel: at,
          thread_ts: ts,
          text: renderSlackThreadReply(hit),
          unfurl_links: false,
          unfurl_media: false,
        });
      } catch (err) {
        throw toSinkError(err);
      }
    },
    async follow(ref, hit) {
      const { at, ts, message } = messageAt(ref, hit);
      try {
        // the status line and who, in the message itself; the thread says it once more, with the time
        await client.chat.update({ channel: at, ts, text: message.text, blocks: message.blocks });
        await client.chat.postMessage({
          channel: at,
          thread_ts: ts,
          text: renderSlackLifecycleReply(hit),
          unfurl_links: false,
          unfurl_media: false,
        });
      } catch (err) {
        throw toSinkError(err);
      }
    },
  };
}

export const slack = {
  id: 'slack' as const,
  title: 'Slack',
  summary:
    '`chat.postMessage` with Block Kit: severity, detector, actor, repository, source IP, time, runbook link; every vendor value escaped',
  secretEnvs: [SLACK_TOKEN_ENV],
  configSchema: slackSinkConfigSchema,
  create: createSlackSink,
} satisfies SinkDefinition<SlackSinkConfig>;
