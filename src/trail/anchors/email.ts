// The email anchor: one short message per checkpoint period (the checkpoints written together), to a
// mailbox the store's administrator does not control. The body is the JSON lines `trail verify` reads.
import { z } from 'zod';
import { smtpFields, smtpTransport } from '../../alerting/smtp.ts';
import type { Checkpoint } from '../types.ts';
import { type Anchor, type AnchorUnit, renderLines } from './types.ts';

const schema = z
  .strictObject({
    ...smtpFields,
  })
  .superRefine((c, ctx) => {
    if (!c.enabled) return;
    for (const key of ['host', 'from', 'to'] as const)
      if (c[key] === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: 'required when enabled' });
  });

/** Pure: the message for a set of checkpoints. */
export function renderAnchorMail(checkpoints: Checkpoint[]): { subject: string; text: string } {
  const parts = checkpoints.map((c) => `p${c.partition}#${c.n}`).join(', ');
  return {
    subject: `pipewarden trail checkpoint ${parts}`.slice(0, 160),
    text: `pipewarden signed these trail checkpoints. Keep this message: \`pipewarden trail verify --anchor\` reads the lines below.\n\n${renderLines(checkpoints)}`,
  };
}

export const emailAnchor: AnchorUnit<typeof schema> = {
  id: 'email',
  configSchema: schema,
  create(config): Anchor {
    // Without requireTls, plain SMTP only: an anchor relay on localhost need not offer STARTTLS.
    const transport = smtpTransport(
      { ...config, requireTls: config.requireTls && !config.secure },
      { ignoreTLS: !config.requireTls && !config.secure },
    );
    return {
      name: 'email',
      async publish(checkpoints) {
        const m = renderAnchorMail(checkpoints);
        // base64 keeps each JSON line whole (quoted-printable would fold it).
        await transport.sendMail({ from: config.from!, to: config.to!, ...m, textEncoding: 'base64' });
      },
      async close() {
        transport.close();
      },
    };
  },
};
