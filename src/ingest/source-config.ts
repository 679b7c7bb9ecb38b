// Config shared by push sources authenticated with one shared secret (HMAC key or token).
import { z } from 'zod';
import { readSecret, type Secret } from '../config/secrets.ts';

export interface SecretSourceConfig {
  enabled: boolean;
  secret: Secret | undefined;
  /** Also accepted while senders move to a new secret; see rotation in the README. */
  previousSecret?: Secret | undefined;
  /** Further secrets accepted for good: several senders (e.g. GitHub organisations) with their own. */
  additionalSecrets?: Secret[];
}

/** Shortest source secret accepted: a one-character Jenkins secret was accepted once. */
export const MIN_SECRET_LENGTH = 16;

/** Why a secret is too weak to authenticate a source, or undefined. */
export function weakSecret(secret: Secret): string | undefined {
  const v = secret.reveal();
  if (v.trim() === '') return `${secret.origin} is all whitespace`;
  if (v.length < MIN_SECRET_LENGTH)
    return `${secret.origin} holds ${v.length} characters; a source secret must have at least ${MIN_SECRET_LENGTH} (e.g. openssl rand -hex 32)`;
  return undefined;
}

const envName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be the NAME of an environment variable (secrets never go in the file)');

/** The variable each parsed source config reads its secret from (for `config check`). */
const secretNames = new WeakMap<object, string>();
export const sourceSecretName = (config: object): string | undefined => secretNames.get(config);

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
          const weak = s && weakSecret(s);
          if (weak) ctx.addIssue({ code: 'custom', path: [i], message: weak });
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
    // Names, resolved below: an explicitly named variable that is unset is an error naming it.
    secretEnv: envName.optional(),
    previousSecretEnv: envName.optional(),
    additionalSecretEnvs: requiredSecretRefs(),
    ...extra,
  }) as unknown as z.ZodType<
    {
      enabled?: boolean;
      secretEnv?: string;
      previousSecretEnv?: string;
      additionalSecretEnvs: Secret[];
    } & Record<string, unknown>,
    unknown
  >;
  return (
    shape
      .transform(({ enabled, secretEnv, previousSecretEnv, additionalSecretEnvs, ...rest }, ctx) => {
        const read = (field: string, name: string, explicit: boolean): Secret | undefined => {
          let secret: Secret | undefined;
          try {
            secret = readSecret(name);
          } catch (err) {
            ctx.addIssue({ code: 'custom', path: [field], message: (err as Error).message });
            return undefined;
          }
          if (!secret && explicit)
            ctx.addIssue({
              code: 'custom',
              path: [field],
              message: `$${name} (or $${name}_FILE) is not set; ${field} names it, so it must hold the secret`,
            });
          const weak = secret && weakSecret(secret);
          if (weak) ctx.addIssue({ code: 'custom', path: [field], message: weak });
          return secret;
        };
        const name = secretEnv ?? defaultEnv;
        // Another variable than the default, named on purpose, must be set (the example file shows the defaults).
        const secret = read('secretEnv', name, secretEnv !== undefined && secretEnv !== defaultEnv);
        const previousDefault = `${defaultEnv}_PREVIOUS`;
        const previousSecret = read(
          'previousSecretEnv',
          previousSecretEnv ?? previousDefault,
          previousSecretEnv !== undefined && previousSecretEnv !== previousDefault,
        );
        if (enabled === true && !secret && secretEnv === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['secretEnv'],
            message: `source is enabled but its secret is not set: export ${name} (or ${name}_FILE), or name another variable with secretEnv`,
          });
        }
        const out = {
          ...rest,
          enabled: enabled ?? secret !== undefined,
          secret,
          previousSecret,
          additionalSecrets: additionalSecretEnvs,
        } as SecretSourceConfig & Extras<E>;
        secretNames.set(out, name);
        return out;
      })
      // prefault, not default: an absent section is parsed as {}, so the secret is still looked up.
      .prefault({})
  );
}
