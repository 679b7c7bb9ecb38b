// Email sink: a pure renderer (subject, text and HTML parts) and a thin sender over nodemailer's SMTP transport.
import { z } from 'zod';
import { alertPageUrl } from '../../console/links.ts';
import { smtpFields, smtpTransport } from '../smtp.ts';
import { flatText } from '../text.ts';
import { type Hit, SEVERITIES, type Sink, type SinkDefinition, SinkError } from '../types.ts';

export const emailSinkConfigSchema = z
  .strictObject({
    ...smtpFields,
    minSeverity: z.enum(SEVERITIES).default('high'),
    /** pipewarden's API or console, linked from each mail (as from Slack). */
    consoleUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** Route only these detectors' alerts here (ids); empty: every detector. */
    detectors: z.array(z.string().min(1)).default([]),
  })
  .superRefine((config, ctx) => {
    if (config.enabled !== true) return;
    for (const key of ['host', 'from', 'to'] as const) {
      if (config[key] === undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'required when email is enabled' });
      }
    }
    // Auth is used only with both; one alone is almost certainly a typo in the deployment.
    if ((config.usernameEnv === undefined) !== (config.passwordEnv === undefined)) {
      const missing = config.usernameEnv === undefined ? 'usernameEnv' : 'passwordEnv';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message:
          'SMTP auth needs both $PIPEWARDEN_SMTP_USERNAME and $PIPEWARDEN_SMTP_PASSWORD (or the variables usernameEnv and passwordEnv name); only one is set',
      });
    }
  });

export type EmailSinkConfig = z.output<typeof emailSinkConfigSchema>;

export interface EmailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
}

const SUBJECT_MAX = 160;

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Untrusted text on one line, without bidi controls, capped (src/alerting/text.ts). */
const oneLine = (s: string): string => flatText(s);
const SUMMARY_MAX = 3000;

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** The same facts the Slack message shows, in the same order; absent ones are left out. */
function hitFields(hit: Hit): Array<[string, string]> {
  const fields: Array<[string, string | undefined]> = [
    ['Severity', hit.severity.toUpperCase()],
    ['Detector', hit.detector],
    ['Source', hit.source],
    ['Actor', hit.actor],
    ['Repository', hit.repository],
    ['Source IP', hit.source_ip],
    ['Time', hit['@timestamp']],
    ['Hits', hit.incident && hit.incident.count > 1 ? incidentLine(hit.incident) : undefined],
    ['Hit', hit.id],
  ];
  return fields
    .filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '')
    .map(([k, v]) => [k, oneLine(v)]);
}

/** An incident's count and span, and who acted on it. */
function incidentLine(inc: NonNullable<Hit['incident']>): string {
  const acted =
    inc.status === 'acknowledged'
      ? `; acknowledged by ${inc.acknowledged_by ?? 'someone'}`
      : inc.status === 'resolved'
        ? `; resolved by ${inc.resolved_by ?? 'someone'}`
        : '';
  return `${inc.count} in incident ${inc.id} (first ${inc.first_at}, last ${inc.last_at})${acted}`;
}

function htmlLink(url: string): string {
  const text = escapeHtml(oneLine(url));
  return /^https?:\/\//i.test(url) ? `<a href="${text}">${text}</a>` : `<code>${text}</code>`;
}

