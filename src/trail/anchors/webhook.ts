// The webhook anchor: POSTs the checkpoints (JSON lines) to a receiver you run elsewhere, signed with
// HMAC-SHA256 over the timestamp and the body (X-Pipewarden-Signature: t=<unix>,sha256=<hex>).
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { secretRef } from '../../config/secrets.ts';
import { type Anchor, type AnchorUnit, renderLines } from './types.ts';

const schema = z
  .strictObject({
    enabled: z.boolean().default(false),
    url: z.url({ protocol: /^https?$/ }).optional(),
    secretEnv: secretRef('PIPEWARDEN_TRAIL_WEBHOOK_SECRET'),
    timeoutMs: z.number().int().positive().default(10_000),
  })
  .superRefine((c, ctx) => {
    if (!c.enabled) return;
    if (!c.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when enabled' });
    if (!c.secretEnv)
      ctx.addIssue({
        code: 'custom',
        path: ['secretEnv'],
        message: 'the webhook anchor signs every request: set $PIPEWARDEN_TRAIL_WEBHOOK_SECRET',
      });
  });

/** The signature header's value for `body` sent at `unixSeconds`. */
export function webhookSignature(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},sha256=${mac}`;
}

export const webhookAnchor: AnchorUnit<typeof schema> = {
  id: 'webhook',
  configSchema: schema,
  create(config): Anchor {
    const url = config.url!;
    const secret = config.secretEnv!;
    return {
      name: 'webhook',
      async publish(checkpoints) {
        const body = renderLines(checkpoints);
        const t = Math.floor(Date.now() / 1000);
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-ndjson',
            'x-pipewarden-signature': webhookSignature(secret.reveal(), t, body),
          },
          body,
          signal: AbortSignal.timeout(config.timeoutMs),
        });
        if (!res.ok) throw new Error(`webhook anchor answered ${res.status}`);
      },
    };
  },
};
