// Config shared by push sources authenticated with one shared secret (HMAC key or token).
import { z } from 'zod';
import { type Secret, secretRef } from '../config/secrets.ts';

export interface SecretSourceConfig {
  enabled: boolean;
  secret: Secret | undefined;
  /** Also accepted while senders move to a new secret; see rotation in the README. */
  previousSecret?: Secret | undefined;
}

/** A source's own settings as parsed; nothing when it has none. */
type Extras<E extends z.ZodRawShape> = keyof E extends never ? unknown : z.output<z.ZodObject<E>>;

/**
 * `enabled` defaults to "on when its secret is set", so a bare `pipewarden serve` with the variable
 * exported just works, and a source without a secret can never be switched on: every push is authenticated.
 * `previousSecretEnv` (default `<VAR>_PREVIOUS`) names a second secret accepted during a rotation.
 * `extra` adds the source's own settings (e.g. Artifactory's authMode), which pass through unchanged.
 */
export function secretSourceSchema<E extends z.ZodRawShape = {}>(
  defaultEnv: string,
  extra?: E,
): z.ZodType<SecretSourceConfig & Extras<E>, unknown> {
  // Typed loosely inside: zod cannot infer through a generic shape, the signature above carries the type.
  const shape = z.strictObject({
    enabled: z.boolean().optional(),
    secretEnv: secretRef(defaultEnv),
    previousSecretEnv: secretRef(`${defaultEnv}_PREVIOUS`),
    ...extra,
  }) as unknown as z.ZodType<
    { enabled?: boolean; secretEnv?: Secret; previousSecretEnv?: Secret } & Record<string, unknown>,
    unknown
  >;
  return (
    shape
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
        ({ enabled, secretEnv, previousSecretEnv, ...rest }) =>
          ({
            ...rest,
            enabled: enabled ?? secretEnv !== undefined,
            secret: secretEnv,
            previousSecret: previousSecretEnv,
          }) as SecretSourceConfig & Extras<E>,
      )
      // prefault, not default: an absent section is parsed as {}, so the secret is still looked up.
      .prefault({})
  );
}
