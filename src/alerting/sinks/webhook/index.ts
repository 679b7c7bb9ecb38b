// Webhook sink: POSTs each alert as JSON to a configured URL, signed with HMAC-SHA256 over
// `<timestamp>.<body>` so the receiver can check who sent it and when (README.md beside this file).
// A pure renderer and signer, and a thin sender that says whether a failure is retryable.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { secretRef } from '../../../config/secrets.ts';
import { type Hit, SEVERITIES, type Sink, type SinkDefinition, SinkError } from '../../types.ts';

export const WEBHOOK_SECRET_ENV = 'PIPEWARDEN_WEBHOOK_SECRET';
export const SIGNATURE_HEADER = 'x-pipewarden-signature';
export const TIMESTAMP_HEADER = 'x-pipewarden-timestamp';
/** Shorter keys are guessable offline from one signed alert. */
const MIN_SECRET_BYTES = 16;

export const webhookSinkConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Where alerts are POSTed. Redirects are not followed: give the final URL. */
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** The HMAC key the receiver shares (>= 16 bytes). */
    secretEnv: secretRef(WEBHOOK_SECRET_ENV),
    minSeverity: z.enum(SEVERITIES).default('medium'),
    /** Route only these detectors' alerts here (ids); empty: every detector. */
    detectors: z.array(z.string().min(1)).default([]),
    /** Per attempt; a timeout is retried like a 5xx. */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  })
  .superRefine((config, ctx) => {
    if (config.enabled !== true) return;
    if (!config.url)
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when webhook is enabled' });
    const secret = config.secretEnv;
    if (secret === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretEnv'],
        message: `webhook is enabled but its signing secret is not set: export $${WEBHOOK_SECRET_ENV} (or the variable named by secretEnv, or its _FILE twin)`,
      });
    } else if (Buffer.byteLength(secret.reveal()) < MIN_SECRET_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretEnv'],
        message: `the signing secret from ${secret.origin} is shorter than ${MIN_SECRET_BYTES} bytes`,
      });
    }
  });

export type WebhookSinkConfig = z.output<typeof webhookSinkConfigSchema>;

/** What one delivery carries: the JSON text (signed as is) and the alert id, sent as a header. */
export interface WebhookPayload {
  alertId: string;
  body: string;
}

/** Pure: the JSON document for one alert. The hit's fields are already redacted by the detectors. */
export function renderWebhook(hit: Hit): WebhookPayload {
  return { alertId: hit.id, body: JSON.stringify({ type: 'pipewarden.alert', version: 1, alert: hit }) };
}

/** Pure: hex HMAC-SHA256 of `<unix seconds>.<body>` under the shared secret. */
export function signWebhook(body: string, secret: string, unixSeconds: number): string {
  return createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
}

/** Pure: the signature header's value, `t=<unix seconds>,v1=<hex>`. */
export function signatureHeader(body: string, secret: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${signWebhook(body, secret, unixSeconds)}`;
}

/** Pure: a Retry-After value (delay in seconds, or an HTTP date) in ms from `nowMs`; undefined if unreadable. */
export function retryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** 5xx, 429 (too many requests) and 408 (request timeout) can pass; every other answer will not. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** What fetch threw: a timeout or a network failure (refused, reset, DNS) may pass on the next attempt. */
function networkError(err: unknown): SinkError {
  const e = err as Error & { cause?: { code?: unknown } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new SinkError('webhook: timeout', true, { cause: err });
  }
  const code = typeof e?.cause?.code === 'string' ? ` (${e.cause.code})` : '';
  return new SinkError(`webhook: request_error: ${e?.message ?? String(err)}${code}`, true, { cause: err });
}

export function createWebhookSink(config: WebhookSinkConfig): Sink<WebhookPayload> {
  const { url, secretEnv: secret } = config;
  if (!url || !secret)
    throw new Error(`webhook sink needs a url and a signing secret ($${WEBHOOK_SECRET_ENV})`);
  return {
    name: 'webhook',
    minSeverity: config.minSeverity,
    detectors: config.detectors,
    render: renderWebhook,
    async send(payload) {
      // Signed at send time: the timestamp says when this attempt left, so receivers can refuse replays.
      const t = Math.floor(Date.now() / 1000);
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'pipewarden',
            'x-pipewarden-alert-id': payload.alertId,
            [TIMESTAMP_HEADER]: String(t),
            [SIGNATURE_HEADER]: signatureHeader(payload.body, secret.reveal(), t),
          },
          body: payload.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(config.timeoutMs),
        });
        await res.body?.cancel();
      } catch (err) {
        throw networkError(err);
      }
      if (res.status >= 200 && res.status < 300) return;
      if (res.status >= 300 && res.status < 400) {
        throw new SinkError(
          `webhook: http_${res.status}: redirects are not followed; configure the final URL`,
          false,
        );
      }
      const wait = retryAfterMs(res.headers.get('retry-after'), Date.now());
      throw new SinkError(`webhook: http_${res.status}`, isRetryableStatus(res.status), {
        ...(wait !== undefined ? { retryAfterMs: wait } : {}),
      });
    },
  };
}

export const webhook = {
  id: 'webhook' as const,
  title: 'Webhook',
  summary:
    'JSON `POST` of the alert to your URL, signed: `X-Pipewarden-Signature: t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">` ([verifying it](src/alerting/sinks/webhook/README.md))',
  secretEnvs: [WEBHOOK_SECRET_ENV],
  configSchema: webhookSinkConfigSchema,
  create: createWebhookSink,
} satisfies SinkDefinition<WebhookSinkConfig>;
