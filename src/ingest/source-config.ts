// Config shared by push sources authenticated with one shared secret (HMAC key or token).
import { z } from 'zod';
import { readSecret, type Secret, secretRef } from '../config/secrets.ts';

export interface SecretSourceConfig {
  enabled: boolean;
  secret: Secret | undefined;
  /** Also accepted while senders move to a new secret; see rotation in the README. */
  previousSecret?: Secret | undefined;
  /** Further secrets accepted for good: several senders (e.g. GitHub organisations) with their own. */
  additionalSecrets?: Secret[];
}

/**
 * A list of environment-variable names, each of which must be set: naming a variable is a promise
 * that it holds a secret, so an unset one is a configuration error at its index.
 */
function requiredSecretRefs() {
  return z
    .array(
      z
        .string()
        .regex(
          /^[A-Z_][A-Z0-9_]*$/,
          'must be the NAME of an environment variable (secrets never go in the file)',
        ),
    )
    .max(50)
    .default([])
    .transform((names, ctx): Secret[] => {
      const out: Secret[] = [];
      names.forEach((name, i) => {
        try {
          const s = readSecret(name);
          if (s) out.push(s);
          else ctx.addIssue({ code: 'custom', path: [i], message: `$${name} (or $${name}_FILE) is not set` });
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
        }
      });
      return out;
    });
}

/** The secrets a source accepts besides its current one, each with what to call it in metrics. */
export function alternateSecrets(config: object): Array<{ secret: Secret; label: string }> {
  const c = config as Partial<SecretSourceConfig>;
  return [
    ...(c.previousSecret ? [{ secret: c.previousSecret, label: 'previous' }] : []),
    ...(c.additionalSecrets ?? []).map((secret) => ({ secret, label: secret.origin.replace(/^\$/, '') })),
  ];
}

/** A source's own settings as parsed; nothing when it has none. */
type Extras<E extends z.ZodRawShape> = keyof E extends never ? unknown : z.output<z.ZodObject<E>>;

/**
 * `enabled` defaults to "on when its secret is set", so a bare `pipewarden serve` with the variable
 * exported just works, and a source without a secret can never be switched on: every push is authenticated.
 * `previousSecretEnv` (default `<VAR>_PREVIOUS`) names a second secret accepted during a rotation;
 * `additionalSecretEnvs` names further secrets accepted for good (one per sending organisation).
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
    additionalSecretEnvs: requiredSecretRefs(),
    ...extra,
  }) as unknown as z.ZodType<
    {
      enabled?: boolean;
      secretEnv?: Secret;
      previousSecretEnv?: Secret;
      additionalSecretEnvs: Secret[];
    } & Record<string, unknown>,
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
        ({ enabled, secretEnv, previousSecretEnv, additionalSecretEnvs, ...rest }) =>
          ({
            ...rest,
            enabled: enabled ?? secretEnv !== undefined,
            secret: secretEnv,
            previousSecret: previousSecretEnv,
            additionalSecrets: additionalSecretEnvs,
          }) as SecretSourceConfig & Extras<E>,
      )
      // prefault, not default: an absent section is parsed as {}, so the secret is still looked up.
      .prefault({})
  );
}
