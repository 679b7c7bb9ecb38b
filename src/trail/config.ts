// The `trail` config block: the signing key, how often to checkpoint, the anchors, the scheduled check.
import cron from 'node-cron';
import { z } from 'zod';
import { secretRef } from '../config/secrets.ts';
import { emailAnchor } from './anchors/email.ts';
import { fileAnchor } from './anchors/file.ts';
import { webhookAnchor } from './anchors/webhook.ts';

// One block per registered anchor (anchors/index.ts; a test checks the two lists agree).
const anchorsSchema = z
  .strictObject({
    file: fileAnchor.configSchema.prefault({}),
    webhook: webhookAnchor.configSchema.prefault({}),
    email: emailAnchor.configSchema.prefault({}),
  })
  .prefault({});

export const trailConfigSchema = z
  .strictObject({
    /** Chain and sign what the index role stores. Default: on in embedded mode, off in distributed (needs a key). */
    enabled: z.boolean().optional(),
    /** PEM Ed25519 private key (openssl genpkey -algorithm ed25519). Or $PIPEWARDEN_TRAIL_KEY. */
    keyFile: z.string().min(1).optional(),
    keyEnv: secretRef('PIPEWARDEN_TRAIL_KEY'),
    /** For verifying where the private key is not held: the PEM public key `pipewarden trail key` printed. */
    publicKeyFile: z.string().min(1).optional(),
    checkpoint: z
      .strictObject({
        /** A checkpoint after this many chained events of a partition... */
        everyEvents: z.number().int().min(1).default(10_000),
        /** ...or once the oldest unsigned event is this old, whichever comes first. */
        everySeconds: z.number().int().min(1).default(300),
      })
      .prefault({}),
    anchors: anchorsSchema,
    verify: z
      .strictObject({
        /** The scheduled check (under the index role); a failure raises "audit trail tampered". */
        enabled: z.boolean().default(true),
        schedule: z
          .string()
          .refine((s) => cron.validate(s), 'not a valid cron expression')
          .default('*/15 * * * *'),
        /** How many of each partition's newest checkpoints it re-checks. */
        checkpoints: z.number().int().min(1).default(24),
      })
      .prefault({}),
  })
  .prefault({});
export type TrailConfig = z.output<typeof trailConfigSchema>;
