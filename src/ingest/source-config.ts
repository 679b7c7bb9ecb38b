// Config shared by push sources authenticated with one shared secret (HMAC key or token).
import { z } from 'zod';
import { type Secret, secretRef } from '../config/secrets.ts';

export interface SecretSourceConfig {
  enabled: boolean;
  secret: Secret | undefined;
}

/**
 * `enabled` defaults to "on when its secret is set", so a bare `pipewarden serve` with the variable
 * exported just works, and a source without a secret can never be switched on: every push is authenticated.
 */
export function secretSourceSchema(defaultEnv: string) {
  return (
    z
      .strictObject({
        enabled: z.boolean().optional(),
        secretEnv: secretRef(defaultEnv),
      })
      .superRefine((c, ctx) => {
        if (c.enabled === true && !c.secretEnv) {
          ctx.addIssue({
            code: 'custom',
            path: ['secretEnv'],
            message: `source is enabled but its secret is not set: export ${defaultEnv} (or ${defaultEnv}_FILE), or the variable named by secretEnv`,
          });
        }
      })
      .transform(
        (c): SecretSourceConfig => ({ enabled: c.enabled ?? c.secretEnv !== undefined, secret: c.secretEnv }),
      )
      // prefault, not default: an absent section is parsed as {}, so the secret is still looked up.
      .prefault({})
  );
}