/** Pure: the mail for one hit. Every interpolated value is HTML-escaped in the HTML part. */
export function renderEmail(
  hit: Hit,
  options: { from: string; to: string[]; consoleUrl?: string },
): EmailMessage {
  const page = options.consoleUrl ? alertPageUrl(options.consoleUrl, hit.id) : undefined;
  const sev = hit.severity.toUpperCase();
  const prefix = `[pipewarden][${sev}] ${oneLine(hit.title)}`;
  const subject = truncate(`${prefix} — ${oneLine(hit.summary)}`, SUBJECT_MAX);
  const fields = hitFields(hit);
  const context = Object.entries(hit.context).map(([k, v]): [string, string] => [
    oneLine(k),
    oneLine(String(v)),
  ]);

  const text = [
    `${sev}: ${oneLine(hit.title)}`,
    '',
    flatText(hit.summary, SUMMARY_MAX),
    '',
    ...fields.map(([k, v]) => `${k}: ${v}`),
    '',
    ...(hit.description ? [hit.description, ''] : []),
    ...(context.length ? ['Context:', ...context.map(([k, v]) => `  ${k}: ${v}`), ''] : []),
    `Runbook: ${oneLine(hit.runbook)}`,
    ...(hit.reference ? [`Reference: ${oneLine(hit.reference)}`] : []),
    ...(hit.link ? [`At ${oneLine(hit.source)}: ${oneLine(hit.link)}`] : []),
    ...(hit.vendor_link ? [`${oneLine(hit.vendor_link.label)}: ${oneLine(hit.vendor_link.url)}`] : []),
    ...(page ? [`Alert and events: ${page}`] : []),
    '',
    '-- ',
    'pipewarden',
    '',
  ].join('\n');

  const row = ([k, v]: [string, string]) =>
    `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
  const html = [
    '<!doctype html>',
    '<html><body style="font-family:sans-serif">',
    `<h2>[${escapeHtml(sev)}] ${escapeHtml(oneLine(hit.title))}</h2>`,
    `<p>${escapeHtml(flatText(hit.summary, SUMMARY_MAX))}</p>`,
    `<table>${fields.map(row).join('')}</table>`,
    ...(hit.description ? [`<p>${escapeHtml(hit.description)}</p>`] : []),
    ...(context.length ? ['<h3>Context</h3>', `<table>${context.map(row).join('')}</table>`] : []),
    `<p>Runbook: ${htmlLink(hit.runbook)}</p>`,
    ...(hit.reference ? [`<p>Reference: ${htmlLink(hit.reference)}</p>`] : []),
    ...(hit.link ? [`<p>At ${escapeHtml(oneLine(hit.source))}: ${htmlLink(hit.link)}</p>`] : []),
    ...(hit.vendor_link
      ? [`<p>${escapeHtml(oneLine(hit.vendor_link.label))}: ${htmlLink(hit.vendor_link.url)}</p>`]
      : []),
    ...(page ? [`<p>Alert and events: ${htmlLink(page)}</p>`] : []),
    '</body></html>',
    '',
  ].join('\n');

  return { from: options.from, to: [...options.to], subject, text, html };
}

// Connection-level failures: the relay may be back on the next attempt.
const RETRYABLE_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

interface SmtpErrorFields {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  command?: string;
}

/** SMTP 4xx replies and connection failures are retryable; 5xx replies and configuration errors are not. */
export function toSinkError(err: unknown): SinkError {
  const e = (err ?? {}) as SmtpErrorFields & { message?: string };
  const message = err instanceof Error ? err.message : String(err);
  if (typeof e.responseCode === 'number') {
    const where = e.command ? ` at ${e.command}` : '';
    return new SinkError(`email: SMTP ${e.responseCode}${where}: ${message}`, e.responseCode < 500, {
      cause: err,
    });
  }
  const code = e.originalCode ?? e.code;
  const retryable =
    (code !== undefined && RETRYABLE_CODES.has(code)) ||
    (e.code !== undefined && RETRYABLE_CODES.has(e.code));
  return new SinkError(`email: ${code ?? 'error'}: ${message}`, retryable, { cause: err });
}

export function createEmailSink(config: EmailSinkConfig): Sink<EmailMessage> {
  const { host, from, to } = config;
  if (!host || !from || !to?.length) throw new Error('email sink needs host, from and to');
  const transport = smtpTransport(config);
  // Set from server.publicUrl by createSinks (src/factories.ts): the alert's page in the console.
  const { consoleUrl } = config as { consoleUrl?: string };
  return {
    name: 'email',
    minSeverity: config.minSeverity,
    detectors: config.detectors,
    render: (hit) => renderEmail(hit, { from, to, ...(consoleUrl ? { consoleUrl } : {}) }),
    async send(payload) {
      try {
        await transport.sendMail(payload);
      } catch (err) {
        throw toSinkError(err);
      }
    },
    async close() {
      transport.close();
    },
  };
}

export const email = {
  id: 'email' as const,
  title: 'Email',
  summary: 'SMTP (nodemailer), text and HTML parts with the same facts; STARTTLS required unless turned off',
  secretEnvs: ['PIPEWARDEN_SMTP_USERNAME', 'PIPEWARDEN_SMTP_PASSWORD'],
  configSchema: emailSinkConfigSchema,
  create: createEmailSink,
} satisfies SinkDefinition<EmailSinkConfig>;
